//! (b) SSOR-preconditioned conjugate gradients with factor `omega` on the systems of a 2-D
//! heat equation `u_t = κ(t) Δu + f` on the unit square (zero Dirichlet boundary), stepped by
//! Crank–Nicolson. Each step solves `(I + s_n A) u¹ = (I - s_n A) u⁰ + Δt f` with `A` the
//! unscaled five-point Laplacian and `s_n = Δt κ(t_{n+1/2}) / (2h²)`; the diffusion
//! coefficient `κ(t) = κ̄ (1 + a sin(2π t / P))` varies in time, so the systems' conditioning
//! does too. Cost = PCG iterations until `‖r‖/‖b‖ < tol`, summed over the steps.
//!
//! The initial field and the heat sources are drawn from the seed (ChaCha8 + rand_distr).

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use serde::Deserialize;

use super::{History, Objective, Report, group_digits, iteration_summary};

/// The `[params]` options of `objective = "ssor_cg"`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsorCgConfig {
    /// Interior grid side `m`.
    #[serde(default = "default_grid")]
    pub grid: usize,
    /// Time steps (one linear system each).
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// Time step Δt.
    #[serde(default = "default_dt")]
    pub dt: f64,
    /// Mean diffusion coefficient κ̄.
    #[serde(default = "default_kappa")]
    pub kappa: f64,
    /// Relative amplitude `a` of κ's oscillation (0 <= a < 1).
    #[serde(default = "default_amplitude")]
    pub amplitude: f64,
    /// Period `P` of κ's oscillation.
    #[serde(default = "default_period")]
    pub period: f64,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub final_seed: Option<u64>,
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Iterations after which a step counts as unsolved (and costs this many).
    #[serde(default = "default_max_iterations")]
    pub max_iterations: u32,
}

fn default_grid() -> usize {
    24
}
fn default_steps() -> usize {
    40
}
fn default_dt() -> f64 {
    0.05
}
fn default_kappa() -> f64 {
    1.0
}
fn default_amplitude() -> f64 {
    0.9
}
fn default_period() -> f64 {
    1.0
}
fn default_seed() -> u64 {
    11
}
fn default_tolerance() -> f64 {
    1e-8
}
fn default_max_iterations() -> u32 {
    2_000
}

impl Default for SsorCgConfig {
    fn default() -> SsorCgConfig {
        SsorCgConfig {
            grid: default_grid(),
            steps: default_steps(),
            dt: default_dt(),
            kappa: default_kappa(),
            amplitude: default_amplitude(),
            period: default_period(),
            seed: default_seed(),
            final_seed: None,
            tolerance: default_tolerance(),
            max_iterations: default_max_iterations(),
        }
    }
}

impl SsorCgConfig {
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.grid < 2 || self.grid > 200 {
            return Err((
                "grid",
                format!("{} is out of range; accepted: 2..=200", self.grid),
            ));
        }
        if self.steps == 0 || self.steps > 10_000 {
            return Err((
                "steps",
                format!("{} is out of range; accepted: 1..=10000", self.steps),
            ));
        }
        for (name, value) in [
            ("dt", self.dt),
            ("kappa", self.kappa),
            ("period", self.period),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err((name, format!("{value} must be a positive number")));
            }
        }
        if !(0.0..1.0).contains(&self.amplitude) {
            return Err((
                "amplitude",
                format!(
                    "{} is out of range; accepted: 0 <= amplitude < 1",
                    self.amplitude
                ),
            ));
        }
        if !(self.tolerance > 0.0 && self.tolerance < 1.0) {
            return Err((
                "tolerance",
                format!(
                    "{} is out of range; accepted: 0 < tolerance < 1",
                    self.tolerance
                ),
            ));
        }
        if self.max_iterations == 0 || self.max_iterations > 1_000_000 {
            return Err((
                "max_iterations",
                format!(
                    "{} is out of range; accepted: 1..=1000000",
                    self.max_iterations
                ),
            ));
        }
        Ok(())
    }
}

