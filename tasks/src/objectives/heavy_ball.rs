//! (c) Polyak's heavy-ball method `x ← x − α ∇f(x) + β (x − x_prev)` on ill-conditioned
//! quadratics `f(x) = ½ (x − x*)ᵀ H (x − x*)` whose Hessian spectrum spans exactly `[μ, L]`.
//! Cost = iterations until `‖x − x*‖ / ‖x₀ − x*‖ < tol`, summed over the instances.
//!
//! The method is invariant under rotations, so `H` is diagonal without loss of generality:
//! eigenvalues `μ`, `L` and the rest uniform in `[μ, L]`, drawn from the seed, as are `x*`
//! and `x₀`. The asymptotic optimum is `α* = 4 / (√L + √μ)²`, `β* = ((√L − √μ)/(√L + √μ))²`.

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use serde::Deserialize;

use super::{History, Objective, Report, group_digits, iteration_summary};

/// The `[params]` options of `objective = "heavy_ball"`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeavyBallConfig {
    /// Dimension of each quadratic.
    #[serde(default = "default_dimension")]
    pub dimension: usize,
    /// Smallest Hessian eigenvalue μ.
    #[serde(default = "default_mu")]
    pub mu: f64,
    /// Largest Hessian eigenvalue L.
    #[serde(default = "default_lipschitz")]
    pub lipschitz: f64,
    /// Quadratics (instances).
    #[serde(default = "default_instances")]
    pub instances: usize,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub final_seed: Option<u64>,
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    #[serde(default = "default_max_iterations")]
    pub max_iterations: u32,
}

fn default_dimension() -> usize {
    60
}
fn default_mu() -> f64 {
    1.0
}
fn default_lipschitz() -> f64 {
    1000.0
}
fn default_instances() -> usize {
    4
}
fn default_seed() -> u64 {
    5
}
fn default_tolerance() -> f64 {
    1e-8
}
fn default_max_iterations() -> u32 {
    20_000
}

impl Default for HeavyBallConfig {
    fn default() -> HeavyBallConfig {
        HeavyBallConfig {
            dimension: default_dimension(),
            mu: default_mu(),
            lipschitz: default_lipschitz(),
            instances: default_instances(),
            seed: default_seed(),
            final_seed: None,
            tolerance: default_tolerance(),
            max_iterations: default_max_iterations(),
        }
    }
}

impl HeavyBallConfig {
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.dimension < 2 || self.dimension > 100_000 {
            return Err((
                "dimension",
                format!("{} is out of range; accepted: 2..=100000", self.dimension),
            ));
        }
        if !(self.mu.is_finite() && self.mu > 0.0) {
            return Err(("mu", format!("{} must be a positive number", self.mu)));
        }
        if !(self.lipschitz.is_finite() && self.lipschitz > self.mu) {
            return Err((
                "lipschitz",
                format!("{} must be a number above mu = {}", self.lipschitz, self.mu),
            ));
        }
        if self.instances == 0 || self.instances > 10_000 {
            return Err((
                "instances",
                format!("{} is out of range; accepted: 1..=10000", self.instances),
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
        if self.max_iterations == 0 || self.max_iterations > 10_000_000 {
            return Err((
                "max_iterations",
                format!(
                    "{} is out of range; accepted: 1..=10000000",
                    self.max_iterations
                ),
            ));
        }
        Ok(())
    }

    /// The asymptotically optimal `(α*, β*)` for the spectrum `[μ, L]`.
    pub fn optimum(&self) -> (f64, f64) {
        optimum(self.mu, self.lipschitz)
    }
}

/// The asymptotically optimal heavy-ball parameters for a spectrum `[mu, l]`.
pub fn optimum(mu: f64, l: f64) -> (f64, f64) {
    let (sm, sl) = (mu.sqrt(), l.sqrt());
    (4.0 / (sl + sm).powi(2), ((sl - sm) / (sl + sm)).powi(2))
}

/// One run of the method on one quadratic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Run {
    pub iterations: u32,
    pub converged: bool,
    pub diverged: bool,
}

/// Quadratics with spectra in `[μ, L]`: eigenvalues and initial errors `x₀ − x*`.
#[derive(Clone, Debug)]
pub struct Quadratics {
    dimension: usize,
    eigenvalues: Vec<f64>,
    initial_errors: Vec<f64>,
    tolerance: f64,
    max_iterations: u32,
}

impl Quadratics {
    pub fn generate(config: &HeavyBallConfig, seed: u64) -> Quadratics {
        let d = config.dimension;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut eigenvalues = Vec::with_capacity(d * config.instances);
        let mut initial_errors = Vec::with_capacity(d * config.instances);
        for _ in 0..config.instances {
            eigenvalues.push(config.mu);
            eigenvalues.push(config.lipschitz);
            for _ in 2..d {
                eigenvalues.push(rng.random_range(config.mu..=config.lipschitz));
            }
            for _ in 0..d {
                // x₀ − x*, with x* and x₀ independent standard normal vectors.
                let x_star: f64 = StandardNormal.sample(&mut rng);
                let x0: f64 = StandardNormal.sample(&mut rng);
                initial_errors.push(x0 - x_star);
            }
        }
        Quadratics {
            dimension: d,
            eigenvalues,
            initial_errors,
            tolerance: config.tolerance,
            max_iterations: config.max_iterations,
        }
    }

