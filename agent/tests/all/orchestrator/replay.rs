//! A run recorded to a cassette and replayed twice with the same seed and `--concurrency 1`
//! produces identical trees and scores, without the network.

use std::time::Duration;

use super::{MODEL, MockModel, Work, assert_success, int, stdout};

fn common(seed: &str, evals: &str) -> Vec<String> {
    [
        "--model",
        MODEL,
        "--strategy",
        "aide",
        "--budget-evals",
        evals,
        "--concurrency",
        "1",
        "--seed",
        seed,
    ]
    .map(String::from)
    .to_vec()
}

/// What must match between runs: the tree text and, per node, its shape and score.
fn fingerprint(work: &Work, run: i64) -> (String, Vec<serde_json::Value>) {
    let tree = work.hone(&["tree", &run.to_string()]);
    assert_success(&tree, "hone tree");
    let path = work.path().join("trajectories.jsonl");
    let export = work.hone(&[
        "export",
        &run.to_string(),
        "--format",
        "trajectories",
        "-o",
        &path.display().to_string(),
    ]);
    assert_success(&export, "hone export");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let nodes = text
        .lines()
        .map(|line| {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            serde_json::json!({
                "node": v["node"],
                "parent": v["parent"],
                "operator": v["operator"],
                "content_hash": v["content_hash"],
                "duplicate_of": v["duplicate_of"],
                "status": v["evaluation"]["status"],
                "score": v["evaluation"]["score"],
                "fuel": v["evaluation"]["fuel"],
                "calls": v["llm_calls"].as_array().map(Vec::len),
            })
        })
        .collect();
    (stdout(&tree), nodes)
}

#[test]
fn replays_with_the_same_seed_are_identical() {
    let model = MockModel::start(Duration::ZERO);
    let recorded = Work::new();
    let cassette = recorded.path().join("cassette.jsonl");
    let mut args = vec![
        "--llm".to_string(),
        format!("record:{}", cassette.display()),
        "--base-url".to_string(),
        model.base_url(),
    ];
    args.extend(common("11", "8"));
    let outcome = recorded.run_json(&args);
    assert_eq!(outcome["replayed"], false);
    let reference = fingerprint(&recorded, int(&outcome, "run"));
    let exchanges = std::fs::read_to_string(&cassette)
        .unwrap_or_else(|e| panic!("{e}"))
        .lines()
        .count();
    assert_eq!(exchanges, model.requests().len(), "every exchange recorded");
    drop(model);

    let mut fingerprints = Vec::new();
    for _ in 0..2 {
        let work = Work::new();
        let mut args = vec![
            "--llm".to_string(),
            format!("replay:{}", cassette.display()),
        ];
        args.extend(common("11", "8"));
        let outcome = work.run_json(&args);
        assert_eq!(outcome["replayed"], true, "{outcome:#}");
        assert_eq!(int(&outcome, "evaluations"), 8);
        let calls = work.calls(int(&outcome, "run"));
        assert!(calls.iter().all(|c| c.replayed && c.error.is_none()));
        fingerprints.push(fingerprint(&work, int(&outcome, "run")));
    }
    assert_eq!(fingerprints[0], fingerprints[1], "two replays differ");
    assert_eq!(
        fingerprints[0], reference,
        "the replay differs from the recorded run"
    );
    assert!(reference.0.contains("seed"), "{}", reference.0);
}

#[test]
fn replay_miss_is_a_clear_failure() {
    // A cassette recorded for another seed cannot answer this run's prompts: the run stops
    // with a message naming the miss instead of inventing replies.
    let model = MockModel::start(Duration::ZERO);
    let work = Work::new();
    let cassette = work.path().join("cassette.jsonl");
    let mut args = vec![
        "--llm".to_string(),
        format!("record:{}", cassette.display()),
        "--base-url".to_string(),
        model.base_url(),
    ];
    args.extend(common("1", "2"));
    work.run_json(&args);
    let mut replay = vec![
        "run".to_string(),
        super::FIXTURE.to_string(),
        "--llm".to_string(),
        format!("replay:{}", cassette.display()),
    ];
    // More evaluations than the cassette holds.
    replay.extend(common("1", "40"));
    let output = work.hone(&replay);
    let printed = stdout(&output);
    assert!(!output.status.success(), "{printed}");
    assert!(printed.contains("steps in a row failed"), "{printed}");
    let calls = work.calls(2);
    assert!(
        calls
            .iter()
            .any(|c| c.error.as_deref().is_some_and(|e| e.contains("cassette"))),
        "the miss is recorded on the call"
    );
}
