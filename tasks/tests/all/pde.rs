//! The pde task kind: the native reference solvers against analytic solutions and their
//! convergence order, the five bundled tasks, the candidate contract (bad output, NaN,
//! traps), the convergence-rate check, and task.toml errors.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hone_sandbox::{Sandbox, SandboxConfig};
use hone_tasks::pde::{
    DarcyProblem, FourierInitial, PeriodicEquation, darcy_reference, periodic_reference,
    solve_darcy,
};
use hone_tasks::{Candidate, EvalStatus, Task};

fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let config = SandboxConfig {
            cache_dir: Some(std::env::temp_dir().join("hone-test-cache")),
            ..SandboxConfig::default()
        };
        Sandbox::new(config).expect("sandbox")
    })
}

fn library(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("library/pde")
        .join(name)
}

/// Loaded once per test binary (the Burgers reference takes a moment).
fn task(name: &str) -> &'static Task {
    static TASKS: OnceLock<std::sync::Mutex<std::collections::HashMap<String, &'static Task>>> =
        OnceLock::new();
    let map = TASKS.get_or_init(Default::default);
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    map.entry(name.to_string()).or_insert_with(|| {
        Box::leak(Box::new(
            Task::load(&library(name), sandbox()).unwrap_or_else(|e| panic!("{name}: {e}")),
        ))
    })
}

fn nrmse(evaluation: &hone_tasks::Evaluation) -> f64 {
    evaluation.metrics["nrmse"].as_f64().expect("nrmse metric")
}

// ---------------------------------------------------------------- reference solvers

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn burgers_reference_is_converged_in_space_and_time() {
    // Doubling the fine grid (and halving the CFL-bound step) changes nothing visible:
    // the reference is at round-off level for the task's ν.
    let u0 = FourierInitial::random(1, 0, 2, 4, false);
    let times = [0.0, 0.25, 0.5];
    let equation = PeriodicEquation::Burgers { nu: 0.01 };
    let coarse = periodic_reference(equation, &u0, 256, 2048, &times);
    let fine = periodic_reference(equation, &u0, 256, 4096, &times);
    let scale = fine.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let difference = max_diff(&coarse, &fine) / scale;
    assert!(
        difference < 1e-9,
        "2048 vs 4096 points differ by {difference:e}"
    );
}

#[test]
fn reaction_diffusion_reference_is_converged() {
    let u0 = FourierInitial::random(5, 2, 2, 4, true);
    let times = [0.0, 0.5, 1.0];
    let equation = PeriodicEquation::ReactionDiffusion { nu: 0.5, rho: 1.0 };
    let a = periodic_reference(equation, &u0, 256, 1024, &times);
    let b = periodic_reference(equation, &u0, 256, 2048, &times);
    assert!(max_diff(&a, &b) < 1e-11, "{:e}", max_diff(&a, &b));
}

/// Discrete L2 error of the FV scheme against `u = sin(πx) sin(πy)` with coefficient `a`.
fn darcy_manufactured_error(
    n: usize,
    a: &dyn Fn(f64, f64) -> f64,
    grad_a: &dyn Fn(f64, f64) -> (f64, f64),
) -> f64 {
    use std::f64::consts::PI;
    let centre = |k: usize| (k as f64 + 0.5) / n as f64;
    let mut coefficient = Vec::new();
    let mut rhs = Vec::new();
    let mut exact = Vec::new();
    for i in 0..n {
        for j in 0..n {
            let (x, y) = (centre(j), centre(i));
            let (u, ux, uy) = (
                (PI * x).sin() * (PI * y).sin(),
                PI * (PI * x).cos() * (PI * y).sin(),
                PI * (PI * x).sin() * (PI * y).cos(),
            );
            let (ax, ay) = grad_a(x, y);
            // −∇·(a∇u) = −(a_x u_x + a_y u_y) + a · 2π² u.
            rhs.push(-(ax * ux + ay * uy) + a(x, y) * 2.0 * PI * PI * u);
            coefficient.push(a(x, y));
            exact.push(u);
        }
    }
    let u = solve_darcy(&DarcyProblem {
        n,
        coefficient: &coefficient,
        rhs: &rhs,
    })
    .expect("solve");
    (u.iter()
        .zip(&exact)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / (n * n) as f64)
        .sqrt()
}

