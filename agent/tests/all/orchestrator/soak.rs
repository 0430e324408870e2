//! The chaos soak: a run at concurrency 4 against a model that answers after random delays
//! and fails at random (500, 429, a dropped connection's worth of garbage), SIGKILLed at
//! random moments several times and resumed each time. It must end like an uninterrupted
//! run: exactly its evaluation budget, no content evaluated twice, no node without its
//! evaluation, every node seen before a kill still there unchanged, the lineage complete
//! (`git fsck`), and every export parseable.
//!
//! The moments and the model's behaviour come from a seeded generator, so a failure names
//! the seed that reproduces it (`HONE_SOAK_SEED` picks another).
//!
//! The second soak runs the same on PostgreSQL with `--workers` and two `hone worker`
//! processes, killing at random either the driver (then `hone resume`) or a worker (then a
//! fresh one starts): it also ends with its budget, every evaluation made once by a worker,
//! no job held by two workers at once, and nothing left in the queue. (A PostgreSQL store
//! keeps no git lineage; its tree's integrity is checked instead.)

use std::collections::BTreeMap;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hone_agent::testing::MockResponse;
use hone_store::{AttemptOutcome, JobId, JobKind, JobStatus, NodeRecord, RunId, WorkerId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{
    FIXTURE, MockModel, Work, assert_success, assert_tree_integrity, scheduled_reply, stderr,
    stored_nodes,
};
use crate::workers::{WorkerProcess, assert_no_overlap, attempts, database, open, runtime, server};

const EVALS: i64 = 24;
const KILLS: usize = 4;

fn soak_seed() -> u64 {
    std::env::var("HONE_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261206)
}

/// A model that answers by the usual schedule after 10–90 ms, and one request in six fails:
/// a 500, a 429 with `Retry-After: 0`, or a 200 whose body is not JSON.
fn chaotic_model(seed: u64) -> MockModel {
    let rng = Mutex::new(ChaCha8Rng::seed_from_u64(seed));
    MockModel::with_replies(move |ask, n| {
        let (delay, roll) = {
            let mut rng = rng.lock().unwrap_or_else(|e| e.into_inner());
            (rng.random_range(10..90u64), rng.random_range(0..18u32))
        };
        let delay = Duration::from_millis(delay);
        let response = match roll {
            0 => MockResponse::error(500, "the model server fell over"),
            1 => MockResponse::error(429, "slow down").with_header("retry-after", "0"),
            2 => MockResponse::raw(200, "{\"choices\": [")
                .with_header("content-type", "application/json"),
            _ => MockResponse::completion(&scheduled_reply(ask, n)),
        };
        response.with_delay(delay)
    })
}

/// Lets `child` run until it has stored at least one node more than `after` and then for
/// a random while (0–250 ms), and SIGKILLs it; returns false if it finished first.
fn kill_at_random(work: &Work, child: &mut Child, after: usize, rng: &mut ChaCha8Rng) -> bool {
    if !progress_then_pause(work, child, after, rng) {
        return false;
    }
    child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
    let _ = child.wait();
    true
}

fn run_args(model: &MockModel, strategy: &str, evals: i64) -> Vec<String> {
    let mut args = vec!["run".to_string(), FIXTURE.to_string()];
    args.extend(model.flags());
    args.extend(
        [
            "--strategy",
            strategy,
            "--budget-evals",
            &evals.to_string(),
            "--concurrency",
            "4",
            "--seed",
            "11",
        ]
        .map(String::from),
    );
    args
}

fn assert_unchanged(before: &[NodeRecord], after: &[NodeRecord]) {
    for old in before {
        let new = after
            .iter()
            .find(|n| n.id == old.id)
            .unwrap_or_else(|| panic!("node {} was acknowledged, then lost", old.id.0));
        assert_eq!(
            (
                &old.content_hash,
                &old.evaluation.status,
                old.evaluation.score
            ),
            (
                &new.content_hash,
                &new.evaluation.status,
                new.evaluation.score
            ),
            "node {} changed after a kill",
            old.id.0
        );
    }
}

fn assert_lineage_complete(work: &Work, nodes: &[NodeRecord]) {
    let git_dir = work.path().join("lineage.git");
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(&git_dir)
        .args(["fsck", "--full", "--strict"])
        .output()
        .unwrap_or_else(|e| panic!("git fsck: {e}"));
    assert!(
        output.status.success(),
        "git fsck failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for node in nodes {
        let commit = node
            .lineage_commit
            .as_deref()
            .unwrap_or_else(|| panic!("node {} has no lineage commit", node.id.0));
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(&git_dir)
            .args(["cat-file", "-e", &format!("{commit}^{{commit}}")])
            .output()
            .unwrap_or_else(|e| panic!("git cat-file: {e}"));
        assert!(
            output.status.success(),
            "node {}'s commit {commit} is missing",
            node.id.0
        );
    }
}

fn assert_exports_parse(work: &Work) {
    for format in ["sft", "dpo", "trajectories"] {
        let file = work.path().join(format!("{format}.jsonl"));
        let output = work.hone(&[
            "export",
            "1",
            "--format",
            format,
            "-o",
            &file.display().to_string(),
        ]);
        assert_success(&output, &format!("hone export --format {format}"));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{format}: {e}"));
        for (i, line) in text.lines().enumerate() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("{format} line {}: {e}: {line}", i + 1));
        }
    }
}

