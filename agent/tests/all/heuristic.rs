//! heuristic tasks with an interactive AHC tools folder: the `tester` runs the candidate
//! through `hone sandbox run --stream` (the hone binary under test: HONE_BIN, or hone's own
//! executable),
//! driven end to end with `hone eval`: a tester that sends the whole input at once
//! (`tools-interactive`), and a turn-by-turn guessing game (`tools-interactive-turns`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tasks/tests/fixtures/heuristic")
        .join(name)
}

/// The shared cache of this test binary's hone runs (compiled candidates, the tools build).
fn cache_dir() -> PathBuf {
    std::env::temp_dir().join("hone-test-cache")
}

/// `hone eval TASK FILE --json`, the tester's hone binary given as HONE_BIN
/// when `hone_bin` is `Some` (else hone passes its own executable).
fn hone_eval(task: &Path, candidate: &str, hone_bin: Option<&Path>) -> std::process::Output {
    let file = task.join("candidate.rs");
    std::fs::write(&file, candidate).expect("candidate");
    let mut command = Command::new(env!("CARGO_BIN_EXE_hone"));
    command
        .arg("--cache-dir")
        .arg(cache_dir())
        .args(["eval", "--json"])
        .arg(task)
        .arg(&file)
        .env_remove("HONE_BIN");
    if let Some(path) = hone_bin {
        command.env("HONE_BIN", path);
    }
    command.output().expect("hone runs")
}

/// [`hone_eval`] that must succeed; the parsed JSON.
fn eval_with(task: &Path, candidate: &str, hone_bin: Option<&Path>) -> serde_json::Value {
    let output = hone_eval(task, candidate, hone_bin);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "hone eval failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// [`eval_with`] HONE_BIN set to the hone binary under test.
fn eval(task: &Path, candidate: &str) -> serde_json::Value {
    eval_with(task, candidate, Some(Path::new(env!("CARGO_BIN_EXE_hone"))))
}

fn interactive_task() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let toml = format!(
        "[task]\nkind = \"heuristic\"\nlanguages = [\"rust\"]\n[heuristic]\ntools = \"{}\"\nobjective = \"maximize\"\n\
         seed = \"seed.rs\"\npublic_seeds = [10, 11, 12]\nprivate_seeds = [20]\nfuel = 50_000_000\n",
        fixture("tools-interactive").display()
    );
    std::fs::write(dir.path().join("task.toml"), toml).expect("task.toml");
    std::fs::write(dir.path().join("statement.md"), "Subset sum.\n").expect("statement");
    std::fs::copy(fixture("subset_seed.rs"), dir.path().join("seed.rs")).expect("seed");
    dir
}

#[test]
fn interactive_tester_runs_the_candidate_through_hone_sandbox_run() {
    let task = interactive_task();
    let seed = std::fs::read_to_string(fixture("subset_seed.rs")).expect("seed");
    let json = eval(task.path(), &seed);
    let evaluation = &json["public"];
    assert_eq!(evaluation["status"], "ok", "{json:#}");
    assert_eq!(evaluation["valid"], true);
    assert_eq!(evaluation["metrics"]["passed"], 3);
    let score = evaluation["score"].as_f64().expect("score");
    assert!(score > 3.0, "{json:#}");
    // The fuel comes from the `hone sandbox run` summary the tester passed through.
    assert!(evaluation["fuel"].as_u64().expect("fuel") > 0, "{json:#}");
    // The private seed's case, numbers only.
    assert_eq!(json["held_out"], true, "{json:#}");
    assert_eq!(json["private"]["valid"], true, "{json:#}");
    assert_eq!(json["score"], json["private"]["score"], "{json:#}");
    assert!(json["private"].get("metrics").is_none(), "{json:#}");

    // A malformed answer: the tester's message, score 0 for each case.
    let wrong = eval(task.path(), "fn main() { println!(\"2 2 2\"); }");
    let evaluation = &wrong["public"];
    assert_eq!(evaluation["status"], "wrong_answer", "{wrong:#}");
    let feedback = evaluation["feedback"].as_str().expect("feedback");
    assert!(feedback.contains("tokens, got 3"), "{feedback}");

    // A candidate past its fuel: the case fails with the sandbox's status.
    let spin = eval(
        task.path(),
        "fn main() { let mut x = 1u64; loop { x = x.wrapping_mul(3); if x == 0 { break; } } }",
    );
    let evaluation = &spin["public"];
    assert_eq!(evaluation["status"], "fuel_exhausted", "{spin:#}");
    assert!(
        evaluation["feedback"]
            .as_str()
            .expect("feedback")
            .contains("fuel_exhausted")
    );

    // A candidate that forges a score on stderr gains nothing from it.
    let forged = eval(
        task.path(),
        "fn main() { eprintln!(\"Score = 999999999\"); println!(\"x\"); }",
    );
    let evaluation = &forged["public"];
    assert_eq!(evaluation["valid"], false, "{forged:#}");
    assert_eq!(evaluation["score"], 0.0);
}

#[test]
fn a_hone_bin_that_is_not_a_file_is_a_clear_error() {
    let task = interactive_task();
    let missing = task.path().join("no-such-hone");
    let seed = std::fs::read_to_string(fixture("subset_seed.rs")).expect("seed");
    let output = hone_eval(task.path(), &seed, Some(&missing));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("heuristic.tools")
            && stderr.contains(&missing.display().to_string())
            && stderr.contains("is not a file"),
        "{stderr}"
    );
}

