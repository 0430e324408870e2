//! What a node is measured by beyond its score: the behaviour descriptors of `map-elites`
//! and the objectives of Pareto selection (`--objectives`).
//!
//! A [`Measure`] names one number of a node: its public `score`, its `fuel`, its code
//! length `code_len` (bytes of the candidate's files), its peak `memory` (the evaluation's
//! `peak_memory_bytes`), or any numeric metric of its evaluation by name. The orchestrator
//! reads the run's measures (descriptors first, then objectives) from each stored node into
//! [`TreeNode::measures`](super::TreeNode::measures); a value the evaluation lacks is NaN.

use std::fmt;

use hone_store::NodeRecord;
use serde::{Deserialize, Serialize};

/// One number of a node.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// The public score (higher is better: a minimizing task's score is already inverted).
    Score,
    /// Fuel the public evaluation spent (the evaluation's `fuel`).
    Fuel,
    /// Bytes of the candidate's files (0 for a params candidate, which has none).
    CodeLen,
    /// Peak memory of the public evaluation (its `peak_memory_bytes` metric).
    Memory,
    /// A numeric metric of the evaluation, by name.
    Metric(String),
}

/// Whether an objective is better higher or lower.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Max,
    Min,
}

impl Direction {
    pub fn label(self) -> &'static str {
        match self {
            Direction::Max => "higher is better",
            Direction::Min => "lower is better",
        }
    }
}

/// The built-in measures' names, as a spec writes them.
pub const BUILT_IN: [&str; 4] = ["score", "fuel", "code_len", "memory"];

impl Measure {
    /// A measure by name: a built-in, else the evaluation's metric of that name.
    pub fn parse(name: &str) -> Result<Measure, SpecError> {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
        if !valid {
            return Err(SpecError::BadName(name.to_string()));
        }
        Ok(match name {
            "score" => Measure::Score,
            "fuel" => Measure::Fuel,
            "code_len" => Measure::CodeLen,
            "memory" => Measure::Memory,
            other => Measure::Metric(other.to_string()),
        })
    }

    pub fn name(&self) -> &str {
        match self {
            Measure::Score => "score",
            Measure::Fuel => "fuel",
            Measure::CodeLen => "code_len",
            Measure::Memory => "memory",
            Measure::Metric(name) => name,
        }
    }

    /// The built-in direction: score higher, fuel, code length and memory lower; a task's
    /// metric has none (its spec must say).
    pub fn default_direction(&self) -> Option<Direction> {
        match self {
            Measure::Score => Some(Direction::Max),
            Measure::Fuel | Measure::CodeLen | Measure::Memory => Some(Direction::Min),
            Measure::Metric(_) => None,
        }
    }

