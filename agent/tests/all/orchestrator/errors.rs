//! Bad input through the binary: a clear error on stderr, a non-zero exit, never a panic,
//! and no run left behind in the store.

use super::{FIXTURE, Work, stderr, stdout};

/// Runs `hone ARGS`, expects a failure whose first stderr line is `error: ...` containing
/// `expected`; returns stderr.
fn fails(work: &Work, args: &[&str], expected: &str) -> String {
    let output = work.hone(args);
    let err = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "`hone {}` should fail with exit 1:\n{err}",
        args.join(" ")
    );
    assert!(!err.contains("panicked"), "panic: {err}");
    let first = err.lines().next().unwrap_or("");
    assert!(
        first.starts_with("error: ") && first.contains(expected),
        "`hone {}`: first line of stderr `{first}` does not say `{expected}`:\n{err}",
        args.join(" ")
    );
    assert!(stdout(&output).is_empty(), "{}", stdout(&output));
    err
}

fn no_runs(work: &Work) {
    let output = work.hone(&["status", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let runs: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        runs,
        serde_json::json!([]),
        "a failed start left a run behind"
    );
}

#[test]
fn bad_run_arguments() {
    let work = Work::new();
    let evals = ["--budget-evals", "3"];
    let run = |extra: &[&str]| {
        let mut args = vec!["run", FIXTURE];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let call = |extra: &[&str], expected: &str| {
        let args = run(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails(&work, &args, expected)
    };
    let err = call(
        &["--strategy", "nope", "--llm", "openai", evals[0], evals[1]],
        "unknown strategy `nope`",
    );
    assert!(err.contains("greedy, best-first, mcts, forest, islands, aide"));
    fails(
        &work,
        &[
            "run",
            "/no/such/task-folder",
            "--llm",
            "openai",
            "--budget-evals",
            "3",
        ],
        "/no/such/task-folder",
    );
    call(
        &["--llm", "random", evals[0], evals[1]],
        "--llm random proposes random valid inputs and works only for counterexample tasks",
    );
    call(&["--llm", "openai"], "no budget set");
    let err = call(
        &[
            "--llm",
            "builtin",
            "--strategy",
            "forest",
            evals[0],
            evals[1],
        ],
        "strategy `forest` needs a model",
    );
    assert!(err.contains("hint:"), "{err}");
    // Nothing to tune in the fixture: the builtin tuner says why, once.
    let err = call(
        &["--llm", "builtin", evals[0], evals[1]],
        "--llm builtin cannot tune task `sum-numbers`",
    );
    assert_eq!(err.matches("hint:").count(), 1, "{err}");
    call(&["--llm", "gpt", evals[0], evals[1]], "unknown --llm `gpt`");
    call(
        &["--llm", "replay:no-such-cassette.jsonl", evals[0], evals[1]],
        "no-such-cassette.jsonl",
    );
    call(
        &["--llm", "openai", "--concurrency", "0", evals[0], evals[1]],
        "--concurrency must be at least 1",
    );
    call(
        &["--llm", "openai", "--selection", "best", evals[0], evals[1]],
        "unknown model selection `best`",
    );
    // Budgets that cannot be spent, or never run out.
    call(
        &["--llm", "openai", "--budget-evals", "0"],
        "--budget-evals 0",
    );
    call(
        &["--llm", "openai", "--budget-calls", "0"],
        "--budget-calls 0",
    );
    call(
        &["--llm", "openai", "--budget-usd", "NaN"],
        "--budget-usd NaN",
    );
    call(
        &["--llm", "openai", "--budget-usd", "inf"],
        "--budget-usd inf",
    );
    call(
        &["--llm", "openai", "--budget-time", "0s"],
        "--budget-time 0",
    );
    no_runs(&work);
}

#[test]
fn bad_config_file() {
    let work = Work::new();
    std::fs::write(work.path().join("hone.toml"), "[run]\nbudget_evalz = 3\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let err = fails(
        &work,
        &["run", FIXTURE, "--llm", "openai"],
        "hone.toml: invalid config",
    );
    assert!(err.contains("budget_evalz"), "{err}");
}

#[test]
fn unknown_run_ids() {
    let work = Work::new();
    let out = work.path().join("out");
    let out = out.display().to_string();
    for args in [
        vec!["resume", "42"],
        vec!["status", "42"],
        vec!["status", "42", "--json"],
        vec!["best", "42"],
        vec!["best", "42", "-o", &out],
        vec!["tree", "42"],
        vec!["report", "42", "-o", &out],
        vec!["export", "42", "--format", "trajectories", "-o", &out],
    ] {
        fails(&work, &args, "has no run 42");
    }
    assert!(!work.path().join("out").exists(), "nothing written");
    fails(
        &work,
        &["export", "42", "--format", "csv", "-o", &out],
        "unknown export format `csv`",
    );
}

#[test]
fn usage_errors_exit_2() {
    let work = Work::new();
    for args in [
        vec!["run"],
        vec!["resume", "one"],
        vec!["run", FIXTURE, "--budget-time", "3 fortnights"],
    ] {
        let output = work.hone(&args);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(!stderr(&output).contains("panicked"));
    }
}
