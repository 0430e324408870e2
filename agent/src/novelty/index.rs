//! The nodes a new candidate is compared with, and the nearest of them.
//!
//! Brute force over compact, contiguous arrays: 128 `u32` MinHash values per node, or one
//! unit `f32` vector per node (cosine = dot product). Measured (`cargo bench -p hone-agent
//! --bench novelty`, figures in BENCHMARKS.md): a query over 100,000 signatures takes about
//! 8 ms, over 10,000 embeddings of 1,536 dimensions about 5 ms, over 100,000 of them about
//! 70 ms and 614 MB. Only valid nodes are indexed.

use super::shingles::{HASHES, Signature};

/// What a candidate is compared by.
#[derive(Clone, Debug, PartialEq)]
pub enum Probe {
    /// Its MinHash signature (the offline default).
    Signature(Signature),
    /// Its embedding, scaled to unit length.
    Vector(Vec<f32>),
}

impl Probe {
    /// An embedding as a probe: scaled to unit length (the caller checked it is not zero).
    pub fn vector(mut vector: Vec<f32>) -> Probe {
        let norm = vector
            .iter()
            .map(|x| (*x as f64) * (*x as f64))
            .sum::<f64>()
            .sqrt();
        if norm > 0.0 {
            for x in &mut vector {
                *x = (*x as f64 / norm) as f32;
            }
        }
        Probe::Vector(vector)
    }
}

/// The indexed nodes: ids beside a flat array of their signatures or vectors.
#[derive(Debug, Default)]
pub struct Index {
    ids: Vec<i64>,
    signatures: Vec<u32>,
    vectors: Vec<f32>,
    /// Dimensions of the vectors (0 until the first one).
    dimensions: usize,
}

/// A vector whose length is not the index's.
#[derive(Debug, thiserror::Error)]
#[error("the embedding has {got} dimensions, but the run's earlier embeddings have {expected}")]
pub struct DimensionMismatch {
    pub expected: usize,
    pub got: usize,
}

impl Index {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Checks that a probe can be compared with the indexed nodes.
    pub fn check(&self, probe: &Probe) -> Result<(), DimensionMismatch> {
        match probe {
            Probe::Vector(v) if self.dimensions != 0 && v.len() != self.dimensions => {
                Err(DimensionMismatch {
                    expected: self.dimensions,
                    got: v.len(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Adds node `id` (a probe that does not fit, see [`Index::check`], is not added).
    pub fn insert(&mut self, id: i64, probe: Probe) {
        if self.check(&probe).is_err() {
            return;
        }
        match probe {
            Probe::Signature(signature) => self.signatures.extend_from_slice(&signature.0[..]),
            Probe::Vector(vector) => {
                self.dimensions = vector.len();
                self.vectors.extend_from_slice(&vector);
            }
        }
        self.ids.push(id);
    }

    /// The most similar indexed node and its similarity (ties: the older node).
    pub fn nearest(&self, probe: &Probe) -> Option<(i64, f64)> {
        let mut best: Option<(usize, f64)> = None;
        let mut consider = |i: usize, similarity: f64| {
            if best.is_none_or(|(_, b)| similarity > b) {
                best = Some((i, similarity));
            }
        };
        match probe {
            Probe::Signature(signature) => {
                for (i, other) in self.signatures.chunks_exact(HASHES).enumerate() {
                    let equal = other
                        .iter()
                        .zip(signature.0.iter())
                        .filter(|(a, b)| a == b)
                        .count();
                    consider(i, equal as f64 / HASHES as f64);
                }
            }
            Probe::Vector(vector) => {
                if vector.len() != self.dimensions {
                    return None;
                }
                for (i, other) in self.vectors.chunks_exact(self.dimensions).enumerate() {
                    consider(i, dot(vector, other) as f64);
                }
            }
        }
        best.map(|(i, similarity)| (self.ids[i], similarity.clamp(-1.0, 1.0)))
    }
}

/// The dot product, in eight lanes so that it vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_vector_is_the_most_similar_by_cosine() {
        let mut index = Index::default();
        assert_eq!(index.nearest(&Probe::vector(vec![1.0, 0.0, 0.0])), None);
        index.insert(10, Probe::vector(vec![1.0, 0.0, 0.0]));
        index.insert(11, Probe::vector(vec![0.0, 2.0, 0.0]));
        index.insert(12, Probe::vector(vec![3.0, 3.0, 0.0]));
        let (node, similarity) = index
            .nearest(&Probe::vector(vec![0.1, 5.0, 0.0]))
            .unwrap_or_default();
        assert_eq!(node, 11);
        assert!((similarity - 0.9998).abs() < 1e-4, "{similarity}");
        let (node, similarity) = index
            .nearest(&Probe::vector(vec![1.0, 1.0, 0.0]))
            .unwrap_or_default();
        assert_eq!(node, 12);
        assert!((similarity - 1.0).abs() < 1e-6, "{similarity}");
        assert!(index.check(&Probe::vector(vec![1.0, 0.0])).is_err());
    }

    #[test]
    fn long_vectors_use_every_lane_and_the_tail() {
        let a: Vec<f32> = (0..21).map(|i| i as f32).collect();
        let expected: f32 = a.iter().map(|x| x * x).sum();
        assert_eq!(dot(&a, &a), expected);
    }

    #[test]
    fn the_nearest_signature_ties_to_the_older_node() {
        let mut index = Index::default();
        let code = "int main(void) { return 0; }";
        index.insert(1, Probe::Signature(Signature::of(code)));
        index.insert(2, Probe::Signature(Signature::of(code)));
        index.insert(3, Probe::Signature(Signature::of("print(1)")));
        assert_eq!(
            index.nearest(&Probe::Signature(Signature::of(code))),
            Some((1, 1.0))
        );
        assert_eq!(index.len(), 3);
    }
}