/// One PCG solve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepSolve {
    pub iterations: u32,
    pub converged: bool,
    /// CG broke down (a non-positive curvature or inner product: the preconditioner is not
    /// positive definite for this omega, or the numbers are not finite).
    pub breakdown: bool,
}

/// Work vectors of one PCG run on the padded grid.
struct Work {
    x: Vec<f64>,
    r: Vec<f64>,
    z: Vec<f64>,
    p: Vec<f64>,
    q: Vec<f64>,
}

/// The heat-equation problem: grid, κ schedule, initial field and source.
#[derive(Clone, Debug)]
pub struct HeatProblem {
    m: usize,
    width: usize,
    /// `s_n` of each step.
    shifts: Vec<f64>,
    initial: Vec<f64>,
    /// Δt f on the padded grid.
    source: Vec<f64>,
    tolerance: f64,
    max_iterations: u32,
}

impl HeatProblem {
    pub fn generate(config: &SsorCgConfig, seed: u64) -> HeatProblem {
        let m = config.grid;
        let width = m + 2;
        let h = 1.0 / (m as f64 + 1.0);
        let shifts = (0..config.steps)
            .map(|n| {
                let t_half = (n as f64 + 0.5) * config.dt;
                let kappa = config.kappa
                    * (1.0
                        + config.amplitude
                            * (2.0 * std::f64::consts::PI * t_half / config.period).sin());
                config.dt * kappa / (2.0 * h * h)
            })
            .collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut initial = vec![0.0; width * width];
        let mut source = vec![0.0; width * width];
        for row in 1..=m {
            for col in 1..=m {
                initial[row * width + col] = StandardNormal.sample(&mut rng);
            }
        }
        // Three Gaussian heat sources (or sinks) with random centres, widths and strengths.
        for _ in 0..3 {
            let (cx, cy): (f64, f64) = (rng.random_range(0.2..0.8), rng.random_range(0.2..0.8));
            let radius: f64 = rng.random_range(0.05..0.15);
            let strength: f64 = rng.random_range(-20.0..20.0);
            for row in 1..=m {
                for col in 1..=m {
                    let (x, y) = (col as f64 * h, row as f64 * h);
                    let d2 = (x - cx).powi(2) + (y - cy).powi(2);
                    source[row * width + col] +=
                        config.dt * strength * (-d2 / (2.0 * radius * radius)).exp();
                }
            }
        }
        HeatProblem {
            m,
            width,
            shifts,
            initial,
            source,
            tolerance: config.tolerance,
            max_iterations: config.max_iterations,
        }
    }

    /// `s_n` of each step.
    pub fn shifts(&self) -> &[f64] {
        &self.shifts
    }

    pub fn max_iterations(&self) -> u32 {
        self.max_iterations
    }

    fn work(&self) -> Work {
        let cells = self.width * self.width;
        Work {
            x: vec![0.0; cells],
            r: vec![0.0; cells],
            z: vec![0.0; cells],
            p: vec![0.0; cells],
            q: vec![0.0; cells],
        }
    }

    /// `out = (I + s A) v` on the interior.
    #[inline]
    fn apply(&self, s: f64, v: &[f64], out: &mut [f64]) {
        let (m, w) = (self.m, self.width);
        let d = 1.0 + 4.0 * s;
        for row in 1..=m {
            for k in row * w + 1..row * w + m + 1 {
                out[k] = d * v[k] - s * (v[k - 1] + v[k + 1] + v[k - w] + v[k + w]);
            }
        }
    }

