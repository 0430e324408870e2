//! CMA-ES (Hansen's covariance matrix adaptation) with IPOP restarts, ask/tell, on `[0,1]^n`.
#![allow(clippy::needless_range_loop)] // index-heavy linear algebra reads best with indices

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::AskTell;

/// CMA-ES over the unit cube. Samples are clamped into `[0,1]^n` and the clamped points are
/// what the update sees (repair). Maximizes the told score. Restarts with a doubled
/// population from a random mean when the step size collapses or the scores go flat (IPOP).
pub struct CmaEs {
    n: usize,
    rng: ChaCha8Rng,
    initial_sigma: f64,
    lambda: usize,
    mu: usize,
    weights: Vec<f64>,
    mueff: f64,
    cc: f64,
    cs: f64,
    c1: f64,
    cmu: f64,
    damps: f64,
    chi_n: f64,
    mean: Vec<f64>,
    sigma: f64,
    cov: Vec<Vec<f64>>,
    basis: Vec<Vec<f64>>,
    scales: Vec<f64>,
    pc: Vec<f64>,
    ps: Vec<f64>,
    generation: u32,
    /// (point, cost) told since the last update; cost = -score.
    told: Vec<(Vec<f64>, f64)>,
    restarts: bool,
    max_lambda: usize,
}

impl CmaEs {
    /// Starts at `mean` (in `[0,1]^n`) with step `sigma` (e.g. 0.3). `population` defaults to
    /// 4 + 3 ln n.
    pub fn new(mean: Vec<f64>, sigma: f64, population: Option<usize>, seed: u64) -> CmaEs {
        let n = mean.len().max(1);
        let lambda = population
            .unwrap_or(4 + (3.0 * (n as f64).ln()).floor() as usize)
            .max(4);
        let mut cma = CmaEs {
            n,
            rng: ChaCha8Rng::seed_from_u64(seed),
            initial_sigma: sigma,
            lambda,
            mu: 0,
            weights: Vec::new(),
            mueff: 0.0,
            cc: 0.0,
            cs: 0.0,
            c1: 0.0,
            cmu: 0.0,
            damps: 0.0,
            chi_n: 0.0,
            mean: Vec::new(),
            sigma,
            cov: Vec::new(),
            basis: Vec::new(),
            scales: Vec::new(),
            pc: Vec::new(),
            ps: Vec::new(),
            generation: 0,
            told: Vec::new(),
            restarts: true,
            max_lambda: lambda * 16,
        };
        let mut start = mean;
        start.resize(n, 0.5);
        cma.reset(start, lambda);
        cma
    }

    /// Turns IPOP restarts on or off (on by default).
    pub fn with_restarts(mut self, restarts: bool) -> CmaEs {
        self.restarts = restarts;
        self
    }

    fn reset(&mut self, mean: Vec<f64>, lambda: usize) {
        let n = self.n as f64;
        self.lambda = lambda;
        self.mu = lambda / 2;
        let raw: Vec<f64> = (1..=self.mu)
            .map(|i| (self.mu as f64 + 0.5).ln() - (i as f64).ln())
            .collect();
        let total: f64 = raw.iter().sum();
        self.weights = raw.iter().map(|w| w / total).collect();
        self.mueff = 1.0 / self.weights.iter().map(|w| w * w).sum::<f64>();
        let mueff = self.mueff;
        self.cc = (4.0 + mueff / n) / (n + 4.0 + 2.0 * mueff / n);
        self.cs = (mueff + 2.0) / (n + mueff + 5.0);
        self.c1 = 2.0 / ((n + 1.3).powi(2) + mueff);
        self.cmu =
            (1.0 - self.c1).min(2.0 * (mueff - 2.0 + 1.0 / mueff) / ((n + 2.0).powi(2) + mueff));
        self.damps = 1.0 + 2.0 * (((mueff - 1.0) / (n + 1.0)).sqrt() - 1.0).max(0.0) + self.cs;
        self.chi_n = n.sqrt() * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n));
        self.mean = mean.into_iter().map(|m| m.clamp(0.0, 1.0)).collect();
        self.sigma = self.initial_sigma;
        self.cov = identity(self.n);
        self.basis = identity(self.n);
        self.scales = vec![1.0; self.n];
        self.pc = vec![0.0; self.n];
        self.ps = vec![0.0; self.n];
        self.generation = 0;
        self.told.clear();
    }

    /// The current mean (the optimizer's best guess), in `[0,1]^n`.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    fn update(&mut self) {
        let n = self.n;
        let mut told = std::mem::take(&mut self.told);
        told.sort_by(|a, b| a.1.total_cmp(&b.1));
        let best_cost = told.first().map(|t| t.1).unwrap_or(0.0);
        let worst_cost = told.last().map(|t| t.1).unwrap_or(0.0);
        let old = self.mean.clone();
        let ys: Vec<Vec<f64>> = told
            .iter()
            .take(self.mu)
            .map(|(x, _)| (0..n).map(|i| (x[i] - old[i]) / self.sigma).collect())
            .collect();
        let mut yw = vec![0.0; n];
        for (w, y) in self.weights.iter().zip(&ys) {
            for i in 0..n {
                yw[i] += w * y[i];
            }
        }
        for i in 0..n {
            self.mean[i] = (old[i] + self.sigma * yw[i]).clamp(0.0, 1.0);
        }
        // C^-1/2 yw = B D^-1 B^T yw
        let bt_yw: Vec<f64> = (0..n)
            .map(|j| (0..n).map(|i| self.basis[i][j] * yw[i]).sum::<f64>() / self.scales[j])
            .collect();
        let inv_sqrt_yw: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| self.basis[i][j] * bt_yw[j]).sum())
            .collect();
        let cs_factor = (self.cs * (2.0 - self.cs) * self.mueff).sqrt();
        for i in 0..n {
            self.ps[i] = (1.0 - self.cs) * self.ps[i] + cs_factor * inv_sqrt_yw[i];
        }
        self.generation += 1;
        let ps_norm = self.ps.iter().map(|v| v * v).sum::<f64>().sqrt();
        let hsig_denominator = (1.0 - (1.0 - self.cs).powi(2 * self.generation as i32))
            .sqrt()
            .max(1e-12);
        let hsig = ps_norm / hsig_denominator / self.chi_n < 1.4 + 2.0 / (n as f64 + 1.0);
        let cc_factor = (self.cc * (2.0 - self.cc) * self.mueff).sqrt();
        for i in 0..n {
            self.pc[i] = (1.0 - self.cc) * self.pc[i] + if hsig { cc_factor * yw[i] } else { 0.0 };
        }
        let delta_hsig = if hsig {
            0.0
        } else {
            self.c1 * self.cc * (2.0 - self.cc)
        };
        for i in 0..n {
            for j in 0..n {
                let rank_mu: f64 = self
                    .weights
                    .iter()
                    .zip(&ys)
                    .map(|(w, y)| w * y[i] * y[j])
                    .sum();
                self.cov[i][j] = (1.0 - self.c1 - self.cmu + delta_hsig) * self.cov[i][j]
                    + self.c1 * self.pc[i] * self.pc[j]
                    + self.cmu * rank_mu;
            }
        }
        self.sigma *= ((self.cs / self.damps) * (ps_norm / self.chi_n - 1.0)).exp();
        self.sigma = self.sigma.min(1.0);
        let (values, vectors) = jacobi_eigen(&self.cov);
        self.scales = values.iter().map(|v| v.max(1e-20).sqrt()).collect();
        self.basis = vectors;
        let max_scale = self.scales.iter().cloned().fold(0.0, f64::max);
        let min_scale = self.scales.iter().cloned().fold(f64::INFINITY, f64::min);
        let collapsed = self.sigma * max_scale < 1e-7
            || max_scale / min_scale.max(1e-300) > 1e7
            || (worst_cost - best_cost).abs() <= 1e-12 * best_cost.abs().max(1e-12);
        if self.restarts && collapsed {
            let lambda = (self.lambda * 2).min(self.max_lambda);
            let mean = (0..n).map(|_| self.rng.random::<f64>()).collect();
            self.reset(mean, lambda);
        }
    }
}

