//! (a) Successive over-relaxation with factor `omega` over a sequence of linear systems
//! `A_t = A + c_t I`, `A` the 2-D five-point Laplacian on an `m x m` interior grid (the
//! "Learning to Relax" setting). Cost = SOR sweeps until `‖r‖/‖r₀‖ < tol`, summed over
//! the sequence.
//!
//! Instances come from [`SplitMix64`] so that any language reproduces them exactly: for each
//! `t`, `c_t = -0.15 + 0.6 · Beta(1/2, 3/2)` (see [`SplitMix64::beta_half_three_halves`]),
//! then `b_t` with `m²` entries uniform in [-1, 1) in row-major order. `x₀ = 0`.

use serde::Deserialize;

use super::rng::SplitMix64;
use super::{History, Objective, Report, group_digits, iteration_summary};

/// The `[params]` options of `objective = "sor"`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SorConfig {
    /// Systems in the sequence.
    #[serde(default = "default_instances")]
    pub instances: usize,
    /// Seed of the sequence used during a run.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Seed of a held-out sequence for the final check (none: no final check).
    #[serde(default)]
    pub final_seed: Option<u64>,
    /// Interior grid side `m` (n = m² unknowns).
    #[serde(default = "default_grid")]
    pub grid: usize,
    /// Relative residual at which a system counts as solved.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Iterations after which a system counts as unsolved (and costs this many).
    #[serde(default = "default_max_iterations")]
    pub max_iterations: u32,
}

fn default_instances() -> usize {
    200
}
fn default_seed() -> u64 {
    7
}
fn default_grid() -> usize {
    10
}
fn default_tolerance() -> f64 {
    1e-8
}
fn default_max_iterations() -> u32 {
    10_000
}

impl Default for SorConfig {
    fn default() -> SorConfig {
        SorConfig {
            instances: default_instances(),
            seed: default_seed(),
            final_seed: None,
            grid: default_grid(),
            tolerance: default_tolerance(),
            max_iterations: default_max_iterations(),
        }
    }
}