    /// `z = M⁻¹ r` with the SSOR preconditioner
    /// `M = (D + ωL) D⁻¹ (D + ωU) / (ω (2 − ω))` of `I + s A`.
    #[inline]
    fn precondition(&self, s: f64, omega: f64, r: &[f64], z: &mut [f64]) {
        let (m, w) = (self.m, self.width);
        let d = 1.0 + 4.0 * s;
        let os = omega * s;
        // Forward: (D + ωL) y = r, L holding -s at the west and south neighbours.
        for row in 1..=m {
            for k in row * w + 1..row * w + m + 1 {
                z[k] = (r[k] + os * (z[k - 1] + z[k - w])) / d;
            }
        }
        // y <- D y, then backward: (D + ωU) z = y, U holding -s at the east and north neighbours.
        let scale = omega * (2.0 - omega);
        for row in (1..=m).rev() {
            for k in (row * w + 1..row * w + m + 1).rev() {
                z[k] = (d * z[k] + os * (z[k + 1] + z[k + w])) / d;
            }
        }
        // The border stays zero, so scaling every cell is the same as scaling the interior.
        z.iter_mut().for_each(|v| *v *= scale);
    }

    fn dot(&self, a: &[f64], b: &[f64]) -> f64 {
        let (m, w) = (self.m, self.width);
        let mut sum = 0.0;
        for row in 1..=m {
            for k in row * w + 1..row * w + m + 1 {
                sum += a[k] * b[k];
            }
        }
        sum
    }

    /// PCG on `(I + s A) x = b`, warm-started from `work.x`.
    fn pcg(
        &self,
        s: f64,
        omega: f64,
        b: &[f64],
        work: &mut Work,
        mut history: Option<&mut History>,
    ) -> StepSolve {
        let Work { x, r, z, p, q } = work;
        let bnorm = self.dot(b, b).sqrt();
        if bnorm == 0.0 {
            x.fill(0.0);
            return StepSolve {
                iterations: 0,
                converged: true,
                breakdown: false,
            };
        }
        self.apply(s, x, q);
        for k in 0..r.len() {
            r[k] = b[k] - q[k];
        }
        z.fill(0.0);
        p.fill(0.0);
        if self.dot(r, r).sqrt() / bnorm < self.tolerance {
            return StepSolve {
                iterations: 0,
                converged: true,
                breakdown: false,
            };
        }
        self.precondition(s, omega, r, z);
        p.copy_from_slice(z);
        let mut rz = self.dot(r, z);
        for iteration in 1..=self.max_iterations {
            self.apply(s, p, q);
            let pq = self.dot(p, q);
            if !(pq > 0.0 && rz > 0.0 && pq.is_finite() && rz.is_finite()) {
                return StepSolve {
                    iterations: self.max_iterations,
                    converged: false,
                    breakdown: true,
                };
            }
            let alpha = rz / pq;
            for k in 0..x.len() {
                x[k] += alpha * p[k];
                r[k] -= alpha * q[k];
            }
            let residual = self.dot(r, r).sqrt() / bnorm;
            if let Some(h) = history.as_deref_mut() {
                h.offer(iteration, residual);
            }
            if residual < self.tolerance {
                if let Some(h) = history {
                    h.finish(iteration, residual);
                }
                return StepSolve {
                    iterations: iteration,
                    converged: true,
                    breakdown: false,
                };
            }
            self.precondition(s, omega, r, z);
            let rz_new = self.dot(r, z);
            let beta = rz_new / rz;
            rz = rz_new;
            for k in 0..p.len() {
                p[k] = z[k] + beta * p[k];
            }
        }
        StepSolve {
            iterations: self.max_iterations,
            converged: false,
            breakdown: false,
        }
    }

