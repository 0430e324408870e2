//! Store benchmarks: acknowledged node+evaluation inserts per second (one per transaction and
//! batched) on SQLite, and the time to load a 100,000-node run for resume.
//!
//! `cargo bench -p hone-store --bench store -- --warm-up-time 1 --measurement-time 3`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hone_store::{
    Budgets, Durability, LineageLocation, NewEvaluation, NewNode, NewRun, NodeId, RunId, Store,
    StoreConfig, Timestamp,
};

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("tokio runtime: {e}"),
    }
}

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

async fn open(dir: &std::path::Path, durability: Durability) -> Store {
    let mut config = StoreConfig::new(dir.join("hone.db").to_string_lossy());
    config.lineage = LineageLocation::Disabled;
    config.durability = durability;
    ok(Store::open_with(config).await)
}

async fn new_run(store: &Store) -> RunId {
    ok(store
        .create_run(&NewRun {
            task_name: "bench".into(),
            task_dir: "bench".into(),
            task_hash: "h".into(),
            kind: "efficiency".into(),
            config: serde_json::json!({}),
            seed: 0,
            strategy: "greedy".into(),
            budgets: Budgets::default(),
            started_at: Timestamp(0),
        })
        .await)
}

/// A node with a realistic payload: ~2 KB of code, a few metrics, a small trace.
fn item(run: RunId, parent: Option<NodeId>, i: u64) -> (NewNode, NewEvaluation) {
    let code = format!(
        "// candidate {i}\n{}",
        "fn main() { let x = 1 + 2; println!(\"{x}\"); }\n".repeat(40)
    );
    (
        NewNode {
            run,
            parent,
            operator: "improve".into(),
            tree: Some(0),
            island: None,
            depth: 3,
            files: BTreeMap::from([("main.rs".to_string(), code)]),
            values: serde_json::json!({}),
            content_hash: format!("{i:016x}"),
            duplicate_of: None,
            llm_call: None,
            created_at: Timestamp(i as i64),
        },
        NewEvaluation {
            status: "ok".into(),
            valid: true,
            score: i as f64,
            metrics: serde_json::json!({"fuel": 123456, "peak_memory": 65536, "cases": 10}),
            feedback: "all 10 tests passed; fuel 123456".into(),
            trace: serde_json::json!([{"case": 1, "status": "ok", "fuel": 12345}, {"case": 2, "status": "ok", "fuel": 12346}]),
            fuel: Some(123456),
            wall_ms: Some(2.5),
        },
    )
}

fn inserts(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("insert");
    for (name, durability) in [("full", Durability::Full), ("normal", Durability::Normal)] {
        let dir = ok(tempfile::tempdir());
        let store = rt.block_on(open(dir.path(), durability));
        let run = rt.block_on(new_run(&store));
        let mut counter = 0u64;

        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("one_per_transaction", name), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                rt.block_on(async {
                    for _ in 0..iters {
                        counter += 1;
                        let (n, e) = item(run, None, counter);
                        ok(store.insert_node(&n, &e).await);
                    }
                });
                start.elapsed()
            })
        });

        const BATCH: u64 = 100;
        group.throughput(Throughput::Elements(BATCH));
        group.bench_function(BenchmarkId::new("batched_100", name), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let batch: Vec<_> = (0..BATCH)
                        .map(|_| {
                            counter += 1;
                            item(run, None, counter)
                        })
                        .collect();
                    let start = Instant::now();
                    rt.block_on(async { ok(store.insert_nodes(&batch).await) });
                    total += start.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

fn load(c: &mut Criterion) {
    const NODES: u64 = 100_000;
    let rt = runtime();
    let dir = ok(tempfile::tempdir());
    let store = rt.block_on(open(dir.path(), Durability::Normal));
    let run = rt.block_on(new_run(&store));
    rt.block_on(async {
        let mut parent = None;
        for chunk in 0..NODES / 1000 {
            let batch: Vec<_> = (0..1000)
                .map(|k| item(run, parent, chunk * 1000 + k))
                .collect();
            let ids = ok(store.insert_nodes(&batch).await);
            parent = ids.last().copied();
        }
    });
    let mut group = c.benchmark_group("resume");
    group.sample_size(10);
    group.throughput(Throughput::Elements(NODES));
    group.bench_function("load_tree_100k", |b| {
        b.iter(|| {
            let tree = rt.block_on(async { ok(store.load_tree(run).await) });
            assert_eq!(tree.len() as u64, NODES);
            tree
        })
    });
    group.bench_function("spend_and_best_100k", |b| {
        b.iter(|| {
            rt.block_on(async { (ok(store.spend(run).await), ok(store.best_node(run).await)) })
        })
    });
    group.finish();
}

criterion_group!(benches, inserts, load);
criterion_main!(benches);
