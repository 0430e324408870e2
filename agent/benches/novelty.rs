//! `--novelty`: one nearest-node query against the valid nodes of a long run, brute force
//! over MinHash signatures (128 `u32` a node) and over unit embeddings (1,536 `f32` a node,
//! the size of OpenAI's text-embedding-3-small), at 10,000 and 100,000 nodes; and the cost
//! of a candidate's signature.
//!
//! Run: `cargo bench -p hone-agent --bench novelty -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, criterion_group, criterion_main};
use hone_agent::novelty::{Index, Probe, Signature};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DIMENSIONS: usize = 1536;

/// A C program of about 3,000 characters, distinct per `variant`.
fn program(variant: usize) -> String {
    (0..60)
        .map(|i| {
            format!(
                "int f{i}_{variant}(int x) {{ return x * {} + {i}; }}\n",
                variant % 97
            )
        })
        .collect()
}

fn novelty(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut group = c.benchmark_group("novelty");
    group.sample_size(10);
    group.bench_function("signature of a 3 kB program", |b| {
        let code = program(1);
        b.iter(|| Signature::of(std::hint::black_box(&code)))
    });
    for nodes in [10_000usize, 100_000] {
        let mut index = Index::default();
        for i in 0..nodes {
            let mut signature = Signature::of("");
            for value in signature.0.iter_mut() {
                *value = rng.random();
            }
            index.insert(i as i64, Probe::Signature(signature));
        }
        let probe = Probe::Signature(Signature::of(&program(3)));
        group.bench_function(format!("nearest of {nodes} signatures"), |b| {
            b.iter(|| index.nearest(std::hint::black_box(&probe)))
        });
    }
    for nodes in [10_000usize, 100_000] {
        let mut index = Index::default();
        for i in 0..nodes {
            let vector: Vec<f32> = (0..DIMENSIONS)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            index.insert(i as i64, Probe::vector(vector));
        }
        let probe = Probe::vector(
            (0..DIMENSIONS)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect(),
        );
        group.bench_function(
            format!("nearest of {nodes} embeddings of {DIMENSIONS}"),
            |b| b.iter(|| index.nearest(std::hint::black_box(&probe))),
        );
    }
    group.finish();
}

criterion_group!(benches, novelty);
criterion_main!(benches);
