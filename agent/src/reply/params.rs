//! Checking a params suggestion against the task's variables: types, bounds, clamping.

use std::collections::BTreeMap;
use std::fmt;

use hone_tasks::{VariableSpec, VariableType};
use serde_json::{Map, Value};

use super::ReplyError;

/// A value the parser changed to fit its variable; shown in the next prompt's feedback.
#[derive(Clone, Debug, PartialEq)]
pub struct ClampNote {
    pub name: String,
    pub requested: f64,
    pub applied: f64,
    pub reason: ClampReason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClampReason {
    BelowLower,
    AboveUpper,
    RoundedToInt,
}

impl fmt::Display for ClampNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.reason {
            ClampReason::BelowLower => "is below the lower bound",
            ClampReason::AboveUpper => "is above the upper bound",
            ClampReason::RoundedToInt => "is not an integer",
        };
        write!(
            f,
            "{}={} {why}; used {}",
            self.name, self.requested, self.applied
        )
    }
}

/// All variable values after a suggestion, and what was clamped.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamsUpdate {
    pub values: BTreeMap<String, Value>,
    pub clamps: Vec<ClampNote>,
}

/// Applies `suggestion` over `current` (variables missing from both take their initial
/// value): every name must be a variable, every value a number (or a numeric string);
/// ints are rounded and values clamped to bounds, each change noted.
pub fn apply_suggestion(
    suggestion: &Map<String, Value>,
    specs: &[VariableSpec],
    current: &BTreeMap<String, Value>,
) -> Result<ParamsUpdate, ReplyError> {
    let mut values = BTreeMap::new();
    for spec in specs {
        let value = current
            .get(&spec.name)
            .cloned()
            .unwrap_or_else(|| typed(spec, spec.initial));
        values.insert(spec.name.clone(), value);
    }
    let mut clamps = Vec::new();
    for (name, raw) in suggestion {
        let Some(spec) = specs.iter().find(|s| s.name == *name) else {
            let known = specs
                .iter()
                .map(|s| format!("`{}`", s.name))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ReplyError::UnknownVariable {
                name: name.clone(),
                known,
            });
        };
        let number = match raw {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|x| x.is_finite())
        .ok_or_else(|| ReplyError::NotANumber {
            name: name.clone(),
            value: super::short_json(raw),
        })?;
        let mut applied = number;
        if spec.kind == VariableType::Int && applied.fract() != 0.0 {
            let rounded = applied.round();
            clamps.push(ClampNote {
                name: name.clone(),
                requested: applied,
                applied: rounded,
                reason: ClampReason::RoundedToInt,
            });
            applied = rounded;
        }
        if applied < spec.lower {
            clamps.push(ClampNote {
                name: name.clone(),
                requested: number,
                applied: spec.lower,
                reason: ClampReason::BelowLower,
            });
            applied = spec.lower;
        } else if applied > spec.upper {
            clamps.push(ClampNote {
                name: name.clone(),
                requested: number,
                applied: spec.upper,
                reason: ClampReason::AboveUpper,
            });
            applied = spec.upper;
        }
        values.insert(name.clone(), typed(spec, applied));
    }
    Ok(ParamsUpdate { values, clamps })
}

/// The JSON value of a variable: an integer for int variables, a float otherwise.
pub fn typed(spec: &VariableSpec, value: f64) -> Value {
    match spec.kind {
        VariableType::Int => Value::from(value.round() as i64),
        VariableType::Float => Value::from(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hone_tasks::Scale;

    fn spec(name: &str, kind: VariableType, lower: f64, upper: f64) -> VariableSpec {
        VariableSpec {
            name: name.into(),
            kind,
            lower,
            upper,
            scale: Scale::Linear,
            initial: lower,
            description: String::new(),
        }
    }

    #[test]
    fn clamps_rounds_and_keeps_missing() {
        let specs = [
            spec("omega", VariableType::Float, 1.0, 2.0),
            spec("n", VariableType::Int, 1.0, 10.0),
            spec("k", VariableType::Float, 0.0, 1.0),
        ];
        let suggestion: Map<String, Value> =
            serde_json::from_str(r#"{"omega": 2.5, "n": "3.6"}"#).unwrap_or_default();
        let mut current = BTreeMap::new();
        current.insert("k".to_string(), Value::from(0.25));
        let update = apply_suggestion(&suggestion, &specs, &current);
        let update = update.unwrap_or(ParamsUpdate {
            values: BTreeMap::new(),
            clamps: vec![],
        });
        assert_eq!(update.values.get("omega"), Some(&Value::from(2.0)));
        assert_eq!(update.values.get("n"), Some(&Value::from(4)));
        assert_eq!(update.values.get("k"), Some(&Value::from(0.25)));
        let notes: Vec<String> = update.clamps.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            notes,
            [
                "n=3.6 is not an integer; used 4",
                "omega=2.5 is above the upper bound; used 2"
            ]
        );
    }

    #[test]
    fn rejects_unknown_and_non_numbers() {
        let specs = [spec("omega", VariableType::Float, 1.0, 2.0)];
        let unknown: Map<String, Value> =
            serde_json::from_str(r#"{"omgea": 1.5}"#).unwrap_or_default();
        let err = apply_suggestion(&unknown, &specs, &BTreeMap::new())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("`omgea`") && err.contains("`omega`"), "{err}");
        let text: Map<String, Value> =
            serde_json::from_str(r#"{"omega": "fast"}"#).unwrap_or_default();
        assert!(matches!(
            apply_suggestion(&text, &specs, &BTreeMap::new()),
            Err(ReplyError::NotANumber { .. })
        ));
    }
}
