//! Long-horizon scale bench: per-step cost per tenth of a run, peak memory, resume time.
//! `#[ignore]`d: a benchmark that prints figures, not a test of them.
//!
//! - `scale_strategies`: each strategy planning a synthetic run held in memory to
//!   `HONE_SCALE_NODES` (100,000) nodes: a step is `next`, then the node pushed and
//!   observed (forest: a scatter's directions observed, a scout abandoned). Each strategy
//!   runs in a child process of its own, so its peak resident memory (`VmHWM`) is its own.
//! - `scale_runs`: real runs (`Orchestrator::create` + `drive`, concurrency 1) of
//!   `HONE_SCALE_STEPS` (20,000) steps on `tests/fixtures/noop-wat` with a zero-latency
//!   `replay-seq:` cassette of distinct copies of the seed (each reply opening with two
//!   directions for forest's scatters); per-step wall time per tenth from the nodes'
//!   stored times; the process's own memory (`RssAnon`, sampled every 20 ms) after
//!   `create`, at the first and the ninth tenth of the run and at its peak, and the peak
//!   of its mapped files (`RssFile`: the store's database, which SQLite maps, apart); and
//!   the time `Orchestrator::resume` takes to reopen the finished run (with the cassette
//!   cut to a few entries first, so that the stand-in model's parse is not counted).
//! - `scale_resume`: a run of `HONE_SCALE_NODES` synthetic nodes written straight into a
//!   store without lineage, then the time `Orchestrator::resume` takes to reopen it.
//!
//! `HONE_SCALE_STRATEGIES=mcts,islands` limits the strategies. Run:
//! `cargo test -p hone-agent --test all scale -- --ignored --nocapture --test-threads 1`

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hone_agent::llm::{CassetteEntry, ChatMessage, ChatRequest, Usage};
use hone_agent::orchestrator::{Orchestrator, RunSettings};
use hone_agent::prompt::Operator;
use hone_agent::search::{Plan, SearchTree, StrategyConfig, TreeNode};
use hone_sandbox::{Sandbox, SandboxConfig};
use hone_store::{
    Budgets, LineageLocation, NewEvaluation, NewNode, NodeId, RunId, Store, StoreConfig, Timestamp,
};
use hone_tasks::{Candidate, EvalStatus, TaskLoader};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;

