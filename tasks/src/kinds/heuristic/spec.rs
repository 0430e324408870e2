//! The `[heuristic]` section of task.toml, checked strictly: seeds, limits, best-known scores.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::cascade::StageSection;
use crate::error::TaskError;
use crate::task::{LoadContext, TaskKind};

/// Whether higher or lower raw scores are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    Maximize,
    Minimize,
}

impl Objective {
    pub fn name(self) -> &'static str {
        match self {
            Objective::Maximize => "maximize",
            Objective::Minimize => "minimize",
        }
    }
}

/// The section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpec {
    pub objective: Option<Objective>,
    pub builtin: Option<String>,
    pub tools: Option<String>,
    /// Tools folders only: run `tester` (interactive) instead of `vis` (batch).
    pub interactive: Option<bool>,
    pub seed: String,
    pub public_seeds: toml::Value,
    pub private_seeds: Option<toml::Value>,
    pub best_known: Option<toml::Value>,
    #[serde(default)]
    pub zero_on_failure: bool,
    /// Builtins from a contest only: read outputs more strictly than the contest's tool.
    #[serde(default)]
    pub strict_output: bool,
    #[serde(default = "default_fuel")]
    pub fuel: u64,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u64,
    /// Wall-clock limit of each native tool run (gen, vis, tester), on top of the candidate's.
    #[serde(default = "default_tool_timeout_ms")]
    pub tool_timeout_ms: u64,
    /// Stages of public cases, cheap first (see `crate::cascade`).
    #[serde(default)]
    pub cascade: Vec<StageSection>,
}

fn default_fuel() -> u64 {
    2_000_000_000
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_memory_mb() -> u64 {
    256
}
fn default_tool_timeout_ms() -> u64 {
    60_000
}

/// Most seeds a set may name (each is a case run on every evaluation).
const MAX_SEEDS: usize = 10_000;

/// Parses the section, naming the field at fault.
pub(super) fn parse(context: &LoadContext) -> Result<RawSpec, TaskError> {
    if context.section.is_empty() {
        return Err(TaskError::field(
            &context.manifest_path,
            "heuristic",
            "missing: a heuristic task needs a [heuristic] section with `seed`, `public_seeds` and `builtin` or `tools`",
        ));
    }
    let spec: RawSpec = context.parse_section(TaskKind::Heuristic)?;
    let path = &context.manifest_path;
    let positive = [
        ("heuristic.fuel", spec.fuel),
        ("heuristic.timeout_ms", spec.timeout_ms),
        ("heuristic.memory_mb", spec.memory_mb),
        ("heuristic.tool_timeout_ms", spec.tool_timeout_ms),
    ];
    for (field, value) in positive {
        if value == 0 {
            return Err(TaskError::field(path, field, "must be positive, not 0"));
        }
    }
    if spec.memory_mb > 4096 {
        return Err(TaskError::field(
            path,
            "heuristic.memory_mb",
            format!("{} MiB is above the sandbox's 4096 MiB", spec.memory_mb),
        ));
    }
    Ok(spec)
}

/// A seed list: an array of non-negative integers, or a string range `"A..B"` (B excluded)
/// or `"A..=B"`.
pub(super) fn seeds(path: &Path, field: &str, value: &toml::Value) -> Result<Vec<u64>, TaskError> {
    let accepted = "accepted: an array of non-negative integers like [1, 2, 3], or a range \"0..20\" / \"0..=19\"";
    let seeds: Vec<u64> = match value {
        toml::Value::Array(items) => {
            let mut seeds = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item.as_integer().and_then(|n| u64::try_from(n).ok()) {
                    Some(n) => seeds.push(n),
                    None => {
                        return Err(TaskError::field(
                            path,
                            format!("{field}[{i}]"),
                            format!("`{item}` is not a non-negative integer; {accepted}"),
                        ));
                    }
                }
            }
            seeds
        }
        toml::Value::String(text) => {
            let bad =
                || TaskError::field(path, field, format!("`{text}` is not a range; {accepted}"));
            let (start, end, inclusive) = if let Some((a, b)) = text.split_once("..=") {
                (a, b, true)
            } else if let Some((a, b)) = text.split_once("..") {
                (a, b, false)
            } else {
                return Err(bad());
            };
            let start: u64 = start.trim().parse().map_err(|_| bad())?;
            let end: u64 = end.trim().parse().map_err(|_| bad())?;
            let end = if inclusive {
                end.saturating_add(1)
            } else {
                end
            };
            if end.saturating_sub(start) > MAX_SEEDS as u64 {
                return Err(TaskError::field(
                    path,
                    field,
                    format!("`{text}` names more than {MAX_SEEDS} seeds"),
                ));
            }
            (start..end).collect()
        }
        other => {
            return Err(TaskError::field(
                path,
                field,
                format!(
                    "must be an array or a string range, not {}; {accepted}",
                    other.type_str()
                ),
            ));
        }
    };
    if seeds.is_empty() {
        return Err(TaskError::field(
            path,
            field,
            format!("names no seed; {accepted}"),
        ));
    }
    if seeds.len() > MAX_SEEDS {
        return Err(TaskError::field(
            path,
            field,
            format!("names more than {MAX_SEEDS} seeds"),
        ));
    }
    let mut sorted = seeds.clone();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(TaskError::field(
            path,
            field,
            format!("seed {} appears twice", w[0]),
        ));
    }
    Ok(seeds)
}

