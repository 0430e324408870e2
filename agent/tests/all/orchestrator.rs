//! End-to-end tests of the orchestrator through the `hone` binary: a scripted model server,
//! every strategy, kill and resume, each budget, replayed runs, bad input and the outputs.
//!
//! Each test runs `hone` in its own temporary working directory with its own SQLite store;
//! compiled candidates are shared through one cache directory, and the mock model answers
//! from a deterministic schedule so every test compiles the same few programs.

mod budgets;
mod bundled;
mod cascade;
mod cpp;
mod degrade;
mod errors;
mod long_horizon;
mod meta;
mod novelty;
mod outages;
mod outputs;
mod ownership;
mod private_scores;
mod quality_diversity;
mod replay;
mod resume;
mod soak;
mod stopping;
mod strategies;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hone_agent::testing::{MockResponse, MockServer, RecordedRequest};
use hone_store::{LlmCallRecord, NodeRecord, RunId, RunSummary, Store};

/// The fixture task: sum N integers; the seed sums the array 64 times over.
pub(crate) const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sum-numbers");

/// The mock server's model name (priced through `hone.toml` in the dollar test).
pub(crate) const MODEL: &str = "mock-model";

/// Improvement directions a scatter prompt gets.
pub(crate) const DIRECTIONS: &str = "Two ideas:\n```json\n[\"Sum the array in one pass.\", \"Use fewer passes over the array.\"]\n```";

/// The insights a scout prompt gets.
pub(crate) const INSIGHTS: &str =
    "- Fewer passes over the array help.\n- Printing anything but the plain sum fails.";

/// A reply that holds no code block: a parse error, re-asked once.
pub(crate) const PROSE: &str =
    "I would sum the numbers once instead of many times; that should be faster.";

/// The shared compile cache of these tests.
pub(crate) fn cache_dir() -> PathBuf {
    std::env::temp_dir().join("hone-test-cache")
}

fn seed_source() -> String {
    let path = Path::new(FIXTURE).join("seed.c");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A correct program summing the array `reps` times (the seed does 64).
pub(crate) fn improved_program(variant: usize, reps: u32) -> String {
    let source = seed_source();
    assert!(
        source.contains("#define REPS 64"),
        "the fixture seed changed"
    );
    format!(
        "// variant {variant}\n{}",
        source.replace("#define REPS 64", &format!("#define REPS {reps}"))
    )
}

/// A fast program that prints a wrong answer.
pub(crate) fn wrong_program(variant: usize) -> String {
    let source = improved_program(variant, 2);
    let wrong = source.replace("printf(\"%lld\\n\", sum)", "printf(\"%lld\\n\", sum + 1)");
    assert_ne!(wrong, source, "the fixture seed changed");
    wrong
}

/// A program that does not compile.
pub(crate) fn broken_program(variant: usize) -> String {
    format!("// variant {variant}\nint main(void) {{ return undeclared_name; }}\n")
}

pub(crate) fn code_reply(idea: &str, source: &str) -> String {
    format!("{idea}\n\n```c\n{source}```\n")
}

/// What a request asks for, from its prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ask {
    Directions,
    Insights,
    Reask,
    Candidate,
}

pub(crate) fn classify(request: &RecordedRequest) -> Ask {
    let Some(json) = request.json() else {
        return Ask::Candidate;
    };
    let messages = json
        .get("messages")
        .and_then(|m| m.as_array())
        .cloned()
        .unwrap_or_default();
    let first_user = messages
        .iter()
        .find(|m| m.get("role").and_then(|r| r.as_str()) == Some("user"))
        .and_then(|m| m.get("content"))
        .and_then(|c| c.as_str())
        .unwrap_or("");
    let last_user = request.last_user_message().unwrap_or_default();
    if last_user.starts_with("Your reply could not be used") {
        Ask::Reask
    } else if first_user.contains("Answer with a JSON list of exactly") {
        Ask::Directions
    } else if first_user.contains("Answer with the new insights as plain text") {
        Ask::Insights
    } else {
        Ask::Candidate
    }
}

/// The schedule of candidate replies: the n-th candidate request gets an improvement, a
/// wrong answer, a compile error and prose, in turn (improvements sum 16, 8, 4, 2, 1 times).
/// A re-ask gets the one-pass program. Every program is distinct (a `// variant` line).
pub(crate) fn scheduled_reply(ask: Ask, n: usize) -> String {
    match ask {
        Ask::Directions => DIRECTIONS.to_string(),
        Ask::Insights => INSIGHTS.to_string(),
        Ask::Reask => code_reply("Summing once.", &improved_program(1000 + n, 1)),
        Ask::Candidate => match n % 4 {
            0 => {
                let reps = [16, 8, 4, 2, 1][(n / 4) % 5];
                code_reply("Fewer passes.", &improved_program(n, reps))
            }
            1 => code_reply("Two passes are enough.", &wrong_program(n)),
            2 => code_reply("A rewrite.", &broken_program(n)),
            _ => PROSE.to_string(),
        },
    }
}

