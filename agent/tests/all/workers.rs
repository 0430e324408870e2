//! Evaluation workers through PostgreSQL, end to end through the `hone` binary: three
//! worker processes reproduce a single-process run; a worker SIGKILLed mid-job costs one
//! lease and loses nothing; no job is ever held by two workers at once; bad input is
//! refused clearly. PostgreSQL is a throwaway server the tests start (when none can be
//! started: skipped with the reason printed, but failed under CI, `CI=true`). Most tests
//! run the workers as local processes; one runs each worker as a separate host on a
//! private bridge the test creates and removes, in network namespaces (`ip netns`, root;
//! skipped like PostgreSQL when unavailable, failed under CI).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hone_store::testing::PostgresServer;
use hone_store::{AttemptOutcome, JobAttempt, JobKind, JobOutcome, JobStatus, RunId, Store};

const HEAVY_BALL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tasks/library/params/heavy-ball"
);
const LONGEST_RUN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tasks/library/counterexample/longest-run"
);
const SLOW_SUM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/slow-sum");

fn cache_dir() -> PathBuf {
    std::env::temp_dir().join("hone-test-cache")
}

fn hone(dir: &Path, store: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hone"));
    command
        .current_dir(dir)
        .env_remove("HONE_STORE")
        .env_remove("HONE_CACHE_DIR")
        .arg("--store")
        .arg(store)
        .arg("--cache-dir")
        .arg(cache_dir())
        .stdin(Stdio::null());
    command
}

/// Starts `hone run LONGEST_RUN --workers` (evaluations through the queue), output piped.
fn run_with_workers(dir: &Path, url: &str) -> Child {
    hone(dir, url)
        .arg("run")
        .arg(LONGEST_RUN)
        .args(RUN_FLAGS)
        .arg("--workers")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("hone run --workers: {e}"))
}

pub(crate) fn server() -> Option<PostgresServer> {
    match PostgresServer::start() {
        Ok(server) => Some(server),
        Err(e) => {
            unavailable("worker tests: no PostgreSQL server could be started", &e);
            None
        }
    }
}

/// Whether the tests run under CI: `CI` set to anything but empty, `false` or `0`.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "false" | "0"))
}

/// A service a test needs is missing: under CI the test fails with `reason` (it must run
/// there, never pass unrun); elsewhere it prints `SKIPPED: ...` and the caller returns.
fn unavailable(what: &str, reason: &dyn std::fmt::Display) {
    if under_ci() {
        panic!(
            "{what}: {reason}\nCI is set, so this test must run, not skip.\n\
             hint: scripts/bootstrap installs PostgreSQL and iproute2; network namespaces need root (CAP_NET_ADMIN)"
        );
    }
    eprintln!("SKIPPED: {what}: {reason} (under CI=true this fails)");
}

pub(crate) fn database(server: &PostgresServer, name: &str) -> String {
    server
        .create_database(name)
        .unwrap_or_else(|e| panic!("createdb {name}: {e}"))
}

/// A `hone worker` process, its stderr in `dir/worker-N.log`; killed when dropped.
pub(crate) struct WorkerProcess {
    pub(crate) child: Child,
    log: PathBuf,
}

impl WorkerProcess {
    pub(crate) fn start(dir: &Path, store: &str, n: usize, lease: &str) -> WorkerProcess {
        let log = dir.join(format!("worker-{n}.log"));
        let file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let child = hone(dir, store)
            .args(["worker", "--lease", lease, "--poll", "200ms"])
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn hone worker: {e}"));
        WorkerProcess { child, log }
    }

