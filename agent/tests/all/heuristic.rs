//! heuristic tasks with an interactive AHC tools folder: the `tester` runs the candidate
//! through `hone sandbox run` (the hone binary under test, given as HONE_BIN), driven end to
//! end with `hone eval`.

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

/// `hone eval TASK FILE --json --final-check` with HONE_BIN set; the parsed JSON.
fn eval(task: &Path, candidate: &str) -> serde_json::Value {
    let file = task.join("candidate.rs");
    std::fs::write(&file, candidate).expect("candidate");
    let output = Command::new(env!("CARGO_BIN_EXE_hone"))
        .arg("--cache-dir")
        .arg(cache_dir())
        .args(["eval", "--json", "--final-check"])
        .arg(task)
        .arg(&file)
        .env("HONE_BIN", env!("CARGO_BIN_EXE_hone"))
        .output()
        .expect("hone runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "hone eval failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
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
    let evaluation = &json["evaluation"];
    assert_eq!(evaluation["status"], "ok", "{json:#}");
    assert_eq!(evaluation["valid"], true);
    assert_eq!(evaluation["metrics"]["passed"], 3);
    let score = evaluation["score"].as_f64().expect("score");
    assert!(score > 3.0, "{json:#}");
    // The fuel comes from the `hone sandbox run` summary the tester passed through.
    assert!(evaluation["fuel"].as_u64().expect("fuel") > 0, "{json:#}");
    assert_eq!(json["final"]["metrics"]["cases"], 1);

    // A malformed answer: the tester's message, score 0 for each case.
    let wrong = eval(task.path(), "fn main() { println!(\"2 2 2\"); }");
    let evaluation = &wrong["evaluation"];
    assert_eq!(evaluation["status"], "wrong_answer", "{wrong:#}");
    let feedback = evaluation["feedback"].as_str().expect("feedback");
    assert!(feedback.contains("tokens, got 3"), "{feedback}");

    // A candidate past its fuel: the case fails with the sandbox's status.
    let spin = eval(
        task.path(),
        "fn main() { let mut x = 1u64; loop { x = x.wrapping_mul(3); if x == 0 { break; } } }",
    );
    let evaluation = &spin["evaluation"];
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
    let evaluation = &forged["evaluation"];
    assert_eq!(evaluation["valid"], false, "{forged:#}");
    assert_eq!(evaluation["score"], 0.0);
}