const TASK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/noop-wat");
const CHILD: &str = "HONE_SCALE_CHILD";

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn strategies(all: &[&'static str]) -> Vec<&'static str> {
    let only = std::env::var("HONE_SCALE_STRATEGIES").unwrap_or_default();
    all.iter()
        .copied()
        .filter(|s| only.is_empty() || only.split(',').any(|o| o == *s))
        .collect()
}

/// A field of `/proc/self/status` in KiB (`VmHWM`: peak resident, `VmRSS`: resident).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Samples this process's `RssAnon` and `RssFile` (KiB) every 20 ms on a thread of its
/// own, from its start to its stop.
struct MemorySampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(Instant, u64, u64)>>,
}

/// What a [`MemorySampler`] saw.
struct MemorySamples(Vec<(Instant, u64, u64)>);

impl MemorySampler {
    fn start() -> MemorySampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            loop {
                samples.push((Instant::now(), status_kib("RssAnon"), status_kib("RssFile")));
                if flag.load(Ordering::Relaxed) {
                    return samples;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        MemorySampler { stop, thread }
    }

    fn stop(self) -> MemorySamples {
        self.stop.store(true, Ordering::Relaxed);
        MemorySamples(
            self.thread
                .join()
                .unwrap_or_else(|_| panic!("the memory sampler panicked")),
        )
    }
}

impl MemorySamples {
    /// The highest `RssAnon` and `RssFile` seen.
    fn peaks(&self) -> (u64, u64) {
        self.0.iter().fold((0, 0), |(a, f), &(_, anon, file)| {
            (a.max(anon), f.max(file))
        })
    }

    /// `RssAnon` at `fraction` of the time from `started` to `started + took`.
    fn anon_at(&self, started: Instant, took: Duration, fraction: f64) -> u64 {
        let at = started + took.mul_f64(fraction);
        self.0
            .iter()
            .rfind(|(when, _, _)| *when <= at)
            .map_or(0, |&(_, anon, _)| anon)
    }
}

/// Runs this test again in a child process with `CHILD=arg`, output passed through.
fn in_child(test: &str, arg: &str) {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
    let status = Command::new(exe)
        .args([
            test,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD, arg)
        .status()
        .unwrap_or_else(|e| panic!("{test}: {e}"));
    assert!(status.success(), "{test} {arg}: {status}");
}

/// Mean per step of each tenth, in µs, and the last tenth over the first.
fn tenths_line(per_tenth: &[(Duration, u64)]) -> String {
    let means: Vec<f64> = per_tenth
        .iter()
        .map(|(d, n)| d.as_secs_f64() * 1e6 / (*n).max(1) as f64)
        .collect();
    let text: Vec<String> = means.iter().map(|m| format!("{m:.1}")).collect();
    format!(
        "[{}] µs; last/first {:.2}",
        text.join(", "),
        means[9] / means[0].max(1e-9)
    )
}

// ---------------------------------------------------------------------------------------
// Strategies on a synthetic run in memory.

/// The synthetic result of a step: a score near its parent's (30% better), 15% invalid,
/// 3% duplicates.
fn synthetic_node(world: &mut ChaCha12Rng, tree: &SearchTree, id: i64, plan: &Plan) -> TreeNode {
    let base = plan.parent.map(|p| tree.node(p).score).unwrap_or(0.0);
    let base = if base.is_finite() { base } else { 0.0 };
    let valid = world.random_bool(0.85);
    TreeNode {
        id,
        parent: plan.parent,
        children: Vec::new(),
        operator: if plan.parent.is_none() {
            Operator::Draft
        } else {
            plan.operator
        },
        depth: plan.parent.map(|p| tree.node(p).depth + 1).unwrap_or(0),
        tree: plan.tree,
        island: plan.island,
        status: if valid {
            EvalStatus::Ok
        } else {
            EvalStatus::WrongAnswer
        },
        valid,
        score: base + 0.1 * (world.random::<f64>() - 0.7),
        duplicate: world.random_bool(0.03),
        direction: plan.direction.clone(),
        measures: Vec::new(),
    }
}

/// Plans a synthetic run of `nodes` nodes with `strategy`; returns the tree.
fn synthetic_run(strategy: &str, nodes: usize, report: bool) -> SearchTree {
    let mut config = StrategyConfig::default_for(strategy)
        .unwrap_or_else(|| panic!("unknown strategy {strategy}"));
    // map-elites: a 20 x 20 grid over two descriptors in [0, 1), drawn from nothing the
    // synthetic run's RNG gives (the other strategies' runs stay as they were).
    let grid = matches!(config, StrategyConfig::MapElites { .. });
    if let StrategyConfig::MapElites { descriptors } = &mut config {
        *descriptors = hone_agent::search::measures::parse_descriptors("a:0..1:20,b:0..1:20")
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut strategy_state = config.build();
    let mut world = ChaCha12Rng::seed_from_u64(7);
    let mut tree = SearchTree::new();
    let seed = synthetic_node(&mut world, &tree, 1, &Plan::new(Operator::Seed, None));
    let index = tree.push(seed);
    strategy_state.observe(&tree, index);
    let mut per_tenth = vec![(Duration::ZERO, 0u64); 10];
    // Per tenth: the planned nodes' depths and the children on their paths (what a descent
    // from the root compares), summed over every 64th step that planned a node. The walk
    // reads the whole path (24,000 nodes deep in greedy's chain), which evicts what the
    // strategy keeps in the caches: the step after a walk is not timed.
    let mut walks = vec![(0u64, 0u64, 0u64); 10];
    let mut walked = false;
    let mut step = 0u64;
    let started = Instant::now();
    while tree.len() < nodes {
        let tenth = (tree.len() * 10 / nodes).min(9);
        let began = Instant::now();
        let mut rng = ChaCha12Rng::seed_from_u64(step);
        rng.set_stream(step);
        step += 1;
        let plan = strategy_state
            .next(&tree, &mut rng)
            .unwrap_or_else(|| panic!("{strategy}: no plan at {} nodes", tree.len()));
        match (plan.operator, plan.parent) {
            (Operator::Scatter, Some(parent)) => strategy_state.observe_directions(
                parent,
                vec!["first direction".into(), "second direction".into()],
            ),
            (Operator::Scout, _) => strategy_state.abandon(&plan),
            _ => {
                let id = tree.len() as i64 + 1;
                let mut node = synthetic_node(&mut world, &tree, id, &plan);
                if grid {
                    node.measures = vec![
                        (node.score * 37.0).fract().abs(),
                        ((id * 7919) % 1000) as f64 / 1000.0,
                    ];
                }
                let index = tree.push(node);
                strategy_state.observe(&tree, index);
            }
        }
        if !walked {
            per_tenth[tenth].0 += began.elapsed();
            per_tenth[tenth].1 += 1;
        }
        walked = false;
        if report
            && step.is_multiple_of(64)
            && let Some(parent) = plan.parent
        {
            walked = true;
            let path = tree.path(parent);
            let compared: usize = path[..path.len() - 1]
                .iter()
                .map(|&i| tree.node(i).children.len())
                .sum();
            walks[tenth].0 += u64::from(tree.node(parent).depth);
            walks[tenth].1 += compared as u64;
            walks[tenth].2 += 1;
        }
    }
    if report {
        let mean = |pick: fn(&(u64, u64, u64)) -> u64| -> String {
            let means: Vec<String> = walks
                .iter()
                .map(|w| format!("{:.0}", pick(w) as f64 / w.2.max(1) as f64))
                .collect();
            means.join(", ")
        };
        println!(
            "scale strategy {strategy}: {nodes} nodes, {step} steps in {:.1} s; step per tenth {}; \
             planned node's depth per tenth [{}], children on its path [{}]",
            started.elapsed().as_secs_f64(),
            tenths_line(&per_tenth),
            mean(|w| w.0),
            mean(|w| w.1),
        );
    }
    tree
}

#[test]
#[ignore = "a benchmark: prints figures"]
fn scale_strategies() {
    let nodes = knob("HONE_SCALE_NODES", 100_000);
    match std::env::var(CHILD) {
        Ok(strategy) => {
            let before = status_kib("VmRSS");
            let tree = synthetic_run(&strategy, nodes, true);
            let peak = status_kib("VmHWM");
            println!(
                "scale strategy {strategy}: peak resident {} MiB, {:.0} bytes per node over the \
                 {} MiB before (the tree and the strategy's state)",
                peak / 1024,
                (peak.saturating_sub(before)) as f64 * 1024.0 / tree.len() as f64,
                before / 1024,
            );
        }
        Err(_) => {
            for strategy in strategies(&StrategyConfig::NAMES) {
                in_child("scale::scale_strategies", strategy);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Real runs.

fn seed_text() -> String {
    let path = Path::new(TASK).join("seed.wat");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A `replay-seq:` cassette of `steps` distinct copies of the seed. Each reply also opens
/// with two directions, so forest's scatters get them, and its program block is untagged,
/// so forest's scouts take the reply as insights (the program's operators read the block).
fn write_cassette(path: &Path, steps: usize) {
    let seed = seed_text();
    let request = ChatRequest::new("bench-model", vec![ChatMessage::user("bench")]);
    let mut text = String::new();
    for n in 0..steps {
        let entry = CassetteEntry {
            hash: request.hash(),
            request: request.clone(),
            reply: format!(
                "Directions: [\"first direction {n}\", \"second direction {n}\"]\n\n\
                 The same program.\n\n```\n;; variant {n}\n{seed}```\n"
            ),
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

fn tasks() -> TaskLoader {
    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: Some(std::env::temp_dir().join("hone-test-cache")),
        ..SandboxConfig::default()
    })
    .unwrap_or_else(|e| panic!("sandbox: {e}"));
    TaskLoader::new(sandbox)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn settings(strategy: &str, cassette: &Path, evaluations: usize) -> RunSettings {
    let mut settings = RunSettings::new(PathBuf::from(TASK));
    settings.strategy = StrategyConfig::default_for(strategy)
        .unwrap_or_else(|| panic!("unknown strategy {strategy}"));
    if let StrategyConfig::MapElites { descriptors } = &mut settings.strategy {
        // The task has no [search.map_elites]: a grid over code length.
        *descriptors = hone_agent::search::measures::parse_descriptors("code_len:0..4000:20")
            .unwrap_or_else(|e| panic!("{e}"));
    }
    settings.llm.spec = format!("replay-seq:{}", cassette.display());
    settings.budgets = Budgets {
        evaluations: Some(evaluations as i64),
        ..Budgets::default()
    };
    settings
}

/// Reopens `run` as `hone resume` does; the time it took.
async fn time_resume(store: &Store, tasks: &TaskLoader, run: RunId) -> Duration {
    let started = Instant::now();
    let orchestrator = Orchestrator::resume(store.clone(), tasks, run, &|_| None)
        .await
        .unwrap_or_else(|e| panic!("resume: {e}"));
    let took = started.elapsed();
    drop(orchestrator);
    took
}

fn one_run(strategy: &str, steps: usize) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let cassette = dir.path().join("cassette.jsonl");
    // Forest asks the model about 2.5 times a node: a scatter for two children, a scout
    // after each.
    let calls = if strategy == "forest" { 3 } else { 1 };
    write_cassette(&cassette, calls * steps + 1);
    let tasks = tasks();
    let settings = settings(strategy, &cassette, steps + 1);
    runtime().block_on(async {
        let config = StoreConfig::new(dir.path().join("hone.db").display().to_string());
        let store = Store::open_with(config)
            .await
            .unwrap_or_else(|e| panic!("store: {e}"));
        let orchestrator = Orchestrator::create(store.clone(), &tasks, settings)
            .await
            .unwrap_or_else(|e| panic!("create: {e}"));
        // After `create`: the cassette (a copy of the seed and the request per step) and the
        // engine are loaded, so what grows from here is the run's own.
        let before = status_kib("RssAnon");
        let sampler = MemorySampler::start();
        let started = Instant::now();
        let outcome = tokio::spawn(orchestrator.drive())
            .await
            .unwrap_or_else(|e| panic!("drive: {e}"))
            .unwrap_or_else(|e| panic!("drive: {e}"));
        let took = started.elapsed();
        let samples = sampler.stop();
        let (anon, file) = samples.peaks();
        // The growth from the first tenth of the run to the ninth: what each node adds once
        // the fixed costs (caches, pools, buffers) are paid.
        let (early, late) = (
            samples.anon_at(started, took, 0.1),
            samples.anon_at(started, took, 0.9),
        );
        let growth = late.saturating_sub(early) as f64 * 1024.0 / (0.8 * steps as f64);
        let nodes = store
            .load_tree(RunId(outcome.run))
            .await
            .unwrap_or_else(|e| panic!("load: {e}"));
        let mut per_tenth = vec![(Duration::ZERO, 0u64); 10];
        for (i, pair) in nodes.windows(2).enumerate() {
            let tenth = (i * 10 / nodes.len().max(1)).min(9);
            let ms = pair[1].created_at.as_millis() - pair[0].created_at.as_millis();
            per_tenth[tenth].0 += Duration::from_millis(ms.max(0) as u64);
            per_tenth[tenth].1 += 1;
        }
        drop(nodes);
        // The resume reopens the run's model, here the cassette: cut to a few entries, so
        // that the figure is hone's own and not the stand-in's parse of every reply.
        write_cassette(&cassette, 4);
        let resume = time_resume(&store, &tasks, RunId(outcome.run)).await;
        println!(
            "scale run {strategy}: {} nodes in {:.1} s ({:.3} ms a step); step per tenth {}; \
             process memory (RssAnon) {} MiB after create, {} MiB at the first tenth, \
             {} MiB at the ninth ({growth:.0} bytes per node in between), peak {} MiB; \
             peak mapped files (RssFile: the binary, the store's database SQLite maps) \
             {} MiB; resume {:.2} s",
            outcome.evaluations,
            took.as_secs_f64(),
            took.as_secs_f64() * 1e3 / outcome.evaluations.max(1) as f64,
            tenths_line(&per_tenth),
            before / 1024,
            early / 1024,
            late / 1024,
            anon / 1024,
            file / 1024,
            resume.as_secs_f64(),
        );
        store.close().await;
    });
}

#[test]
#[ignore = "a benchmark: prints figures"]
fn scale_runs() {
    let steps = knob("HONE_SCALE_STEPS", 20_000);
    match std::env::var(CHILD) {
        Ok(strategy) => one_run(&strategy, steps),
        Err(_) => {
            for strategy in
                strategies(&["greedy", "best-first", "mcts", "forest", "islands", "aide"])
            {
                in_child("scale::scale_runs", strategy);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Resume of a large run.

fn resume_large(strategy: &str, nodes: usize) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let cassette = dir.path().join("cassette.jsonl");
    write_cassette(&cassette, 4);
    let tasks = tasks();
    let code = seed_text();
    let tree = synthetic_run(strategy, nodes, false);
    runtime().block_on(async {
        let mut config = StoreConfig::new(dir.path().join("hone.db").display().to_string());
        config.lineage = LineageLocation::Disabled;
        let store = Store::open_with(config)
            .await
            .unwrap_or_else(|e| panic!("store: {e}"));
        // The run with its seed, stored by a real (one-evaluation) run.
        let orchestrator =
            Orchestrator::create(store.clone(), &tasks, settings(strategy, &cassette, 1))
                .await
                .unwrap_or_else(|e| panic!("create: {e}"));
        let run = orchestrator.run_id();
        orchestrator
            .drive()
            .await
            .unwrap_or_else(|e| panic!("drive: {e}"));
        let stored = store.load_tree(run).await.unwrap_or_else(|e| panic!("{e}"));
        let seed_id = stored[0].id;
        // The synthetic tree's other nodes under it, in batches, parents first: a batch
        // ends before a node whose parent is in it (its id is known only once stored).
        let mut ids: Vec<NodeId> = vec![seed_id];
        let mut chunk_start = 1;
        while chunk_start < tree.len() {
            let mut chunk_end = chunk_start + 1;
            while chunk_end < tree.len()
                && chunk_end - chunk_start < 2_000
                && tree.node(chunk_end).parent.is_none_or(|p| p < chunk_start)
            {
                chunk_end += 1;
            }
            let items: Vec<(NewNode, NewEvaluation)> = (chunk_start..chunk_end)
                .map(|i| {
                    let n = tree.node(i);
                    let parent = n.parent.map(|p| ids[p]).or(Some(seed_id));
                    let files = Candidate::from_file("main.wat", format!(";; {i}\n{code}")).files;
                    (
                        NewNode {
                            run,
                            parent,
                            operator: n.operator.name().to_string(),
                            tree: n.tree,
                            island: n.island,
                            depth: i64::from(n.depth) + 1,
                            files,
                            values: serde_json::Value::Object(Default::default()),
                            content_hash: format!("synthetic-{i}"),
                            duplicate_of: None,
                            llm_call: None,
                            created_at: Timestamp::now(),
                        },
                        NewEvaluation {
                            status: n.status.to_string(),
                            valid: n.valid,
                            score: n.score,
                            metrics: serde_json::json!({"fuel": 1000}),
                            feedback: "ok: 42".into(),
                            trace: serde_json::Value::Null,
                            fuel: Some(1000),
                            wall_ms: Some(0.1),
                        },
                    )
                })
                .collect();
            let new_ids = store
                .insert_nodes(&items)
                .await
                .unwrap_or_else(|e| panic!("insert: {e}"));
            ids.extend(new_ids);
            chunk_start = chunk_end;
        }
        drop(tree);
        let before = status_kib("VmRSS");
        let resume = time_resume(&store, &tasks, run).await;
        let again = time_resume(&store, &tasks, run).await;
        println!(
            "scale resume {strategy}: {} nodes reopened in {:.2} s, again {:.2} s \
             (resident {} MiB before, {} MiB after)",
            ids.len(),
            resume.as_secs_f64(),
            again.as_secs_f64(),
            before / 1024,
            status_kib("VmRSS") / 1024,
        );
        store.close().await;
    });
}

#[test]
#[ignore = "a benchmark: prints figures"]
fn scale_resume() {
    let nodes = knob("HONE_SCALE_NODES", 100_000);
    match std::env::var(CHILD) {
        Ok(strategy) => resume_large(&strategy, nodes),
        Err(_) => {
            for strategy in strategies(&StrategyConfig::NAMES) {
                in_child("scale::scale_resume", strategy);
            }
        }
    }
}