impl AskTell for CmaEs {
    fn ask(&mut self) -> Vec<f64> {
        let n = self.n;
        let z: Vec<f64> = (0..n)
            .map(|_| StandardNormal.sample(&mut self.rng))
            .collect();
        (0..n)
            .map(|i| {
                let y: f64 = (0..n)
                    .map(|j| self.basis[i][j] * self.scales[j] * z[j])
                    .sum();
                (self.mean[i] + self.sigma * y).clamp(0.0, 1.0)
            })
            .collect()
    }

    fn tell(&mut self, x: &[f64], score: f64) {
        if x.len() != self.n {
            return;
        }
        let cost = if score.is_nan() {
            f64::INFINITY
        } else {
            -score
        };
        // Infinite costs would poison nothing (only ranks are used), but keep them finite.
        let cost = if cost.is_finite() { cost } else { f64::MAX };
        self.told
            .push((x.iter().map(|v| v.clamp(0.0, 1.0)).collect(), cost));
        if self.told.len() >= self.lambda {
            self.update();
        }
    }
}

fn identity(n: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect()
}

/// Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations: (eigenvalues,
/// eigenvectors as columns). Fine for the small dimensions tuned here.
pub(super) fn jacobi_eigen(matrix: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = matrix.len();
    let mut a: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| 0.5 * (matrix[i][j] + matrix[j][i]))
                .collect()
        })
        .collect();
    let mut v = identity(n);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j] * a[i][j])
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k][p];
                    let akq = a[k][q];
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p][k];
                    let aqk = a[q][k];
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                for row in v.iter_mut() {
                    let vkp = row[p];
                    let vkq = row[q];
                    row[p] = c * vkp - s * vkq;
                    row[q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i][i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_reconstructs() {
        let m = vec![
            vec![4.0, 1.0, 0.5],
            vec![1.0, 3.0, 0.2],
            vec![0.5, 0.2, 1.0],
        ];
        let (values, vectors) = jacobi_eigen(&m);
        for i in 0..3 {
            for j in 0..3 {
                let r: f64 = (0..3)
                    .map(|k| vectors[i][k] * values[k] * vectors[j][k])
                    .sum();
                assert!((r - m[i][j]).abs() < 1e-9, "{i},{j}: {r}");
            }
        }
    }

    #[test]
    fn converges_on_a_sphere() {
        let mut cma = CmaEs::new(vec![0.9; 4], 0.3, None, 1).with_restarts(false);
        for _ in 0..600 {
            let x = cma.ask();
            let f: f64 = x.iter().map(|v| (v - 0.3) * (v - 0.3)).sum();
            cma.tell(&x, -f);
        }
        assert!(
            cma.mean().iter().all(|m| (m - 0.3).abs() < 1e-3),
            "{:?}",
            cma.mean()
        );
    }
}
