//! Early stopping: `--stop-after-stale N` and `--stop-at SCORE` end a run before its budget,
//! say why in the run's stop event, and are kept by `hone resume`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use hone_agent::testing::MockResponse;

use super::{
    Ask, MockModel, Work, assert_success, code_reply, float, int, scheduled_reply, stdout,
    wrong_program,
};

fn run_args(model: &MockModel, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "run".into(),
        super::FIXTURE.into(),
        "--json".into(),
        "--budget-evals".into(),
        "30".into(),
    ];
    args.extend(model.flags());
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

fn outcome(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON outcome ({e}): {}", stdout(output)))
}

/// A model whose every candidate is a distinct wrong program: nothing beats the seed.
fn never_better() -> MockModel {
    MockModel::with_replies(|ask, n| match ask {
        Ask::Candidate | Ask::Reask => {
            MockResponse::completion(&code_reply("Off by one.", &wrong_program(n)))
        }
        _ => MockResponse::completion(&scheduled_reply(ask, n)),
    })
}

/// The run's stop event, as stored.
fn stop_event(work: &Work, run: i64) -> String {
    let events = work.read(async |store| {
        store
            .events(hone_store::RunId(run))
            .await
            .unwrap_or_else(|e| panic!("events: {e}"))
    });
    events
        .iter()
        .rev()
        .find(|e| e.kind == "stop")
        .and_then(|e| e.payload["reason"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("run {run} has no stop event: {events:#?}"))
}

#[test]
fn a_run_that_stops_improving_stops_after_n_stale_evaluations() {
    let model = never_better();
    let work = Work::new();
    let output = work.hone(&run_args(&model, &["--stop-after-stale", "3"]));
    assert_success(&output, "hone run --stop-after-stale 3");
    let outcome = outcome(&output);
    assert_eq!(outcome["status"], "finished", "{outcome:#}");
    // The seed sets the best; three evaluations then fail to beat it.
    assert_eq!(int(&outcome, "evaluations"), 4, "{outcome:#}");
    let reason = outcome["stop_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("no improvement of the best public score in 3 evaluations"),
        "{reason}"
    );
    assert_eq!(stop_event(&work, int(&outcome, "run")), reason);
}

#[test]
fn a_run_stops_once_its_best_public_score_reaches_the_target() {
    // The first candidate sums the array 16 times instead of 64: above 1.2x the seed.
    let model = MockModel::start(std::time::Duration::ZERO);
    let work = Work::new();
    let output = work.hone(&run_args(&model, &["--stop-at", "1.2"]));
    assert_success(&output, "hone run --stop-at 1.2");
    let outcome = outcome(&output);
    assert_eq!(outcome["status"], "finished", "{outcome:#}");
    assert_eq!(int(&outcome, "evaluations"), 2, "{outcome:#}");
    assert!(float(&outcome, "best_public_score") >= 1.2, "{outcome:#}");
    let reason = outcome["stop_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("target score reached"), "{reason}");
    assert!(reason.contains(">= 1.2 (--stop-at)"), "{reason}");
    assert_eq!(stop_event(&work, int(&outcome, "run")), reason);
}

#[test]
fn resume_keeps_the_stop_rule_and_the_stale_count_of_the_first_segment() {
    // Two wrong candidates, then the model goes down (the run is interrupted), then it
    // answers wrong candidates again.
    let down = Arc::new(AtomicBool::new(true));
    let served = Arc::new(AtomicUsize::new(0));
    let (switch, count) = (down.clone(), served.clone());
    let model = MockModel::with_replies(move |ask, n| {
        if matches!(ask, Ask::Candidate | Ask::Reask)
            && count.load(Ordering::SeqCst) >= 2
            && switch.load(Ordering::SeqCst)
        {
            return MockResponse::error(503, "the model is down");
        }
        count.fetch_add(1, Ordering::SeqCst);
        MockResponse::completion(&code_reply("Off by one.", &wrong_program(n)))
    });
    let work = Work::new();
    let output = work.hone(&run_args(
        &model,
        &["--stop-after-stale", "4", "--model-patience", "1s"],
    ));
    assert_success(&output, "hone run");
    let first = outcome(&output);
    assert_eq!(first["status"], "interrupted", "{first:#}");
    assert_eq!(int(&first, "evaluations"), 3, "{first:#}");

    down.store(false, Ordering::SeqCst);
    let run = int(&first, "run").to_string();
    let output = work.hone(&["resume", &run, "--json"]);
    assert_success(&output, "hone resume");
    let resumed = outcome(&output);
    assert_eq!(resumed["status"], "finished", "{resumed:#}");
    // Two stale evaluations before the interruption count: two more end the run.
    assert_eq!(int(&resumed, "evaluations"), 5, "{resumed:#}");
    let reason = resumed["stop_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("in 4 evaluations"), "{reason}");
}

#[test]
fn a_zero_stale_count_is_refused_naming_the_flag() {
    let work = Work::new();
    let output = work.hone(&[
        "run",
        super::FIXTURE,
        "--llm",
        "builtin",
        "--budget-evals",
        "3",
        "--stop-after-stale",
        "0",
    ]);
    assert!(!output.status.success());
    let err = super::stderr(&output);
    assert!(err.contains("--stop-after-stale 0"), "{err}");
}