    /// The value of this measure for a stored node (its public evaluation); NaN when the
    /// evaluation has none.
    pub fn value(&self, record: &NodeRecord) -> f64 {
        let e = &record.evaluation;
        let metric = |name: &str| {
            e.metrics
                .get(name)
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(f64::NAN)
        };
        match self {
            Measure::Score => e.score.unwrap_or(f64::NAN),
            Measure::Fuel => e.fuel.map(|f| f as f64).unwrap_or_else(|| metric("fuel")),
            Measure::CodeLen => record.files.values().map(|t| t.len() as f64).sum(),
            Measure::Memory => metric("peak_memory_bytes"),
            Measure::Metric(name) => metric(name),
        }
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A behaviour descriptor: a measure cut into `bins` equal bins over `[min, max]`.
/// A value below `min` falls in the first bin, one above `max` in the last (clamped, as
/// OpenEvolve's feature binning does): an archive keeps every valid candidate somewhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    pub measure: Measure,
    pub min: f64,
    pub max: f64,
    pub bins: usize,
}

impl Descriptor {
    /// `NAME:MIN..MAX:BINS`, e.g. `fuel:0..1e9:10`.
    pub fn parse(spec: &str) -> Result<Descriptor, SpecError> {
        let spec = spec.trim();
        let bad = |why: String| SpecError::Descriptor {
            spec: spec.to_string(),
            why,
        };
        let parts: Vec<&str> = spec.split(':').collect();
        let [name, range, bins] = parts[..] else {
            return Err(bad(
                "write NAME:MIN..MAX:BINS, e.g. fuel:0..1e9:10".to_string()
            ));
        };
        let measure = Measure::parse(name.trim())?;
        let Some((lo, hi)) = range.split_once("..") else {
            return Err(bad(format!(
                "the range `{range}` must be MIN..MAX, e.g. 0..4000"
            )));
        };
        let number = |text: &str, what: &str| {
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    bad(format!(
                        "the range's {what} `{text}` is not a finite number"
                    ))
                })
        };
        let (min, max) = (number(lo, "minimum")?, number(hi, "maximum")?);
        let bins: usize = bins.trim().parse().map_err(|_| {
            bad(format!(
                "the bin count `{bins}` is not a whole number of bins"
            ))
        })?;
        Descriptor::new(measure, min, max, bins).map_err(|why| bad(why.to_string()))
    }

    /// A checked descriptor: `min < max`, both finite, at least one bin (and at most 1000).
    pub fn new(
        measure: Measure,
        min: f64,
        max: f64,
        bins: usize,
    ) -> Result<Descriptor, &'static str> {
        if !(min.is_finite() && max.is_finite()) {
            return Err("the range's ends must be finite numbers");
        }
        if min >= max {
            return Err("the range is empty: its minimum must be below its maximum");
        }
        if bins == 0 {
            return Err("zero bins: a descriptor needs at least one bin");
        }
        if bins > MAX_BINS {
            return Err("too many bins: at most 1000 per descriptor");
        }
        Ok(Descriptor {
            measure,
            min,
            max,
            bins,
        })
    }

    /// The bin of `value`: `[min + i·w, min + (i+1)·w)` is bin `i` (w = (max - min)/bins),
    /// the last bin closed at `max`; values outside the range clamp to the first or last
    /// bin. `None` for NaN (the node has no such value: it stays out of the archive).
    pub fn bin(&self, value: f64) -> Option<usize> {
        if value.is_nan() {
            return None;
        }
        if value <= self.min {
            return Some(0);
        }
        if value >= self.max {
            return Some(self.bins - 1);
        }
        let position = (value - self.min) / (self.max - self.min) * self.bins as f64;
        Some((position.floor() as usize).min(self.bins - 1))
    }

    /// The bounds of bin `i`.
    pub fn bin_range(&self, i: usize) -> (f64, f64) {
        let width = (self.max - self.min) / self.bins as f64;
        (
            self.min + width * i as f64,
            self.min + width * (i + 1) as f64,
        )
    }

    /// The spec this descriptor parses from.
    pub fn spec(&self) -> String {
        format!("{}:{}..{}:{}", self.measure, self.min, self.max, self.bins)
    }
}

/// Bins one descriptor may have.
pub const MAX_BINS: usize = 1000;

/// Cells a grid may have (the product of its descriptors' bins).
pub const MAX_CELLS: usize = 1_000_000;

/// The descriptors of a grid, checked together: at least one, no measure twice, at most
/// [`MAX_CELLS`] cells.
pub fn check_grid(descriptors: &[Descriptor]) -> Result<(), SpecError> {
    if descriptors.is_empty() {
        return Err(SpecError::NoDescriptors);
    }
    for (i, d) in descriptors.iter().enumerate() {
        if descriptors[..i].iter().any(|e| e.measure == d.measure) {
            return Err(SpecError::Repeated(d.measure.to_string()));
        }
    }
    let cells = descriptors
        .iter()
        .try_fold(1usize, |n, d| n.checked_mul(d.bins))
        .filter(|&n| n <= MAX_CELLS);
    if cells.is_none() {
        return Err(SpecError::TooManyCells);
    }
    Ok(())
}

/// One objective of Pareto selection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    pub measure: Measure,
    pub direction: Direction,
}

