//! Orchestrator overhead per step, without model latency or evaluation time.
//!
//! The run is real (`Orchestrator::create` + `drive`, greedy, `--concurrency 1`) on a task
//! that does almost nothing (`tests/fixtures/noop-wat`: a wat program printing 42), with a
//! zero-latency `replay-seq:` cassette whose replies are distinct copies of the seed (a
//! `;; variant N` comment apart: every step is a fresh evaluation, never a duplicate, and
//! the compiled module is the same). A step is everything the loop does: the strategy,
//! the prompt, the replayed model call stored before its reply is parsed, the parse, the
//! evaluation, the node and evaluation in one transaction; lineage commits are written by
//! the background writer and flushed before `drive` returns, so they count too. `drive`
//! runs in a task of the multi-threaded runtime, as `hone run` runs it.
//!
//! - `orchestrator/step`: wall time per step of `drive` (1 / steps per second).
//! - `orchestrator/evaluation`: the same candidates' evaluations alone, on a fresh task.
//! - With `--bench`, a summary line per store setting: steps per second and the overhead
//!   per step = (drive time - evaluation time) / steps, over `HONE_BENCH_STEPS` (1,000)
//!   steps at `--concurrency HONE_BENCH_CONCURRENCY` (1), split into the store's share on
//!   the step's path (the run's calls and nodes written again, alone, into a fresh store:
//!   call, then node + evaluation) and the rest; the
//!   lineage commits of those nodes, written afterwards in one batch, are timed beside it;
//!   `HONE_BENCH_STORE=default`, `full-sync` or `no-lineage` runs only that setting.
//!
//! Run: `cargo bench -p hone-agent --bench orchestrator -- --measurement-time 5`

#![allow(
    clippy::disallowed_methods,
    reason = "tests and benches read their own knobs (database URLs, seeds, caches) from the environment"
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use hone_agent::llm::{CassetteEntry, ChatMessage, ChatRequest, Usage};
use hone_agent::orchestrator::{Orchestrator, RunSettings};
use hone_sandbox::{Sandbox, SandboxConfig};
use hone_store::{
    Budgets, Durability, LineageLocation, LlmCallRecord, NewEvaluation, NewLlmCall, NewNode,
    NewRun, NodeId, RunId, Store, StoreConfig, Timestamp,
};
use hone_tasks::{Candidate, TaskLoader};

const TASK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/noop-wat");