    pub fn len(&self) -> usize {
        self.eigenvalues.len() / self.dimension
    }

    pub fn is_empty(&self) -> bool {
        self.eigenvalues.is_empty()
    }

    /// Runs heavy ball on quadratic `i` with work vectors `e`, `e_prev` (length `dimension`).
    pub fn run(
        &self,
        i: usize,
        alpha: f64,
        beta: f64,
        e: &mut [f64],
        e_prev: &mut [f64],
        mut history: Option<&mut History>,
    ) -> Run {
        let d = self.dimension;
        let lambda = &self.eigenvalues[i * d..(i + 1) * d];
        e.copy_from_slice(&self.initial_errors[i * d..(i + 1) * d]);
        e_prev.copy_from_slice(e);
        let norm0 = e.iter().map(|v| v * v).sum::<f64>().sqrt();
        for iteration in 1..=self.max_iterations {
            let mut sq = 0.0;
            for j in 0..d {
                let next = e[j] - alpha * lambda[j] * e[j] + beta * (e[j] - e_prev[j]);
                e_prev[j] = e[j];
                e[j] = next;
                sq += next * next;
            }
            let relative = sq.sqrt() / norm0;
            if let Some(h) = history.as_deref_mut() {
                h.offer(iteration, relative);
            }
            if relative < self.tolerance {
                if let Some(h) = history {
                    h.finish(iteration, relative);
                }
                return Run {
                    iterations: iteration,
                    converged: true,
                    diverged: false,
                };
            }
            if !relative.is_finite() || relative > 1e12 {
                if let Some(h) = history {
                    h.finish(iteration, relative);
                }
                return Run {
                    iterations: self.max_iterations,
                    converged: false,
                    diverged: true,
                };
            }
        }
        Run {
            iterations: self.max_iterations,
            converged: false,
            diverged: false,
        }
    }

    /// Iterations summed over the quadratics.
    pub fn total_iterations(&self, alpha: f64, beta: f64) -> u64 {
        let mut e = vec![0.0; self.dimension];
        let mut e_prev = vec![0.0; self.dimension];
        (0..self.len())
            .map(|i| {
                u64::from(
                    self.run(i, alpha, beta, &mut e, &mut e_prev, None)
                        .iterations,
                )
            })
            .sum()
    }
}

/// The heavy-ball objective.
#[derive(Clone, Debug)]
pub struct HeavyBallObjective {
    quadratics: Quadratics,
    config: HeavyBallConfig,
}

impl HeavyBallObjective {
    pub fn new(config: &HeavyBallConfig, seed: u64) -> HeavyBallObjective {
        HeavyBallObjective {
            quadratics: Quadratics::generate(config, seed),
            config: config.clone(),
        }
    }

    pub fn quadratics(&self) -> &Quadratics {
        &self.quadratics
    }
}

impl Objective for HeavyBallObjective {
    fn name(&self) -> &'static str {
        "heavy_ball"
    }