    pub(crate) fn pid(&self) -> i64 {
        self.child.id() as i64
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for a child's exit and its output, killing it after `limit`.
fn wait_output(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("wait: {e}"),
        }
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"))
}

fn outcome(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "outcome JSON ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// One runtime for the whole test process: a store's connections belong to the runtime
/// that opened them, so a store opened in one runtime and queried in another fails when
/// the first shuts down.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    })
}

pub(crate) fn open(url: &str) -> Store {
    runtime()
        .block_on(Store::open(url))
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

/// The run's evaluated candidates: content hash -> (status, score bits).
fn evaluated(url: &str, run: i64) -> BTreeMap<String, (String, Option<u64>)> {
    let nodes = runtime()
        .block_on(open(url).load_tree(RunId(run)))
        .unwrap_or_else(|e| panic!("load tree: {e}"));
    nodes
        .into_iter()
        .filter(|n| n.duplicate_of.is_none())
        .map(|n| {
            (
                n.content_hash,
                (n.evaluation.status, n.evaluation.score.map(f64::to_bits)),
            )
        })
        .collect()
}

/// The claims of the run's public jobs (its private evaluations left out).
fn public_attempts(url: &str, run: i64) -> Vec<JobAttempt> {
    let jobs = runtime()
        .block_on(open(url).jobs(RunId(run)))
        .unwrap_or_else(|e| panic!("jobs: {e}"));
    attempts(url, run)
        .into_iter()
        .filter(|a| {
            jobs.iter()
                .any(|j| j.id == a.job && j.kind == JobKind::Public)
        })
        .collect()
}

pub(crate) fn attempts(url: &str, run: i64) -> Vec<JobAttempt> {
    runtime()
        .block_on(open(url).job_attempts(RunId(run)))
        .unwrap_or_else(|e| panic!("job attempts: {e}"))
}

/// No job was held by two workers at once: per job, each claim starts after the previous
/// one ended (a claim that never ended — a killed worker — ends at its lease).
pub(crate) fn assert_no_overlap(attempts: &[JobAttempt], lease_ms: i64) {
    let mut by_job: BTreeMap<i64, Vec<&JobAttempt>> = BTreeMap::new();
    for a in attempts {
        by_job.entry(a.job.0).or_default().push(a);
    }
    for (job, list) in by_job {
        for pair in list.windows(2) {
            let end = pair[0]
                .finished_at
                .map(|t| t.0)
                .unwrap_or(pair[0].claimed_at.0 + lease_ms);
            assert!(
                pair[1].claimed_at.0 >= end,
                "job {job}: attempt {} claimed at {} while attempt {} held it until {end}",
                pair[1].attempt,
                pair[1].claimed_at.0,
                pair[0].attempt
            );
        }
    }
}

/// `--llm random` draws each step's candidate from the step's own RNG stream, so the set
/// of candidates does not depend on the order evaluations finish in (at any concurrency).
const RUN_FLAGS: [&str; 11] = [
    "--llm",
    "random",
    "--strategy",
    "greedy",
    "--concurrency",
    "3",
    "--budget-evals",
    "18",
    "--seed",
    "11",
    "--json",
];

#[test]
fn three_workers_match_a_single_process_run() {
    let Some(server) = server() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let local = dir.path().join("local.db").to_string_lossy().into_owned();
    let single = hone(dir.path(), &local)
        .arg("run")
        .arg(LONGEST_RUN)
        .args(RUN_FLAGS)
        .output()
        .unwrap_or_else(|e| panic!("hone run: {e}"));
    let single = outcome(&single);

    let url = database(&server, "three_workers");
    let workers: Vec<WorkerProcess> = (0..3)
        .map(|n| WorkerProcess::start(dir.path(), &url, n, "10s"))
        .collect();
    let child = run_with_workers(dir.path(), &url);
    let remote = outcome(&wait_output(child, Duration::from_secs(120)));
    assert_eq!(remote["status"], "finished", "{remote}");
    assert_eq!(remote["evaluations"], single["evaluations"]);
    assert_eq!(remote["best_score"], single["best_score"]);

    let run_local = single["run"].as_i64().unwrap_or_default();
    let run_remote = remote["run"].as_i64().unwrap_or_default();
    let expected = evaluated(&local, run_local);
    let got = evaluated(&url, run_remote);
    assert_eq!(got.len(), 18);
    assert_eq!(
        got, expected,
        "the same candidates with the same evaluations"
    );

    // Every evaluation went through the queue, once, and no two claims of a job overlap.
    let claims = attempts(&url, run_remote);
    assert_eq!(claims.len(), 18, "one claim per job: {claims:?}");
    assert!(
        claims
            .iter()
            .all(|a| a.outcome == Some(AttemptOutcome::Done))
    );
    assert_no_overlap(&claims, 10_000);
    let by_worker = claims.iter().fold(BTreeMap::new(), |mut m, a| {
        *m.entry(a.worker.0).or_insert(0) += 1;
        m
    });
    eprintln!("jobs by worker: {by_worker:?}");

    // `hone status` shows the queue and the three workers.
    let status = hone(dir.path(), &url)
        .arg("status")
        .output()
        .unwrap_or_else(|e| panic!("hone status: {e}"));
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("queue        0 pending, 0 leased, 18 done, 0 failed, 0 cancelled"),
        "{text}"
    );
    for w in &workers {
        assert!(
            text.lines().any(|l| l.contains(&format!(" {} ", w.pid()))),
            "worker pid {} in\n{text}",
            w.pid()
        );
    }
    let log = workers[0].log() + &workers[1].log() + &workers[2].log();
    assert!(log.contains("claimed job"), "{log}");
    assert!(log.contains("loaded task `longest-run`"), "{log}");
}

#[test]
fn a_killed_worker_costs_one_lease_and_loses_nothing() {
    let Some(server) = server() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = database(&server, "killed_worker");
    let child = hone(dir.path(), &url)
        .arg("run")
        .arg(SLOW_SUM)
        .args(["--llm", "builtin", "--budget-evals", "3", "--seed", "3"])
        .args(["--workers", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("hone run --workers: {e}"));
    let mut doomed = WorkerProcess::start(dir.path(), &url, 0, "2s");
    let store = open(&url);
    let rt = runtime();
    let start = Instant::now();
    let held = loop {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the worker never claimed a job"
        );
        let workers = rt.block_on(store.workers()).unwrap_or_default();
        if let Some(job) = workers
            .iter()
            .find(|w| w.pid == doomed.pid())
            .and_then(|w| w.current_job)
        {
            break job;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(300));
    let _ = doomed.child.kill(); // SIGKILL
    let _ = doomed.child.wait();
    let rescuer = WorkerProcess::start(dir.path(), &url, 1, "2s");
    let output = wait_output(child, Duration::from_secs(180));
    let result = outcome(&output);
    assert_eq!(result["status"], "finished", "{result}\n{}", rescuer.log());
    assert_eq!(result["evaluations"], 3);

    let run = result["run"].as_i64().unwrap_or_default();
    let claims = public_attempts(&url, run);
    let of_held: Vec<_> = claims.iter().filter(|a| a.job == held).collect();
    assert_eq!(
        of_held.len(),
        2,
        "claimed by the killed worker, then again: {claims:?}"
    );
    assert_eq!(of_held[0].outcome, None, "the killed worker never finished");
    assert_eq!(of_held[1].outcome, Some(AttemptOutcome::Done));
    let waited = of_held[1].claimed_at.0 - of_held[0].claimed_at.0;
    eprintln!("the killed worker's job was claimed again {waited} ms after its first claim");
    assert!(
        waited >= 2000,
        "re-claimed only after the 2 s lease ({waited} ms)"
    );
    assert!(
        waited < 2000 + 5000,
        "re-claimed within one lease timeout ({waited} ms)"
    );
    assert_no_overlap(&claims, 2000);
    // Every other job was claimed once; every evaluation is a node, none twice.
    assert_eq!(claims.len(), 4, "{claims:?}");
    assert!(
        claims
            .iter()
            .filter(|a| a.job != held)
            .all(|a| a.attempt == 1 && a.outcome == Some(AttemptOutcome::Done))
    );
    let nodes = evaluated(&url, run);
    assert_eq!(nodes.len(), 3);
    let jobs = rt
        .block_on(store.jobs(RunId(run)))
        .unwrap_or_else(|e| panic!("jobs: {e}"));
    let public = jobs.iter().filter(|j| j.kind == JobKind::Public);
    assert_eq!(public.clone().count(), 3, "{jobs:?}");
    assert!(
        public.clone().all(|j| j.status == JobStatus::Done),
        "{jobs:?}"
    );
    assert!(rescuer.log().contains("claimed job"), "{}", rescuer.log());
}

#[test]
fn workers_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let local = dir.path().join("local.db").to_string_lossy().into_owned();
    let run = hone(dir.path(), &local)
        .arg("run")
        .arg(HEAVY_BALL)
        .args(["--llm", "builtin", "--budget-evals", "2", "--workers"])
        .output()
        .unwrap_or_else(|e| panic!("hone run: {e}"));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("--workers needs a PostgreSQL store"),
        "{stderr}"
    );
    assert!(stderr.contains("local.db"), "{stderr}");
    // Nothing was stored: the refusal comes before the run is created.
    let runs = runtime()
        .block_on(open(&local).list_runs())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(runs.is_empty());