#[test]
fn a_best_first_run_killed_at_random_moments_ends_with_its_budget_and_nothing_lost() {
    soak("best-first");
}

/// Forest keeps the most state between steps (drafts, directions, scatters that fell back),
/// all of it rebuilt from the run's events on resume.
#[test]
fn a_forest_run_killed_at_random_moments_ends_with_its_budget_and_nothing_lost() {
    soak("forest");
}

fn soak(strategy: &str) {
    let seed = soak_seed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let model = chaotic_model(seed);
    let work = Work::new();
    let started = Instant::now();

    let mut child = work.spawn(&run_args(&model, strategy, EVALS));
    let mut kills = 0;
    let mut seen: Vec<NodeRecord> = Vec::new();
    while kills < KILLS {
        if !kill_at_random(&work, &mut child, seen.len(), &mut rng) {
            break;
        }
        kills += 1;
        let now = stored_nodes(&work);
        assert_unchanged(&seen, &now);
        seen = now;
        child = work.spawn(&["resume", "1"]);
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    assert_success(
        &output,
        &format!("the last {strategy} driver (seed {seed}, {kills} kills)"),
    );
    assert!(kills >= 2, "seed {seed}: the run ended after {kills} kills");

    // Finished: a further resume has nothing to do and changes nothing.
    let status = work.status(1);
    assert_eq!(
        status["run"]["status"], "finished",
        "seed {seed}: {status:#}"
    );
    let nodes = assert_tree_integrity(&work, 1);
    assert_unchanged(&seen, &nodes);
    let summary = work.summary(1);
    assert_eq!(
        summary.spend.evaluations,
        EVALS,
        "{strategy} seed {seed}: {kills} kills; status {status:#}; stderr of the last driver:\n{}",
        stderr(&output)
    );
    assert_eq!(
        nodes.iter().filter(|n| n.duplicate_of.is_none()).count() as i64,
        EVALS,
        "seed {seed}: evaluated nodes"
    );
    assert_eq!(nodes.iter().filter(|n| n.operator == "seed").count(), 1);
    assert_lineage_complete(&work, &nodes);
    assert_exports_parse(&work);
    eprintln!(
        "soak {strategy} seed {seed}: {kills} kills, {} nodes, {:.1} s",
        nodes.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Who a round of the workers' soak kills.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Victim {
    /// The process driving the run (`hone run`, then each `hone resume`).
    Driver,
    /// One of the two workers, by slot.
    Worker(usize),
}

/// The workers' soak's budget: room for six kills (a killed worker's job waits a lease).
const WORKER_EVALS: i64 = 32;

/// The workers' lease: a killed worker's job is claimed again this long after its claim.
const WORKER_LEASE_MS: i64 = 1500;

/// Waits until the run has stored more than `after` nodes, then for a random while (0–250
/// ms); false if the driver finished first.
fn progress_then_pause(
    work: &Work,
    driver: &mut Child,
    after: usize,
    rng: &mut ChaCha8Rng,
) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(_)) = driver.try_wait() {
            return false;
        }
        if stored_nodes(work).len() > after {
            break;
        }
        assert!(Instant::now() < deadline, "no node stored in 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(rng.random_range(0..250)));
    !matches!(driver.try_wait(), Ok(Some(_)))
}

/// The job the worker with `pid` holds, waited for up to 3 s (none if the driver ends or
/// the worker stays idle that long).
fn job_held_by(
    store: &hone_store::Store,
    pid: i64,
    driver: &mut Child,
) -> Option<(JobId, WorkerId)> {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = driver.try_wait() {
            return None;
        }
        let workers = runtime().block_on(store.workers()).unwrap_or_default();
        if let Some(held) = workers
            .iter()
            .find(|w| w.pid == pid)
            .and_then(|w| Some((w.current_job?, w.id)))
        {
            return Some(held);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn a_workers_run_with_its_driver_and_workers_killed_ends_with_its_budget() {
    let Some(server) = server() else { return };
    let seed = soak_seed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let model = chaotic_model(seed);
    let url = database(&server, "soak");
    let work = Work::with_store(url.clone());
    let started = Instant::now();
    let lease = format!("{WORKER_LEASE_MS}ms");

    let mut spawned = 0;
    let mut start_worker = |work: &Work| {
        spawned += 1;
        WorkerProcess::start(work.path(), &url, spawned, &lease)
    };
    let mut workers = [start_worker(&work), start_worker(&work)];
    let mut args = run_args(&model, "best-first", WORKER_EVALS);
    args.push("--workers".into());
    let mut driver = work.spawn(&args);

    // Three kills of each: a driver and a worker in each pair, in a seeded order.
    let mut victims = Vec::new();
    for pair in 0..3 {
        let worker = Victim::Worker(rng.random_range(0..2));
        if rng.random_bool(0.5) {
            victims.extend([Victim::Driver, worker]);
        } else {
            victims.extend([worker, Victim::Driver]);
        }
        debug_assert!(victims.len() == 2 * (pair + 1));
    }
    let store = open(&url);
    // Jobs a worker held just before it was killed, with the worker.
    let mut held: Vec<(JobId, WorkerId)> = Vec::new();
    let mut killed: Vec<Victim> = Vec::new();
    let mut seen: Vec<NodeRecord> = Vec::new();
    for victim in victims {
        if !progress_then_pause(&work, &mut driver, seen.len(), &mut rng) {
            break;
        }
        match victim {
            Victim::Driver => {
                driver
                    .kill()
                    .unwrap_or_else(|e| panic!("kill the driver: {e}"));
                let _ = driver.wait();
            }
            Victim::Worker(slot) => {
                let worker = &mut workers[slot];
                if let Some(job) = job_held_by(&store, worker.pid(), &mut driver) {
                    held.push(job);
                }
                worker
                    .child
                    .kill()
                    .unwrap_or_else(|e| panic!("kill worker {}: {e}", worker.pid()));
                let _ = worker.child.wait();
            }
        }
        killed.push(victim);
        let now = stored_nodes(&work);
        assert_unchanged(&seen, &now);
        seen = now;
        match victim {
            Victim::Driver => driver = work.spawn(&["resume", "1"]),
            Victim::Worker(slot) => workers[slot] = start_worker(&work),
        }
    }
    let output = driver
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    let logs = || {
        workers
            .iter()
            .map(|w| w.log())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_success(
        &output,
        &format!(
            "the last driver (seed {seed}, killed {killed:?}); workers:\n{}",
            logs()
        ),
    );
    let kills = |of: fn(&Victim) -> bool| killed.iter().filter(|v| of(v)).count();
    let (driver_kills, worker_kills) = (
        kills(|v| *v == Victim::Driver),
        kills(|v| matches!(v, Victim::Worker(_))),
    );
    assert!(
        driver_kills >= 2 && worker_kills >= 2,
        "seed {seed}: the run ended after killing {killed:?}"
    );

    let status = work.status(1);
    assert_eq!(
        status["run"]["status"], "finished",
        "seed {seed}: {status:#}"
    );
    let nodes = assert_tree_integrity(&work, 1);
    assert_unchanged(&seen, &nodes);
    let summary = work.summary(1);
    assert_eq!(
        summary.spend.evaluations,
        WORKER_EVALS,
        "seed {seed}: killed {killed:?}; status {status:#}; stderr of the last driver:\n{}",
        stderr(&output)
    );
    let evaluated: Vec<&NodeRecord> = nodes.iter().filter(|n| n.duplicate_of.is_none()).collect();
    assert_eq!(
        evaluated.len() as i64,
        WORKER_EVALS,
        "seed {seed}: evaluated nodes"
    );
    assert_eq!(nodes.iter().filter(|n| n.operator == "seed").count(), 1);

    // The queue: every evaluated node's content was evaluated by a worker, no content was
    // evaluated twice, no job was held by two workers at once, and nothing is left waiting.
    let jobs = runtime()
        .block_on(store.jobs(RunId(1)))
        .unwrap_or_else(|e| panic!("jobs: {e}"));
    // Each evaluation, public or private, of a content at most once.
    let mut done: BTreeMap<(JobKind, &str), usize> = BTreeMap::new();
    for job in jobs.iter().filter(|j| j.status == JobStatus::Done) {
        *done
            .entry((job.kind, job.content_hash.as_str()))
            .or_default() += 1;
    }
    for node in &evaluated {
        assert!(
            done.contains_key(&(JobKind::Public, node.content_hash.as_str())),
            "seed {seed}: node {} was not evaluated by a worker: {jobs:?}",
            node.id.0
        );
    }
    let privates = work.read(async |store| {
        store
            .private_evaluations(RunId(1))
            .await
            .unwrap_or_else(|e| panic!("private evaluations: {e}"))
    });
    for private in privates.iter().filter(|p| p.evaluation.held_out) {
        let node = nodes.iter().find(|n| n.id == private.node);
        assert!(
            node.is_some_and(|n| done.contains_key(&(JobKind::Private, n.content_hash.as_str()))),
            "seed {seed}: node {}'s private evaluation was not made by a worker",
            private.node.0
        );
    }
    assert!(
        done.values().all(|&n| n == 1),
        "seed {seed}: content evaluated twice: {done:?}"
    );
    assert!(
        jobs.iter()
            .all(|j| matches!(j.status, JobStatus::Done | JobStatus::Cancelled)),
        "seed {seed}: jobs left unfinished: {jobs:?}"
    );
    let claims = attempts(&url, 1);
    assert_no_overlap(&claims, WORKER_LEASE_MS);
    let mut done_claims: BTreeMap<i64, usize> = BTreeMap::new();
    for claim in claims
        .iter()
        .filter(|a| a.outcome == Some(AttemptOutcome::Done))
    {
        *done_claims.entry(claim.job.0).or_default() += 1;
    }
    assert!(
        done_claims.values().all(|&n| n == 1),
        "seed {seed}: a job completed twice: {claims:?}"
    );
    // A job a worker held when it was killed (its claim never ended) was claimed again
    // after its lease, unless the run no longer wanted it (it ended, or a resume cancelled
    // it). The worker may have finished the job in the moment before the kill.
    let mut killed_mid_job = 0;
    for (job, worker) in &held {
        let of_job: Vec<_> = claims.iter().filter(|a| a.job == *job).collect();
        let record = jobs.iter().find(|j| j.id == *job);
        let Some(claim) = of_job.iter().rev().find(|a| a.worker == *worker) else {
            panic!("seed {seed}: job {job} has no claim by worker {worker}: {of_job:?}");
        };
        if claim.outcome.is_some() {
            continue;
        }
        killed_mid_job += 1;
        assert!(
            of_job.iter().any(|a| a.attempt > claim.attempt)
                || record.is_some_and(|j| j.status == JobStatus::Cancelled),
            "seed {seed}: job {job} held by a killed worker was never claimed again: {of_job:?} {record:?}"
        );
    }
    assert_exports_parse(&work);
    eprintln!(
        "workers soak seed {seed}: killed {killed:?}, {killed_mid_job} mid-job, {} nodes, {} jobs, {} claims, {:.1} s",
        nodes.len(),
        jobs.len(),
        claims.len(),
        started.elapsed().as_secs_f64()
    );
}