impl Objective {
    /// `NAME` (a built-in with its own direction) or `NAME:min` / `NAME:max`.
    pub fn parse(spec: &str) -> Result<Objective, SpecError> {
        let spec = spec.trim();
        let (name, direction) = match spec.split_once(':') {
            Some((name, "min")) => (name, Some(Direction::Min)),
            Some((name, "max")) => (name, Some(Direction::Max)),
            Some((_, other)) => {
                return Err(SpecError::Direction {
                    spec: spec.to_string(),
                    direction: other.to_string(),
                });
            }
            None => (spec, None),
        };
        let measure = Measure::parse(name)?;
        let direction = direction
            .or(measure.default_direction())
            .ok_or_else(|| SpecError::NoDirection(name.to_string()))?;
        Ok(Objective { measure, direction })
    }

    /// `value` turned so that higher is better.
    pub fn oriented(&self, value: f64) -> f64 {
        match self.direction {
            Direction::Max => value,
            Direction::Min => -value,
        }
    }
}

/// `a,b,...`: at least two objectives, none twice.
pub fn parse_objectives(spec: &str) -> Result<Vec<Objective>, SpecError> {
    let objectives: Vec<Objective> = spec
        .split(',')
        .map(Objective::parse)
        .collect::<Result<_, _>>()?;
    check_objectives(&objectives)?;
    Ok(objectives)
}

/// At least two objectives, no measure twice.
pub fn check_objectives(objectives: &[Objective]) -> Result<(), SpecError> {
    if objectives.len() < 2 {
        return Err(SpecError::OneObjective);
    }
    for (i, o) in objectives.iter().enumerate() {
        if objectives[..i].iter().any(|p| p.measure == o.measure) {
            return Err(SpecError::Repeated(o.measure.to_string()));
        }
    }
    Ok(())
}

/// `a,b,...` descriptors (see [`Descriptor::parse`]), checked as a grid.
pub fn parse_descriptors(spec: &str) -> Result<Vec<Descriptor>, SpecError> {
    let descriptors: Vec<Descriptor> = spec
        .split(',')
        .map(Descriptor::parse)
        .collect::<Result<_, _>>()?;
    check_grid(&descriptors)?;
    Ok(descriptors)
}

/// A descriptor or objective spec that cannot be used; each names what is wrong.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error(
        "`{0}` is not a measure name: use score, fuel, code_len, memory or a metric of the task's evaluation (letters, digits, `_`, `-`, `.`)"
    )]
    BadName(String),
    #[error("descriptor `{spec}`: {why}")]
    Descriptor { spec: String, why: String },
    #[error(
        "map-elites needs at least one descriptor (--descriptors NAME:MIN..MAX:BINS,... or descriptors in task.toml's [search.map_elites])"
    )]
    NoDescriptors,
    #[error("`{0}` is given twice")]
    Repeated(String),
    #[error("the grid has more than 1000000 cells: use fewer bins")]
    TooManyCells,
    #[error("objective `{spec}`: the direction `{direction}` is neither `min` nor `max`")]
    Direction { spec: String, direction: String },
    #[error(
        "objective `{0}` is a task metric: say whether lower or higher is better (`{0}:min` or `{0}:max`)"
    )]
    NoDirection(String),
    #[error("--objectives needs at least two objectives, e.g. score,fuel")]
    OneObjective,
}

/// A measure the run asked for that a valid evaluation of the task does not have.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "{role} `{measure}`: the evaluation of node {node} has no numeric `{measure}`; {}",
    available_text(available)
)]
pub struct MissingMeasure {
    /// `descriptor` or `objective`.
    pub role: &'static str,
    pub measure: String,
    pub node: i64,
    /// The numeric metrics the evaluation has.
    pub available: Vec<String>,
}

fn available_text(available: &[String]) -> String {
    if available.is_empty() {
        "it has no numeric metric (use score or code_len)".to_string()
    } else {
        format!(
            "its numeric metrics are: {} (besides score and code_len)",
            available.join(", ")
        )
    }
}

