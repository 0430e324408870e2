//! Native objectives of params tasks: numerical solvers whose parameters are tuned, run as
//! plain Rust, deterministic given their seed.
//!
//! Every objective reports a *cost* (lower is better): solver iterations for (a)–(c), the
//! function value for (d). The params kind scores a candidate as `score = -cost`.
//!
//! - [`sor`]: successive over-relaxation over a sequence of shifted 2-D Laplacian systems
//!   (the "Learning to Relax" setting); variable `omega`.
//! - [`ssor_cg`]: SSOR-preconditioned conjugate gradients on Crank–Nicolson steps of a 2-D
//!   heat equation whose diffusion coefficient varies in time; variable `omega`.
//! - [`heavy_ball`]: Polyak's heavy-ball method on ill-conditioned quadratics with a known
//!   spectrum `[mu, L]`; variables `alpha` (step) and `beta` (momentum).
//! - [`test_function`]: a shifted, rotated quadratic or Rosenbrock function in a few
//!   variables, minimized from its value alone (Trace's numerical-optimization setting).

pub mod heavy_ball;
pub mod rng;
pub mod sor;
pub mod ssor_cg;
pub mod test_function;

use std::collections::BTreeMap;

/// What one evaluation of a native objective found.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The cost (lower is better): iterations summed over the instances, or a function value.
    pub cost: f64,
    /// What the cost counts, for feedback and metrics ("SOR iterations", "f(x)").
    pub cost_unit: &'static str,
    /// Further numbers for the evaluation's metrics (instances not converged, ...).
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// Text for the model: the cost and an excerpt of the solver's trace.
    pub feedback: String,
    /// Structured per-instance results.
    pub trace: serde_json::Value,
}

/// A native objective: reads its variables (in the order of [`Objective::variable_names`])
/// and reports a cost. Deterministic and thread-safe.
pub trait Objective: Send + Sync {
    /// The objective's name as written in task.toml (`sor`, `ssor_cg`, ...).
    fn name(&self) -> &'static str;

    /// The variables the objective reads, in the order `evaluate` takes them. `None` means
    /// it takes every variable of the task, in the task's order (test functions).
    fn variable_names(&self) -> Option<&'static [&'static str]>;

    /// One evaluation at `values`.
    fn evaluate(&self, values: &[f64]) -> Report;

    /// A paragraph on what is computed and how the cost is counted (#Documentation).
    fn documentation(&self) -> String;
}

/// The names of the built-in objectives, for error messages.
pub const NAMES: [&str; 4] = ["sor", "ssor_cg", "heavy_ball", "test_function"];

/// Formats a count with thin grouping for feedback (12345 -> "12,345").
pub(crate) fn group_digits(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Log-spaced checkpoints of a residual history, kept in a fixed array (no allocation in
/// the solver's loop): iterations 1, 2, 3, 5, 8, 12, 18, ... and always the last one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct History {
    points: [(u32, f64); History::CAPACITY],
    len: usize,
    next: u32,
}

impl Default for History {
    fn default() -> History {
        History::new()
    }
}

impl History {
    const CAPACITY: usize = 40;

    pub fn new() -> History {
        History {
            points: [(0, 0.0); History::CAPACITY],
            len: 0,
            next: 1,
        }
    }

    /// Offers the residual after `iteration`; kept if it is a checkpoint.
    #[inline]
    pub fn offer(&mut self, iteration: u32, residual: f64) {
        if iteration >= self.next && self.len < History::CAPACITY {
            self.points[self.len] = (iteration, residual);
            self.len += 1;
            self.next = (iteration + 1).max(iteration + iteration / 2);
        }
    }

    /// Records the final residual (if not recorded already).
    pub fn finish(&mut self, iteration: u32, residual: f64) {
        if self.len > 0 && self.points[self.len - 1].0 == iteration {
            return;
        }
        if self.len == History::CAPACITY {
            self.len -= 1;
        }
        self.points[self.len] = (iteration, residual);
        self.len += 1;
    }

    pub fn points(&self) -> &[(u32, f64)] {
        &self.points[..self.len]
    }

    /// The average contraction of the residual per iteration over the second half of the
    /// history, if there is one.
    pub fn contraction(&self) -> Option<f64> {
        let points = self.points();
        let (last_k, last_r) = *points.last()?;
        let (first_k, first_r) = *points
            .iter()
            .rev()
            .find(|(k, _)| *k <= last_k / 2 && *k > 0)?;
        if last_k <= first_k || first_r <= 0.0 || last_r <= 0.0 || !last_r.is_finite() {
            return None;
        }
        Some((last_r / first_r).powf(1.0 / f64::from(last_k - first_k)))
    }

    /// "1: 9.1e-1, 2: 8.3e-1, ..." for feedback.
    pub fn render(&self) -> String {
        self.points()
            .iter()
            .map(|(k, r)| format!("{k}: {r:.2e}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Summary statistics of per-instance iteration counts, for feedback.
pub(crate) fn iteration_summary(iterations: &[u32]) -> String {
    if iterations.is_empty() {
        return "no instances".into();
    }
    let mut sorted = iterations.to_vec();
    sorted.sort_unstable();
    let pick = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    format!(
        "min {}, median {}, 90th percentile {}, max {}",
        sorted[0],
        pick(0.5),
        pick(0.9),
        sorted[sorted.len() - 1]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_log_spaced_checkpoints_and_the_last() {
        let mut h = History::new();
        for k in 1..=1000u32 {
            h.offer(k, 0.9f64.powi(k as i32));
        }
        h.finish(1000, 0.9f64.powi(1000));
        let ks: Vec<u32> = h.points().iter().map(|p| p.0).collect();
        assert_eq!(&ks[..6], &[1, 2, 3, 4, 6, 9]);
        assert_eq!(*ks.last().unwrap(), 1000);
        assert!(ks.len() < 25);
        let c = h.contraction().unwrap();
        assert!((c - 0.9).abs() < 1e-9, "{c}");
    }

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(12345), "12,345");
        assert_eq!(group_digits(1234567), "1,234,567");
    }
}