    /// Steps the heat equation with SSOR-PCG at `omega`; per-step results, and the residual
    /// history of the step with the most iterations when `history` is given.
    pub fn run(&self, omega: f64, mut history: Option<&mut (usize, History)>) -> Vec<StepSolve> {
        let mut work = self.work();
        let mut u = self.initial.clone();
        let mut b = vec![0.0; u.len()];
        let mut solves = Vec::with_capacity(self.shifts.len());
        let mut worst = 0u32;
        for (n, &s) in self.shifts.iter().enumerate() {
            // b = (I - s A) u + Δt f  (apply with -s gives (1 - 4s) u + s Σ neighbours).
            self.apply(-s, &u, &mut b);
            for (bk, fk) in b.iter_mut().zip(&self.source) {
                *bk += fk;
            }
            work.x.copy_from_slice(&u);
            let mut step_history = History::new();
            let solve = self.pcg(
                s,
                omega,
                &b,
                &mut work,
                history.is_some().then_some(&mut step_history),
            );
            if let Some(slot) = history.as_deref_mut()
                && (n == 0 || solve.iterations > worst)
            {
                *slot = (n, step_history);
            }
            worst = worst.max(solve.iterations);
            solves.push(solve);
            if !solve.converged {
                // Keep stepping from the last iterate only if it is finite.
                if work.x.iter().any(|v| !v.is_finite()) {
                    work.x.copy_from_slice(&u);
                }
            }
            u.copy_from_slice(&work.x);
        }
        solves
    }

    /// Total PCG iterations at `omega`.
    pub fn total_iterations(&self, omega: f64) -> u64 {
        self.run(omega, None)
            .iter()
            .map(|s| u64::from(s.iterations))
            .sum()
    }
}

/// The SSOR-PCG objective.
#[derive(Clone, Debug)]
pub struct SsorCgObjective {
    problem: HeatProblem,
    config: SsorCgConfig,
}

impl SsorCgObjective {
    pub fn new(config: &SsorCgConfig, seed: u64) -> SsorCgObjective {
        SsorCgObjective {
            problem: HeatProblem::generate(config, seed),
            config: config.clone(),
        }
    }

    pub fn problem(&self) -> &HeatProblem {
        &self.problem
    }
}

