//! AHC001 with its C++ seed (`tasks/library/heuristic/ahc001-cpp`), end to end: the builtin
//! tuner moves the seed's `// hone:tune` constants, and the mock model answers with a
//! ```cpp block and with SEARCH/REPLACE edits of `main.cpp`. The seed's improvement loop
//! stops at a time limit on the virtual clock, so its score is the same on every run.

use std::path::{Path, PathBuf};

use hone_agent::testing::MockResponse;

use super::{Ask, MockModel, PROSE, Work, assert_success, float, int};

fn ahc001_cpp() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tasks/library/heuristic/ahc001-cpp")
}

fn seed() -> String {
    std::fs::read_to_string(ahc001_cpp().join("seed.cpp")).unwrap_or_else(|e| panic!("{e}"))
}

/// `hone run ahc001-cpp ARGS --json`, which must succeed.
fn run(work: &Work, args: &[String]) -> serde_json::Value {
    let mut all = vec![
        "run".to_string(),
        ahc001_cpp().display().to_string(),
        "--json".into(),
    ];
    all.extend(args.iter().cloned());
    let output = work.hone(&all);
    assert_success(&output, &all.join(" "));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("no JSON: {e}"))
}

#[test]
fn the_builtin_tuner_runs_ahc001_from_its_cpp_seed() {
    let work = Work::new();
    let args = ["--llm", "builtin", "--budget-evals", "2", "--seed", "1"].map(String::from);
    let outcome = run(&work, &args);
    assert_eq!(outcome["status"], "finished", "{outcome:#}");
    assert_eq!(outcome["best_valid"], true, "{outcome:#}");
    // 15 cases, each scored up to 1e9: a valid layout earns a good part of it.
    let seed_score = float(&outcome, "seed_score");
    assert!(seed_score > 15.0 * 0.3e9, "{outcome:#}");
    assert!(
        float(&outcome, "best_score") >= seed_score * 0.5,
        "{outcome:#}"
    );
    let nodes = work.nodes(int(&outcome, "run"));
    let seed_node = nodes
        .iter()
        .find(|n| n.files.get("main.cpp").is_some_and(|f| *f == seed()))
        .unwrap_or_else(|| panic!("no node holds the C++ seed"));
    assert!(seed_node.rank_score().is_some(), "the seed is valid");
    assert!(
        nodes
            .iter()
            .all(|n| n.files.keys().all(|f| f == "main.cpp")),
        "every candidate is C++"
    );

    // The same run again scores the seed identically: the time limit is virtual.
    let again = run(&Work::new(), &args);
    assert_eq!(again["seed_score"], outcome["seed_score"], "{again:#}");
}

#[test]
fn the_mock_model_improves_ahc001_in_cpp_blocks_and_edits() {
    let source = seed();
    // A full program in a ```cpp block: more steps per move.
    let full = source.replace(
        "constexpr double MAX_STEP = 0.5;",
        "constexpr double MAX_STEP = 0.9;",
    );
    assert_ne!(full, source, "the seed no longer sets MAX_STEP = 0.5");
    let full_reply = format!("Take longer steps.\n\n```cpp\n{full}```\n");
    // An edit of main.cpp: a longer improvement loop.
    let line = source
        .lines()
        .find(|l| l.starts_with("constexpr double TIME_LIMIT = 0.25;"))
        .expect("the seed sets TIME_LIMIT = 0.25")
        .to_string();
    let edit_reply = format!(
        "Search for longer.\n\n<<<<<<< SEARCH\n{line}\n=======\n{}\n>>>>>>> REPLACE\n",
        line.replace("0.25;", "0.4;")
    );
    let model = MockModel::with_replies(move |ask, n| {
        MockResponse::completion(match (ask, n) {
            (Ask::Candidate, 0) => &full_reply,
            (Ask::Candidate, 1) => &edit_reply,
            _ => PROSE,
        })
    });
    let work = Work::new();
    let mut args = model.flags();
    args.extend(["--budget-evals", "3", "--concurrency", "1"].map(String::from));
    let outcome = run(&work, &args);
    assert_eq!(outcome["best_valid"], true, "{outcome:#}");
    let nodes = work.nodes(int(&outcome, "run"));
    let holding = |needle: &str| {
        nodes
            .iter()
            .find(|n| n.files.get("main.cpp").is_some_and(|f| f.contains(needle)))
            .unwrap_or_else(|| panic!("no C++ node holds `{needle}`"))
    };
    let full_node = holding("MAX_STEP = 0.9;");
    let edited_node = holding("TIME_LIMIT = 0.4;");
    for node in [full_node, edited_node] {
        let score = node
            .rank_score()
            .unwrap_or_else(|| panic!("node {} is not valid", node.id.0));
        assert!(score > 15.0 * 0.3e9, "node {}: {score}", node.id.0);
    }
}
