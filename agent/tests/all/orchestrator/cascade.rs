//! A task with a cascade, driven through `hone run` against the mock model: a candidate
//! slower than the first stage's threshold is stored as `cascade_stopped` after one test,
//! a faster one runs every test and becomes the best.

use hone_agent::testing::MockResponse;
use hone_store::RunId;

use super::{
    Ask, MockModel, Work, assert_success, code_reply, improved_program, int, scheduled_reply,
    stdout,
};

/// The fixture task with a one-stage cascade: on its first visible test a candidate must
/// reach 0.9x the seed's speed to run on the others.
fn cascade_task(work: &Work) -> std::path::PathBuf {
    let dir = work.path().join("sum-cascade");
    let from = std::path::Path::new(super::FIXTURE);
    for entry in walk(from) {
        let target = dir.join(entry.strip_prefix(from).unwrap_or(&entry));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::copy(&entry, &target).unwrap_or_else(|e| panic!("{}: {e}", entry.display()));
    }
    let manifest = dir.join("task.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{e}"));
    text.push_str("cascade = [{ cases = 1, min_score = 0.9 }]\n");
    std::fs::write(&manifest, text).unwrap_or_else(|e| panic!("{e}"));
    dir
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_run_stores_a_slow_candidate_as_cascade_stopped_and_keeps_the_fast_one() {
    // First a program twice as slow as the seed, then a faster one.
    let model = MockModel::with_replies(|ask, n| match ask {
        Ask::Candidate | Ask::Reask if n == 0 => MockResponse::completion(&code_reply(
            "Sum it more times, to be sure.",
            &improved_program(n, 128),
        )),
        Ask::Candidate | Ask::Reask => {
            MockResponse::completion(&code_reply("Sum it fewer times.", &improved_program(n, 16)))
        }
        _ => MockResponse::completion(&scheduled_reply(ask, n)),
    });
    let work = Work::new();
    let task = cascade_task(&work);
    let mut args: Vec<String> = vec![
        "run".into(),
        task.display().to_string(),
        "--json".into(),
        "--budget-evals".into(),
        "3".into(),
    ];
    args.extend(model.flags());
    let output = work.hone(&args);
    assert_success(&output, "hone run on a task with a cascade");
    let outcome: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON outcome ({e}): {}", stdout(&output)));
    assert_eq!(int(&outcome, "evaluations"), 3, "{outcome:#}");

    let tree = work.read(async |store| {
        store
            .load_tree(RunId(int(&outcome, "run")))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    });
    let statuses: Vec<&str> = tree.iter().map(|n| n.evaluation.status.as_str()).collect();
    assert_eq!(statuses, ["ok", "cascade_stopped", "ok"], "{tree:#?}");
    let stopped = &tree[1].evaluation;
    assert!(!stopped.valid && stopped.score == Some(0.0));
    assert_eq!(stopped.metrics["cascade"]["stopped_at"], 1, "{stopped:#?}");
    assert_eq!(stopped.metrics["skipped"], 1, "{stopped:#?}");
    assert!(
        stopped
            .feedback
            .contains("Stopped by the cascade at stage 1 of 1"),
        "{}",
        stopped.feedback
    );
    let fast = &tree[2].evaluation;
    assert!(fast.valid && fast.score.unwrap_or(0.0) > 1.2, "{fast:#?}");
    assert_eq!(fast.metrics["cascade"]["stopped"], false);
    assert_eq!(outcome["best_node"], tree[2].id.0, "{outcome:#}");
}
