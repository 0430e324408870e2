//! [`BuiltinProposer`]: candidates from an ask/tell optimizer, over values or marked constants.

use std::collections::BTreeMap;

use hone_tasks::{Candidate, PromptMaterial, VariableSpec};

use super::{AskTell, CmaEs, Dimension, NelderMead, TunableSpace, TunerError};
use crate::reply::is_candidate_file;

/// Which optimizer the builtin proposer runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Algorithm {
    /// CMA-ES with IPOP restarts; handles several proposals in flight. The default.
    #[default]
    CmaEs,
    /// Nelder–Mead; sequential (use with concurrency 1).
    NelderMead,
}

/// Settings of the builtin proposer.
#[derive(Clone, Debug, PartialEq)]
pub struct TunerConfig {
    pub algorithm: Algorithm,
    /// Initial step in the unit cube (CMA-ES sigma, Nelder–Mead simplex edge).
    pub initial_step: f64,
    /// CMA-ES population (default 4 + 3 ln n).
    pub population: Option<usize>,
}

impl Default for TunerConfig {
    fn default() -> TunerConfig {
        TunerConfig {
            algorithm: Algorithm::CmaEs,
            initial_step: 0.3,
            population: None,
        }
    }
}

enum Target {
    Values { specs: Vec<VariableSpec> },
    Code,
}

/// Proposes candidates with no model: asks its optimizer for a point, and writes it into a
/// copy of the base candidate (values for params tasks, rewritten literals for code with
/// `hone:tune` markers). Deterministic given the seed and the sequence of observations.
pub struct BuiltinProposer {
    target: Target,
    base: Candidate,
    dimensions: Vec<Dimension>,
    optimizer: Box<dyn AskTell>,
}

impl BuiltinProposer {
    /// Tunes the task's variables; `base` supplies other values and files (and starting
    /// values, else each variable's `initial`).
    pub fn for_variables(
        specs: &[VariableSpec],
        base: Candidate,
        config: &TunerConfig,
        seed: u64,
    ) -> Result<BuiltinProposer, TunerError> {
        if specs.is_empty() {
            return Err(TunerError::NothingToTune);
        }
        let dimensions = specs
            .iter()
            .map(Dimension::from_variable)
            .collect::<Result<Vec<_>, _>>()?;
        let start = super::values_of(specs, &base)
            .into_iter()
            .zip(&dimensions)
            .map(|(value, d)| d.normalize(value))
            .collect();
        Ok(BuiltinProposer {
            optimizer: optimizer(start, config, seed),
            target: Target::Values {
                specs: specs.to_vec(),
            },
            base,
            dimensions,
        })
    }

    /// Tunes the constants marked `// hone:tune` in the base candidate's files.
    pub fn for_code(
        base: Candidate,
        config: &TunerConfig,
        seed: u64,
    ) -> Result<BuiltinProposer, TunerError> {
        let program: BTreeMap<String, String> = base
            .files
            .iter()
            .filter(|(name, _)| is_candidate_file(name))
            .map(|(n, t)| (n.clone(), t.clone()))
            .collect();
        let constants = TunableSpace::from_code(&program)?;
        if constants.is_empty() {
            return Err(TunerError::NothingToTune);
        }
        let dimensions: Vec<Dimension> = constants.iter().map(Dimension::from_constant).collect();
        let start = constants
            .iter()
            .zip(&dimensions)
            .map(|(c, d)| d.normalize(c.value))
            .collect();
        Ok(BuiltinProposer {
            optimizer: optimizer(start, config, seed),
            target: Target::Code,
            base,
            dimensions,
        })
    }

    /// Variables if the task has any, else the marked constants of `seed_candidate`.
    pub fn for_task(
        material: &PromptMaterial,
        seed_candidate: &Candidate,
        config: &TunerConfig,
        seed: u64,
    ) -> Result<BuiltinProposer, TunerError> {
        if material.variables.is_empty() {
            BuiltinProposer::for_code(seed_candidate.clone(), config, seed)
        } else {
            BuiltinProposer::for_variables(
                &material.variables,
                seed_candidate.clone(),
                config,
                seed,
            )
        }
    }

    /// The search space, one dimension per variable or marked constant.
    pub fn dimensions(&self) -> &[Dimension] {
        &self.dimensions
    }

    /// The next candidate to evaluate.
    pub fn propose(&mut self) -> Candidate {
        let x = self.optimizer.ask();
        let values: Vec<f64> = self
            .dimensions
            .iter()
            .zip(&x)
            .map(|(d, t)| d.denormalize(*t))
            .collect();
        self.candidate_of(&values)
    }

