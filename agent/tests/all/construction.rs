//! construction tasks through the `hone` binary: `hone eval` finds every bundled seed a
//! valid construction, and `hone run --llm builtin` improves one offline (the builtin
//! tuner moving the seed's `hone:tune` constants).

use std::path::{Path, PathBuf};
use std::process::Command;

fn library(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tasks/library/construction")
        .join(name)
}

fn cache_dir() -> PathBuf {
    std::env::temp_dir().join("hone-test-cache")
}

/// `hone ARGS --json` in `dir`, which must succeed; the parsed JSON.
fn hone_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_hone"))
        .current_dir(dir)
        .arg("--cache-dir")
        .arg(cache_dir())
        .args(args)
        .arg("--json")
        .output()
        .expect("hone runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "hone {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn hone_eval_finds_every_bundled_seed_valid() {
    let work = tempfile::tempdir().expect("temp dir");
    for name in [
        "circles-26",
        "circles-32",
        "circles-rectangle-21",
        "heilbronn-triangle-11",
        "distance-ratio-16",
        "distance-ratio-3d-14",
    ] {
        let dir = library(name);
        let seed = dir.join("seed.c");
        let json = hone_json(
            work.path(),
            &["eval", &dir.to_string_lossy(), &seed.to_string_lossy()],
        );
        let public = &json["public"];
        assert_eq!(public["status"], "ok", "{name}: {json:#}");
        assert_eq!(json["valid"], true, "{name}: {json:#}");
        let score = json["score"].as_f64().unwrap_or(0.0);
        assert!(score > 0.15 && score < 1.0, "{name}: {json:#}");
        assert_eq!(public["score"], json["score"], "{name}: private = public");
        let objective = public["metrics"]["objective"].as_f64().unwrap_or(0.0);
        assert!(objective > 0.0, "{name}: {json:#}");
    }
}

#[test]
fn the_builtin_tuner_improves_a_construction_offline() {
    let work = tempfile::tempdir().expect("temp dir");
    let task = library("heilbronn-triangle-11");
    let summary = hone_json(
        work.path(),
        &[
            "run",
            &task.to_string_lossy(),
            "--llm",
            "builtin",
            "--budget-evals",
            "10",
            "--seed",
            "1",
        ],
    );
    assert_eq!(summary["status"], "finished", "{summary:#}");
    assert_eq!(summary["evaluations"], 10, "{summary:#}");
    assert_eq!(summary["best_valid"], true, "{summary:#}");
    assert_eq!(summary["best_basis"], "no_held_out_cases", "{summary:#}");
    let seed = summary["seed_score"].as_f64().unwrap_or(f64::NAN);
    let best = summary["best_score"].as_f64().unwrap_or(0.0);
    assert!(best > 1.2 * seed, "no progress: {summary:#}");
    // The best construction on disk re-verifies to the reported score.
    let best_path = work.path().join(
        summary["best_path"]
            .as_str()
            .expect("best_path")
            .trim_start_matches("./"),
    );
    let json = hone_json(
        work.path(),
        &[
            "eval",
            &task.to_string_lossy(),
            &best_path.to_string_lossy(),
        ],
    );
    assert_eq!(json["score"].as_f64(), Some(best), "{json:#}");
}
