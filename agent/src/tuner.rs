//! The `builtin` proposer: derivative-free optimization (CMA-ES, Nelder–Mead) over a task's
//! numeric variables or over constants marked tunable in code, with no model.
//!
//! # Marking constants tunable
//!
//! End a line of C or Rust that holds exactly one numeric literal with a marker comment:
//!
//! ```text
//! double omega = 1.5;      // hone:tune 1.0..2.0
//! int iters = 100;         // hone:tune 10..10000 log int
//! const EPS: f64 = 1e-6;   // hone:tune 1e-9..1e-3 log
//! ```
//!
//! Syntax: `// hone:tune LO..HI [log] [int]`. `LO..HI` are the inclusive bounds; `log`
//! searches on a log scale (bounds must be positive); `int` rounds to integers (integer
//! literals are always rounded). A unary minus belongs to the literal (`x = -3;`). On
//! rewrite the literal keeps its style: a float literal stays a float (`2.0`, never `2`), a
//! type suffix (`f64`, `_f32`, `f`, `u32`) is kept, and a negative value right after a binary
//! `-`/`+` is parenthesised. A marker on a line without exactly one literal is an error
//! naming the file and line.
//!
//! # Ask/tell
//!
//! Optimizers implement [`AskTell`] over the unit cube `[0,1]^n`; [`Dimension`] maps each
//! coordinate to its variable (linear or log scale, clamped, rounded for ints). Higher
//! scores are better; pass `f64::NEG_INFINITY` (or NaN) for invalid candidates.

pub mod baselines;
mod builtin;
mod cmaes;
pub mod grid;
mod nelder_mead;
pub mod tsallis;
mod tunable;

use hone_tasks::{Candidate, Scale, VariableSpec, VariableType};

pub use baselines::{GridProposer, TsallisProposer};
pub use builtin::{Algorithm, BuiltinProposer, TunerConfig};
pub use cmaes::CmaEs;
pub use nelder_mead::NelderMead;
pub use tunable::{TunableConstant, TunableSpace, format_float};

/// A candidate's value of each variable, in the variables' order; a missing or non-numeric
/// value takes the variable's initial value.
pub(crate) fn values_of(specs: &[VariableSpec], candidate: &Candidate) -> Vec<f64> {
    specs
        .iter()
        .map(|s| {
            candidate
                .values
                .get(&s.name)
                .and_then(|v| v.as_f64())
                .unwrap_or(s.initial)
        })
        .collect()
}

/// A derivative-free optimizer over `[0,1]^n`: `ask` a point, `tell` its score (higher is
/// better). Points told need not be ones asked (other proposers' candidates count too),
/// though Nelder–Mead only advances on its own.
pub trait AskTell: Send {
    fn ask(&mut self) -> Vec<f64>;
    fn tell(&mut self, x: &[f64], score: f64);
}

/// Why the builtin tuner cannot run.
#[derive(Debug, thiserror::Error)]
pub enum TunerError {
    #[error("{file}:{line}: bad `hone:tune` marker: {message}")]
    Marker {
        file: String,
        line: usize,
        message: String,
    },

    #[error("the files hold {expected} tunable constant(s) but {got} value(s) were given")]
    Mismatch { expected: usize, got: usize },

    #[error(
        "nothing to tune: the task has no variables and its code marks no constant\nhint: mark a numeric literal with `// hone:tune LO..HI` at the end of its line, or use a model (--llm openai)"
    )]
    NothingToTune,

    #[error(
        "the task has no value variables: grid and Tsallis-INF search a params task's variables\nhint: use --llm builtin (it also tunes `hone:tune` constants in code) or a model"
    )]
    NoVariables,

    #[error("variable `{name}`: {message}")]
    Variable { name: String, message: String },
}

/// One coordinate of the search space.
#[derive(Clone, Debug, PartialEq)]
pub struct Dimension {
    pub name: String,
    pub lower: f64,
    pub upper: f64,
    pub scale: Scale,
    pub int: bool,
}

impl Dimension {
    pub fn from_variable(spec: &VariableSpec) -> Result<Dimension, TunerError> {
        let error = |message: &str| TunerError::Variable {
            name: spec.name.clone(),
            message: message.to_string(),
        };
        if !(spec.lower.is_finite() && spec.upper.is_finite() && spec.lower < spec.upper) {
            return Err(error("bounds must be finite with lower < upper"));
        }
        if spec.scale == Scale::Log && spec.lower <= 0.0 {
            return Err(error("a log-scale variable needs a positive lower bound"));
        }
        Ok(Dimension {
            name: spec.name.clone(),
            lower: spec.lower,
            upper: spec.upper,
            scale: spec.scale,
            int: spec.kind == VariableType::Int,
        })
    }

    pub fn from_constant(constant: &TunableConstant) -> Dimension {
        Dimension {
            name: constant.name(),
            lower: constant.lower,
            upper: constant.upper,
            scale: constant.scale,
            int: constant.int,
        }
    }

    /// The value's coordinate in `[0,1]`.
    pub fn normalize(&self, value: f64) -> f64 {
        let value = if value.is_finite() {
            value.clamp(self.lower, self.upper)
        } else {
            self.lower
        };
        let t = match self.scale {
            Scale::Linear => (value - self.lower) / (self.upper - self.lower),
            Scale::Log => (value.ln() - self.lower.ln()) / (self.upper.ln() - self.lower.ln()),
        };
        if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// The value at coordinate `t` (clamped to `[0,1]`; rounded for ints).
    pub fn denormalize(&self, t: f64) -> f64 {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let value = match self.scale {
            Scale::Linear => self.lower + t * (self.upper - self.lower),
            Scale::Log => (self.lower.ln() + t * (self.upper.ln() - self.lower.ln())).exp(),
        };
        let value = value.clamp(self.lower, self.upper);
        if self.int {
            value
                .round()
                .clamp(self.lower.ceil(), self.upper.floor().max(self.lower.ceil()))
        } else {
            value
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_dimension_round_trips() {
        let d = Dimension {
            name: "eps".into(),
            lower: 1e-6,
            upper: 1e-2,
            scale: Scale::Log,
            int: false,
        };
        assert!((d.normalize(1e-4) - 0.5).abs() < 1e-12);
        assert!((d.denormalize(0.5) - 1e-4).abs() < 1e-15);
        assert_eq!(d.denormalize(7.0), 1e-2);
        let i = Dimension {
            name: "n".into(),
            lower: 1.0,
            upper: 10.0,
            scale: Scale::Linear,
            int: true,
        };
        assert_eq!(i.denormalize(0.51), 6.0);
    }
}
