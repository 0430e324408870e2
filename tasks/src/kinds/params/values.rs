//! Variables of a params task: strict parsing of `[[params.variables]]` and the checking of a
//! candidate's values against them (type checks, rounding, clamping, with visible notes).

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::TaskError;
use crate::task::{Scale, VariableSpec, VariableType};

/// Keys a `[[params.variables]]` table accepts.
const VARIABLE_KEYS: [&str; 7] = [
    "name",
    "type",
    "lower",
    "upper",
    "scale",
    "initial",
    "description",
];

/// Parses `[[params.variables]]` strictly: every error names `params.variables[i].<key>`.
pub(crate) fn parse_variables(
    path: &Path,
    value: &toml::Value,
) -> Result<Vec<VariableSpec>, TaskError> {
    let field = |i: usize, key: &str| format!("params.variables[{i}].{key}");
    let array = value.as_array().ok_or_else(|| {
        TaskError::field(
            path,
            "params.variables",
            "must be an array of tables: write each as [[params.variables]]",
        )
    })?;
    if array.is_empty() {
        return Err(TaskError::field(
            path,
            "params.variables",
            "at least one variable is required",
        ));
    }
    let mut specs: Vec<VariableSpec> = Vec::with_capacity(array.len());
    for (i, item) in array.iter().enumerate() {
        let table = item.as_table().ok_or_else(|| {
            TaskError::field(
                path,
                format!("params.variables[{i}]"),
                "must be a table with name, type, lower, upper, initial",
            )
        })?;
        for key in table.keys() {
            if !VARIABLE_KEYS.contains(&key.as_str()) {
                return Err(TaskError::field(
                    path,
                    field(i, key),
                    format!("unknown key; accepted: {}", VARIABLE_KEYS.join(", ")),
                ));
            }
        }
        let string = |key: &str| -> Result<Option<String>, TaskError> {
            match table.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(TaskError::field(
                    path,
                    field(i, key),
                    format!("must be a string, not {}", other.type_str()),
                )),
            }
        };
        let number = |key: &str| -> Result<f64, TaskError> {
            let v = match table.get(key) {
                None => {
                    return Err(TaskError::field(
                        path,
                        field(i, key),
                        "missing (a number is required)",
                    ));
                }
                Some(toml::Value::Integer(n)) => *n as f64,
                Some(toml::Value::Float(f)) => *f,
                Some(other) => {
                    return Err(TaskError::field(
                        path,
                        field(i, key),
                        format!("must be a number, not {}", other.type_str()),
                    ));
                }
            };
            if v.is_finite() {
                Ok(v)
            } else {
                Err(TaskError::field(
                    path,
                    field(i, key),
                    "must be a finite number",
                ))
            }
        };
        let name = string("name")?.ok_or_else(|| {
            TaskError::field(path, field(i, "name"), "missing (a string is required)")
        })?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(TaskError::field(
                path,
                field(i, "name"),
                format!("`{name}` is not a valid name; use letters, digits and underscores"),
            ));
        }
        if specs.iter().any(|s| s.name == name) {
            return Err(TaskError::field(
                path,
                field(i, "name"),
                format!("`{name}` is declared twice"),
            ));
        }
        let kind = match string("type")?.as_deref() {
            Some("float") => VariableType::Float,
            Some("int") => VariableType::Int,
            Some(other) => {
                return Err(TaskError::field(
                    path,
                    field(i, "type"),
                    format!("unknown type `{other}`; accepted: float, int"),
                ));
            }
            None => {
                return Err(TaskError::field(
                    path,
                    field(i, "type"),
                    "missing; accepted: float, int",
                ));
            }
        };
        let scale = match string("scale")?.as_deref() {
            None | Some("linear") => Scale::Linear,
            Some("log") => Scale::Log,
            Some(other) => {
                return Err(TaskError::field(
                    path,
                    field(i, "scale"),
                    format!("unknown scale `{other}`; accepted: linear, log"),
                ));
            }
        };
        let (lower, upper, initial) = (number("lower")?, number("upper")?, number("initial")?);
        if lower > upper {
            return Err(TaskError::field(
                path,
                field(i, "lower"),
                format!("the lower bound {lower} is above the upper bound {upper}"),
            ));
        }
        if initial < lower || initial > upper {
            return Err(TaskError::field(
                path,
                field(i, "initial"),
                format!("the initial value {initial} is outside the bounds [{lower}, {upper}]"),
            ));
        }
        if kind == VariableType::Int {
            for (key, v) in [("lower", lower), ("upper", upper), ("initial", initial)] {
                if v.fract() != 0.0 {
                    return Err(TaskError::field(
                        path,
                        field(i, key),
                        format!("{v} is not an integer, and the variable is an int"),
                    ));
                }
            }
        }
        if scale == Scale::Log && lower <= 0.0 {
            return Err(TaskError::field(
                path,
                field(i, "lower"),
                format!("a log-scale variable needs a positive lower bound, not {lower}"),
            ));
        }
        let description = string("description")?.unwrap_or_default();
        specs.push(VariableSpec {
            name,
            kind,
            lower,
            upper,
            scale,
            initial,
            description,
        });
    }
    Ok(specs)
}

