//! Scores a user reads are private: a candidate that special-cases the visible tests of
//! pair-count (prints their known answers, runs the real algorithm on anything else) scores
//! far above the honest fast program publicly, and must not become the run's best, nor
//! report more than the honest program in `hone eval --json`.

use std::path::{Path, PathBuf};

use hone_agent::testing::MockResponse;
use hone_sandbox::{Sandbox, SandboxConfig};
use hone_store::{NodeId, RunId, ScoreBasis};

use super::{Ask, MockModel, PROSE, Work, assert_success, cache_dir, code_reply, stdout};

fn pair_count() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tasks/library/efficiency/pair-count")
}

/// The honest fast program and the cheater, as C sources.
fn honest_and_cheater(dir: &Path) -> (String, String) {
    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: Some(cache_dir()),
        ..SandboxConfig::default()
    })
    .unwrap_or_else(|e| panic!("sandbox: {e}"));
    let source = |candidate: hone_tasks::Candidate| {
        candidate
            .files
            .get("main.c")
            .cloned()
            .unwrap_or_else(|| panic!("not a C candidate: {candidate:?}"))
    };
    let honest = hone_tasks::testing::efficiency_reference(dir).unwrap_or_else(|e| panic!("{e}"));
    let cheater =
        hone_tasks::testing::efficiency_cheater(dir, &sandbox).unwrap_or_else(|e| panic!("{e}"));
    (source(honest), source(cheater))
}

#[test]
fn a_cheater_proposed_first_does_not_become_the_best() {
    let dir = pair_count();
    let (honest, cheater) = honest_and_cheater(&dir);
    let (honest_reply, cheater_reply) = (
        code_reply("Radix sort, then two pointers.", &honest),
        code_reply("Answer the known inputs at once.", &cheater),
    );
    let model = MockModel::with_replies(move |ask, n| {
        MockResponse::completion(match (ask, n) {
            (Ask::Candidate, 0) => &cheater_reply,
            (Ask::Candidate, 1) => &honest_reply,
            _ => PROSE,
        })
    });
    let work = Work::new();
    let mut args = vec!["run".to_string(), dir.display().to_string()];
    args.extend(model.flags());
    args.extend(["--budget-evals", "3", "--concurrency", "1"].map(String::from));
    let output = work.hone(&args);
    assert_success(&output, "hone run");
    let printed = stdout(&output);

    let nodes = work.nodes(1);
    let id_of = |source: &str| {
        nodes
            .iter()
            .find(|n| {
                n.files
                    .get("main.c")
                    .is_some_and(|f| f.trim() == source.trim())
            })
            .map(|n| n.id)
            .unwrap_or_else(|| panic!("no node holds that program:\n{printed}"))
    };
    let (honest_id, cheater_id) = (id_of(&honest), id_of(&cheater));
    let public = |id: NodeId| {
        nodes
            .iter()
            .find(|n| n.id == id)
            .and_then(|n| n.rank_score())
            .unwrap_or_else(|| panic!("node {} is not valid", id.0))
    };
    assert!(
        public(cheater_id) > 10.0 * public(honest_id),
        "the cheater did not win publicly: {} vs {}",
        public(cheater_id),
        public(honest_id)
    );

    // Both entered the best public scores, so both were evaluated privately.
    let (privates, best, best_ref) = work.read(async |store| {
        let privates = store.private_evaluations(RunId(1)).await;
        let best = store.best_node(RunId(1)).await;
        let best_ref = store.best_lineage_commit(RunId(1)).await;
        (privates, best, best_ref)
    });
    let privates = privates.unwrap_or_else(|e| panic!("{e}"));
    let private = |id: NodeId| {
        privates
            .iter()
            .find(|p| p.node == id)
            .map(|p| p.evaluation.clone())
            .unwrap_or_else(|| panic!("node {} has no private evaluation", id.0))
    };
    let (honest_private, cheater_private) = (private(honest_id), private(cheater_id));
    assert!(honest_private.held_out && honest_private.valid);
    assert!(
        cheater_private.score <= honest_private.score,
        "{cheater_private:?} vs {honest_private:?}"
    );

    // The run's best is the honest program, by its private score.
    let best = best
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no best node"));
    assert_eq!(best.node, honest_id);
    assert_eq!(best.basis, ScoreBasis::Private);
    assert_eq!(Some(best.score), honest_private.score);
    let honest_commit = work
        .nodes(1)
        .into_iter()
        .find(|n| n.id == honest_id)
        .and_then(|n| n.lineage_commit);
    assert_eq!(
        best_ref.unwrap_or_else(|e| panic!("{e}")),
        honest_commit,
        "refs/runs/1/best"
    );

    // The summary line reports the private score, the public one beside it.
    let line = format!("best score   {:.4}  node {}", best.score, honest_id.0);
    assert!(printed.contains(&line), "`{line}` missing from:\n{printed}");
    let public_part = format!("(private, public {:.4})", public(honest_id));
    assert!(printed.contains(&public_part), "{printed}");

    // `hone best` prints the honest program.
    let output = work.hone(&["best", "1"]);
    assert_success(&output, "hone best");
    assert_eq!(stdout(&output).trim(), honest.trim());

    // `hone tree` shows the private scores beside the public ones.
    let output = work.hone(&["tree", "1"]);
    assert_success(&output, "hone tree");
    let tree = stdout(&output);
    assert!(
        tree.contains(&format!(
            "* #{} improve ok score {:.4} private {:.4}",
            honest_id.0,
            public(honest_id),
            best.score
        )),
        "{tree}"
    );
}

/// `hone eval FILE --json`.
fn eval_json(work: &Work, dir: &Path, name: &str, source: &str) -> serde_json::Value {
    let file = work.path().join(name);
    std::fs::write(&file, source).unwrap_or_else(|e| panic!("{e}"));
    let output = work.hone(&[
        "eval",
        &dir.display().to_string(),
        &file.display().to_string(),
        "--json",
    ]);
    assert_success(&output, "hone eval --json");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("eval JSON: {e}"))
}

#[test]
fn hone_eval_reports_the_private_score_at_the_top() {
    let dir = pair_count();
    let (honest, cheater) = honest_and_cheater(&dir);
    let work = Work::new();
    let honest = eval_json(&work, &dir, "honest.c", &honest);
    let cheater = eval_json(&work, &dir, "cheater.c", &cheater);
    let score = |v: &serde_json::Value| v["score"].as_f64().unwrap_or(f64::NAN);
    let public = |v: &serde_json::Value| v["public"]["score"].as_f64().unwrap_or(f64::NAN);
    assert!(public(&cheater) > 10.0 * public(&honest), "{cheater:#}");
    assert!(score(&cheater) <= score(&honest), "{cheater:#}\n{honest:#}");
    for v in [&honest, &cheater] {
        assert_eq!(v["valid"], true, "{v:#}");
        assert_eq!(v["held_out"], true, "{v:#}");
        assert_eq!(v["score"], v["private"]["score"], "{v:#}");
        // Of the private evaluation, only numbers are shown.
        assert!(v["private"].get("feedback").is_none(), "{v:#}");
        assert!(v["private"].get("trace").is_none(), "{v:#}");
    }
}
