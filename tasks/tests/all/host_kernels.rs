//! Host kernels are offered per task (`[task] host_kernels = true`), off by default: a
//! candidate that imports one fails with a clear error where they are off (every bundled
//! efficiency task), and the same candidate runs where the task offers them.

use hone_tasks::{Candidate, EvalStatus, Task};

use crate::support::{copy_dir, library, sandbox};

/// Sorts (as the `sorting` task asks), after a call to the host kernel `hone.axpy` whose
/// result it checks.
const SORT_WITH_A_KERNEL: &str = r#"
use std::io::{self, Read, Write};

#[link(wasm_import_module = "hone")]
extern "C" {
    fn axpy(alpha: f64, x: *const f64, y: *mut f64, n: i32);
}

fn main() {
    let x = [1.0f64, 2.0, 3.0];
    let mut y = [1.0f64; 3];
    unsafe { axpy(2.0, x.as_ptr(), y.as_mut_ptr(), 3) };
    assert_eq!(y, [3.0, 5.0, 7.0]);
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let mut tokens = input.split_ascii_whitespace();
    let n: usize = tokens.next().unwrap().parse().unwrap();
    let mut a: Vec<i64> = (0..n).map(|_| tokens.next().unwrap().parse().unwrap()).collect();
    a.sort_unstable();
    let line: Vec<String> = a.iter().map(|v| v.to_string()).collect();
    io::stdout().write_all((line.join(" ") + "\n").as_bytes()).unwrap();
}
"#;

#[test]
fn an_efficiency_candidate_gets_kernels_only_where_its_task_offers_them() {
    let bundled = library("efficiency", "sorting");
    let candidate = Candidate::from_file("main.rs", SORT_WITH_A_KERNEL);

    let task = Task::load(&bundled, sandbox()).expect("loads");
    let refused = task.evaluate(&candidate);
    assert!(!refused.valid, "{}", refused.feedback);
    assert_eq!(
        refused.status,
        EvalStatus::RuntimeError,
        "{}",
        refused.feedback
    );
    assert!(
        refused.feedback.contains("host_kernels_off") && refused.feedback.contains("`hone.axpy`"),
        "{}",
        refused.feedback
    );

    // The same task, offering the kernels.
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&bundled, dir.path());
    let manifest = std::fs::read_to_string(dir.path().join("task.toml")).expect("task.toml");
    assert!(!manifest.contains("host_kernels"));
    std::fs::write(
        dir.path().join("task.toml"),
        manifest.replacen("[task]\n", "[task]\nhost_kernels = true\n", 1),
    )
    .expect("write");
    let task = Task::load(dir.path(), sandbox()).expect("loads");
    let offered = task.evaluate(&candidate);
    assert!(offered.valid, "{}", offered.feedback);
    assert_eq!(offered.status, EvalStatus::Ok, "{}", offered.feedback);
}

#[test]
fn only_the_pde_tasks_offer_kernels_among_the_bundled_ones() {
    let root = library("", "");
    let mut offering = Vec::new();
    for kind in std::fs::read_dir(&root).expect("library") {
        let kind = kind.expect("entry").path();
        if !kind.is_dir() {
            continue;
        }
        for task in std::fs::read_dir(&kind).expect("kind") {
            let manifest = task.expect("entry").path().join("task.toml");
            let Ok(text) = std::fs::read_to_string(&manifest) else {
                continue;
            };
            let value: toml::Table = text.parse().expect("toml");
            if value["task"].get("host_kernels").and_then(|v| v.as_bool()) == Some(true) {
                offering.push(
                    manifest
                        .strip_prefix(&root)
                        .expect("inside")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    offering.sort();
    assert_eq!(
        offering,
        [
            "pde/advection/task.toml",
            "pde/burgers/task.toml",
            "pde/darcy/task.toml",
            "pde/heat/task.toml",
            "pde/reaction-diffusion/task.toml",
        ]
    );
}

#[test]
fn a_counterexample_task_cannot_ask_for_kernels() {
    let bundled = library("counterexample", "longest-run");
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&bundled, dir.path());
    let manifest = std::fs::read_to_string(dir.path().join("task.toml")).expect("task.toml");
    std::fs::write(
        dir.path().join("task.toml"),
        manifest.replacen("[task]\n", "[task]\nhost_kernels = true\n", 1),
    )
    .expect("write");
    let error = Task::load(dir.path(), sandbox())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("task.host_kernels") && error.contains("counterexample"),
        "{error}"
    );
}
