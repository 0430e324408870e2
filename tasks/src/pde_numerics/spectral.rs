//! Pseudo-spectral reference solvers for the periodic 1-D problems on [0, 1).
//!
//! The solution is kept as its real Fourier transform (realfft). Linear problems
//! (advection, heat) are advanced exactly, mode by mode. Nonlinear problems (Burgers,
//! Fisher–KPP reaction–diffusion) use the integrating-factor fourth-order Runge–Kutta
//! scheme: the stiff linear part (diffusion) is integrated exactly and the nonlinear part
//! with RK4, with the 2/3 rule against aliasing and steps small enough for a CFL number of
//! 0.3 (Burgers) or 1e-3 time units (reaction). Step sizes are chosen per output interval so
//! that every output time is hit exactly.

use std::f64::consts::TAU;
use std::sync::Arc;

use realfft::num_complex::Complex64;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// A periodic problem on [0, 1) and its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PeriodicEquation {
    /// `u_t + β u_x = 0`.
    Advection { beta: f64 },
    /// `u_t + (u²/2)_x = (ν/π) u_xx`: PDEBench's convention, which CodePDE keeps (its
    /// evaluator hands the solver `nu / π`). `nu` is the dataset's ν (0.01 for `Nu0.01`).
    Burgers { nu: f64 },
    /// `u_t = ν u_xx + ρ u (1 − u)` (Fisher–KPP).
    ReactionDiffusion { nu: f64, rho: f64 },
    /// `u_t = ν u_xx`.
    Heat { nu: f64 },
}

/// The nRMSE floor of tasks with a nonlinear (Burgers, reaction–diffusion) reference: at
/// least 10× its error, as measured against finer solves in the tests.
pub const NONLINEAR_NRMSE_FLOOR: f64 = 1e-8;

/// Burgers: the time step keeps `max|u| dt / dx` at this value.
const BURGERS_CFL: f64 = 0.3;
/// Reaction–diffusion: the largest time step, in units of `1/ρ`.
const REACTION_STEP: f64 = 1e-3;

/// A solver for one equation on a grid of `m` points (reusable across samples; not Sync).
pub struct PeriodicSolver {
    equation: PeriodicEquation,
    m: usize,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    /// Angular wavenumbers `2π m` of the retained modes.
    k: Vec<f64>,
    /// 1 for modes kept by the 2/3 rule, 0 otherwise.
    keep: Vec<f64>,
    real: Vec<f64>,
    spectrum: Vec<Complex64>,
    scratch_forward: Vec<Complex64>,
    scratch_inverse: Vec<Complex64>,
}

impl PeriodicSolver {
    /// A solver on `m` grid points (`m` even, at least 4).
    pub fn new(equation: PeriodicEquation, m: usize) -> PeriodicSolver {
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(m);
        let inverse = planner.plan_fft_inverse(m);
        let half = m / 2 + 1;
        let k: Vec<f64> = (0..half).map(|i| TAU * i as f64).collect();
        let dealias = matches!(
            equation,
            PeriodicEquation::Burgers { .. } | PeriodicEquation::ReactionDiffusion { .. }
        );
        let keep = (0..half)
            .map(|i| {
                let nyquist = m.is_multiple_of(2) && i == m / 2;
                let cut = dealias && 3 * i > m;
                if nyquist || cut { 0.0 } else { 1.0 }
            })
            .collect();
        PeriodicSolver {
            equation,
            m,
            scratch_forward: forward.make_scratch_vec(),
            scratch_inverse: inverse.make_scratch_vec(),
            forward,
            inverse,
            k,
            keep,
            real: vec![0.0; m],
            spectrum: vec![Complex64::new(0.0, 0.0); half],
        }
    }

    /// The linear operator's symbol at each mode: `−iβk` (advection), `−(ν/π)k²` (Burgers)
    /// or `−νk²`.
    fn linear(&self) -> Vec<Complex64> {
        self.k
            .iter()
            .map(|&k| match self.equation {
                PeriodicEquation::Advection { beta } => Complex64::new(0.0, -beta * k),
                PeriodicEquation::Burgers { nu } => {
                    Complex64::new(-nu / std::f64::consts::PI * k * k, 0.0)
                }
                PeriodicEquation::Heat { nu } => Complex64::new(-nu * k * k, 0.0),
                PeriodicEquation::ReactionDiffusion { nu, .. } => Complex64::new(-nu * k * k, 0.0),
            })
            .collect()
    }

    /// Forward transform of `self.real` into `out`, with the 2/3 (and Nyquist) filter.
    fn forward_into(&mut self, out: &mut [Complex64]) {
        // Lengths match by construction; a mismatch would be a bug caught by the tests.
        let _ = self
            .forward
            .process_with_scratch(&mut self.real, out, &mut self.scratch_forward);
        for (c, &w) in out.iter_mut().zip(&self.keep) {
            *c *= w;
        }
    }