/// Checks a candidate's values against the variables. Returns every variable's value (in a
/// map by name) and notes for the feedback:
/// - a missing value, or one that is not a number (a bool, null, array, object, or a string
///   that does not parse as a finite number), takes the variable's initial value;
/// - a number given as a string is read, with a note;
/// - an int that is not whole is rounded to the nearest integer;
/// - a value outside `[lower, upper]` is clamped to the bound;
/// - a name that is not a variable is ignored.
pub fn check_values(
    specs: &[VariableSpec],
    values: &BTreeMap<String, serde_json::Value>,
) -> (BTreeMap<String, f64>, Vec<String>) {
    let mut checked = BTreeMap::new();
    let mut notes = Vec::new();
    for spec in specs {
        let name = &spec.name;
        let initial = spec.initial;
        let mut value = match values.get(name) {
            None => {
                notes.push(format!(
                    "{name} was missing; its initial value {} was used",
                    shown(initial)
                ));
                initial
            }
            Some(serde_json::Value::Number(n)) => match n.as_f64() {
                Some(v) if v.is_finite() => v,
                _ => {
                    notes.push(format!(
                        "{name}={n} is not a finite number; its initial value {} was used",
                        shown(initial)
                    ));
                    initial
                }
            },
            Some(serde_json::Value::String(s)) => match s.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => {
                    notes.push(format!(
                        "{name} was given as the string \"{s}\" and read as the number {}",
                        shown(v)
                    ));
                    v
                }
                _ => {
                    notes.push(format!(
                        "{name}=\"{}\" is not a number; its initial value {} was used",
                        crate::checker::trim_for_feedback(s, 60),
                        shown(initial)
                    ));
                    initial
                }
            },
            Some(other) => {
                let what = match other {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "a boolean",
                    serde_json::Value::Array(_) => "an array",
                    _ => "an object",
                };
                notes.push(format!(
                    "{name} must be a number, not {what}; its initial value {} was used",
                    shown(initial)
                ));
                initial
            }
        };
        if spec.kind == VariableType::Int && value.fract() != 0.0 {
            let rounded = value.round();
            notes.push(format!(
                "{name}={} is not an integer and was rounded to {}",
                shown(value),
                shown(rounded)
            ));
            value = rounded;
        }
        if value > spec.upper {
            notes.push(format!(
                "{name}={} was above its upper bound {} and was clamped to {}",
                shown(value),
                shown(spec.upper),
                shown(spec.upper)
            ));
            value = spec.upper;
        } else if value < spec.lower {
            notes.push(format!(
                "{name}={} was below its lower bound {} and was clamped to {}",
                shown(value),
                shown(spec.lower),
                shown(spec.lower)
            ));
            value = spec.lower;
        }
        checked.insert(name.clone(), value);
    }
    for name in values.keys() {
        if !specs.iter().any(|s| &s.name == name) {
            let known: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            notes.push(format!(
                "{name} is not a variable of this task and was ignored (variables: {})",
                known.join(", ")
            ));
        }
    }
    (checked, notes)
}