/// The mock model server, on its own runtime, answering by [`scheduled_reply`].
pub(crate) struct MockModel {
    server: MockServer,
    // Declared last: dropped after the server.
    _runtime: tokio::runtime::Runtime,
}

impl MockModel {
    /// A server answering by [`scheduled_reply`] after `delay` (usage: 10 prompt and 5
    /// completion tokens a reply).
    pub(crate) fn start(delay: Duration) -> MockModel {
        MockModel::with_replies(move |ask, n| {
            MockResponse::completion(&scheduled_reply(ask, n)).with_delay(delay)
        })
    }

    /// A server answering with `reply(ask, n)`, `n` counting the requests of that kind
    /// (candidates and re-asks; 0 for the others).
    pub(crate) fn with_replies(
        reply: impl Fn(Ask, usize) -> MockResponse + Send + Sync + 'static,
    ) -> MockModel {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let candidates = Arc::new(AtomicUsize::new(0));
        let reasks = Arc::new(AtomicUsize::new(0));
        let server = runtime
            .block_on(MockServer::start_with_rule(move |request| {
                let ask = classify(request);
                let n = match ask {
                    Ask::Candidate => candidates.fetch_add(1, Ordering::SeqCst),
                    Ask::Reask => reasks.fetch_add(1, Ordering::SeqCst),
                    _ => 0,
                };
                reply(ask, n)
            }))
            .unwrap_or_else(|e| panic!("mock server: {e}"));
        MockModel {
            server,
            _runtime: runtime,
        }
    }

    pub(crate) fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// `--llm openai` flags pointing at this server.
    pub(crate) fn flags(&self) -> Vec<String> {
        vec![
            "--llm".into(),
            "openai".into(),
            "--base-url".into(),
            self.base_url(),
            "--model".into(),
            MODEL.into(),
        ]
    }
}

/// A temporary working directory with its own store: `store.db` in it (SQLite), or a
/// database given by URL (PostgreSQL).
pub(crate) struct Work {
    pub dir: tempfile::TempDir,
    url: Option<String>,
}

impl Work {
    pub(crate) fn new() -> Work {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        Work { dir, url: None }
    }

