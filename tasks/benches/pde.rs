//! Reference-solver benchmarks, compared with NumPy/SciPy in `pde_baseline.py`:
//! - Darcy/Poisson: the 5-point finite-volume system on 512 × 512 cells (a = 1, f = 1),
//!   sparse Cholesky (faer, AMD) — factor + solve, and assemble + factor + solve — against
//!   `scipy.sparse.linalg.spsolve` on the same matrix;
//! - Burgers: 100 integrating-factor RK4 steps of the pseudo-spectral solver on 2048 points
//!   (2/3 dealiasing) against the same scheme written with `numpy.fft`.
//!
//! Run: `cargo bench -p hone-tasks --bench pde` and `python3 tasks/benches/pde_baseline.py`.

use criterion::{Criterion, criterion_group, criterion_main};
use hone_tasks::pde_numerics::{
    DarcyProblem, FourierInitial, PeriodicEquation, PeriodicSolver, cholesky_solve_lower,
    darcy_matrix, solve_darcy,
};

const POISSON_N: usize = 512;
const BURGERS_M: usize = 2048;
const BURGERS_STEPS: f64 = 100.0;

fn poisson(c: &mut Criterion) {
    let n = POISSON_N;
    let a = vec![1.0; n * n];
    let f = vec![1.0; n * n];
    let matrix = darcy_matrix(n, &a).expect("matrix");
    let mut group = c.benchmark_group("poisson_512");
    group.sample_size(10);
    group.bench_function("faer_cholesky_factor_solve", |b| {
        b.iter(|| {
            let mut x = f.clone();
            cholesky_solve_lower(&matrix, &mut x).expect("solve");
            x
        })
    });
    group.bench_function("assemble_factor_solve", |b| {
        b.iter(|| {
            solve_darcy(&DarcyProblem {
                n,
                coefficient: &a,
                rhs: &f,
            })
            .expect("solve")
        })
    });
    group.finish();
}

fn burgers(c: &mut Criterion) {
    // The same initial condition as the Python baseline: sin(2πx) + 0.5 sin(6πx + 1).
    let u0 = FourierInitial {
        modes: vec![
            hone_tasks::pde_numerics::initial::Mode {
                amplitude: 1.0,
                wavenumber: 1,
                phase: 0.0,
            },
            hone_tasks::pde_numerics::initial::Mode {
                amplitude: 0.5,
                wavenumber: 3,
                phase: 1.0,
            },
        ],
        unit_map: None,
    }
    .sample(BURGERS_M);
    let equation = PeriodicEquation::Burgers { nu: 0.01 };
    let mut solver = PeriodicSolver::new(equation, BURGERS_M);
    let dt = solver.max_step(&u0);
    // A hair under 100 steps so that ceil() gives exactly 100.
    let t = dt * (BURGERS_STEPS - 1e-6);
    let mut group = c.benchmark_group("burgers_2048");
    group.sample_size(20);
    group.bench_function("if_rk4_100_steps", |b| {
        b.iter(|| solver.solve(&u0, &[0.0, t]))
    });
    group.finish();
}

criterion_group!(benches, poisson, burgers);
criterion_main!(benches);