    fn spectrum_of(&mut self, u: &[f64]) -> Vec<Complex64> {
        self.real.copy_from_slice(u);
        let mut out = vec![Complex64::new(0.0, 0.0); self.k.len()];
        self.forward_into(&mut out);
        out
    }

    /// Inverse transform of `hat` into `self.real`.
    fn inverse_of(&mut self, hat: &[Complex64]) {
        let scale = 1.0 / self.m as f64;
        for ((s, h), &w) in self.spectrum.iter_mut().zip(hat).zip(&self.keep) {
            *s = h * (w * scale);
        }
        // The DC and Nyquist imaginary parts must be zero for a real inverse.
        self.spectrum[0].im = 0.0;
        if self.m.is_multiple_of(2) {
            let last = self.spectrum.len() - 1;
            self.spectrum[last].im = 0.0;
        }
        let _ = self.inverse.process_with_scratch(
            &mut self.spectrum,
            &mut self.real,
            &mut self.scratch_inverse,
        );
    }

    fn real_of(&mut self, hat: &[Complex64]) -> Vec<f64> {
        self.inverse_of(hat);
        self.real.clone()
    }

    /// `out = dt · N(û)`, the nonlinear term in Fourier space.
    fn nonlinear(&mut self, hat: &[Complex64], dt: f64, out: &mut [Complex64]) {
        self.inverse_of(hat);
        match self.equation {
            PeriodicEquation::Burgers { .. } => {
                for v in self.real.iter_mut() {
                    *v = 0.5 * *v * *v;
                }
                self.forward_into(out);
                for (f, &k) in out.iter_mut().zip(&self.k) {
                    // −ik·f̂·dt
                    *f = Complex64::new(f.im * k * dt, -f.re * k * dt);
                }
            }
            PeriodicEquation::ReactionDiffusion { rho, .. } => {
                for v in self.real.iter_mut() {
                    *v = rho * *v * (1.0 - *v);
                }
                self.forward_into(out);
                for f in out.iter_mut() {
                    *f *= dt;
                }
            }
            PeriodicEquation::Advection { .. } | PeriodicEquation::Heat { .. } => {
                out.iter_mut().for_each(|f| *f = Complex64::new(0.0, 0.0));
            }
        }
    }

    /// The largest internal time step for data `u` (infinite for linear problems, which are
    /// advanced exactly).
    pub fn max_step(&self, u: &[f64]) -> f64 {
        match self.equation {
            PeriodicEquation::Burgers { .. } => {
                let peak = u.iter().fold(0.0f64, |a, v| a.max(v.abs())).max(1e-3);
                BURGERS_CFL / (self.m as f64 * peak)
            }
            PeriodicEquation::ReactionDiffusion { rho, .. } => REACTION_STEP / rho.abs().max(1.0),
            PeriodicEquation::Advection { .. } | PeriodicEquation::Heat { .. } => f64::INFINITY,
        }
    }

    /// Solves from `u0` (on this solver's grid) and returns the solution at each of `times`
    /// (the first is the start time; frame 0 is `u0` itself).
    pub fn solve(&mut self, u0: &[f64], times: &[f64]) -> Vec<Vec<f64>> {
        let linear = self.linear();
        let mut frames = Vec::with_capacity(times.len());
        frames.push(u0.to_vec());
        let mut hat = self.spectrum_of(u0);
        let dt_max = self.max_step(u0);
        let mut stages = Stages::new(hat.len());
        for pair in times.windows(2) {
            let span = pair[1] - pair[0];
            if dt_max.is_infinite() {
                for (h, l) in hat.iter_mut().zip(&linear) {
                    *h *= (l * span).exp();
                }
            } else if span > 0.0 {
                let steps = (span / dt_max).ceil().max(1.0);
                let dt = span / steps;
                let half: Vec<Complex64> = linear.iter().map(|l| (l * (dt / 2.0)).exp()).collect();
                let full: Vec<Complex64> = half.iter().map(|e| e * e).collect();
                for _ in 0..steps as usize {
                    self.if_rk4_step(&mut hat, dt, &half, &full, &mut stages);
                }
            }
            frames.push(self.real_of(&hat));
        }
        frames
    }

    /// Advances `hat` by one integrating-factor RK4 step in place.
    fn if_rk4_step(
        &mut self,
        hat: &mut [Complex64],
        dt: f64,
        half: &[Complex64],
        full: &[Complex64],
        s: &mut Stages,
    ) {
        let n = hat.len();
        self.nonlinear(hat, dt, &mut s.a);
        for i in 0..n {
            s.stage[i] = half[i] * (hat[i] + s.a[i] * 0.5);
        }
        self.nonlinear(&s.stage, dt, &mut s.b);
        for i in 0..n {
            s.stage[i] = half[i] * hat[i] + s.b[i] * 0.5;
        }
        self.nonlinear(&s.stage, dt, &mut s.c);
        for i in 0..n {
            s.stage[i] = full[i] * hat[i] + half[i] * s.c[i];
        }
        self.nonlinear(&s.stage, dt, &mut s.d);
        for i in 0..n {
            hat[i] = full[i] * hat[i]
                + (full[i] * s.a[i] + half[i] * (s.b[i] + s.c[i]) * 2.0 + s.d[i]) / 6.0;
        }
    }
}

