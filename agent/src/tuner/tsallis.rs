//! The Tsallis-INF bandit, the learner of `--llm tsallis` (see [`super::baselines`]), and its
//! online run over a SOR sequence ("Learning to Relax").

use rand::{Rng, SeedableRng};

use hone_tasks::objectives::sor::SorSequence;

/// Tsallis-INF (Zimmert and Seldin, 1/2-Tsallis entropy regularizer) for adversarial bandits
/// with losses in [0, 1], learning rate `η_t = 2/√t`. At round `t` it plays arm `i` with
/// probability `p_i = 4 / (η_t (L̂_i − x))²`, `x` the normalizer (found by Newton's method)
/// that makes the `p_i` sum to 1, where `L̂_i` are importance-weighted cumulative losses.
#[derive(Clone, Debug)]
pub struct TsallisInf {
    arms: Vec<f64>,
    cumulative: Vec<f64>,
    probabilities: Vec<f64>,
    round: u64,
    rng: rand_chacha::ChaCha8Rng,
}

impl TsallisInf {
    /// A learner over `arms` (their values, e.g. omegas); `seed` drives its draws.
    pub fn new(arms: Vec<f64>, seed: u64) -> TsallisInf {
        let n = arms.len().max(1);
        TsallisInf {
            cumulative: vec![0.0; arms.len()],
            probabilities: vec![1.0 / n as f64; arms.len()],
            arms,
            round: 0,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The arms' values.
    pub fn arms(&self) -> &[f64] {
        &self.arms
    }

    /// The sampling distribution of the current (or next) round.
    pub fn probabilities(&self) -> &[f64] {
        &self.probabilities
    }

    /// Starts a round: computes the distribution and draws an arm (an index into `arms`).
    pub fn choose(&mut self) -> usize {
        self.round += 1;
        let eta = 2.0 / (self.round as f64).sqrt();
        self.probabilities = weights(&self.cumulative, eta);
        let u: f64 = self.rng.random();
        let mut acc = 0.0;
        let mut chosen = self.arms.len().saturating_sub(1);
        for (i, p) in self.probabilities.iter().enumerate() {
            acc += p;
            if u < acc {
                chosen = i;
                break;
            }
        }
        chosen
    }

    /// Ends the round: the chosen `arm` suffered `loss` (clamped to [0, 1]); its estimated
    /// cumulative loss grows by `loss / p_arm` (importance weighting).
    pub fn update(&mut self, arm: usize, loss: f64) {
        if arm >= self.arms.len() {
            return;
        }
        let loss = if loss.is_finite() {
            loss.clamp(0.0, 1.0)
        } else {
            1.0
        };
        let p = self.probabilities[arm].max(1e-300);
        self.cumulative[arm] += loss / p;
    }
}

/// `p_i = 4 / (η (L_i − x))²` normalized by Newton's method on `x < min L`: the function
/// `Σ p_i(x) − 1` is increasing and convex there, so Newton from a point where it is
/// non-negative (`x = min L − 2/η` gives the best arm `p = 1`) decreases monotonically to the root.
fn weights(cumulative: &[f64], eta: f64) -> Vec<f64> {
    let n = cumulative.len();
    if n == 0 {
        return Vec::new();
    }
    let min = cumulative.iter().copied().fold(f64::INFINITY, f64::min);
    let mut x = min - 2.0 / eta;
    for _ in 0..100 {
        let mut sum = 0.0;
        let mut derivative = 0.0;
        for &l in cumulative {
            let gap = eta * (l - x);
            let p = 4.0 / (gap * gap);
            sum += p;
            // d/dx 4 (η (l − x))^(−2) = 8 η / (η (l − x))³
            derivative += 8.0 * eta / (gap * gap * gap);
        }
        let step = (sum - 1.0) / derivative;
        x -= step;
        if step.abs() < 1e-14 * (1.0 + x.abs()) {
            break;
        }
    }
    let mut p: Vec<f64> = cumulative
        .iter()
        .map(|&l| 4.0 / (eta * (l - x)).powi(2))
        .collect();
    let total: f64 = p.iter().sum();
    p.iter_mut().for_each(|v| *v /= total);
    p
}

/// The arms of "Learning to Relax": 20 omegas, linspace(1, 1.95, 20).
pub fn relax_arms() -> Vec<f64> {
    (0..20).map(|i| 1.0 + 0.05 * i as f64).collect()
}

/// What an online run of Tsallis-INF over a SOR sequence cost.
#[derive(Clone, Debug, PartialEq)]
pub struct OnlineRun {
    /// Iterations summed over the sequence.
    pub total_iterations: u64,
    /// The omega played on each system.
    pub chosen: Vec<f64>,
    /// The iterations of each system.
    pub iterations: Vec<u32>,
}

/// Runs Tsallis-INF over the systems of `sequence` in order: for each system it picks an
/// omega, solves the system with it, and learns from the loss `iterations / max_iterations`.
pub fn tsallis_on_sor(sequence: &SorSequence, arms: Vec<f64>, seed: u64) -> OnlineRun {
    let mut learner = TsallisInf::new(arms, seed);
    let mut x = sequence.workspace();
    let cap = f64::from(sequence.max_iterations());
    let mut chosen = Vec::with_capacity(sequence.len());
    let mut iterations = Vec::with_capacity(sequence.len());
    for t in 0..sequence.len() {
        let arm = learner.choose();
        let omega = learner.arms()[arm];
        let solve = sequence.solve(t, omega, &mut x, None);
        learner.update(arm, f64::from(solve.iterations) / cap);
        chosen.push(omega);
        iterations.push(solve.iterations);
    }
    OnlineRun {
        total_iterations: iterations.iter().map(|&k| u64::from(k)).sum(),
        chosen,
        iterations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsallis_weights_sum_to_one_and_favour_small_losses() {
        let p = weights(&[0.0, 5.0, 20.0], 0.5);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(p[0] > p[1] && p[1] > p[2]);
        let uniform = weights(&[0.0; 4], 2.0);
        assert!(uniform.iter().all(|v| (v - 0.25).abs() < 1e-12));
    }

    #[test]
    fn tsallis_learns_the_best_arm_of_a_stochastic_bandit() {
        let mut learner = TsallisInf::new(vec![0.0, 1.0, 2.0, 3.0], 9);
        let means = [0.6, 0.3, 0.7, 0.8];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut pulls = [0u32; 4];
        for _ in 0..5000 {
            let arm = learner.choose();
            pulls[arm] += 1;
            let loss = if rng.random::<f64>() < means[arm] {
                1.0
            } else {
                0.0
            };
            learner.update(arm, loss);
        }
        assert!(pulls[1] > 3500, "{pulls:?}");
        assert!(learner.probabilities()[1] > 0.8);
    }
}