    fn candidate_of(&self, values: &[f64]) -> Candidate {
        let mut candidate = self.base.clone();
        match &self.target {
            Target::Values { specs } => {
                for (spec, value) in specs.iter().zip(values) {
                    candidate.values.insert(
                        spec.name.clone(),
                        crate::reply::variable_value(spec, *value),
                    );
                }
            }
            Target::Code => {
                let program: BTreeMap<String, String> = self
                    .base
                    .files
                    .iter()
                    .filter(|(n, _)| is_candidate_file(n))
                    .map(|(n, t)| (n.clone(), t.clone()))
                    .collect();
                // The base parsed at construction, so this succeeds; keep the base if not.
                if let Ok(rewritten) = TunableSpace::apply(&program, values) {
                    candidate.files.extend(rewritten);
                }
            }
        }
        candidate
    }

    /// The point of a candidate in the unit cube, if it fits this space (same variables, or
    /// the same number of marked constants).
    fn encode(&self, candidate: &Candidate) -> Option<Vec<f64>> {
        let values: Vec<f64> = match &self.target {
            Target::Values { specs } => super::values_of(specs, candidate),
            Target::Code => {
                let program: BTreeMap<String, String> = candidate
                    .files
                    .iter()
                    .filter(|(n, _)| is_candidate_file(n))
                    .map(|(n, t)| (n.clone(), t.clone()))
                    .collect();
                TunableSpace::from_code(&program)
                    .ok()?
                    .iter()
                    .map(|c| c.value)
                    .collect()
            }
        };
        (values.len() == self.dimensions.len()).then(|| {
            self.dimensions
                .iter()
                .zip(values)
                .map(|(d, v)| d.normalize(v))
                .collect()
        })
    }

    /// Tells the optimizer a candidate's score (higher is better; `NEG_INFINITY` or NaN for
    /// invalid ones). Returns false when the candidate does not fit the space (ignored).
    pub fn observe(&mut self, candidate: &Candidate, score: f64) -> bool {
        match self.encode(candidate) {
            Some(x) => {
                self.optimizer.tell(&x, score);
                true
            }
            None => false,
        }
    }
}

fn optimizer(start: Vec<f64>, config: &TunerConfig, seed: u64) -> Box<dyn AskTell> {
    match config.algorithm {
        Algorithm::CmaEs => Box::new(CmaEs::new(
            start,
            config.initial_step,
            config.population,
            seed,
        )),
        Algorithm::NelderMead => Box::new(NelderMead::new(start, config.initial_step.min(0.5))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hone_tasks::{Scale, VariableType};

    #[test]
    fn tunes_a_marked_constant_in_c() {
        let code = "int main() {\n  double w = 0.2; // hone:tune 0.0..1.0\n  return 0;\n}\n";
        let base = Candidate::from_file("main.c", code);
        let mut proposer = BuiltinProposer::for_code(base.clone(), &TunerConfig::default(), 1);
        let Ok(proposer) = proposer.as_mut() else {
            panic!("no constant found")
        };
        let mut best = f64::NEG_INFINITY;
        for _ in 0..150 {
            let candidate = proposer.propose();
            let value = TunableSpace::from_code(&candidate.files).unwrap_or_default()[0].value;
            let score = -(value - 0.73).powi(2);
            best = best.max(score);
            proposer.observe(&candidate, score);
        }
        assert!(best > -1e-4, "{best}");
        assert!(
            BuiltinProposer::for_code(
                Candidate::from_file("main.c", "int x = 1;"),
                &TunerConfig::default(),
                1
            )
            .is_err()
        );
    }

    #[test]
    fn values_respect_types_and_bounds() {
        let specs = vec![
            VariableSpec {
                name: "n".into(),
                kind: VariableType::Int,
                lower: 1.0,
                upper: 64.0,
                scale: Scale::Log,
                initial: 8.0,
                description: String::new(),
            },
            VariableSpec {
                name: "w".into(),
                kind: VariableType::Float,
                lower: 1.0,
                upper: 2.0,
                scale: Scale::Linear,
                initial: 1.5,
                description: String::new(),
            },
        ];
        let mut proposer = BuiltinProposer::for_variables(
            &specs,
            Candidate::default(),
            &TunerConfig::default(),
            5,
        );
        let Ok(proposer) = proposer.as_mut() else {
            panic!("bad specs")
        };
        for _ in 0..50 {
            let candidate = proposer.propose();
            let n = candidate
                .values
                .get("n")
                .and_then(|v| v.as_i64())
                .unwrap_or(-1);
            let w = candidate
                .values
                .get("w")
                .and_then(|v| v.as_f64())
                .unwrap_or(-1.0);
            assert!((1..=64).contains(&n) && (1.0..=2.0).contains(&w), "{n} {w}");
            proposer.observe(&candidate, -(w - 1.9).abs());
        }
    }
}