/// Work arrays of one RK4 step.
struct Stages {
    a: Vec<Complex64>,
    b: Vec<Complex64>,
    c: Vec<Complex64>,
    d: Vec<Complex64>,
    stage: Vec<Complex64>,
}

impl Stages {
    fn new(n: usize) -> Stages {
        let zero = || vec![Complex64::new(0.0, 0.0); n];
        Stages {
            a: zero(),
            b: zero(),
            c: zero(),
            d: zero(),
            stage: zero(),
        }
    }
}

/// The reference solution of one sample: solved on `fine` points (rounded down to a multiple
/// of `nx`) placed so that every task cell centre `x_j = (j + ½) / nx` is one of them, and
/// read there. Returns `[times.len()][nx]` flattened; frame 0 is `u0` itself.
pub fn periodic_reference(
    equation: PeriodicEquation,
    u0: &crate::pde_numerics::FourierInitial,
    nx: usize,
    fine: usize,
    times: &[f64],
) -> Vec<f64> {
    let ratio = (fine / nx).max(1);
    let m = nx * ratio;
    // Fine points (i + offset) / m: point j·ratio + ratio/2 is the task centre (j + ½)/nx.
    let offset = if ratio.is_multiple_of(2) { 0.0 } else { 0.5 };
    let start: Vec<f64> = (0..m)
        .map(|i| u0.value((i as f64 + offset) / m as f64))
        .collect();
    let mut solver = PeriodicSolver::new(equation, m);
    let frames = solver.solve(&start, times);
    let mut out = Vec::with_capacity(times.len() * nx);
    out.extend(u0.sample(nx));
    for frame in frames.iter().skip(1) {
        out.extend(frame.iter().skip(ratio / 2).step_by(ratio).take(nx));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pde_numerics::FourierInitial;
    use crate::pde_numerics::initial::Mode;

    fn max_diff(a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn advection_is_an_exact_shift() {
        let u0 = FourierInitial::random(11, 0, 3, 5, false);
        let beta = 0.37;
        let times = [0.0, 0.25, 1.3];
        let reference =
            periodic_reference(PeriodicEquation::Advection { beta }, &u0, 64, 256, &times);
        for (f, &t) in times.iter().enumerate() {
            let exact: Vec<f64> = (0..64)
                .map(|j| u0.value(((j as f64 + 0.5) / 64.0 - beta * t).rem_euclid(1.0)))
                .collect();
            assert!(max_diff(&reference[f * 64..(f + 1) * 64], &exact) < 1e-12);
        }
    }

    #[test]
    fn heat_decays_each_mode_exactly() {
        let u0 = FourierInitial {
            modes: vec![
                Mode {
                    amplitude: 1.0,
                    wavenumber: 1,
                    phase: 0.3,
                },
                Mode {
                    amplitude: 0.5,
                    wavenumber: 3,
                    phase: 1.0,
                },
            ],
            unit_map: None,
        };
        let nu = 0.01;
        let t = 0.7;
        let reference = periodic_reference(PeriodicEquation::Heat { nu }, &u0, 128, 512, &[0.0, t]);
        let exact: Vec<f64> = (0..128)
            .map(|j| {
                let x = (j as f64 + 0.5) / 128.0;
                u0.modes
                    .iter()
                    .map(|m| {
                        let k = TAU * f64::from(m.wavenumber);
                        m.amplitude * (-nu * k * k * t).exp() * (k * x + m.phase).sin()
                    })
                    .sum::<f64>()
            })
            .collect();
        assert!(max_diff(&reference[128..], &exact) < 1e-13);
    }

    #[test]
    fn logistic_limit_of_reaction_diffusion() {
        // A constant state follows the logistic ODE u' = ρu(1−u) exactly.
        let u0 = FourierInitial {
            modes: vec![Mode {
                amplitude: 0.0,
                wavenumber: 1,
                phase: 0.0,
            }],
            unit_map: Some((-0.2, 0.8)),
        };
        let (rho, t) = (1.5, 1.0);
        let reference = periodic_reference(
            PeriodicEquation::ReactionDiffusion { nu: 0.5, rho },
            &u0,
            32,
            64,
            &[0.0, t],
        );
        let c = 0.2;
        let exact = c * (rho * t).exp() / (1.0 - c + c * (rho * t).exp());
        assert!(
            reference[32..].iter().all(|v| (v - exact).abs() < 1e-12),
            "{} vs {exact}",
            reference[40]
        );
    }
}
