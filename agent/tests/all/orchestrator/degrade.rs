//! A model that answers every request with a code block, whatever it was asked (as small
//! local models often do): every strategy still completes its run, its auxiliary steps
//! (scatter, scout) falling back to a plain improve of the same node, and the fallbacks
//! are counted in `hone status` and the report.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hone_agent::testing::MockResponse;

use super::{
    MODEL, MockModel, PROSE, Work, assert_success, assert_tree_integrity, code_reply,
    improved_program, int, stdout,
};

const EVALS: i64 = 5;

/// Every request gets a correct program in a code block (each a distinct variant, so the
/// run makes progress instead of proposing duplicates).
fn code_only_model() -> MockModel {
    let count = Arc::new(AtomicUsize::new(0));
    MockModel::with_replies(move |_, _| {
        let n = count.fetch_add(1, Ordering::SeqCst);
        let reps = [16, 8, 4, 2, 1][n % 5];
        MockResponse::completion(&code_reply("Fewer passes.", &improved_program(n, reps)))
    })
}

/// Runs `strategy` for five evaluations against the code-only model; returns the work
/// folder, the run and `hone status --json`.
fn completes(strategy: &str) -> (MockModel, Work, i64, serde_json::Value) {
    let model = code_only_model();
    let work = Work::new();
    let mut args = model.flags();
    args.extend(
        [
            "--strategy",
            strategy,
            "--budget-evals",
            &EVALS.to_string(),
            "--seed",
            "1",
        ]
        .map(String::from),
    );
    let outcome = work.run_json(&args);
    assert_eq!(outcome["status"], "finished", "{strategy}: {outcome:#}");
    assert!(
        outcome["stop_reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("evaluation budget spent")),
        "{strategy}: {outcome:#}"
    );
    assert!(int(&outcome, "evaluations") >= EVALS, "{outcome:#}");
    let run = int(&outcome, "run");
    assert_tree_integrity(&work, run);
    let status = work.status(run);
    (model, work, run, status)
}

/// The fallbacks of `hone status --json`, as (operator, model, count).
fn fallbacks(status: &serde_json::Value) -> Vec<(String, String, i64)> {
    status["fallbacks"]
        .as_array()
        .unwrap_or_else(|| panic!("no fallbacks list in {status:#}"))
        .iter()
        .map(|f| {
            (
                f["operator"].as_str().unwrap_or_default().to_string(),
                f["model"].as_str().unwrap_or_default().to_string(),
                int(f, "count"),
            )
        })
        .collect()
}

#[test]
fn forest_falls_back_to_improve_when_scatter_and_scout_get_code() {
    let (_model, work, run, status) = completes("forest");
    let counted = fallbacks(&status);
    for operator in ["scatter", "scout"] {
        assert!(
            counted
                .iter()
                .any(|(o, m, n)| o == operator && m == MODEL && *n > 0),
            "no {operator} fallback counted: {counted:?}"
        );
    }
    // Each fallback is a plain improve of the node the scatter or scout was about.
    let nodes = work.nodes(run);
    assert!(
        nodes.iter().any(|n| n.operator == "improve"),
        "no improve node"
    );
    // The same counts, for people.
    let text = stdout(&work.hone(&["status", &run.to_string()]));
    assert!(text.contains("fallbacks"), "{text}");
    assert!(text.contains("scatter") && text.contains(MODEL), "{text}");
    let report = work.path().join("report.html");
    let output = work.hone(&[
        "report",
        &run.to_string(),
        "-o",
        &report.display().to_string(),
    ]);
    assert_success(&output, "hone report");
    let html = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("{e}"));
    assert!(html.contains("Fallbacks to a plain improve"), "{html}");
}

#[test]
fn greedy_needs_no_fallback() {
    let (_model, _work, _run, status) = completes("greedy");
    assert_eq!(fallbacks(&status), Vec::new());
}

#[test]
fn best_first_completes() {
    completes("best-first");
}

#[test]
fn mcts_completes() {
    completes("mcts");
}

#[test]
fn islands_completes() {
    completes("islands");
}

#[test]
fn aide_completes() {
    completes("aide");
}

/// When no operator can produce a candidate (every reply is prose), the run still ends:
/// failed, after the fallbacks failed too.
#[test]
fn a_model_no_operator_can_use_fails_the_run() {
    let model = MockModel::with_replies(|_, _| MockResponse::completion(PROSE));
    let work = Work::new();
    let mut args: Vec<String> = vec!["run".into(), super::FIXTURE.into(), "--json".into()];
    args.extend(model.flags());
    args.extend(["--strategy", "forest", "--budget-evals", "5"].map(String::from));
    let output = work.hone(&args);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let outcome: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome["status"], "failed", "{outcome:#}");
    assert!(
        outcome["stop_reason"]
            .as_str()
            .is_some_and(|r| r.contains("steps in a row failed")),
        "{outcome:#}"
    );
    let counted = fallbacks(&work.status(int(&outcome, "run")));
    assert!(
        counted.iter().any(|(o, _, _)| o == "scatter"),
        "{counted:?}"
    );
}