    /// A working directory whose store is the database at `url`.
    pub(crate) fn with_store(url: String) -> Work {
        Work {
            url: Some(url),
            ..Work::new()
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The SQLite store's file (unused when the store is given by URL).
    pub(crate) fn store(&self) -> PathBuf {
        self.dir.path().join("store.db")
    }

    /// The `--store` argument.
    pub(crate) fn store_url(&self) -> String {
        self.url
            .clone()
            .unwrap_or_else(|| self.store().display().to_string())
    }

    pub(crate) fn command<S: AsRef<str>>(&self, args: &[S]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hone"));
        command
            .current_dir(self.dir.path())
            .env("HONE_CACHE_DIR", cache_dir())
            .env("HONE_LOG", "warn")
            .env_remove("HONE_STORE")
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .arg("--store")
            .arg(self.store_url())
            .args(args.iter().map(|a| a.as_ref()))
            .stdin(Stdio::null());
        command
    }

    /// Runs `hone ARGS` to the end.
    pub(crate) fn hone<S: AsRef<str>>(&self, args: &[S]) -> Output {
        self.command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot start hone: {e}"))
    }

    /// Runs `hone ARGS`, killing it (and failing the test) if it takes longer than `limit`.
    pub(crate) fn hone_within<S: AsRef<str>>(&self, args: &[S], limit: Duration) -> Output {
        let mut child = self.spawn(args);
        let deadline = Instant::now() + limit;
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let output = child.wait_with_output().ok();
                panic!(
                    "`hone {}` still ran after {limit:?}; stderr:\n{}",
                    args.iter()
                        .map(|a| a.as_ref())
                        .collect::<Vec<_>>()
                        .join(" "),
                    output.map(|o| stderr(&o)).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("wait: {e}"))
    }

    /// Starts `hone ARGS` without waiting.
    pub(crate) fn spawn<S: AsRef<str>>(&self, args: &[S]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start hone: {e}"))
    }

    /// `hone run FIXTURE ARGS --json`, which must succeed; returns its outcome.
    pub(crate) fn run_json<S: AsRef<str>>(&self, args: &[S]) -> serde_json::Value {
        let mut all: Vec<String> = vec!["run".into(), FIXTURE.into(), "--json".into()];
        all.extend(args.iter().map(|a| a.as_ref().to_string()));
        let output = self.hone(&all);
        assert_success(&output, &all.join(" "));
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "hone run --json printed no JSON ({e}):\n{}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// `hone status RUN --json`.
    pub(crate) fn status(&self, run: i64) -> serde_json::Value {
        let output = self.hone(&["status", &run.to_string(), "--json"]);
        assert_success(&output, "hone status --json");
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("status JSON: {e}"))
    }

    /// Reads the store directly (after the binary has exited).
    pub(crate) fn read<T>(&self, read: impl AsyncFnOnce(Store) -> T) -> T {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        runtime.block_on(async {
            let url = self.store_url();
            let store = Store::open(&url)
                .await
                .unwrap_or_else(|e| panic!("open {url}: {e}"));
            let value = read(store.clone()).await;
            store.close().await;
            value
        })
    }

    pub(crate) fn nodes(&self, run: i64) -> Vec<NodeRecord> {
        self.read(async |store| {
            store
                .load_tree(RunId(run))
                .await
                .unwrap_or_else(|e| panic!("load_tree: {e}"))
        })
    }

    pub(crate) fn calls(&self, run: i64) -> Vec<LlmCallRecord> {
        self.read(async |store| {
            store
                .llm_calls(RunId(run))
                .await
                .unwrap_or_else(|e| panic!("llm_calls: {e}"))
        })
    }

    pub(crate) fn summary(&self, run: i64) -> RunSummary {
        self.read(async |store| {
            store
                .run_summary(RunId(run))
                .await
                .unwrap_or_else(|e| panic!("run_summary: {e}"))
        })
    }
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub(crate) fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "`{what}` failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

/// The outcome's integer field.
pub(crate) fn int(value: &serde_json::Value, key: &str) -> i64 {
    value[key]
        .as_i64()
        .unwrap_or_else(|| panic!("`{key}` is not an integer in {value:#}"))
}

pub(crate) fn float(value: &serde_json::Value, key: &str) -> f64 {
    value[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is not a number in {value:#}"))
}

/// The store's invariants for one run: node ids contiguous (increasing on PostgreSQL),
/// every node evaluated, no
/// content evaluated twice, every parent in the run and older than its child.
pub(crate) fn assert_tree_integrity(work: &Work, run: i64) -> Vec<NodeRecord> {
    let nodes = work.nodes(run);
    assert!(!nodes.is_empty(), "run {run} has no node");
    let ids: Vec<i64> = nodes.iter().map(|n| n.id.0).collect();
    if work.url.is_none() {
        let first = ids[0];
        let expected: Vec<i64> = (first..first + ids.len() as i64).collect();
        assert_eq!(ids, expected, "node ids are not contiguous");
    } else {
        // A PostgreSQL sequence does not give back the id of an insert rolled back (its
        // driver killed mid-transaction): ids only increase.
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "node ids: {ids:?}");
    }
    let mut hashes = std::collections::HashSet::new();
    for node in &nodes {
        assert!(
            !node.evaluation.status.is_empty(),
            "node {} has no evaluation",
            node.id.0
        );
        if node.duplicate_of.is_none() {
            assert!(
                hashes.insert(node.content_hash.clone()),
                "content of node {} was evaluated twice",
                node.id.0
            );
        } else {
            let original = node.duplicate_of.map(|d| d.0).unwrap_or_default();
            assert!(ids.contains(&original) && original < node.id.0);
        }
        if let Some(parent) = node.parent {
            assert!(
                ids.contains(&parent.0) && parent.0 < node.id.0,
                "node {} has parent {} outside the run",
                node.id.0,
                parent.0
            );
        }
    }
    let integrity = work.read(async |store| {
        store
            .check_integrity()
            .await
            .unwrap_or_else(|e| panic!("integrity: {e}"))
    });
    assert!(integrity.is_ok(), "{integrity:?}");
    nodes
}

/// Nodes stored so far in run 1 (empty while the store is not there or busy).
pub(crate) fn stored_nodes(work: &Work) -> Vec<NodeRecord> {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    runtime.block_on(async {
        if work.url.is_none() && !work.store().exists() {
            return Vec::new();
        }
        let Ok(store) = Store::open(&work.store_url()).await else {
            return Vec::new();
        };
        let nodes = store.load_tree(RunId(1)).await.unwrap_or_default();
        store.close().await;
        nodes
    })
}

/// Waits until run 1 has at least `nodes` nodes while `child` is still running.
pub(crate) fn wait_for_nodes(work: &Work, child: &mut Child, nodes: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before it could be interrupted");
        }
        if stored_nodes(work).len() >= nodes {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the run stored fewer than {nodes} nodes in 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