impl Objective for SsorCgObjective {
    fn name(&self) -> &'static str {
        "ssor_cg"
    }

    fn variable_names(&self) -> Option<&'static [&'static str]> {
        Some(&["omega"])
    }

    fn evaluate(&self, values: &[f64]) -> Report {
        let omega = values.first().copied().unwrap_or(1.0);
        let mut worst = (0usize, History::new());
        let solves = self.problem.run(omega, Some(&mut worst));
        let iterations: Vec<u32> = solves.iter().map(|s| s.iterations).collect();
        let total: u64 = iterations.iter().map(|&k| u64::from(k)).sum();
        let unconverged = solves.iter().filter(|s| !s.converged).count();
        let breakdowns = solves.iter().filter(|s| s.breakdown).count();
        let shifts = self.problem.shifts();
        let mut feedback = format!(
            "cost: {} PCG iterations summed over {} Crank-Nicolson steps (lower is better; score = -cost)\n\
             omega = {omega}\n\
             iterations per step: {}\n",
            group_digits(total),
            solves.len(),
            iteration_summary(&iterations)
        );
        if unconverged > 0 {
            feedback += &format!(
                "{unconverged} steps did not reach the tolerance and cost the cap of {} iterations each{}\n",
                self.problem.max_iterations(),
                if breakdowns > 0 {
                    format!(
                        " ({breakdowns} broke down: the SSOR preconditioner is not positive definite at this omega)"
                    )
                } else {
                    String::new()
                }
            );
        }
        let steps: Vec<String> = (0..solves.len().min(10))
            .map(|n| format!("n={n} s={:.2}: {}", shifts[n], iterations[n]))
            .collect();
        feedback += &format!(
            "first steps (s_n = dt*kappa/(2h^2): iterations): {}\n",
            steps.join("; ")
        );
        let (n, history) = &worst;
        feedback += &format!(
            "hardest step n={n} (s_n = {:.2}, {} iterations): relative residual after iteration k: {}\n",
            shifts.get(*n).copied().unwrap_or(0.0),
            iterations.get(*n).copied().unwrap_or(0),
            history.render()
        );
        let mut metrics = std::collections::BTreeMap::new();
        metrics.insert("iterations".into(), total.into());
        metrics.insert("steps".into(), solves.len().into());
        metrics.insert("unconverged".into(), unconverged.into());
        let trace = serde_json::json!({
            "omega": omega,
            "steps": shifts.iter().zip(&solves).map(|(s, solve)| serde_json::json!({
                "s": s, "iterations": solve.iterations, "converged": solve.converged,
            })).collect::<Vec<_>>(),
        });
        Report {
            cost: total as f64,
            cost_unit: "PCG iterations",
            metrics,
            feedback,
            trace,
        }
    }

    fn documentation(&self) -> String {
        let c = &self.config;
        format!(
            "The heat equation u_t = kappa(t) (u_xx + u_yy) + f on the unit square (u = 0 on the boundary) is \
             stepped {} times by Crank-Nicolson on a {m} x {m} interior grid (h = 1/{}), dt = {}, with \
             kappa(t) = {} * (1 + {} sin(2 pi t / {})). Each step solves (I + s_n A) u_new = (I - s_n A) u_old + \
             dt f, A the five-point Laplacian stencil (4 on the diagonal, -1 for each neighbour), \
             s_n = dt kappa(t_n+1/2) / (2 h^2), by conjugate gradients preconditioned with symmetric SOR (SSOR) \
             of factor omega: M = (D + omega L) D^-1 (D + omega U) / (omega (2 - omega)), started from u_old and \
             stopped when ||r|| / ||b|| < {:e}. omega = 1 is symmetric Gauss-Seidel; M is positive definite \
             for 0 < omega < 2. The cost is the total number of CG iterations over the steps (a step that fails \
             costs {}).",
            c.steps,
            c.grid + 1,
            c.dt,
            c.kappa,
            c.amplitude,
            c.period,
            c.tolerance,
            c.max_iterations,
            m = c.grid,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssor_preconditioner_is_the_inverse_of_its_matrix() {
        // Build M v for a random v from its definition and check precondition(M v) = v.
        let config = SsorCgConfig {
            grid: 5,
            steps: 1,
            ..SsorCgConfig::default()
        };
        let problem = HeatProblem::generate(&config, 1);
        let (m, w) = (problem.m, problem.width);
        let (s, omega) = (3.0, 1.4);
        let d = 1.0 + 4.0 * s;
        let mut v = vec![0.0; w * w];
        for row in 1..=m {
            for col in 1..=m {
                v[row * w + col] = ((row * 7 + col * 3) % 11) as f64 - 5.0;
            }
        }
        // M v = (D + ωL) D⁻¹ (D + ωU) v / (ω(2 − ω)).
        let mut t = vec![0.0; w * w];
        for row in 1..=m {
            for k in row * w + 1..row * w + m + 1 {
                t[k] = (d * v[k] - omega * s * (v[k + 1] + v[k + w])) / d;
            }
        }
        let mut mv = vec![0.0; w * w];
        for row in 1..=m {
            for k in row * w + 1..row * w + m + 1 {
                mv[k] = (d * t[k] - omega * s * (t[k - 1] + t[k - w])) / (omega * (2.0 - omega));
            }
        }
        let mut z = vec![0.0; w * w];
        problem.precondition(s, omega, &mv, &mut z);
        for k in 0..v.len() {
            assert!((z[k] - v[k]).abs() < 1e-10, "{k}: {} vs {}", z[k], v[k]);
        }
    }

    #[test]
    fn pcg_solves_each_step() {
        let config = SsorCgConfig {
            grid: 12,
            steps: 3,
            ..SsorCgConfig::default()
        };
        let problem = HeatProblem::generate(&config, 2);
        let solves = problem.run(1.3, None);
        assert!(
            solves.iter().all(|s| s.converged && s.iterations > 1),
            "{solves:?}"
        );
    }
}