/// A number as the feedback writes it: plainly, or in exponent form when it is very large
/// or very small (`1e308`, not 309 digits).
fn shown(value: f64) -> String {
    if value != 0.0 && !(1e-4..1e15).contains(&value.abs()) {
        format!("{value:e}")
    } else {
        format!("{value}")
    }
}

/// The values as a JSON object, ints written as integers.
pub(crate) fn values_json(
    specs: &[VariableSpec],
    values: &BTreeMap<String, f64>,
) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    for spec in specs {
        let v = values.get(&spec.name).copied().unwrap_or(spec.initial);
        let json = if spec.kind == VariableType::Int && v.abs() < 9.0e15 {
            serde_json::Value::from(v as i64)
        } else {
            serde_json::Value::from(v)
        };
        object.insert(spec.name.clone(), json);
    }
    serde_json::Value::Object(object)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn specs() -> Vec<VariableSpec> {
        vec![
            VariableSpec {
                name: "omega".into(),
                kind: VariableType::Float,
                lower: 1.0,
                upper: 1.99,
                scale: Scale::Linear,
                initial: 1.0,
                description: String::new(),
            },
            VariableSpec {
                name: "levels".into(),
                kind: VariableType::Int,
                lower: 1.0,
                upper: 8.0,
                scale: Scale::Linear,
                initial: 2.0,
                description: String::new(),
            },
        ]
    }

    fn values(v: serde_json::Value) -> BTreeMap<String, serde_json::Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn values_in_bounds_pass_without_notes() {
        let (checked, notes) = check_values(&specs(), &values(json!({"omega": 1.5, "levels": 3})));
        assert_eq!(checked["omega"], 1.5);
        assert_eq!(checked["levels"], 3.0);
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn out_of_bounds_values_are_clamped_with_a_note() {
        let (checked, notes) = check_values(&specs(), &values(json!({"omega": 2.5, "levels": -4})));
        assert_eq!(checked["omega"], 1.99);
        assert_eq!(checked["levels"], 1.0);
        assert!(notes.contains(
            &"omega=2.5 was above its upper bound 1.99 and was clamped to 1.99".to_string()
        ));
        assert!(
            notes
                .iter()
                .any(|n| n.contains("levels=-4 was below its lower bound 1"))
        );
    }

    #[test]
    fn wrong_types_missing_values_and_unknown_names_are_noted() {
        let (checked, notes) = check_values(
            &specs(),
            &values(json!({"omega": "1.7", "levels": 2.6, "extra": true})),
        );
        assert_eq!(checked["omega"], 1.7);
        assert_eq!(checked["levels"], 3.0);
        assert_eq!(notes.len(), 3, "{notes:?}");
        let (checked, notes) = check_values(&specs(), &values(json!({"omega": [1.2]})));
        assert_eq!(checked["omega"], 1.0);
        assert_eq!(checked["levels"], 2.0);
        assert!(notes[0].contains("must be a number, not an array"));
        assert!(notes[1].contains("levels was missing"));
    }

    #[test]
    fn huge_and_tiny_values_are_named_in_exponent_form() {
        let (checked, notes) =
            check_values(&specs(), &values(json!({"omega": 1e308, "levels": -1e300})));
        assert_eq!((checked["omega"], checked["levels"]), (1.99, 1.0));
        assert_eq!(
            notes,
            [
                "omega=1e308 was above its upper bound 1.99 and was clamped to 1.99",
                "levels=-1e300 was below its lower bound 1 and was clamped to 1",
            ]
        );
        assert_eq!(shown(1e-5), "1e-5");
        assert_eq!(shown(0.001), "0.001");
        assert_eq!(shown(0.0), "0");
    }

    #[test]
    fn ints_are_written_as_integers() {
        let mut v = BTreeMap::new();
        v.insert("omega".to_string(), 1.25);
        v.insert("levels".to_string(), 4.0);
        assert_eq!(
            values_json(&specs(), &v).to_string(),
            r#"{"levels":4,"omega":1.25}"#
        );
    }
}
