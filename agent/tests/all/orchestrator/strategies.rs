//! Every strategy, driven by the scripted model, finds the improvement and records the
//! failures (wrong answers, compile errors, unparsable replies).

use std::time::Duration;

use super::{Ask, MockModel, Work, assert_success, assert_tree_integrity, classify, float, int};

const EVALS: i64 = 12;

fn finds_the_improvement_and_records_failures(strategy: &str) -> (MockModel, Work, i64) {
    let model = MockModel::start(Duration::ZERO);
    let work = Work::new();
    let mut args = model.flags();
    args.extend(
        [
            "--strategy",
            strategy,
            "--budget-evals",
            &EVALS.to_string(),
            "--concurrency",
            "2",
            "--seed",
            "3",
        ]
        .map(String::from),
    );
    let outcome = work.run_json(&args);
    let run = int(&outcome, "run");
    assert_eq!(outcome["status"], "finished", "{outcome:#}");
    assert_eq!(
        outcome["stop_reason"].as_str(),
        Some(format!("evaluation budget spent ({EVALS})").as_str()),
        "{outcome:#}"
    );
    assert_eq!(int(&outcome, "evaluations"), EVALS, "{outcome:#}");
    assert_eq!(outcome["best_valid"], true, "{outcome:#}");
    let seed = float(&outcome, "seed_score");
    let best = float(&outcome, "best_score");
    assert!(
        best > seed * 1.2,
        "{strategy}: best {best} is no real gain over the seed {seed}"
    );
    // The best is ranked by its private score, on the hidden test.
    assert_eq!(outcome["best_basis"], "private", "{outcome:#}");
    assert!(int(&outcome, "private_evaluations") >= 1, "{outcome:#}");

    // Counts by status, as `hone status --json` shows them.
    let status = work.status(run);
    let by_status = &status["by_status"];
    for failure in ["compile_error", "wrong_answer", "ok"] {
        assert!(
            by_status[failure].as_i64().unwrap_or(0) > 0,
            "{strategy}: no {failure} node in {by_status}"
        );
    }
    assert_eq!(
        status["spend"]["evaluations"].as_i64(),
        Some(EVALS),
        "{status:#}"
    );

    // Unparsable replies: the call is kept with its parse error, and re-asked once.
    let calls = work.calls(run);
    let unparsable: Vec<_> = calls.iter().filter(|c| c.parse_error.is_some()).collect();
    assert!(
        !unparsable.is_empty(),
        "{strategy}: no model call has a parse error"
    );
    assert!(
        unparsable.iter().all(|c| c.attempt == 1),
        "the re-asked replies parse"
    );
    assert!(calls.iter().any(|c| c.attempt == 2), "no call was re-asked");
    assert!(
        calls.iter().all(|c| c.error.is_none()),
        "a call to the mock failed"
    );

    // The trajectories export shows the re-asked node with both of its calls.
    let path = work.path().join("trajectories.jsonl");
    let output = work.hone(&[
        "export",
        &run.to_string(),
        "--format",
        "trajectories",
        "-o",
        &path.display().to_string(),
    ]);
    assert_success(&output, "hone export");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(
        lines.len() as i64,
        int(&status, "nodes"),
        "one line per node"
    );
    let reasked = lines.iter().find(|line| {
        line["llm_calls"]
            .as_array()
            .is_some_and(|calls| calls.iter().any(|c| !c["parse_error"].is_null()))
    });
    let reasked = reasked.unwrap_or_else(|| panic!("{strategy}: no re-asked node exported"));
    assert_eq!(reasked["llm_calls"].as_array().map(Vec::len), Some(2));

    let nodes = assert_tree_integrity(&work, run);
    assert_eq!(
        nodes.iter().filter(|n| n.operator == "seed").count(),
        1,
        "the seed is evaluated once"
    );
    (model, work, run)
}

#[test]
fn greedy() {
    finds_the_improvement_and_records_failures("greedy");
}

#[test]
fn best_first() {
    finds_the_improvement_and_records_failures("best-first");
}

#[test]
fn mcts() {
    finds_the_improvement_and_records_failures("mcts");
}

#[test]
fn islands() {
    let (_model, work, run) = finds_the_improvement_and_records_failures("islands");
    let nodes = work.nodes(run);
    assert!(
        nodes.iter().any(|n| n.island.is_some()),
        "islands tags its nodes with their island"
    );
}

#[test]
fn aide() {
    let (_model, work, run) = finds_the_improvement_and_records_failures("aide");
    let nodes = work.nodes(run);
    let drafts = nodes.iter().filter(|n| n.operator == "draft").count();
    assert_eq!(drafts, 3, "aide starts with its three drafts");
    assert!(
        nodes.iter().any(|n| n.operator == "debug"),
        "aide never debugged a failing leaf"
    );
}

#[test]
fn forest() {
    let (model, work, run) = finds_the_improvement_and_records_failures("forest");
    let requests = model.requests();
    let asked = |ask: Ask| requests.iter().filter(|r| classify(r) == ask).count();
    assert!(asked(Ask::Directions) >= 1, "forest never scattered");
    assert!(asked(Ask::Insights) >= 1, "forest never scouted");
    // Directions go into the children's prompts, insights into later prompts.
    let prompts: Vec<String> = requests
        .iter()
        .filter(|r| classify(r) == Ask::Candidate)
        .filter_map(|r| r.last_user_message())
        .collect();
    assert!(
        prompts
            .iter()
            .any(|p| p.contains("Sum the array in one pass.") || p.contains("Use fewer passes")),
        "no child implemented a scattered direction"
    );
    assert!(
        prompts.iter().any(|p| p.contains(super::INSIGHTS)),
        "the scouted insights never reached a prompt"
    );
    let nodes = work.nodes(run);
    let trees: std::collections::BTreeSet<i64> = nodes.iter().filter_map(|n| n.tree).collect();
    assert!(
        trees.len() >= 2,
        "forest grew {trees:?}: fewer than two trees"
    );
}