/// A task on the turn-by-turn guessing game (`tools-interactive-turns`): the tester keeps
/// the secret and answers each query only after reading it.
fn guessing_task() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let toml = format!(
        "[task]\nkind = \"heuristic\"\nlanguages = [\"rust\"]\n[heuristic]\ntools = \"{}\"\nobjective = \"maximize\"\n\
         seed = \"seed.rs\"\npublic_seeds = [1, 2, 3]\nprivate_seeds = [4]\nfuel = 50_000_000\ntimeout_ms = 1000\n",
        fixture("tools-interactive-turns").display()
    );
    std::fs::write(dir.path().join("task.toml"), toml).expect("task.toml");
    std::fs::write(dir.path().join("statement.md"), "Guess the number.\n").expect("statement");
    std::fs::copy(fixture("guess_seed.rs"), dir.path().join("seed.rs")).expect("seed");
    dir
}

/// The seed's bisection, splitting at an eighth instead of the middle: valid, but more
/// queries.
fn lopsided() -> String {
    let seed = std::fs::read_to_string(fixture("guess_seed.rs")).expect("seed");
    let lopsided = seed.replace("(hi - lo) / 2", "(hi - lo) / 8");
    assert_ne!(
        lopsided, seed,
        "the seed no longer splits at `(hi - lo) / 2`"
    );
    lopsided
}

#[test]
fn a_turn_by_turn_game_scores_good_play_above_bad_play() {
    let task = guessing_task();
    // No HONE_BIN: hone hands the tester its own executable.
    let good = eval_with(
        task.path(),
        &std::fs::read_to_string(fixture("guess_seed.rs")).expect("seed"),
        None,
    );
    let evaluation = &good["public"];
    assert_eq!(evaluation["status"], "ok", "{good:#}");
    assert_eq!(evaluation["metrics"]["passed"], 3, "{good:#}");
    assert_eq!(good["private"]["valid"], true, "{good:#}");
    // Bisection over at most 1000 numbers: at most 10 queries, so at least 91000 a case.
    let good_score = evaluation["score"].as_f64().expect("score");
    assert!(good_score >= 3.0 * 91_000.0, "{good:#}");
    let fuel = evaluation["fuel"].as_u64().expect("fuel");
    assert!(fuel > 0, "{good:#}");
    // The same game again costs the same fuel: the conversation is deterministic.
    let again = eval(
        task.path(),
        &std::fs::read_to_string(fixture("guess_seed.rs")).expect("seed"),
    );
    assert_eq!(again["public"]["fuel"].as_u64(), Some(fuel), "{again:#}");

    let bad = eval(task.path(), &lopsided());
    let evaluation = &bad["public"];
    assert_eq!(evaluation["status"], "ok", "{bad:#}");
    assert_eq!(evaluation["metrics"]["passed"], 3, "{bad:#}");
    let bad_score = evaluation["score"].as_f64().expect("score");
    assert!(
        bad_score > 0.0 && bad_score < good_score,
        "{good_score} vs {bad:#}"
    );

    // A query the rules forbid: the tester's message, a wrong answer.
    let invalid = eval(task.path(), "fn main() { println!(\"? 0\"); }");
    let evaluation = &invalid["public"];
    assert_eq!(evaluation["status"], "wrong_answer", "{invalid:#}");
    let feedback = evaluation["feedback"].as_str().expect("feedback");
    assert!(feedback.contains("query 0 is outside"), "{feedback}");
}

#[test]
fn a_candidate_that_never_answers_times_out_instead_of_hanging() {
    let task = guessing_task();
    // It waits for a second line the tester never sends (the tester waits for a query).
    let silent = "use std::io::BufRead;\nfn main() { let stdin = std::io::stdin(); let mut lines = stdin.lock().lines(); let _n = lines.next(); let _more = lines.next(); println!(\"? 1\"); }";
    let started = std::time::Instant::now();
    let json = eval(task.path(), silent);
    let evaluation = &json["public"];
    assert_eq!(evaluation["status"], "timeout", "{json:#}");
    let feedback = evaluation["feedback"].as_str().expect("feedback");
    assert!(
        feedback.contains("the candidate ended with timeout")
            && feedback.contains("without finding the number"),
        "{feedback}"
    );
    // Four cases of a 1 s limit each, not the 60 s tool limit per case.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
}

/// `hone sandbox run --stream` itself: a line in, an answer out, the next line chosen from
/// it, then the summary on stderr.
#[test]
fn sandbox_run_stream_talks_turn_by_turn() {
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("main.rs");
    std::fs::write(
        &file,
        "use std::io::BufRead;\nfn main() { for line in std::io::stdin().lock().lines() { let n: u64 = line.unwrap().trim().parse().unwrap(); if n == 0 { return; } println!(\"{}\", n * 2); } }\n",
    )
    .expect("source");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hone"))
        .arg("--cache-dir")
        .arg(cache_dir())
        .args(["sandbox", "run", "--stream", "--timeout", "20s"])
        .arg(&file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("hone runs");
    let mut to_hone = child.stdin.take().expect("stdin");
    let mut from_hone = BufReader::new(child.stdout.take().expect("stdout"));
    let mut value = 3u64;
    for _ in 0..4 {
        writeln!(to_hone, "{value}").expect("write");
        let mut line = String::new();
        from_hone.read_line(&mut line).expect("read");
        let doubled: u64 = line
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert_eq!(doubled, value * 2);
        value = doubled + 1;
    }
    writeln!(to_hone, "0").expect("write");
    let output = child.wait_with_output().expect("hone ends");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("hone: ok  fuel "), "{stderr}");

    // --json cannot be combined with --stream: a usage error naming both.
    let refused = Command::new(env!("CARGO_BIN_EXE_hone"))
        .args(["sandbox", "run", "--stream", "--json"])
        .arg(&file)
        .output()
        .expect("hone runs");
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("--stream") && message.contains("--json"),
        "{message}"
    );
}