    let worker = hone(dir.path(), &local)
        .args(["worker", "--once"])
        .output()
        .unwrap_or_else(|e| panic!("hone worker: {e}"));
    let stderr = String::from_utf8_lossy(&worker.stderr);
    assert!(!worker.status.success());
    assert!(
        stderr.contains("hone worker needs a PostgreSQL store"),
        "{stderr}"
    );

    for (flags, message) in [
        (["--lease", "500ms"], "a lease must be at least 1s"),
        (["--max-jobs", "0"], "--max-jobs 0"),
        (["--poll", "0"], "--poll 0"),
    ] {
        let output = hone(dir.path(), "postgres://nobody@127.0.0.1:1/none")
            .arg("worker")
            .args(flags)
            .output()
            .unwrap_or_else(|e| panic!("hone worker: {e}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(stderr.contains(message), "{flags:?}: {stderr}");
    }
}

/// Evaluations per second through the queue with 1, 2 and 4 local workers on a cheap task
/// (heavy-ball, ~ms per evaluation), from the first claim to the last completion.
/// `cargo test -p hone-agent --test all worker_throughput -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: prints figures"]
fn worker_throughput() {
    let Some(server) = server() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // The baseline: the same run evaluated in the orchestrator's process (same store).
    let url = database(&server, "throughput_in_process");
    let output = hone(dir.path(), &url)
        .arg("run")
        .arg(HEAVY_BALL)
        .args([
            "--llm",
            "builtin",
            "--concurrency",
            "8",
            "--budget-evals",
            "200",
        ])
        .args(["--seed", "1", "--json"])
        .output()
        .unwrap_or_else(|e| panic!("hone run: {e}"));
    let run = outcome(&output)["run"].as_i64().unwrap_or_default();
    let nodes = runtime()
        .block_on(open(&url).load_tree(RunId(run)))
        .unwrap_or_else(|e| panic!("load tree: {e}"));
    let first = nodes.iter().map(|n| n.created_at.0).min().unwrap_or(0);
    let last = nodes.iter().map(|n| n.created_at.0).max().unwrap_or(0);
    let wall: f64 = nodes
        .iter()
        .filter_map(|n| n.evaluation.wall_ms)
        .sum::<f64>();
    println!(
        "in process: {} evaluations in {:.2} s = {:.1} evaluations/s (mean evaluation {:.2} ms)",
        nodes.len(),
        (last - first) as f64 / 1000.0,
        nodes.len() as f64 / ((last - first).max(1) as f64 / 1000.0),
        wall / nodes.len().max(1) as f64
    );
    for count in [1usize, 2, 4] {
        let url = database(&server, &format!("throughput_{count}"));
        let _workers: Vec<WorkerProcess> = (0..count)
            .map(|n| WorkerProcess::start(dir.path(), &url, n, "30s"))
            .collect();
        let child = hone(dir.path(), &url)
            .arg("run")
            .arg(HEAVY_BALL)
            .args([
                "--llm",
                "builtin",
                "--concurrency",
                "8",
                "--budget-evals",
                "200",
            ])
            .args(["--seed", "1", "--workers", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("hone run: {e}"));
        let result = outcome(&wait_output(child, Duration::from_secs(600)));
        let run = result["run"].as_i64().unwrap_or_default();
        let claims = attempts(&url, run);
        let first = claims.iter().map(|a| a.claimed_at.0).min().unwrap_or(0);
        let last = claims
            .iter()
            .filter_map(|a| a.finished_at.map(|t| t.0))
            .max()
            .unwrap_or(0);
        let seconds = (last - first).max(1) as f64 / 1000.0;
        println!(
            "{count} worker(s): {} evaluations in {seconds:.2} s = {:.1} evaluations/s",
            claims.len(),
            claims.len() as f64 / seconds
        );
    }
}

/// `pg_ctl` of the server's installation, run as the server's owner.
fn pg_ctl(server: &PostgresServer, args: &[&str]) {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin/pg_ctl"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| PathBuf::from("pg_ctl"));
    let data = server.dir().join("data");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let mut command = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    let status = command
        .arg("-D")
        .arg(&data)
        .args(args)
        .current_dir(server.dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("pg_ctl: {e}"));
    assert!(status.success(), "pg_ctl {args:?}: {status}");
}

#[test]
fn a_worker_survives_a_database_restart() {
    let Some(server) = server() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = database(&server, "restart");
    let mut worker = WorkerProcess::start(dir.path(), &url, 0, "5s");
    let start = Instant::now();
    while !worker.log().contains("hone worker 1: on") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{}",
            worker.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    pg_ctl(&server, &["-m", "fast", "-w", "stop"]);
    let down = Instant::now();
    while !worker.log().contains("retrying in") && down.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        matches!(worker.child.try_wait(), Ok(None)),
        "the worker exited while the database was down:\n{}",
        worker.log()
    );
    let log = worker.log();
    assert!(log.contains("hone worker: cannot claim a job"), "{log}");
    assert!(log.contains("retrying in"), "{log}");
    pg_ctl(&server, &["-w", "-t", "30", "-l", "restart.log", "restart"]);
    // The same worker takes the jobs of a run started after the restart.
    let output = hone(dir.path(), &url)
        .arg("run")
        .arg(LONGEST_RUN)
        .args(["--llm", "random", "--budget-evals", "3", "--seed", "2"])
        .args(["--workers", "--json"])
        .output()
        .unwrap_or_else(|e| panic!("hone run: {e}"));
    let result = outcome(&output);
    assert_eq!(result["status"], "finished", "{result}\n{}", worker.log());
    assert_eq!(result["evaluations"], 3);
    let log = worker.log();
    assert!(log.contains("the database is reachable again"), "{log}");
    assert!(log.contains("claimed job"), "{log}");
}

/// A `hone worker` whose cache directory is unusable (a path under `/dev/null`): it
/// registers and claims jobs, but no task folder can be unpacked there, so no task loads.
fn broken_worker(dir: &Path, store: &str, n: usize) -> WorkerProcess {
    let log = dir.join(format!("worker-{n}.log"));
    let file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let child = Command::new(env!("CARGO_BIN_EXE_hone"))
        .current_dir(dir)
        .env_remove("HONE_STORE")
        .env_remove("HONE_CACHE_DIR")
        .args(["--store", store, "--cache-dir", "/dev/null/hone-cache"])
        .args(["worker", "--lease", "10s", "--poll", "200ms"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn hone worker: {e}"));
    WorkerProcess { child, log }
}

fn signal(pid: i64, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill {signal}: {e}"));
    assert!(sent.success(), "kill {signal} {pid}");
}

/// Waits until the store lists a worker with this pid.
fn wait_registered(store: &Store, pid: i64) {
    let start = Instant::now();
    loop {
        let workers = runtime().block_on(store.workers()).unwrap_or_default();
        if workers.iter().any(|w| w.pid == pid) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "worker {pid} never registered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const PASS_FLAGS: [&str; 10] = [
    "--llm",
    "random",
    "--budget-evals",
    "3",
    "--seed",
    "4",
    "--concurrency",
    "1",
    "--workers",
    "--json",
];

#[test]
fn a_job_one_worker_cannot_load_goes_to_another_worker() {
    let Some(server) = server() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = database(&server, "passed_on");
    let store = open(&url);
    // The good worker registers, then is frozen: live (seen recently) but claiming nothing,
    // so the broken worker claims the first job.
    let good = WorkerProcess::start(dir.path(), &url, 0, "10s");
    wait_registered(&store, good.pid());
    signal(good.pid(), "-STOP");
    let broken = broken_worker(dir.path(), &url, 1);
    wait_registered(&store, broken.pid());
    let child = hone(dir.path(), &url)
        .arg("run")
        .arg(LONGEST_RUN)
        .args(PASS_FLAGS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("hone run --workers: {e}"));
    let start = Instant::now();
    let passed = loop {
        let passed = runtime()
            .block_on(store.job_attempts(RunId(1)))
            .unwrap_or_default()
            .into_iter()
            .find(|a| a.outcome == Some(AttemptOutcome::Passed));
        if let Some(attempt) = passed {
            break attempt;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the broken worker never passed a job back:\n{}",
            broken.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Back in the queue, not failed: the frozen worker has not tried it.
    let depth = runtime()
        .block_on(store.queue_depth(Some(RunId(1))))
        .unwrap_or_default();
    assert_eq!((depth.pending, depth.failed), (1, 0), "{depth:?}");
    signal(good.pid(), "-CONT");
    let result = outcome(&wait_output(child, Duration::from_secs(120)));
    assert_eq!(result["status"], "finished", "{result}\n{}", broken.log());
    assert_eq!(result["evaluations"], 3);

    let workers = runtime().block_on(store.workers()).unwrap_or_default();
    let id_of = |pid: i64| {
        workers
            .iter()
            .find(|w| w.pid == pid)
            .map(|w| w.id)
            .unwrap_or_else(|| panic!("no worker with pid {pid}"))
    };
    let (good_id, broken_id) = (id_of(good.pid()), id_of(broken.pid()));
    assert_eq!(passed.worker, broken_id);
    let claims = attempts(&url, 1);
    // Every job the broken worker took went back and was done by the good one; the good
    // one did every evaluation; the broken one never took a job twice.
    for claim in &claims {
        let expected = if claim.worker == broken_id {
            AttemptOutcome::Passed
        } else {
            assert_eq!(claim.worker, good_id);
            AttemptOutcome::Done
        };
        assert_eq!(claim.outcome, Some(expected), "{claims:?}");
    }
    let done: Vec<_> = claims
        .iter()
        .filter(|a| a.outcome == Some(AttemptOutcome::Done))
        .collect();
    assert_eq!(done.len(), 3, "{claims:?}");
    let first_job: Vec<_> = claims.iter().filter(|a| a.job == passed.job).collect();
    assert_eq!(first_job.len(), 2, "passed once, then done: {claims:?}");
    let mut by_broken: Vec<_> = claims
        .iter()
        .filter(|a| a.worker == broken_id)
        .map(|a| a.job)
        .collect();
    let count = by_broken.len();
    by_broken.dedup();
    assert_eq!(
        by_broken.len(),
        count,
        "a job passed back was claimed again by its passer"
    );
    assert_eq!(evaluated(&url, 1).len(), 3);
    let log = broken.log();
    assert!(log.contains("cannot evaluate job"), "{log}");
    assert!(log.contains("/dev/null/hone-cache"), "{log}");
    assert!(log.contains("passed job"), "{log}");
}

#[test]
fn a_job_no_live_worker_can_load_fails_the_run_naming_the_workers() {
    let Some(server) = server() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = database(&server, "passed_out");
    let store = open(&url);
    let broken = broken_worker(dir.path(), &url, 0);
    wait_registered(&store, broken.pid());
    let child = hone(dir.path(), &url)
        .arg("run")
        .arg(LONGEST_RUN)
        .args(PASS_FLAGS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("hone run --workers: {e}"));
    let output = wait_output(child, Duration::from_secs(60));
    assert!(!output.status.success(), "{}", broken.log());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no worker could evaluate job"), "{stderr}");
    assert!(
        stderr.contains("no other live worker is left to try it"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("(pid {})", broken.pid())),
        "the message names the worker: {stderr}"
    );
    assert!(stderr.contains("/dev/null/hone-cache"), "and why: {stderr}");
    let depth = runtime()
        .block_on(store.queue_depth(Some(RunId(1))))
        .unwrap_or_default();
    assert_eq!(depth.failed, 1, "{depth:?}");
}

/// An orchestrator SIGKILLed with jobs in the queue and resumed: no job is evaluated
/// twice, each evaluated candidate has one job, and at most the job in flight at the kill
/// is wasted.
#[test]
fn a_killed_orchestrator_resumes_without_evaluating_twice() {
    let Some(server) = server() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = database(&server, "resumed");
    let _worker = WorkerProcess::start(dir.path(), &url, 0, "5s");
    let mut child = hone(dir.path(), &url)
        .arg("run")
        .arg(SLOW_SUM)
        .args([
            "--llm",
            "builtin",
            "--concurrency",
            "2",
            "--budget-evals",
            "4",
        ])
        .args(["--seed", "5", "--workers", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("hone run: {e}"));
    let store = open(&url);
    let rt = runtime();
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no job was ever leased"
        );
        let depth = rt.block_on(store.queue_depth(None)).unwrap_or_default();
        if depth.leased >= 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let runs = rt.block_on(store.list_runs()).unwrap_or_default();
    let run = runs.first().map(|r| r.id.0).unwrap_or_default();
    let output = hone(dir.path(), &url)
        .args(["resume", &run.to_string(), "--json"])
        .output()
        .unwrap_or_else(|e| panic!("hone resume: {e}"));
    let result = outcome(&output);
    assert_eq!(result["status"], "finished", "{result}");
    assert_eq!(result["evaluations"], 4);

    let claims = public_attempts(&url, run);
    assert!(
        claims.iter().all(|a| a.attempt == 1),
        "no job claimed twice: {claims:?}"
    );
    let nodes = evaluated(&url, run);
    assert_eq!(nodes.len(), 4);
    let done = claims
        .iter()
        .filter(|a| a.outcome == Some(AttemptOutcome::Done))
        .count();
    assert!(
        (4..=5).contains(&done),
        "at most the job in flight at the kill is wasted: {done} done for 4 nodes"
    );
}

/// Runs `ip` with `args`, returning its stderr on failure.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn ip_output(args: &[&str]) -> String {
    Command::new("ip")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// A private bridge with one network namespace per worker, each joined to the bridge by a
/// veth pair; everything is removed when dropped (also when the test panics).
struct PrivateNet {
    /// The subnet's first three octets, e.g. `10.213.17`.
    prefix: String,
    bridge: Option<String>,
    namespaces: Vec<String>,
    veths: Vec<String>,
}

impl PrivateNet {
    /// Whether this process may create network namespaces: the reason when it may not.
    fn probe() -> Result<(), String> {
        let name = format!("hone-probe-{}", std::process::id());
        ip(&["netns", "add", &name])?;
        ip(&["netns", "delete", &name])
    }

    /// A bridge `hb<pid>` at `<prefix>.1/24` on a 10.213.x.0/24 no route uses yet, and
    /// `workers` namespaces `hone-w<N>-<pid>` at `<prefix>.(10+N)`.
    fn create(workers: usize) -> Result<PrivateNet, String> {
        let pid = std::process::id();
        let routes = ip_output(&["-4", "route", "show", "table", "all"]);
        let addresses = ip_output(&["-4", "addr"]);
        let prefix = (0..200)
            .map(|i| format!("10.213.{}", (pid as usize + i) % 200))
            .find(|p| {
                let needle = format!("{p}.");
                !routes.contains(&needle) && !addresses.contains(&needle)
            })
            .ok_or("every 10.213.x.0/24 is in use")?;
        let mut net = PrivateNet {
            prefix,
            bridge: None,
            namespaces: Vec::new(),
            veths: Vec::new(),
        };
        let bridge = format!("hb{pid}");
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        net.bridge = Some(bridge.clone());
        ip(&["addr", "add", &format!("{}/24", net.host()), "dev", &bridge])?;
        ip(&["link", "set", &bridge, "up"])?;
        for n in 0..workers {
            let ns = format!("hone-w{n}-{pid}");
            ip(&["netns", "add", &ns])?;
            net.namespaces.push(ns.clone());
            let outside = format!("hv{pid}w{n}");
            let inside = format!("hv{pid}p{n}");
            ip(&[
                "link", "add", &outside, "type", "veth", "peer", "name", &inside,
            ])?;
            net.veths.push(outside.clone());
            ip(&["link", "set", &outside, "master", &bridge])?;
            ip(&["link", "set", &outside, "up"])?;
            ip(&["link", "set", &inside, "netns", &ns])?;
            let address = format!("{}/24", net.worker_address(n));
            ip(&["-n", &ns, "addr", "add", &address, "dev", &inside])?;
            ip(&["-n", &ns, "link", "set", &inside, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    /// The host's address on the bridge.
    fn host(&self) -> String {
        format!("{}.1", self.prefix)
    }

    fn worker_address(&self, n: usize) -> String {
        format!("{}.{}", self.prefix, 10 + n)
    }

    fn subnet(&self) -> String {
        format!("{}.0/24", self.prefix)
    }

    /// Whether a TCP connection from inside namespace `ns` to `addr:port` succeeds.
    fn connects(&self, ns: &str, addr: &str, port: u16) -> bool {
        Command::new("ip")
            .args(["netns", "exec", ns, "timeout", "5", "bash", "-c"])
            .arg(format!("exec 3<>/dev/tcp/{addr}/{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// The processes inside namespace `ns`.
    fn pids(&self, ns: &str) -> Vec<i64> {
        ip_output(&["netns", "pids", ns])
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

impl Drop for PrivateNet {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let _ = ip(&["netns", "delete", ns]);
        }
        // Deleting one end of a veth pair deletes both; the namespace's end may be gone.
        for veth in &self.veths {
            let _ = ip(&["link", "delete", veth]);
        }
        if let Some(bridge) = &self.bridge {
            let _ = ip(&["link", "delete", bridge]);
        }
    }
}

/// A `hone worker` in network namespace `ns` (`ip netns exec` execs in place, so the
/// child's pid is the worker's).
fn namespaced_worker(dir: &Path, ns: &str, store: &str, n: usize) -> WorkerProcess {
    let log = dir.join(format!("worker-{n}.log"));
    let file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let child = Command::new("ip")
        .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_hone")])
        .current_dir(dir)
        .env_remove("HONE_STORE")
        .env_remove("HONE_CACHE_DIR")
        .arg("--store")
        .arg(store)
        .arg("--cache-dir")
        .arg(cache_dir())
        .args(["worker", "--lease", "10s", "--poll", "200ms"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn ip netns exec {ns} hone worker: {e}"));
    WorkerProcess { child, log }
}

/// Workers as separate hosts: three network namespaces on a private bridge, each reaching
/// PostgreSQL only at the bridge address, evaluate every job of a run orchestrated on the
/// host.
#[test]
fn workers_in_network_namespaces_evaluate_every_job() {
    if let Err(reason) = PrivateNet::probe() {
        unavailable("network namespaces unavailable", &reason);
        return;
    }
    const WORKERS: usize = 3;
    let net = match PrivateNet::create(WORKERS) {
        Ok(net) => net,
        Err(reason) => {
            unavailable("network namespaces unavailable", &reason);
            return;
        }
    };
    let bridge_ip: std::net::IpAddr = net
        .host()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", net.host()));
    let server = match PostgresServer::start_with(&[bridge_ip], &[&net.subnet()]) {
        Ok(server) => server,
        Err(e) => {
            unavailable("worker tests: no PostgreSQL server could be started", &e);
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = database(&server, "namespaced");
    // Each namespace is its own host: the server's loopback address is not its loopback.
    for ns in &net.namespaces {
        assert!(
            net.connects(ns, &net.host(), server.port()),
            "{ns} cannot reach PostgreSQL at {}:{}",
            net.host(),
            server.port()
        );
        assert!(
            !net.connects(ns, "127.0.0.1", server.port()),
            "{ns} reaches the host's 127.0.0.1:{}: not a separate network",
            server.port()
        );
    }
    let remote_url = url.replacen("127.0.0.1", &net.host(), 1);
    let workers: Vec<WorkerProcess> = net
        .namespaces
        .iter()
        .enumerate()
        .map(|(n, ns)| namespaced_worker(dir.path(), ns, &remote_url, n))
        .collect();
    // `ip netns exec` enters the namespace between its fork and the worker's exec: the
    // worker's pid shows there a moment after it is spawned.
    for (w, ns) in workers.iter().zip(&net.namespaces) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut pids = net.pids(ns);
        while !pids.contains(&w.pid()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            pids = net.pids(ns);
        }
        assert!(
            pids.contains(&w.pid()),
            "worker pid {} does not run in {ns}: {pids:?}",
            w.pid(),
        );
    }
    // Each worker has registered (through the bridge) before the run starts.
    let start = Instant::now();
    for w in &workers {
        while !w.log().contains(&format!("(pid {})", w.pid())) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "worker {} never registered:\n{}",
                w.pid(),
                w.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let child = run_with_workers(dir.path(), &url);
    let logs = || workers.iter().map(|w| w.log()).collect::<String>();
    let result = outcome(&wait_output(child, Duration::from_secs(60)));
    assert_eq!(result["status"], "finished", "{result}\n{}", logs());
    assert_eq!(result["evaluations"], 18, "{result}");
    let run = result["run"].as_i64().unwrap_or_default();
    assert_eq!(evaluated(&url, run).len(), 18);

    // Every job was claimed once and done by one of the namespaced workers, each of which
    // registered through the bridge.
    let registered = runtime()
        .block_on(open(&url).workers())
        .unwrap_or_else(|e| panic!("workers: {e}"));
    let pids: Vec<i64> = workers.iter().map(|w| w.pid()).collect();
    let mut registered_pids: Vec<i64> = registered.iter().map(|w| w.pid).collect();
    registered_pids.sort_unstable();
    let mut expected_pids = pids.clone();
    expected_pids.sort_unstable();
    assert_eq!(
        registered_pids, expected_pids,
        "the registered workers are the namespaced ones: {registered:?}"
    );
    let claims = attempts(&url, run);
    assert_eq!(claims.len(), 18, "one claim per job: {claims:?}");
    assert!(
        claims
            .iter()
            .all(|a| a.outcome == Some(AttemptOutcome::Done))
    );
    assert_no_overlap(&claims, 10_000);
    let mut by_pid: BTreeMap<i64, usize> = BTreeMap::new();
    for claim in &claims {
        let worker = registered
            .iter()
            .find(|w| w.id == claim.worker)
            .unwrap_or_else(|| panic!("job {} claimed by unknown worker", claim.job.0));
        *by_pid.entry(worker.pid).or_default() += 1;
    }
    eprintln!("jobs by namespaced worker pid: {by_pid:?}");
    assert!(by_pid.keys().all(|pid| pids.contains(pid)), "{by_pid:?}");
    let done: i64 = registered.iter().map(|w| w.jobs_done).sum();
    assert_eq!(done, 18, "{registered:?}");
    for w in &workers {
        let log = w.log();
        assert!(
            log.contains(&format!("@{}:{}/", net.host(), server.port())),
            "the worker names its store at the bridge address:\n{log}"
        );
    }
}

/// A run's private evaluations, by content hash: (held out, status, valid, score bits).
fn private_scores(url: &str, run: i64) -> BTreeMap<String, (bool, String, bool, Option<u64>)> {
    let store = open(url);
    let nodes = runtime()
        .block_on(store.load_tree(RunId(run)))
        .unwrap_or_else(|e| panic!("load tree: {e}"));
    runtime()
        .block_on(store.private_evaluations(RunId(run)))
        .unwrap_or_else(|e| panic!("private evaluations: {e}"))
        .into_iter()
        .map(|p| {
            let node = nodes
                .iter()
                .find(|n| n.id == p.node)
                .unwrap_or_else(|| panic!("private evaluation of unknown node {}", p.node.0));
            let e = p.evaluation;
            (
                node.content_hash.clone(),
                (e.held_out, e.status, e.valid, e.score.map(f64::to_bits)),
            )
        })
        .collect()
}

/// With `--workers` the private evaluations are jobs too: made by the worker (its claims),
/// holding only numbers, and equal to the in-process run's.
#[test]
fn private_evaluations_go_to_workers() {
    let Some(server) = server() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let flags = [
        "--llm",
        "builtin",
        "--budget-evals",
        "6",
        "--concurrency",
        "1",
        "--seed",
        "3",
        "--json",
    ];
    let local = dir.path().join("local.db").to_string_lossy().into_owned();
    let single = hone(dir.path(), &local)
        .arg("run")
        .arg(HEAVY_BALL)
        .args(flags)
        .output()
        .unwrap_or_else(|e| panic!("hone run: {e}"));
    let single = outcome(&single);
    assert_eq!(single["status"], "finished", "{single}");

    let url = database(&server, "private_jobs");
    let worker = WorkerProcess::start(dir.path(), &url, 0, "10s");
    let child = hone(dir.path(), &url)
        .arg("run")
        .arg(HEAVY_BALL)
        .args(flags)
        .arg("--workers")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("hone run --workers: {e}"));
    let remote = outcome(&wait_output(child, Duration::from_secs(120)));
    assert_eq!(remote["status"], "finished", "{remote}\n{}", worker.log());
    assert_eq!(remote["best_score"], single["best_score"]);

    let run = remote["run"].as_i64().unwrap_or_default();
    let expected = private_scores(&local, single["run"].as_i64().unwrap_or_default());
    let got = private_scores(&url, run);
    assert!(!got.is_empty());
    assert!(
        got.values().all(|p| p.0),
        "heavy-ball has held-out instances: {got:?}"
    );
    assert_eq!(got, expected, "the same private evaluations as in process");

    // One private job per private evaluation, each done by the worker, its result numbers
    // only.
    let store = open(&url);
    let jobs = runtime()
        .block_on(store.jobs(RunId(run)))
        .unwrap_or_else(|e| panic!("jobs: {e}"));
    let private: Vec<_> = jobs.iter().filter(|j| j.kind == JobKind::Private).collect();
    assert_eq!(private.len(), got.len(), "{jobs:?}");
    let mut hashes: Vec<&str> = private.iter().map(|j| j.content_hash.as_str()).collect();
    hashes.sort_unstable();
    assert_eq!(hashes, got.keys().map(String::as_str).collect::<Vec<_>>());
    let registered = runtime()
        .block_on(store.workers())
        .unwrap_or_else(|e| panic!("workers: {e}"));
    let ours = registered
        .iter()
        .find(|w| w.pid == worker.pid())
        .unwrap_or_else(|| panic!("the worker is registered: {registered:?}"));
    let claims = attempts(&url, run);
    for job in &private {
        assert_eq!(job.status, JobStatus::Done, "{job:?}");
        let of_job: Vec<_> = claims.iter().filter(|a| a.job == job.id).collect();
        assert!(
            of_job.len() == 1
                && of_job[0].worker == ours.id
                && of_job[0].outcome == Some(AttemptOutcome::Done),
            "private job {} made by the worker: {of_job:?}",
            job.id
        );
    }
    let ids: Vec<_> = private.iter().map(|j| j.id).collect();
    for (id, result) in runtime()
        .block_on(store.job_outcomes(&ids))
        .unwrap_or_else(|e| panic!("outcomes: {e}"))
    {
        let JobOutcome::Done(value) = result else {
            panic!("private job {id}: {result:?}");
        };
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap_or_else(|| panic!("job {id}: {value}"))
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["fuel", "held_out", "score", "status", "valid", "wall_ms"],
            "private job {id} keeps numbers only"
        );
    }
    assert!(
        worker.log().contains("(private evaluation)"),
        "{}",
        worker.log()
    );
}