/// Best-known raw scores by seed: an inline table `{ "0" = 123, ... }` or a file (relative to
/// the task folder) of lines `SEED SCORE` (`#` starts a comment).
pub(super) fn best_known(
    context: &LoadContext,
    value: &toml::Value,
) -> Result<BTreeMap<u64, f64>, TaskError> {
    let path = &context.manifest_path;
    let field = "heuristic.best_known";
    let mut out = BTreeMap::new();
    let positive = |seed: &str, score: f64| -> Result<f64, TaskError> {
        if score.is_finite() && score > 0.0 {
            Ok(score)
        } else {
            Err(TaskError::field(
                path,
                format!("{field}.{seed}"),
                format!("`{score}`: a best-known score must be a positive number"),
            ))
        }
    };
    match value {
        toml::Value::Table(table) => {
            for (key, v) in table {
                let seed: u64 = key.parse().map_err(|_| {
                    TaskError::field(
                        path,
                        format!("{field}.{key}"),
                        format!("`{key}` is not a seed (a non-negative integer)"),
                    )
                })?;
                let score = match v {
                    toml::Value::Integer(n) => *n as f64,
                    toml::Value::Float(x) => *x,
                    other => {
                        return Err(TaskError::field(
                            path,
                            format!("{field}.{key}"),
                            format!("must be a number, not {}", other.type_str()),
                        ));
                    }
                };
                out.insert(seed, positive(key, score)?);
            }
        }
        toml::Value::String(relative) => {
            let file = context.existing_path(field, relative)?;
            let text = crate::task::read_to_string(&file)?;
            for (number, line) in text.lines().enumerate() {
                let line = line.split('#').next().unwrap_or("").trim();
                if line.is_empty() {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let parsed = match (parts.next(), parts.next(), parts.next()) {
                    (Some(seed), Some(score), None) => {
                        seed.parse::<u64>().ok().zip(score.parse::<f64>().ok())
                    }
                    _ => None,
                };
                let Some((seed, score)) = parsed else {
                    return Err(TaskError::Parse {
                        path: file.clone(),
                        message: format!(
                            "line {}: `{line}`: expected `SEED SCORE` (two numbers)",
                            number + 1
                        ),
                    });
                };
                if !(score.is_finite() && score > 0.0) {
                    return Err(TaskError::Parse {
                        path: file.clone(),
                        message: format!(
                            "line {}: a best-known score must be a positive number, not {score}",
                            number + 1
                        ),
                    });
                }
                if out.insert(seed, score).is_some() {
                    return Err(TaskError::Parse {
                        path: file.clone(),
                        message: format!("line {}: seed {seed} appears twice", number + 1),
                    });
                }
            }
        }
        other => {
            return Err(TaskError::field(
                path,
                field,
                format!(
                    "must be a file name or a table {{ \"SEED\" = SCORE, ... }}, not {}",
                    other.type_str()
                ),
            ));
        }
    }
    Ok(out)
}
