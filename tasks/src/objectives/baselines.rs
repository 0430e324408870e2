//! Baselines to compare proposers with at equal evaluations: grid search over the variables'
//! box, and the Tsallis-INF bandit over a grid of `omega` that learns online, one SOR system
//! at a time ("Learning to Relax").

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};

use super::sor::SorSequence;
use crate::task::{Scale, VariableSpec, VariableType};

/// The points of a grid search over the variables' box with at most `budget` points:
/// `k = ⌊budget^(1/d)⌋` levels per variable (linear or log spaced as the variable's scale
/// says; ints rounded and deduplicated), in lexicographic order (the first variable varies
/// slowest). With `k = 1` the single level is the box's centre.
pub fn grid_points(specs: &[VariableSpec], budget: usize) -> Vec<BTreeMap<String, f64>> {
    if specs.is_empty() || budget == 0 {
        return Vec::new();
    }
    let d = specs.len() as i32;
    let mut k = (budget as f64).powf(1.0 / f64::from(d)).floor().max(1.0) as usize;
    while k > 1 && k.checked_pow(d as u32).is_none_or(|n| n > budget) {
        k -= 1;
    }
    let levels: Vec<Vec<f64>> = specs.iter().map(|spec| levels(spec, k)).collect();
    let mut points = Vec::new();
    let mut index = vec![0usize; specs.len()];
    loop {
        points.push(
            specs
                .iter()
                .zip(&index)
                .zip(&levels)
                .map(|((s, &i), l)| (s.name.clone(), l[i]))
                .collect(),
        );
        // Odometer increment, last variable fastest.
        let mut position = specs.len();
        loop {
            if position == 0 {
                return points;
            }
            position -= 1;
            index[position] += 1;
            if index[position] < levels[position].len() {
                break;
            }
            index[position] = 0;
        }
    }
}

/// `k` levels of one variable over its bounds.
fn levels(spec: &VariableSpec, k: usize) -> Vec<f64> {
    let (lo, hi) = (spec.lower, spec.upper);
    let log = spec.scale == Scale::Log && lo > 0.0;
    let mut out: Vec<f64> = (0..k)
        .map(|i| {
            let u = if k == 1 {
                0.5
            } else {
                i as f64 / (k - 1) as f64
            };
            let v = if log {
                (lo.ln() + u * (hi.ln() - lo.ln())).exp()
            } else {
                lo + u * (hi - lo)
            };
            let v = v.clamp(lo, hi);
            if spec.kind == VariableType::Int {
                v.round().clamp(lo.ceil(), hi.floor())
            } else {
                v
            }
        })
        .collect();
    out.dedup();
    out
}

/// The best point of a grid search and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct GridResult {
    pub best: BTreeMap<String, f64>,
    pub best_score: f64,
    pub evaluations: usize,
}

/// Evaluates `score` (higher is better) at every grid point (see [`grid_points`]) and keeps
/// the best; ties keep the earlier point. `None` when the grid is empty.
pub fn grid_search(
    specs: &[VariableSpec],
    budget: usize,
    mut score: impl FnMut(&BTreeMap<String, f64>) -> f64,
) -> Option<GridResult> {
    let points = grid_points(specs, budget);
    let evaluations = points.len();
    let mut best: Option<(BTreeMap<String, f64>, f64)> = None;
    for point in points {
        let s = score(&point);
        if best.as_ref().is_none_or(|(_, b)| s > *b) {
            best = Some((point, s));
        }
    }
    best.map(|(best, best_score)| GridResult {
        best,
        best_score,
        evaluations,
    })
}

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

    fn spec(name: &str, kind: VariableType, lower: f64, upper: f64, scale: Scale) -> VariableSpec {
        VariableSpec {
            name: name.into(),
            kind,
            lower,
            upper,
            scale,
            initial: lower,
            description: String::new(),
        }
    }

    #[test]
    fn grid_respects_budget_scale_and_ints() {
        let specs = [
            spec("a", VariableType::Float, 1e-3, 1e1, Scale::Log),
            spec("b", VariableType::Int, 0.0, 3.0, Scale::Linear),
        ];
        let points = grid_points(&specs, 20);
        // k = 4 levels each: 16 points.
        assert_eq!(points.len(), 16);
        let a: Vec<f64> = points.iter().step_by(4).map(|p| p["a"]).collect();
        assert!((a[1] / a[0] - 10f64.powf(4.0 / 3.0)).abs() < 1e-9, "{a:?}");
        let b: Vec<f64> = points[..4].iter().map(|p| p["b"]).collect();
        assert_eq!(b, vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(grid_points(&specs, 3).len(), 1);
    }

    #[test]
    fn grid_search_finds_the_best_point() {
        let specs = [spec("x", VariableType::Float, -1.0, 1.0, Scale::Linear)];
        let result = grid_search(&specs, 21, |p| -(p["x"] - 0.3).powi(2)).unwrap();
        assert_eq!(result.evaluations, 21);
        assert!((result.best["x"] - 0.3).abs() < 1e-9);
    }

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