    fn variable_names(&self) -> Option<&'static [&'static str]> {
        Some(&["alpha", "beta"])
    }

    fn evaluate(&self, values: &[f64]) -> Report {
        let alpha = values.first().copied().unwrap_or(0.0);
        let beta = values.get(1).copied().unwrap_or(0.0);
        let q = &self.quadratics;
        let mut e = vec![0.0; q.dimension];
        let mut e_prev = vec![0.0; q.dimension];
        let mut runs = Vec::with_capacity(q.len());
        let mut worst: Option<(usize, History, u32)> = None;
        for i in 0..q.len() {
            let mut history = History::new();
            let run = q.run(i, alpha, beta, &mut e, &mut e_prev, Some(&mut history));
            if worst.as_ref().is_none_or(|(_, _, k)| run.iterations > *k) {
                worst = Some((i, history, run.iterations));
            }
            runs.push(run);
        }
        let iterations: Vec<u32> = runs.iter().map(|r| r.iterations).collect();
        let total: u64 = iterations.iter().map(|&k| u64::from(k)).sum();
        let diverged = runs.iter().filter(|r| r.diverged).count();
        let unconverged = runs.iter().filter(|r| !r.converged).count();
        let mut feedback = format!(
            "cost: {} heavy-ball iterations summed over {} quadratics (lower is better; score = -cost)\n\
             alpha = {alpha}, beta = {beta}\n\
             iterations per quadratic: {}\n",
            group_digits(total),
            q.len(),
            iteration_summary(&iterations)
        );
        if unconverged > 0 {
            feedback += &format!(
                "{unconverged} quadratics did not reach the tolerance and cost the cap of {} iterations each{}\n",
                self.config.max_iterations,
                if diverged > 0 {
                    format!(" ({diverged} diverged: the iterates blew up)")
                } else {
                    String::new()
                }
            );
        }
        if let Some((i, history, _)) = &worst {
            feedback += &format!(
                "slowest quadratic #{i}: relative distance to the minimizer after iteration k: {}\n",
                history.render()
            );
            if let Some(rate) = history.contraction() {
                feedback += &format!("average contraction per iteration on it: {rate:.5}\n");
            }
        }
        let mut metrics = std::collections::BTreeMap::new();
        metrics.insert("iterations".into(), total.into());
        metrics.insert("unconverged".into(), unconverged.into());
        let trace = serde_json::json!({
            "alpha": alpha,
            "beta": beta,
            "quadratics": runs.iter().map(|r| serde_json::json!({
                "iterations": r.iterations, "converged": r.converged, "diverged": r.diverged,
            })).collect::<Vec<_>>(),
        });
        Report {
            cost: total as f64,
            cost_unit: "heavy-ball iterations",
            metrics,
            feedback,
            trace,
        }
    }

    fn documentation(&self) -> String {
        let c = &self.config;
        format!(
            "Polyak's heavy-ball method x_(k+1) = x_k - alpha * grad f(x_k) + beta * (x_k - x_(k-1)), with \
             x_(-1) = x_0, minimizes {} quadratics f(x) = 1/2 (x - x*)^T H (x - x*) in {} dimensions. Every H has \
             its eigenvalues in [mu, L] = [{}, {}], both ends included. A run stops when ||x_k - x*|| / ||x_0 - x*|| \
             < {:e}; one that does not within {} iterations (or blows up) costs {}. The cost is the total number \
             of iterations.",
            c.instances,
            c.dimension,
            c.mu,
            c.lipschitz,
            c.tolerance,
            c.max_iterations,
            c.max_iterations
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_descent_rate_matches_theory() {
        // beta = 0, alpha = 2/(mu+L): contraction (L-mu)/(L+mu) per iteration.
        let config = HeavyBallConfig {
            instances: 1,
            lipschitz: 50.0,
            ..HeavyBallConfig::default()
        };
        let q = Quadratics::generate(&config, 1);
        let mut e = vec![0.0; q.dimension];
        let mut p = vec![0.0; q.dimension];
        let mut history = History::new();
        let run = q.run(0, 2.0 / 51.0, 0.0, &mut e, &mut p, Some(&mut history));
        assert!(run.converged);
        let rate = history.contraction().unwrap();
        assert!((rate - 49.0 / 51.0).abs() < 0.005, "{rate}");
    }

    #[test]
    fn too_large_a_step_diverges() {
        let config = HeavyBallConfig {
            instances: 1,
            ..HeavyBallConfig::default()
        };
        let q = Quadratics::generate(&config, 1);
        let mut e = vec![0.0; q.dimension];
        let mut p = vec![0.0; q.dimension];
        let run = q.run(0, 3.0 / config.lipschitz, 0.0, &mut e, &mut p, None);
        assert!(run.diverged && !run.converged);
    }
}