fn observed_orders(errors: &[f64]) -> Vec<f64> {
    errors.windows(2).map(|e| (e[0] / e[1]).log2()).collect()
}

#[test]
fn darcy_fv_is_second_order_with_constant_coefficient() {
    let errors: Vec<f64> = [16, 32, 64, 128]
        .iter()
        .map(|&n| darcy_manufactured_error(n, &|_, _| 2.5, &|_, _| (0.0, 0.0)))
        .collect();
    let orders = observed_orders(&errors);
    assert!(errors[3] < 1e-3, "{errors:?}");
    assert!(
        orders[1..].iter().all(|&p| p >= 1.8),
        "orders {orders:?} (errors {errors:?})"
    );
}

#[test]
fn darcy_fv_is_second_order_with_variable_coefficient() {
    use std::f64::consts::PI;
    let a = |x: f64, y: f64| 1.0 + 0.5 * (2.0 * PI * x).sin() * (PI * y).cos() + 0.3 * x * y;
    let grad = |x: f64, y: f64| {
        (
            PI * (2.0 * PI * x).cos() * (PI * y).cos() + 0.3 * y,
            -0.5 * PI * (2.0 * PI * x).sin() * (PI * y).sin() + 0.3 * x,
        )
    };
    let errors: Vec<f64> = [16, 32, 64, 128]
        .iter()
        .map(|&n| darcy_manufactured_error(n, &a, &grad))
        .collect();
    let orders = observed_orders(&errors);
    assert!(
        orders[1..].iter().all(|&p| p >= 1.8),
        "orders {orders:?} (errors {errors:?})"
    );
}

#[test]
fn darcy_reference_converges_under_refinement() {
    // A two-valued coefficient: the refined reference moves less and less as r grows.
    let a = hone_tasks::pde::DarcyCoefficient::random(3, 0, 3.0, 12.0).cells(16);
    let r2 = darcy_reference(16, 2, &a).unwrap();
    let r4 = darcy_reference(16, 4, &a).unwrap();
    let r8 = darcy_reference(16, 8, &a).unwrap();
    let (d1, d2) = (max_diff(&r2, &r4), max_diff(&r4, &r8));
    assert!(d2 < d1 / 2.0, "{d1:e} {d2:e}");
}

// ---------------------------------------------------------------- bundled tasks

fn check_seed(name: &str, low: f64, high: f64) {
    let task = task(name);
    assert_eq!(task.seeds.len(), 1);
    for text in [
        &task.prompt.documentation,
        &task.prompt.inputs,
        &task.prompt.outputs,
        &task.prompt.objective,
    ] {
        assert!(!text.is_empty(), "{name}: empty prompt section");
    }
    assert!(
        task.prompt.documentation.contains("hone_fft_c2c")
            && task.prompt.documentation.contains("sparse_cholesky_solve")
    );
    let evaluation = task.evaluate(&task.seeds[0]);
    assert!(
        evaluation.valid,
        "{name}: seed invalid: {} {}",
        evaluation.status, evaluation.feedback
    );
    let e = nrmse(&evaluation);
    assert!(
        e > low && e < high,
        "{name}: seed nRMSE {e:e} outside ({low:e}, {high:e})\n{}",
        evaluation.feedback
    );
    assert!(
        (evaluation.score + e.log10() + 0.01 * (evaluation.fuel.unwrap() as f64).log10()).abs()
            < 1e-9
    );
    assert!(
        evaluation.feedback.contains("per-sample nRMSE"),
        "{}",
        evaluation.feedback
    );
    assert!(
        evaluation.fuel.unwrap() < 2_000_000_000,
        "{name}: seed costs {:?} fuel",
        evaluation.fuel
    );
    let held_out = task
        .evaluate_private(&task.seeds[0])
        .expect("final_seed is set");
    assert!(held_out.valid, "{name}: {}", held_out.feedback);
    assert_ne!(
        nrmse(&held_out),
        e,
        "{name}: the held-out batch is the visible one"
    );
}