impl SorConfig {
    /// A problem with a reason when a setting is out of range.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.instances == 0 || self.instances > 100_000 {
            return Err((
                "instances",
                format!("{} is out of range; accepted: 1..=100000", self.instances),
            ));
        }
        if self.grid < 2 || self.grid > 200 {
            return Err((
                "grid",
                format!("{} is out of range; accepted: 2..=200", self.grid),
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

/// The result of solving one system.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InstanceSolve {
    /// Sweeps done (the cap when not converged).
    pub iterations: u32,
    pub converged: bool,
    /// The residual blew up (non-finite or above 1e12 ‖r₀‖): stopped early, cost = cap.
    pub diverged: bool,
    /// The last relative residual.
    pub residual: f64,
}

/// A generated sequence of shifted Laplacian systems.
#[derive(Clone, Debug)]
pub struct SorSequence {
    m: usize,
    /// Row stride of the padded grid (m + 2).
    width: usize,
    shifts: Vec<f64>,
    /// Right-hand sides on the padded grid, one after another ((m + 2)² each, zero border).
    rhs: Vec<f64>,
    tolerance: f64,
    max_iterations: u32,
}

impl SorSequence {
    /// Generates the sequence of `config` with seed `seed`.
    pub fn generate(config: &SorConfig, seed: u64) -> SorSequence {
        let m = config.grid;
        let width = m + 2;
        let cells = width * width;
        let mut rng = SplitMix64::new(seed);
        let mut shifts = Vec::with_capacity(config.instances);
        let mut rhs = vec![0.0; cells * config.instances];
        for t in 0..config.instances {
            shifts.push(-0.15 + 0.6 * rng.beta_half_three_halves());
            let b = &mut rhs[t * cells..(t + 1) * cells];
            for row in 0..m {
                for col in 0..m {
                    b[(row + 1) * width + col + 1] = rng.symmetric();
                }
            }
        }
        SorSequence {
            m,
            width,
            shifts,
            rhs,
            tolerance: config.tolerance,
            max_iterations: config.max_iterations,
        }
    }

    pub fn len(&self) -> usize {
        self.shifts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shifts.is_empty()
    }

    /// The shift `c_t` of each system.
    pub fn shifts(&self) -> &[f64] {
        &self.shifts
    }

    pub fn max_iterations(&self) -> u32 {
        self.max_iterations
    }

    /// A zeroed work vector for [`SorSequence::solve`].
    pub fn workspace(&self) -> Vec<f64> {
        vec![0.0; self.width * self.width]
    }

    /// Solves system `t` with SOR factor `omega` from `x₀ = 0`, in `x` (a
    /// [`SorSequence::workspace`]); `history`, when given, receives the relative residuals.
    pub fn solve(
        &self,
        t: usize,
        omega: f64,
        x: &mut [f64],
        mut history: Option<&mut History>,
    ) -> InstanceSolve {
        let m = self.m;
        let w = self.width;
        let cells = w * w;
        let b = &self.rhs[t * cells..(t + 1) * cells];
        let x = &mut x[..cells];
        x.fill(0.0);
        let d = 4.0 + self.shifts[t];
        let norm0 = b.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm0 == 0.0 {
            return InstanceSolve {
                iterations: 0,
                converged: true,
                diverged: false,
                residual: 0.0,
            };
        }
        // x_k <- (1 - omega) x_k + (omega / d) (b_k + neighbours). The west neighbour was
        // updated just before, so it is added last: the serial dependency chain from one cell
        // to the next is one add, one multiply and one add (no division).
        let keep = 1.0 - omega;
        let wd = omega / d;
        let mut residual = 1.0;
        for iteration in 1..=self.max_iterations {
            // One lexicographic SOR sweep; the zero border stands for the Dirichlet boundary.
            for row in 1..=m {
                let start = row * w;
                for k in start + 1..start + m + 1 {
                    let rest = b[k] + x[k + 1] + x[k - w] + x[k + w];
                    x[k] = keep * x[k] + wd * (rest + x[k - 1]);
                }
            }
            // r = b - A_t x
            let mut rr = 0.0;
            for row in 1..=m {
                let start = row * w;
                for k in start + 1..start + m + 1 {
                    let r = b[k] + x[k - 1] + x[k + 1] + x[k - w] + x[k + w] - d * x[k];
                    rr += r * r;
                }
            }
            residual = rr.sqrt() / norm0;
            if let Some(h) = history.as_deref_mut() {
                h.offer(iteration, residual);
            }
            if residual < self.tolerance {
                if let Some(h) = history {
                    h.finish(iteration, residual);
                }
                return InstanceSolve {
                    iterations: iteration,
                    converged: true,
                    diverged: false,
                    residual,
                };
            }
            if !residual.is_finite() || residual > 1e12 {
                if let Some(h) = history {
                    h.finish(iteration, residual);
                }
                return InstanceSolve {
                    iterations: self.max_iterations,
                    converged: false,
                    diverged: true,
                    residual,
                };
            }
        }
        if let Some(h) = history {
            h.finish(self.max_iterations, residual);
        }
        InstanceSolve {
            iterations: self.max_iterations,
            converged: false,
            diverged: false,
            residual,
        }
    }

    /// The total cost at `omega`: iterations summed over the sequence. The hot path: one
    /// work vector, nothing else allocated.
    pub fn total_iterations(&self, omega: f64) -> u64 {
        let mut x = self.workspace();
        (0..self.len())
            .map(|t| u64::from(self.solve(t, omega, &mut x, None).iterations))
            .sum()
    }

    /// Iterations of every system at `omega`.
    pub fn iterations(&self, omega: f64) -> Vec<u32> {
        let mut x = self.workspace();
        (0..self.len())
            .map(|t| self.solve(t, omega, &mut x, None).iterations)
            .collect()
    }
}

/// The SOR objective: one sequence for the run and, optionally, a held-out one.
#[derive(Clone, Debug)]
pub struct SorObjective {
    sequence: SorSequence,
    config: SorConfig,
}

impl SorObjective {
    pub fn new(config: &SorConfig, seed: u64) -> SorObjective {
        SorObjective {
            sequence: SorSequence::generate(config, seed),
            config: config.clone(),
        }
    }

    pub fn sequence(&self) -> &SorSequence {
        &self.sequence
    }
}

impl Objective for SorObjective {
    fn name(&self) -> &'static str {
        "sor"
    }

    fn variable_names(&self) -> Option<&'static [&'static str]> {
        Some(&["omega"])
    }

    fn evaluate(&self, values: &[f64]) -> Report {
        let omega = values.first().copied().unwrap_or(1.0);
        let seq = &self.sequence;
        let mut x = seq.workspace();
        let mut iterations = Vec::with_capacity(seq.len());
        let mut worst: Option<(usize, History, InstanceSolve)> = None;
        let mut unconverged = 0usize;
        let mut diverged = 0usize;
        for t in 0..seq.len() {
            let mut history = History::new();
            let solve = seq.solve(t, omega, &mut x, Some(&mut history));
            iterations.push(solve.iterations);
            unconverged += usize::from(!solve.converged);
            diverged += usize::from(solve.diverged);
            if worst
                .as_ref()
                .is_none_or(|(_, _, w)| solve.iterations > w.iterations)
            {
                worst = Some((t, history, solve));
            }
        }
        let total: u64 = iterations.iter().map(|&k| u64::from(k)).sum();
        let mut feedback = format!(
            "cost: {} SOR iterations summed over {} linear systems (lower is better; score = -cost)\n\
             omega = {omega}\n\
             iterations per system: {}\n",
            group_digits(total),
            seq.len(),
            iteration_summary(&iterations)
        );
        if unconverged > 0 {
            feedback += &format!(
                "{unconverged} systems did not reach the tolerance {:e} and cost the cap of {} iterations each{}\n",
                self.config.tolerance,
                seq.max_iterations(),
                if diverged > 0 {
                    format!(" ({diverged} diverged: the residual blew up)")
                } else {
                    String::new()
                }
            );
        }
        let first: Vec<String> = (0..seq.len().min(8))
            .map(|t| format!("t={t} c={:+.3}: {}", seq.shifts()[t], iterations[t]))
            .collect();
        feedback += &format!(
            "first systems (shift c_t: iterations): {}\n",
            first.join("; ")
        );
        if let Some((t, history, solve)) = &worst {
            feedback += &format!(
                "hardest system t={t} (c_t = {:+.4}, {} iterations): relative residual after iteration k: {}\n",
                seq.shifts()[*t],
                solve.iterations,
                history.render()
            );
            if let Some(rate) = history.contraction() {
                feedback +=
                    &format!("average residual contraction per sweep on that system: {rate:.5}\n");
            }
        }
        let mut metrics = std::collections::BTreeMap::new();
        metrics.insert("iterations".into(), total.into());
        metrics.insert("instances".into(), seq.len().into());
        metrics.insert("unconverged".into(), unconverged.into());
        metrics.insert(
            "mean_iterations".into(),
            (total as f64 / seq.len().max(1) as f64).into(),
        );
        let trace = serde_json::json!({
            "omega": omega,
            "instances": seq.shifts().iter().zip(&iterations).map(|(c, k)| serde_json::json!({"c": c, "iterations": k})).collect::<Vec<_>>(),
        });
        Report {
            cost: total as f64,
            cost_unit: "SOR iterations",
            metrics,
            feedback,
            trace,
        }
    }

    fn documentation(&self) -> String {
        format!(
            "Successive over-relaxation (SOR) with relaxation factor omega solves a sequence of {} linear systems \
             A_t x = b_t, where A is the 2-D five-point Laplacian (4 on the diagonal, -1 for each grid neighbour) on a \
             {m} x {m} interior grid (n = {n}) and A_t = A + c_t I with c_t = -0.15 + 0.6 * Beta(0.5, 1.5), so \
             c_t lies in [-0.15, 0.45] and is usually near -0.15. Each system starts from x0 = 0; one iteration is \
             one lexicographic sweep x_i <- (1 - omega) x_i + omega (b_i + sum of neighbours) / (4 + c_t). A system is \
             solved when ||b - A_t x|| / ||b|| < {:e}; one that is not solved after {} iterations costs {} \
             iterations. The cost is the total number of iterations over the sequence. omega = 1 is Gauss-Seidel; \
             SOR converges for 0 < omega < 2.",
            self.config.instances,
            self.config.tolerance,
            self.config.max_iterations,
            self.config.max_iterations,
            m = self.config.grid,
            n = self.config.grid * self.config.grid,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(instances: usize) -> SorSequence {
        SorSequence::generate(
            &SorConfig {
                instances,
                ..SorConfig::default()
            },
            7,
        )
    }

    #[test]
    fn generation_is_deterministic_and_shifts_are_in_range() {
        let a = small(50);
        let b = small(50);
        assert_eq!(a.shifts(), b.shifts());
        assert_eq!(a.rhs, b.rhs);
        assert!(a.shifts().iter().all(|&c| (-0.15..=0.45).contains(&c)));
        let other = SorSequence::generate(
            &SorConfig {
                instances: 50,
                ..SorConfig::default()
            },
            8,
        );
        assert_ne!(a.shifts(), other.shifts());
    }

    #[test]
    fn solution_satisfies_the_system() {
        let seq = small(3);
        let mut x = seq.workspace();
        let solve = seq.solve(1, 1.5, &mut x, None);
        assert!(solve.converged && solve.iterations > 5);
        // Check ‖b − A_t x‖ / ‖b‖ directly with a plain matrix-free product.
        let (m, w) = (seq.m, seq.width);
        let b = &seq.rhs[w * w..2 * w * w];
        let d = 4.0 + seq.shifts()[1];
        let (mut rr, mut bb) = (0.0, 0.0);
        for row in 1..=m {
            for col in 1..=m {
                let k = row * w + col;
                let ax = d * x[k] - x[k - 1] - x[k + 1] - x[k - w] - x[k + w];
                rr += (b[k] - ax).powi(2);
                bb += b[k] * b[k];
            }
        }
        assert!((rr / bb).sqrt() < 1e-8);
    }

    #[test]
    fn gauss_seidel_matches_its_spectral_radius() {
        // For omega = 1 the asymptotic contraction is rho_J², rho_J = 2 (2 cos(pi h)) / (4 + c).
        let seq = small(1);
        let mut x = seq.workspace();
        let mut history = History::new();
        let solve = seq.solve(0, 1.0, &mut x, Some(&mut history));
        assert!(solve.converged);
        let h = std::f64::consts::PI / (seq.m as f64 + 1.0);
        let rho_jacobi = 4.0 * h.cos() / (4.0 + seq.shifts()[0]);
        let rate = history.contraction().unwrap();
        assert!(
            (rate - rho_jacobi * rho_jacobi).abs() < 0.01,
            "{rate} vs {}",
            rho_jacobi * rho_jacobi
        );
    }

    #[test]
    fn omega_of_two_or_more_does_not_converge() {
        let seq = small(2);
        let mut x = seq.workspace();
        let solve = seq.solve(0, 2.2, &mut x, None);
        assert!(!solve.converged);
        assert_eq!(solve.iterations, seq.max_iterations());
    }
}
