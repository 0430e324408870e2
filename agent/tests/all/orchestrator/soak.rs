//! The chaos soak: a run at concurrency 4 against a model that answers after random delays
//! and fails at random (500, 429, a dropped connection's worth of garbage), SIGKILLed at
//! random moments several times and resumed each time. It must end like an uninterrupted
//! run: exactly its evaluation budget, no content evaluated twice, no node without its
//! evaluation, every node seen before a kill still there unchanged, the lineage complete
//! (`git fsck`), and every export parseable.
//!
//! The moments and the model's behaviour come from a seeded generator, so a failure names
//! the seed that reproduces it (`HONE_SOAK_SEED` picks another).

use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hone_agent::testing::MockResponse;
use hone_store::NodeRecord;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{
    FIXTURE, MockModel, Work, assert_success, assert_tree_integrity, scheduled_reply, stderr,
    stored_nodes,
};

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
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if stored_nodes(work).len() > after {
            break;
        }
        assert!(Instant::now() < deadline, "no node stored in 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(rng.random_range(0..250)));
    if let Ok(Some(_)) = child.try_wait() {
        return false;
    }
    child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
    let _ = child.wait();
    true
}

fn run_args(model: &MockModel, strategy: &str) -> Vec<String> {
    let mut args = vec!["run".to_string(), FIXTURE.to_string()];
    args.extend(model.flags());
    args.extend(
        [
            "--strategy",
            strategy,
            "--budget-evals",
            &EVALS.to_string(),
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

    let mut child = work.spawn(&run_args(&model, strategy));
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