#[test]
fn advection_seed_is_valid_with_room_to_improve() {
    check_seed("advection", 1e-3, 0.5);
}

#[test]
fn burgers_seed_is_valid_with_room_to_improve() {
    check_seed("burgers", 1e-4, 0.5);
}

#[test]
fn reaction_diffusion_seed_is_valid_with_room_to_improve() {
    check_seed("reaction-diffusion", 1e-5, 0.5);
}

#[test]
fn heat_seed_is_valid_with_room_to_improve() {
    check_seed("heat", 1e-5, 0.5);
}

#[test]
fn darcy_seed_is_valid_with_room_to_improve() {
    check_seed("darcy", 1e-4, 0.5);
}

// ---------------------------------------------------------------- candidates

const READ_INPUT: &str = include_str!("pde_io.c");

/// An exact advection solver through the host real FFT: shift each mode by e^{−2πikβt}.
fn spectral_advection() -> String {
    format!(
        "{READ_INPUT}\n{}",
        r#"
__attribute__((import_module("hone"), import_name("rfft"))) int hone_rfft(const double *in, int n, double *out);
__attribute__((import_module("hone"), import_name("irfft"))) int hone_irfft(const double *in, int n, double *out);
int main(void) {
    Input in = read_input(0);
    int nx = in.nx, nt = in.nt, half = nx / 2 + 1;
    double beta = in.params[0];
    double *out = malloc((size_t)in.batch * nt * nx * 8), *hat = malloc(2 * half * 8), *shifted = malloc(2 * half * 8);
    for (uint32_t b = 0; b < in.batch; b++) {
        hone_rfft(in.data + (size_t)b * nx, nx, hat);
        for (int k = 0; k < nt; k++) {
            for (int m = 0; m < half; m++) {
                double angle = -2 * M_PI * m * beta * in.times[k], c = cos(angle), s = sin(angle);
                double re = hat[2 * m], im = hat[2 * m + 1];
                shifted[2 * m] = re * c - im * s;
                shifted[2 * m + 1] = re * s + im * c;
            }
            hone_irfft(shifted, nx, out + ((size_t)b * nt + k) * nx);
        }
    }
    fwrite(out, 8, (size_t)in.batch * nt * nx, stdout);
    return 0;
}
"#
    )
}

#[test]
fn an_exact_solver_beats_the_seed() {
    let task = task("advection");
    let seed = task.evaluate(&task.seeds[0]);
    let exact = task.evaluate(&Candidate::from_file("main.c", spectral_advection()));
    assert!(exact.valid, "{}", exact.feedback);
    assert!(nrmse(&exact) < 1e-12, "nRMSE {:e}", nrmse(&exact));
    assert!(
        exact.score > seed.score + 5.0,
        "{} vs {}",
        exact.score,
        seed.score
    );
    // Deterministic: the same candidate costs the same fuel.
    let again = task.evaluate(&Candidate::from_file("main.c", spectral_advection()));
    assert_eq!(again.fuel, exact.fuel);
    assert_eq!(again.score, exact.score);
}

fn c_candidate(body: &str) -> Candidate {
    Candidate::from_file("main.c", format!("{READ_INPUT}\n{body}"))
}

#[test]
fn short_output_is_invalid_with_byte_counts() {
    let task = task("heat");
    let evaluation = task.evaluate(&c_candidate(
        "int main(void) { Input in = read_input(0); fwrite(in.data, 8, (size_t)in.batch * in.nx, stdout); return 0; }",
    ));
    assert_eq!(evaluation.status, EvalStatus::InvalidOutput);
    assert!(!evaluation.valid);
    let expected = 8 * 4 * 11 * 256;
    assert!(
        evaluation
            .feedback
            .contains(&format!("expected {expected} bytes"))
            && evaluation
                .feedback
                .contains(&format!("got {} bytes", 8 * 4 * 256)),
        "{}",
        evaluation.feedback
    );
}

