//! Nelder–Mead simplex search, ask/tell, on `[0,1]^n` (sequential: one point in flight).
#![allow(clippy::needless_range_loop)] // index-heavy linear algebra reads best with indices

use super::AskTell;

#[derive(Clone, Debug)]
enum Phase {
    /// Evaluating vertex `index` of the initial simplex.
    Init {
        index: usize,
    },
    Reflect,
    Expand {
        reflected: Vec<f64>,
        reflected_cost: f64,
    },
    ContractOutside {
        reflected_cost: f64,
    },
    ContractInside,
    /// Evaluating the shrunk vertex `index` (1..=n).
    Shrink {
        index: usize,
    },
}

/// Nelder–Mead (reflection 1, expansion 2, contraction 0.5, shrink 0.5), points clamped to
/// the unit cube. It is sequential: until the pending point is told, `ask` returns it again.
/// Restarts around the best vertex when the simplex collapses.
pub struct NelderMead {
    n: usize,
    step: f64,
    /// (point, cost), cost = -score; sorted best first between iterations.
    simplex: Vec<(Vec<f64>, f64)>,
    phase: Phase,
    pending: Option<Vec<f64>>,
    centroid: Vec<f64>,
}

impl NelderMead {
    /// Starts from `start` with an initial simplex of edge `step` (e.g. 0.1).
    pub fn new(start: Vec<f64>, step: f64) -> NelderMead {
        let n = start.len().max(1);
        let mut start = start;
        start.resize(n, 0.5);
        let mut nm = NelderMead {
            n,
            step,
            simplex: Vec::new(),
            phase: Phase::Init { index: 0 },
            pending: None,
            centroid: vec![],
        };
        nm.init_simplex(start.into_iter().map(|v| v.clamp(0.0, 1.0)).collect());
        nm
    }

    fn init_simplex(&mut self, start: Vec<f64>) {
        self.simplex = (0..=self.n)
            .map(|k| {
                let mut x = start.clone();
                if k > 0 {
                    let i = k - 1;
                    x[i] = if x[i] + self.step <= 1.0 {
                        x[i] + self.step
                    } else {
                        x[i] - self.step
                    };
                }
                (x, f64::NAN)
            })
            .collect();
        self.phase = Phase::Init { index: 0 };
    }

