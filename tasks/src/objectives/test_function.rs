//! (d) A parametric test function minimized from its value alone, as in Trace's numerical
//! optimization example: a shifted, rotated quadratic or Rosenbrock function of the task's
//! variables. The feedback is the value and a sentence, never a gradient or a direction.
//!
//! With `z = R (x − s)`, `R` a rotation and `s` a shift drawn from the seed:
//! - `quadratic`: `f(x) = Σ_i κ^(i/(d−1)) z_i²` (condition number κ);
//! - `rosenbrock`: `f(x) = Σ_i 100 (y_{i+1} − y_i²)² + (1 − y_i)²` with `y = z + 1`.
//!
//! Both have their minimum value 0 at `x = s` only.

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use serde::Deserialize;

use super::{Objective, Report};

/// Which test function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    Quadratic,
    Rosenbrock,
}

/// The `[params]` options of `objective = "test_function"`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFunctionConfig {
    #[serde(default = "default_function")]
    pub function: Function,
    /// Seed of the rotation and the shift.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The minimizer's coordinates are uniform in [-shift, shift].
    #[serde(default = "default_shift")]
    pub shift: f64,
    /// Condition number of the quadratic.
    #[serde(default = "default_condition")]
    pub condition: f64,
}

fn default_function() -> Function {
    Function::Rosenbrock
}
fn default_seed() -> u64 {
    3
}
fn default_shift() -> f64 {
    2.0
}
fn default_condition() -> f64 {
    100.0
}

impl Default for TestFunctionConfig {
    fn default() -> TestFunctionConfig {
        TestFunctionConfig {
            function: default_function(),
            seed: default_seed(),
            shift: default_shift(),
            condition: default_condition(),
        }
    }
}

impl TestFunctionConfig {
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(self.shift.is_finite() && self.shift >= 0.0) {
            return Err((
                "shift",
                format!("{} must be a non-negative number", self.shift),
            ));
        }
        if !(self.condition.is_finite() && self.condition >= 1.0) {
            return Err((
                "condition",
                format!("{} must be a number >= 1", self.condition),
            ));
        }
        Ok(())
    }
}

/// A shifted, rotated test function in `dimension` variables.
#[derive(Clone, Debug)]
pub struct TestFunction {
    function: Function,
    dimension: usize,
    /// Row-major d x d orthogonal matrix.
    rotation: Vec<f64>,
    shift: Vec<f64>,
    /// Per-coordinate weights of the quadratic.
    weights: Vec<f64>,
}

impl TestFunction {
    pub fn new(config: &TestFunctionConfig, dimension: usize) -> TestFunction {
        let d = dimension.max(1);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(config.seed);
        // Gram–Schmidt on a Gaussian matrix gives a random orthogonal matrix.
        let mut rotation = vec![0.0; d * d];
        for i in 0..d {
            loop {
                let mut row: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
                for j in 0..i {
                    let dot: f64 = (0..d).map(|k| row[k] * rotation[j * d + k]).sum();
                    for k in 0..d {
                        row[k] -= dot * rotation[j * d + k];
                    }
                }
                let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm > 1e-6 {
                    for k in 0..d {
                        rotation[i * d + k] = row[k] / norm;
                    }
                    break;
                }
            }
        }
        let shift = (0..d)
            .map(|_| rng.random_range(-config.shift..=config.shift))
            .collect();
        let weights = (0..d)
            .map(|i| {
                if d == 1 {
                    1.0
                } else {
                    config.condition.powf(i as f64 / (d - 1) as f64)
                }
            })
            .collect();
        TestFunction {
            function: config.function,
            dimension: d,
            rotation,
            shift,
            weights,
        }
    }

    /// The unique minimizer `s`.
    pub fn minimizer(&self) -> &[f64] {
        &self.shift
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// `f(x)`; missing coordinates count as 0.
    pub fn value(&self, x: &[f64]) -> f64 {
        let d = self.dimension;
        let mut z = [0.0f64; 32];
        let mut heap;
        let z: &mut [f64] = if d <= 32 {
            &mut z[..d]
        } else {
            heap = vec![0.0; d];
            &mut heap
        };
        for (i, zi) in z.iter_mut().enumerate() {
            *zi = (0..d)
                .map(|k| {
                    self.rotation[i * d + k] * (x.get(k).copied().unwrap_or(0.0) - self.shift[k])
                })
                .sum();
        }
        match self.function {
            Function::Quadratic => z.iter().zip(&self.weights).map(|(zi, w)| w * zi * zi).sum(),
            Function::Rosenbrock => {
                if d == 1 {
                    return z[0] * z[0];
                }
                (0..d - 1)
                    .map(|i| {
                        let (a, b) = (z[i] + 1.0, z[i + 1] + 1.0);
                        100.0 * (b - a * a).powi(2) + (1.0 - a).powi(2)
                    })
                    .sum()
            }
        }
    }
}

/// The test-function objective (cost = the function's value).
#[derive(Clone, Debug)]
pub struct TestFunctionObjective {
    function: TestFunction,
    names: Vec<String>,
}

impl TestFunctionObjective {
    /// `names` are the task's variables, in order: the function's coordinates.
    pub fn new(config: &TestFunctionConfig, names: Vec<String>) -> TestFunctionObjective {
        TestFunctionObjective {
            function: TestFunction::new(config, names.len()),
            names,
        }
    }

    pub fn function(&self) -> &TestFunction {
        &self.function
    }
}

impl Objective for TestFunctionObjective {
    fn name(&self) -> &'static str {
        "test_function"
    }

    fn variable_names(&self) -> Option<&'static [&'static str]> {
        None
    }

    fn evaluate(&self, values: &[f64]) -> Report {
        let value = self.function.value(values);
        let point: Vec<String> = self
            .names
            .iter()
            .zip(values)
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let feedback = format!(
            "f({}) = {value:.6e}\nThe objective is the value of f; lower is better, and its smallest possible value is 0.\n",
            point.join(", ")
        );
        let mut metrics = std::collections::BTreeMap::new();
        metrics.insert("value".into(), value.into());
        Report {
            cost: value,
            cost_unit: "f(x)",
            metrics,
            feedback,
            trace: serde_json::json!({ "value": value }),
        }
    }

    fn documentation(&self) -> String {
        format!(
            "f is a black-box function of the {} variables ({}). Only its value is reported after each \
             evaluation; lower is better. Its minimum value is 0, reached at a single point inside the \
             variables' bounds.",
            self.names.len(),
            self.names.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_is_orthogonal() {
        let f = TestFunction::new(&TestFunctionConfig::default(), 5);
        let d = f.dimension();
        for i in 0..d {
            for j in 0..d {
                let dot: f64 = (0..d)
                    .map(|k| f.rotation[i * d + k] * f.rotation[j * d + k])
                    .sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((dot - expected).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn quadratic_is_positive_away_from_its_minimizer() {
        let config = TestFunctionConfig {
            function: Function::Quadratic,
            ..TestFunctionConfig::default()
        };
        let f = TestFunction::new(&config, 3);
        let s = f.minimizer().to_vec();
        assert_eq!(f.value(&s), 0.0);
        let moved: Vec<f64> = s.iter().map(|v| v + 0.01).collect();
        assert!(f.value(&moved) > 0.0);
    }
}