#[test]
fn text_output_gets_a_hint() {
    let task = task("heat");
    let evaluation = task.evaluate(&c_candidate(
        "int main(void) { read_input(0); printf(\"0.5 0.25\\n\"); return 0; }",
    ));
    assert_eq!(evaluation.status, EvalStatus::InvalidOutput);
    assert!(
        evaluation.feedback.contains("looks like text"),
        "{}",
        evaluation.feedback
    );
}

#[test]
fn nan_output_is_invalid_and_located() {
    let task = task("heat");
    let evaluation = task.evaluate(&c_candidate(
        r#"int main(void) {
    Input in = read_input(0);
    size_t count = (size_t)in.batch * in.nt * in.nx;
    double *out = calloc(count, 8);
    out[(size_t)1 * in.nt * in.nx + 3 * in.nx + 7] = NAN;
    fwrite(out, 8, count, stdout);
    return 0;
}"#,
    ));
    assert_eq!(evaluation.status, EvalStatus::InvalidOutput);
    assert!(
        evaluation.feedback.contains("NaN at sample 1, frame 3"),
        "{}",
        evaluation.feedback
    );
    assert!(
        evaluation.feedback.contains("x index 7"),
        "{}",
        evaluation.feedback
    );
}

#[test]
fn traps_and_limits_are_statuses() {
    let task = task("heat");
    let trap = task.evaluate(&c_candidate(
        "int main(void) { read_input(0); __builtin_trap(); }",
    ));
    assert_eq!(trap.status, EvalStatus::RuntimeError, "{}", trap.feedback);
    let spin = task.evaluate(&c_candidate(
        "int main(void) { read_input(0); volatile int x = 0; for (;;) x++; }",
    ));
    assert!(
        matches!(spin.status, EvalStatus::FuelExhausted | EvalStatus::Timeout),
        "{}",
        spin.status
    );
    assert!(!spin.valid);
    // A kernel called with a pointer outside memory is a runtime error, not a host crash.
    let wild = task.evaluate(&c_candidate(
        r#"__attribute__((import_module("hone"), import_name("rfft"))) int hone_rfft(const double *in, int n, double *out);
int main(void) { read_input(0); double out[8]; hone_rfft((const double *)0x7ffffff0, 1 << 20, out); return 0; }"#,
    ));
    assert_eq!(wild.status, EvalStatus::RuntimeError, "{}", wild.feedback);
    assert!(
        wild.feedback.contains("outside guest memory"),
        "{}",
        wild.feedback
    );
}

#[test]
fn languages_and_missing_files_are_compile_errors() {
    let task = task("heat");
    let wat = task.evaluate(&Candidate::from_file("main.wat", "(module)"));
    assert_eq!(wat.status, EvalStatus::CompileError);
    assert!(
        wat.feedback
            .contains("language wat is not allowed; allowed: c, rust"),
        "{}",
        wat.feedback
    );
    let none = task.evaluate(&Candidate::from_file("notes.txt", "hello"));
    assert_eq!(none.status, EvalStatus::CompileError);
    assert!(none.feedback.contains("no code file"), "{}", none.feedback);
    let broken = task.evaluate(&Candidate::from_file(
        "main.c",
        "int main(void) { return undefined_name; }",
    ));
    assert_eq!(broken.status, EvalStatus::CompileError);
    assert!(
        broken.feedback.contains("undefined_name"),
        "{}",
        broken.feedback
    );
}

// ---------------------------------------------------------------- task.toml

fn scratch_task(pde_section: &str) -> tempfile::TempDir {
    scratch_task_with(pde_section, "heat/seed.c")
}

fn scratch_task_with(pde_section: &str, seed: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("task.toml"),
        format!("[task]\nkind = \"pde\"\nlanguages = [\"c\"]\n\n[pde]\n{pde_section}\n"),
    )
    .expect("write");
    std::fs::write(dir.path().join("statement.md"), "# test\n").expect("write");
    std::fs::copy(library(seed), dir.path().join("seed.c")).expect("copy");
    dir
}