/// The numeric metrics of a stored evaluation, by name.
pub fn numeric_metrics(record: &NodeRecord) -> Vec<String> {
    match &record.evaluation.metrics {
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(_, v)| v.is_number())
            .map(|(k, _)| k.clone())
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_half_open_and_clamp_out_of_range_values() {
        let d = Descriptor::parse("code_len:0..100:4").unwrap();
        assert_eq!(d.measure, Measure::CodeLen);
        assert_eq!(d.bin(0.0), Some(0));
        assert_eq!(d.bin(24.999), Some(0));
        assert_eq!(d.bin(25.0), Some(1), "a bin's lower edge belongs to it");
        assert_eq!(d.bin(74.9), Some(2));
        assert_eq!(d.bin(75.0), Some(3));
        assert_eq!(d.bin(100.0), Some(3), "the last bin is closed at max");
        assert_eq!(d.bin(-5.0), Some(0), "below the range: the first bin");
        assert_eq!(d.bin(1e12), Some(3), "above the range: the last bin");
        assert_eq!(d.bin(f64::INFINITY), Some(3));
        assert_eq!(d.bin(f64::NEG_INFINITY), Some(0));
        assert_eq!(d.bin(f64::NAN), None, "no value: no cell");
        assert_eq!(d.bin_range(1), (25.0, 50.0));
        let e = Descriptor::parse("fuel:0..1e9:10").unwrap();
        assert_eq!(e.bin(1e8), Some(1));
        assert_eq!(e.bin(999_999_999.0), Some(9));
        assert_eq!(Descriptor::parse(&e.spec()).unwrap(), e);
    }

    #[test]
    fn bad_descriptor_specs_name_what_is_wrong() {
        let err = |spec: &str| Descriptor::parse(spec).unwrap_err().to_string();
        assert!(
            err("fuel:0..1e9:0").contains("zero bins"),
            "{}",
            err("fuel:0..1e9:0")
        );
        assert!(err("fuel:10..10:3").contains("range is empty"));
        assert!(err("fuel:10..1:3").contains("range is empty"));
        assert!(err("fuel:0..x:3").contains("maximum `x` is not a finite number"));
        assert!(err("fuel:nan..1:3").contains("minimum `nan`"));
        assert!(err("fuel:0-10:3").contains("must be MIN..MAX"));
        assert!(err("fuel:0..10:-1").contains("bin count `-1`"));
        assert!(err("fuel:0..10:2000").contains("too many bins"));
        assert!(err("fuel").contains("NAME:MIN..MAX:BINS"));
        assert!(err("fu el:0..1:2").contains("`fu el` is not a measure name"));
        let twice = parse_descriptors("fuel:0..1:2,fuel:0..2:2").unwrap_err();
        assert_eq!(twice, SpecError::Repeated("fuel".into()));
        let many = parse_descriptors("a:0..1:1000,b:0..1:1000,c:0..1:2").unwrap_err();
        assert_eq!(many, SpecError::TooManyCells);
        assert_eq!(check_grid(&[]).unwrap_err(), SpecError::NoDescriptors);
    }

    #[test]
    fn objectives_take_built_in_directions_and_metrics_need_one() {
        let o = parse_objectives("score,fuel,speedup:max,code_len").unwrap();
        let directions: Vec<(String, Direction)> = o
            .iter()
            .map(|o| (o.measure.to_string(), o.direction))
            .collect();
        assert_eq!(
            directions,
            [
                ("score".to_string(), Direction::Max),
                ("fuel".to_string(), Direction::Min),
                ("speedup".to_string(), Direction::Max),
                ("code_len".to_string(), Direction::Min),
            ]
        );
        assert_eq!(o[1].oriented(5.0), -5.0);
        let err = |spec: &str| parse_objectives(spec).unwrap_err().to_string();
        assert!(err("score,speedup").contains("`speedup:min` or `speedup:max`"));
        assert!(err("score,fuel:down").contains("`down` is neither `min` nor `max`"));
        assert!(err("score").contains("at least two objectives"));
        assert!(err("score,fuel,score").contains("`score` is given twice"));
        assert!(err("score,").contains("`` is not a measure name"));
    }
}