fn seed() -> String {
    let path = Path::new(TASK).join("seed.wat");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn variant(seed: &str, n: u64) -> String {
    format!(";; variant {n}\n{seed}")
}

/// A `replay-seq:` cassette of `steps` replies, variants `first..first + steps`.
fn write_cassette(path: &Path, seed: &str, first: u64, steps: u64) {
    let request = ChatRequest::new("bench-model", vec![ChatMessage::user("bench")]);
    let mut text = String::new();
    for n in first..first + steps {
        let entry = CassetteEntry {
            hash: request.hash(),
            request: request.clone(),
            reply: format!("The same program.\n\n```wat\n{}```\n", variant(seed, n)),
            usage: Usage {
                prompt_tokens: 100,
                completion_tokens: 50,
                estimated: false,
            },
            model: "bench-model".into(),
            cost_usd: 0.0,
            finish_reason: Some("stop".into()),
        };
        text.push_str(&serde_json::to_string(&entry).unwrap_or_else(|e| panic!("{e}")));
        text.push('\n');
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// How the store is opened.
#[derive(Clone, Copy)]
enum StoreSetting {
    /// What `hone run` uses: synchronous=NORMAL and a lineage commit per node.
    Default,
    /// `?synchronous=full` (an fsync per commit) and lineage.
    FullSync,
    /// synchronous=NORMAL, no lineage: the orchestrator's own overhead more than the disk's.
    NoLineage,
}

struct Bench {
    runtime: tokio::runtime::Runtime,
    tasks: TaskLoader,
    seed: String,
    dir: tempfile::TempDir,
    /// Variants used so far (each run gets new ones).
    next_variant: u64,
    runs: u64,
    concurrency: usize,
}

impl Bench {
    fn new() -> Bench {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let sandbox = Sandbox::new(SandboxConfig {
            cache_dir: Some(std::env::temp_dir().join("hone-test-cache")),
            ..SandboxConfig::default()
        })
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
        Bench {
            runtime,
            tasks: TaskLoader::new(sandbox),
            seed: seed(),
            dir,
            next_variant: 0,
            runs: 0,
            concurrency: 1,
        }
    }

    /// One run of `steps` model steps; returns the time `drive` took.
    fn run(&mut self, steps: u64, setting: StoreSetting) -> Duration {
        self.run_and_replay(steps, setting, false).0
    }

    /// One run; with `replay`, also the time the same store writes take alone (each stored
    /// call and node written again into a fresh store, in order) and then their lineage.
    fn run_and_replay(
        &mut self,
        steps: u64,
        setting: StoreSetting,
        replay: bool,
    ) -> (Duration, (Duration, Duration)) {
        self.runs += 1;
        let run_dir: PathBuf = self.dir.path().join(format!("run-{}", self.runs));
        std::fs::create_dir_all(&run_dir).unwrap_or_else(|e| panic!("{e}"));
        let cassette = run_dir.join("cassette.jsonl");
        write_cassette(&cassette, &self.seed, self.next_variant, steps);
        self.next_variant += steps;
        let mut settings = RunSettings::new(PathBuf::from(TASK));
        settings.llm.spec = format!("replay-seq:{}", cassette.display());
        settings.budgets = Budgets {
            evaluations: Some(steps as i64 + 1),
            ..Budgets::default()
        };
        settings.concurrency = self.concurrency;
        let config = store_config(&run_dir.join("hone.db"), setting);
        let replay_config = store_config(&run_dir.join("replay").join("hone.db"), setting);
        let tasks = &self.tasks;
        self.runtime.block_on(async {
            let store = Store::open_with(config)
                .await
                .unwrap_or_else(|e| panic!("store: {e}"));
            let orchestrator = Orchestrator::create(store.clone(), tasks, settings)
                .await
                .unwrap_or_else(|e| panic!("create: {e}"));
            let started = Instant::now();
            let outcome = tokio::spawn(orchestrator.drive())
                .await
                .unwrap_or_else(|e| panic!("drive: {e}"))
                .unwrap_or_else(|e| panic!("drive: {e}"));
            let took = started.elapsed();
            assert_eq!(outcome.evaluations, steps as i64 + 1, "{outcome:?}");
            assert_eq!(outcome.duplicates, 0);
            let store_time = if replay {
                replay_store_work(&store, RunId(outcome.run), replay_config).await
            } else {
                (Duration::ZERO, Duration::ZERO)
            };
            store.close().await;
            (took, store_time)
        })
    }

    /// Evaluates `steps` fresh variants on a freshly loaded task, as the run does.
    fn evaluations(&mut self, steps: u64) -> Duration {
        let task = self
            .tasks
            .load(Path::new(TASK))
            .unwrap_or_else(|e| panic!("{e}"));
        let candidates: Vec<Candidate> = (self.next_variant..self.next_variant + steps)
            .map(|n| Candidate::from_file("main.wat", variant(&self.seed, n)))
            .collect();
        self.next_variant += steps;
        let started = Instant::now();
        for candidate in &candidates {
            let evaluation = task.evaluate(candidate);
            assert!(evaluation.valid, "{}", evaluation.feedback);
        }
        started.elapsed()
    }
}

fn store_config(path: &Path, setting: StoreSetting) -> StoreConfig {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut config = StoreConfig::new(path.display().to_string());
    match setting {
        StoreSetting::Default => {}
        StoreSetting::FullSync => config.durability = Durability::Full,
        StoreSetting::NoLineage => config.lineage = LineageLocation::Disabled,
    }
    config
}

/// Writes `run`'s calls and nodes again into a fresh store, as a step does (the call, then
/// the node with its evaluation); returns the time taken, run creation excluded, and the
/// time their lineage commits take afterwards in one batch.
async fn replay_store_work(
    source: &Store,
    run: RunId,
    config: StoreConfig,
) -> (Duration, Duration) {
    let fail = |e: hone_store::Error| -> ! { panic!("store replay: {e}") };
    let record = source.get_run(run).await.unwrap_or_else(|e| fail(e));
    let nodes = source.load_tree(run).await.unwrap_or_else(|e| fail(e));
    let calls = source.llm_calls(run).await.unwrap_or_else(|e| fail(e));
    let store = Store::open_with(config).await.unwrap_or_else(|e| fail(e));
    let copy = store
        .create_run(&NewRun {
            task_name: record.task_name,
            task_dir: record.task_dir,
            task_hash: record.task_hash,
            kind: record.kind,
            config: record.config,
            seed: record.seed,
            strategy: record.strategy,
            budgets: record.budgets,
            started_at: Timestamp::now(),
        })
        .await
        .unwrap_or_else(|e| fail(e));
    let call_of: std::collections::HashMap<i64, &LlmCallRecord> =
        calls.iter().map(|c| (c.id.0, c)).collect();
    let mut ids: std::collections::HashMap<i64, NodeId> = std::collections::HashMap::new();
    let started = Instant::now();
    for node in &nodes {
        let parent = node.parent.map(|p| ids[&p.0]);
        let call = match node.llm_call.and_then(|c| call_of.get(&c.0)) {
            Some(c) => Some(
                store
                    .record_llm_call(&NewLlmCall {
                        run: copy,
                        parent,
                        operator: c.operator.clone(),
                        model: c.model.clone(),
                        system: c.system.clone(),
                        prompt: c.prompt.clone(),
                        reply: c.reply.clone(),
                        tokens_in: c.tokens_in,
                        tokens_out: c.tokens_out,
                        tokens_estimated: c.tokens_estimated,
                        cost_dollars: c.cost_dollars,
                        latency_ms: c.latency_ms,
                        error: c.error.clone(),
                        replayed: c.replayed,
                        attempt: c.attempt,
                        created_at: Timestamp::now(),
                    })
                    .await
                    .unwrap_or_else(|e| fail(e)),
            ),
            None => None,
        };
        let e = &node.evaluation;
        let id = store
            .insert_node(
                &NewNode {
                    run: copy,
                    parent,
                    operator: node.operator.clone(),
                    tree: node.tree,
                    island: node.island,
                    depth: node.depth,
                    files: node.files.clone(),
                    values: node.values.clone(),
                    content_hash: node.content_hash.clone(),
                    duplicate_of: None,
                    llm_call: call,
                    created_at: Timestamp::now(),
                },
                &NewEvaluation {
                    status: e.status.clone(),
                    valid: e.valid,
                    score: e.score.unwrap_or(f64::NEG_INFINITY),
                    metrics: e.metrics.clone(),
                    feedback: e.feedback.clone(),
                    trace: e.trace.clone(),
                    fuel: e.fuel,
                    wall_ms: e.wall_ms,
                },
            )
            .await
            .unwrap_or_else(|e| fail(e));
        ids.insert(node.id.0, id);
    }
    let took = started.elapsed();
    let mut all: Vec<NodeId> = ids.values().copied().collect();
    all.sort();
    let started = Instant::now();
    store
        .record_lineage_batch(&all)
        .await
        .unwrap_or_else(|e| fail(e));
    let lineage = started.elapsed();
    store.close().await;
    (took, lineage)
}

fn orchestrator(c: &mut Criterion) {
    let mut bench = Bench::new();
    let mut group = c.benchmark_group("orchestrator");
    group.sample_size(10);
    group.bench_function("step", |b| {
        b.iter_custom(|iters| bench.run(iters, StoreSetting::Default))
    });
    group.bench_function("step_no_lineage", |b| {
        b.iter_custom(|iters| bench.run(iters, StoreSetting::NoLineage))
    });
    group.bench_function("evaluation", |b| {
        b.iter_custom(|iters| bench.evaluations(iters))
    });
    group.finish();
}

/// One long run per store setting: steps per second and overhead per step.
fn summary() {
    let steps: u64 = std::env::var("HONE_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    let mut bench = Bench::new();
    bench.concurrency = std::env::var("HONE_BENCH_CONCURRENCY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    // Warm the caches (compiled module, templates).
    bench.run(5, StoreSetting::Default);
    let only = std::env::var("HONE_BENCH_STORE").unwrap_or_default();
    for (name, setting) in [
        ("default store", StoreSetting::Default),
        ("full-sync store", StoreSetting::FullSync),
        ("no-lineage store", StoreSetting::NoLineage),
    ] {
        if !only.is_empty() && !name.starts_with(only.as_str()) {
            continue;
        }
        let (drive, (store, lineage)) = bench.run_and_replay(steps, setting, true);
        let evaluations = bench.evaluations(steps);
        let ms = |d: f64| d * 1e3 / steps as f64;
        let overhead = drive.as_secs_f64() - evaluations.as_secs_f64();
        eprintln!(
            "orchestrator summary ({name}, {steps} steps, concurrency {}): {:.0} steps/s, {:.3} ms per step, \
             evaluation {:.3} ms, overhead {:.3} ms per step, of which the store's writes \
             {:.3} ms, the rest {:.3} ms; lineage alone, batched: {:.3} ms per node",
            bench.concurrency,
            steps as f64 / drive.as_secs_f64(),
            ms(drive.as_secs_f64()),
            ms(evaluations.as_secs_f64()),
            ms(overhead),
            ms(store.as_secs_f64()),
            ms(overhead - store.as_secs_f64()),
            ms(lineage.as_secs_f64()),
        );
    }
}

criterion_group!(benches, orchestrator);

fn main() {
    benches();
    if std::env::args().any(|a| a == "--bench") {
        summary();
    }
    Criterion::default().configure_from_args().final_summary();
}