fn load_error(pde_section: &str) -> String {
    let dir = scratch_task(pde_section);
    match Task::load(dir.path(), sandbox()) {
        Ok(_) => panic!("task loaded but should not have:\n{pde_section}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn task_toml_errors_name_file_and_field() {
    let e = load_error("seed_solution = \"seed.c\"\nnu = 0.1");
    assert!(e.contains("task.toml") && e.contains("equation"), "{e}");
    let e = load_error("equation = \"navier_stokes\"\nseed_solution = \"seed.c\"");
    assert!(
        e.contains("task.toml")
            && e.contains("`pde.equation`")
            && e.contains("accepted: advection"),
        "{e}"
    );
    let e = load_error("equation = \"heat\"\nnu = 0.1\nnx = 0\nseed_solution = \"seed.c\"");
    assert!(e.contains("`pde.nx`") && e.contains("out of range"), "{e}");
    let e = load_error("equation = \"heat\"\nnu = 0.1\nnx = -5\nseed_solution = \"seed.c\"");
    assert!(e.contains("`pde.nx`"), "{e}");
    let e = load_error("equation = \"advection\"\nseed_solution = \"seed.c\"");
    assert!(e.contains("`pde.beta`") && e.contains("missing"), "{e}");
    let e = load_error("equation = \"heat\"\nnu = 0.1\nrho = 1.0\nseed_solution = \"seed.c\"");
    assert!(
        e.contains("`pde.rho`") && e.contains("not a parameter of `heat`"),
        "{e}"
    );
    let e = load_error("equation = \"heat\"\nnu = -0.1\nseed_solution = \"seed.c\"");
    assert!(e.contains("`pde.nu`"), "{e}");
    let e = load_error("equation = \"heat\"\nnu = 0.1\nseed_solution = \"missing.c\"");
    assert!(
        e.contains("`pde.seed_solution`") && e.contains("missing.c"),
        "{e}"
    );
    let e = load_error("equation = \"heat\"\nnu = 0.1\nseed_solution = \"seed.c\"\ngrid = 3");
    assert!(e.contains("task.toml") && e.contains("grid"), "{e}");
    let e = load_error(
        "equation = \"heat\"\nnu = 0.1\nnx = 64\nreference_grid = 100\nseed_solution = \"seed.c\"",
    );
    assert!(
        e.contains("`pde.reference_grid`") && e.contains("multiple"),
        "{e}"
    );
}

#[test]
fn convergence_check_measures_the_order() {
    // First-order upwind: its numerical diffusion shrinks linearly with dx.
    let section = "equation = \"advection\"\nbeta = 0.5\nnx = 64\nbatch = 2\nframes = 4\nfinal_time = 1.0\nseed_solution = \"seed.c\"\n\
                   [pde.convergence]\nenabled = true\ngrids = [64, 128, 256, 512]\nsamples = 1";
    let dir = scratch_task_with(section, "advection/seed.c");
    let task = Task::load(dir.path(), sandbox()).unwrap_or_else(|e| panic!("{e}"));
    let evaluation = task.evaluate(&task.seeds[0]);
    assert!(evaluation.valid, "{}", evaluation.feedback);
    let rate = evaluation.metrics["convergence_rate"]
        .as_f64()
        .expect("rate");
    assert!(
        (0.8..1.2).contains(&rate),
        "rate {rate}\n{}",
        evaluation.feedback
    );
    assert!(
        evaluation
            .feedback
            .contains("convergence: grids [64, 128, 256, 512]"),
        "{}",
        evaluation.feedback
    );

    let dir = scratch_task_with(
        &section.replace("samples = 1", "samples = 1\nmin_rate = 1.5"),
        "advection/seed.c",
    );
    let task = Task::load(dir.path(), sandbox()).unwrap_or_else(|e| panic!("{e}"));
    let evaluation = task.evaluate(&task.seeds[0]);
    assert_eq!(
        evaluation.status,
        EvalStatus::WrongAnswer,
        "{}",
        evaluation.feedback
    );
    assert!(!evaluation.valid);
    assert!(
        evaluation.feedback.contains("below the required 1.5"),
        "{}",
        evaluation.feedback
    );
}
