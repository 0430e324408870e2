//! A run killed in the middle (SIGKILL, or Ctrl-C) and resumed ends like an uninterrupted
//! one: the same number of evaluations, no node duplicated or lost.

use std::time::{Duration, Instant};

use hone_store::RunStatus;

use super::{
    FIXTURE, MockModel, Work, assert_success, assert_tree_integrity, int, stderr, stdout,
    wait_for_nodes,
};

const EVALS: i64 = 10;

fn args(model: &MockModel, strategy: &str) -> Vec<String> {
    let mut args = vec!["run".to_string(), FIXTURE.to_string()];
    args.extend(model.flags());
    args.extend(
        [
            "--strategy",
            strategy,
            "--budget-evals",
            &EVALS.to_string(),
            "--concurrency",
            "2",
            "--seed",
            "5",
        ]
        .map(String::from),
    );
    args
}

fn finish_by_resume(work: &Work, run: i64) -> serde_json::Value {
    let output = work.hone(&["resume", &run.to_string(), "--json"]);
    assert_success(&output, "hone resume");
    assert!(
        stderr(&output).contains(&format!("resuming run {run}")),
        "{}",
        stderr(&output)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("resume JSON: {e}"))
}

#[test]
fn sigkilled_run_resumes_to_the_same_evaluation_count() {
    // The reference: the same run, uninterrupted.
    let fast = MockModel::start(Duration::ZERO);
    let whole = Work::new();
    let reference = whole.run_json(&args(&fast, "forest")[2..]);
    assert_eq!(int(&reference, "evaluations"), EVALS);
    assert_tree_integrity(&whole, int(&reference, "run"));

    // The same run on a slow model, killed with SIGKILL once a few nodes are stored.
    let slow = MockModel::start(Duration::from_millis(200));
    let work = Work::new();
    let mut child = work.spawn(&args(&slow, "forest"));
    // Past the drafts: some expansions (and their scouts) happened before the kill.
    wait_for_nodes(&work, &mut child, 7);
    child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
    let _ = child.wait();
    let before = work.nodes(1);
    let evaluated_before = before.iter().filter(|n| n.duplicate_of.is_none()).count() as i64;
    assert!(
        evaluated_before < EVALS,
        "the run was killed after it finished ({evaluated_before} evaluations)"
    );
    assert_tree_integrity(&work, 1);
    assert_eq!(
        work.summary(1).run.status,
        RunStatus::Running,
        "killed, not finished"
    );

    let outcome = finish_by_resume(&work, 1);
    assert_eq!(outcome["status"], "finished", "{outcome:#}");
    assert_eq!(int(&outcome, "evaluations"), EVALS, "{outcome:#}");
    let after = assert_tree_integrity(&work, 1);
    // What was stored before the kill is still there, unchanged.
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(
            (old.id, &old.content_hash, &old.evaluation.status),
            (new.id, &new.content_hash, &new.evaluation.status)
        );
    }
    let summary = work.summary(1);
    assert_eq!(summary.spend.evaluations, EVALS);
    assert_eq!(summary.run.status, RunStatus::Finished);
    // One seed: resume does not start the run over.
    assert_eq!(after.iter().filter(|n| n.operator == "seed").count(), 1);
    // Meta steps are not redone: a node scouted or scattered before the kill is not
    // scouted or scattered again after the resume.
    for work in [&whole, &work] {
        for operator in ["scout", "scatter"] {
            let mut about: Vec<i64> = work
                .calls(1)
                .iter()
                .filter(|c| c.operator == operator && c.attempt == 1)
                .filter_map(|c| c.parent.map(|p| p.0))
                .collect();
            let count = about.len();
            about.sort_unstable();
            about.dedup();
            assert_eq!(about.len(), count, "a node was {operator}ed twice");
        }
    }
    // Finished runs cannot be resumed again.
    let again = work.hone(&["resume", "1"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already finished"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn ctrl_c_stops_cleanly_and_resume_finishes() {
    let slow = MockModel::start(Duration::from_millis(200));
    let work = Work::new();
    let mut all = args(&slow, "greedy");
    all.push("--json".into());
    let mut child = work.spawn(&all);
    wait_for_nodes(&work, &mut child, 3);
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill -INT: {e}"));
    assert!(sent.success());
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    assert_success(&output, "hone run, interrupted");
    let outcome: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", stdout(&output)));
    assert_eq!(outcome["status"], "interrupted", "{outcome:#}");
    assert_eq!(outcome["stop_reason"], "interrupted");
    assert!(
        stderr(&output).contains("stopping after the"),
        "{}",
        stderr(&output)
    );
    let interrupted = int(&outcome, "evaluations");
    assert!(interrupted < EVALS, "{outcome:#}");
    assert_eq!(work.summary(1).run.status, RunStatus::Interrupted);
    assert_tree_integrity(&work, 1);

    let resumed = finish_by_resume(&work, 1);
    assert_eq!(int(&resumed, "evaluations"), EVALS, "{resumed:#}");
    assert_tree_integrity(&work, 1);
}

#[test]
fn a_second_ctrl_c_abandons_the_steps_in_flight() {
    // The model takes 5 s a reply: the second Ctrl-C must not wait for it.
    let slow = MockModel::start(Duration::from_secs(5));
    let work = Work::new();
    let mut all = args(&slow, "greedy");
    all.push("--json".into());
    let mut child = work.spawn(&all);
    wait_for_nodes(&work, &mut child, 1);
    // The seed is stored; wait until the first model calls are in flight.
    let deadline = Instant::now() + Duration::from_secs(20);
    while slow.requests().is_empty() {
        assert!(Instant::now() < deadline, "no model call was made");
        std::thread::sleep(Duration::from_millis(20));
    }
    let interrupt = || {
        let sent = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("kill -INT: {e}"));
        assert!(sent.success());
    };
    interrupt();
    std::thread::sleep(Duration::from_millis(300));
    interrupt();
    let interrupted_at = Instant::now();
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    assert!(
        interrupted_at.elapsed() < Duration::from_secs(3),
        "the run waited {:?} for its steps in flight",
        interrupted_at.elapsed()
    );
    assert_success(&output, "hone run, interrupted twice");
    let outcome: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", stdout(&output)));
    assert_eq!(outcome["status"], "interrupted", "{outcome:#}");
    assert_eq!(
        int(&outcome, "evaluations"),
        1,
        "only the seed was evaluated"
    );
    assert_eq!(work.summary(1).run.status, RunStatus::Interrupted);
    assert_tree_integrity(&work, 1);
}