    /// The best vertex so far and its score.
    pub fn best(&self) -> Option<(&[f64], f64)> {
        self.simplex
            .iter()
            .filter(|(_, c)| !c.is_nan())
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(x, c)| (x.as_slice(), -c))
    }

    fn sort(&mut self) {
        self.simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    }

    fn along(&self, from: &[f64], to: &[f64], t: f64) -> Vec<f64> {
        from.iter()
            .zip(to)
            .map(|(a, b)| (a + t * (b - a)).clamp(0.0, 1.0))
            .collect()
    }

    /// Starts a new iteration: sort, check for collapse, compute the reflection.
    fn iterate(&mut self) -> Vec<f64> {
        self.sort();
        let n = self.n;
        let best = self.simplex[0].0.clone();
        let diameter = self
            .simplex
            .iter()
            .map(|(x, _)| {
                x.iter()
                    .zip(&best)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max)
            })
            .fold(0.0, f64::max);
        let flat = (self.simplex[n].1 - self.simplex[0].1).abs()
            <= 1e-12 * self.simplex[0].1.abs().max(1e-12);
        if diameter < 1e-9 || flat {
            self.step = (self.step * 0.5).max(1e-3);
            self.init_simplex(best);
            return self.simplex[0].0.clone();
        }
        self.centroid = (0..n)
            .map(|i| self.simplex[..n].iter().map(|(x, _)| x[i]).sum::<f64>() / n as f64)
            .collect();
        self.phase = Phase::Reflect;
        let worst = self.simplex[n].0.clone();
        // c + (c - worst)
        self.along(&self.centroid, &worst, -1.0)
    }

    fn next_point(&mut self) -> Vec<f64> {
        match &self.phase {
            Phase::Init { index } => self.simplex[*index].0.clone(),
            Phase::Shrink { index } => self.simplex[*index].0.clone(),
            _ => self.iterate(),
        }
    }

    fn replace_worst(&mut self, x: Vec<f64>, cost: f64) -> Vec<f64> {
        let n = self.n;
        self.simplex[n] = (x, cost);
        self.iterate()
    }

    fn shrink(&mut self) -> Vec<f64> {
        let best = self.simplex[0].0.clone();
        for k in 1..=self.n {
            let x = self.along(&best, &self.simplex[k].0, 0.5);
            self.simplex[k] = (x, f64::NAN);
        }
        self.phase = Phase::Shrink { index: 1 };
        self.simplex[1].0.clone()
    }

    /// Advances the state machine with the cost of the pending point; returns the next point.
    fn advance(&mut self, x: Vec<f64>, cost: f64) -> Vec<f64> {
        let n = self.n;
        match self.phase.clone() {
            Phase::Init { index } => {
                self.simplex[index].1 = cost;
                if index < n {
                    self.phase = Phase::Init { index: index + 1 };
                    self.simplex[index + 1].0.clone()
                } else {
                    self.iterate()
                }
            }
            Phase::Shrink { index } => {
                self.simplex[index].1 = cost;
                if index < n {
                    self.phase = Phase::Shrink { index: index + 1 };
                    self.simplex[index + 1].0.clone()
                } else {
                    self.iterate()
                }
            }
            Phase::Reflect => {
                let best = self.simplex[0].1;
                let second_worst = self.simplex[n - 1].1;
                let worst = self.simplex[n].1;
                if cost < best {
                    let expanded = self.along(&self.centroid, &x, 2.0);
                    self.phase = Phase::Expand {
                        reflected: x,
                        reflected_cost: cost,
                    };
                    expanded
                } else if cost < second_worst {
                    self.replace_worst(x, cost)
                } else if cost < worst {
                    self.phase = Phase::ContractOutside {
                        reflected_cost: cost,
                    };
                    self.along(&self.centroid, &x, 0.5)
                } else {
                    self.phase = Phase::ContractInside;
                    let worst_x = self.simplex[n].0.clone();
                    self.along(&self.centroid, &worst_x, 0.5)
                }
            }
            Phase::Expand {
                reflected,
                reflected_cost,
            } => {
                if cost < reflected_cost {
                    self.replace_worst(x, cost)
                } else {
                    self.replace_worst(reflected, reflected_cost)
                }
            }
            Phase::ContractOutside { reflected_cost } => {
                if cost <= reflected_cost {
                    self.replace_worst(x, cost)
                } else {
                    self.shrink()
                }
            }
            Phase::ContractInside => {
                if cost < self.simplex[n].1 {
                    self.replace_worst(x, cost)
                } else {
                    self.shrink()
                }
            }
        }
    }
}

impl AskTell for NelderMead {
    fn ask(&mut self) -> Vec<f64> {
        if let Some(pending) = &self.pending {
            return pending.clone();
        }
        let x = self.next_point();
        self.pending = Some(x.clone());
        x
    }

    fn tell(&mut self, x: &[f64], score: f64) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let same =
            pending.len() == x.len() && pending.iter().zip(x).all(|(a, b)| (a - b).abs() <= 1e-9);
        if !same {
            // A point the simplex did not ask for: keep waiting for ours.
            self.pending = Some(pending);
            return;
        }
        let cost = if score.is_nan() {
            f64::MAX
        } else {
            (-score).min(f64::MAX)
        };
        let next = self.advance(pending, cost);
        self.pending = Some(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimizes_a_quadratic() {
        let mut nm = NelderMead::new(vec![0.9, 0.1, 0.5], 0.1);
        for _ in 0..400 {
            let x = nm.ask();
            let f = (x[0] - 0.2).powi(2) + 2.0 * (x[1] - 0.7).powi(2) + (x[2] - 0.4).powi(2);
            nm.tell(&x, -f);
        }
        let (best, score) = nm.best().map(|(x, s)| (x.to_vec(), s)).unwrap_or_default();
        assert!(score > -1e-6, "{best:?} {score}");
    }
}
