//! A long run with the store as its only checkpoint, shortened: `--budget-time 20s`,
//! SIGKILLed at about 8 s and resumed, stops when the active time of both segments (counted
//! from the store) reaches 20 s, not 20 s after the resume, and keeps every stored node.

use std::path::Path;
use std::time::{Duration, Instant};

use hone_store::{RunId, Store};

use super::{Work, assert_success, assert_tree_integrity, float, int};

const BUDGET: f64 = 20.0;

fn active_seconds(work: &Work) -> f64 {
    work.read(async |store: Store| {
        store
            .get_run(RunId(1))
            .await
            .map(|r| r.active_seconds)
            .unwrap_or(f64::NAN)
    })
}

#[test]
fn a_killed_time_budgeted_run_resumes_with_the_time_left() {
    let task = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tasks/library/params/sor")
        .display()
        .to_string();
    let work = Work::new();
    let started = Instant::now();
    let mut child = work.spawn(&[
        "run",
        task.as_str(),
        "--llm",
        "builtin",
        "--budget-time",
        "20s",
        "--seed",
        "2",
    ]);
    std::thread::sleep(Duration::from_secs(8));
    if let Ok(Some(status)) = child.try_wait() {
        panic!("the run ended ({status}) before the kill");
    }
    child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
    let _ = child.wait();
    let first_segment = started.elapsed().as_secs_f64();
    let before = work.nodes(1);
    assert!(before.len() > 10, "only {} nodes in 8 s", before.len());
    let counted = active_seconds(&work);
    // Heartbeats every second: at most about a second of the segment is not counted (plus
    // the process start and the task's load, before the run's clock starts).
    assert!(
        (first_segment - 3.0..=first_segment).contains(&counted),
        "{counted} s counted of an {first_segment:.1} s segment"
    );

    let resumed_at = Instant::now();
    let output = work.hone(&["resume", "1", "--json"]);
    let second_segment = resumed_at.elapsed().as_secs_f64();
    assert_success(&output, "hone resume");
    let outcome: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome["status"], "finished", "{outcome:#}");
    assert!(
        outcome["stop_reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("time budget spent")),
        "{outcome:#}"
    );
    // The resumed segment ran for what was left, not a fresh 20 s.
    let left = BUDGET - counted;
    assert!(
        second_segment > left - 0.5 && second_segment < left + 5.0,
        "the resumed segment took {second_segment:.1} s with {left:.1} s left"
    );
    let total = active_seconds(&work);
    assert!(
        (BUDGET..BUDGET + 2.0).contains(&total),
        "active time of both segments: {total} s"
    );
    // Had the resumed run counted a fresh 20 s, this would be at least 28 s.
    assert!(
        first_segment + second_segment < BUDGET + 6.0,
        "{first_segment:.1} + {second_segment:.1} s"
    );
    // Every node stored before the kill is kept, unchanged; one seed.
    let after = assert_tree_integrity(&work, 1);
    assert!(after.len() > before.len());
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(
            (old.id, &old.content_hash, &old.evaluation.score),
            (new.id, &new.content_hash, &new.evaluation.score)
        );
    }
    assert_eq!(after.iter().filter(|n| n.operator == "seed").count(), 1);
    let evaluations = int(&outcome, "evaluations");
    let summary = work.summary(1);
    assert_eq!(summary.spend.evaluations, evaluations);
    assert!(float(&outcome, "best_score") > float(&outcome, "seed_score"));
}
