//! Embeddings of candidates' code, by model and content hash (schema v8).
//!
//! One row per (model, content hash), shared by every node of that content in any run: the
//! same code is embedded once. A node's embedding is the row of its `content_hash`.

use crate::error::{Error, Result};
use crate::store::on_db;
use crate::{NodeId, RunId, Store, Timestamp};

impl Store {
    /// The stored embedding of `content_hash` by `model`, if any.
    pub async fn embedding(&self, model: &str, content_hash: &str) -> Result<Option<Vec<f32>>> {
        let row: Option<(i64, Vec<u8>)> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT dimensions, vector FROM embeddings WHERE model = $1 AND content_hash = $2",
            )
            .bind(model)
            .bind(content_hash)
            .fetch_optional(pool)
            .await
        })
        .map_err(self.db_err("read an embedding", None))?;
        row.map(|(dimensions, bytes)| self.decode_vector(model, content_hash, dimensions, &bytes))
            .transpose()
    }

    /// Stores the embedding of `content_hash` by `model`. A content already embedded by that
    /// model keeps its first vector (writing it again is not an error).
    pub async fn put_embedding(
        &self,
        model: &str,
        content_hash: &str,
        vector: &[f32],
    ) -> Result<()> {
        if self.inner.read_only {
            return Err(Error::ReadOnly {
                store: self.inner.name.clone(),
                context: "store an embedding".into(),
            });
        }
        let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
        on_db!(self, pool => {
            sqlx::query(
                "INSERT INTO embeddings (model, content_hash, dimensions, vector, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (model, content_hash) DO NOTHING",
            )
            .bind(model)
            .bind(content_hash)
            .bind(vector.len() as i64)
            .bind(bytes.as_slice())
            .bind(Timestamp::now().0)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(self.db_err("store an embedding", None))
    }

    /// The embeddings by `model` of the run's nodes that are not duplicates and have one,
    /// by node id (what `--novelty` compares a new candidate with, rebuilt on resume).
    pub async fn run_embeddings(&self, run: RunId, model: &str) -> Result<Vec<(NodeId, Vec<f32>)>> {
        let rows: Vec<(i64, String, i64, Vec<u8>)> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT n.id, n.content_hash, m.dimensions, m.vector FROM nodes n \
                 JOIN embeddings m ON m.model = $2 AND m.content_hash = n.content_hash \
                 WHERE n.run_id = $1 AND n.duplicate_of IS NULL ORDER BY n.id",
            )
            .bind(run.0)
            .bind(model)
            .fetch_all(pool)
            .await
        })
        .map_err(self.db_err("read the run's embeddings", Some(run)))?;
        rows.into_iter()
            .map(|(id, hash, dimensions, bytes)| {
                Ok((
                    NodeId(id),
                    self.decode_vector(model, &hash, dimensions, &bytes)?,
                ))
            })
            .collect()
    }

    fn decode_vector(
        &self,
        model: &str,
        content_hash: &str,
        dimensions: i64,
        bytes: &[u8],
    ) -> Result<Vec<f32>> {
        if dimensions < 0 || bytes.len() != dimensions as usize * 4 {
            return Err(Error::CorruptEmbedding {
                store: self.inner.name.clone(),
                model: model.to_string(),
                content_hash: content_hash.to_string(),
                dimensions,
                bytes: bytes.len(),
            });
        }
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}
