//! The `[efficiency]` section of task.toml, parsed strictly: every error names its field in
//! full (`efficiency.hidden.generate[0]`) and says what is accepted.

use std::path::Path;

use serde::Deserialize;

use crate::cascade::{CASCADE_FORM, StageSection};
use crate::checker::CheckerSpec;
use crate::error::TaskError;
use crate::task::{TableError, deserialize_table};

/// Per-test fuel limit floor when `fuel_floor` is not given: enough for any runtime's start-up.
pub(crate) const DEFAULT_FUEL_FLOOR: u64 = 10_000_000;

/// The keys `[efficiency]` accepts, with what each takes (shown in errors).
const SECTION_KEYS: &[(&str, &str)] = &[
    (
        "seed",
        "path of the seed solution (.rs or .c), relative to the task folder",
    ),
    (
        "checker",
        "{ type = \"tokens\" | \"float\" | \"yes_no\" | \"program\", ... }",
    ),
    (
        "visible",
        "table { files = \"DIR\", generate = [\"SEED ARGS\", ...] }",
    ),
    (
        "hidden",
        "table { files = \"DIR\", generate = [\"SEED ARGS\", ...] }",
    ),
    (
        "generator",
        "path of a trusted generator program (.rs, .c, .cpp or .wat)",
    ),
    (
        "reference",
        "path of a trusted reference solution (default: the seed)",
    ),
    (
        "fuel_factor",
        "number >= 1: per-test fuel limit = fuel_factor x the seed's fuel on that test",
    ),
    (
        "fuel_floor",
        "a positive integer: smallest per-test fuel limit",
    ),
    (
        "memory_mb",
        "a positive integer: linear memory limit of a run, in MiB",
    ),
    (
        "timeout_ms",
        "a positive integer: wall-clock limit of a run, in milliseconds",
    ),
    ("cascade", CASCADE_FORM),
];

/// The keys of `visible` and `hidden`.
const TEST_SET_KEYS: &[(&str, &str)] = &[
    (
        "files",
        "folder of NAME.in / NAME.out pairs, relative to the task folder",
    ),
    (
        "generate",
        "list of generator stdin lines, each \"SEED [ARGS...]\" (SEED an unsigned integer)",
    ),
];

const CHECKER_FORMS: &str = "{ type = \"tokens\" }, { type = \"float\", abs = 1e-6, rel = 1e-6 }, \
{ type = \"yes_no\" } or { type = \"program\", path = \"checker.c\" }";

/// `[efficiency]` as written; required keys are checked after, to name them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    seed: Option<String>,
    checker: Option<CheckerSpec>,
    visible: Option<TestSetSection>,
    hidden: Option<TestSetSection>,
    generator: Option<String>,
    reference: Option<String>,
    fuel_factor: Option<f64>,
    fuel_floor: Option<i64>,
    memory_mb: Option<i64>,
    timeout_ms: Option<i64>,
    #[serde(default)]
    cascade: Vec<StageSection>,
}

/// `visible` or `hidden` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestSetSection {
    files: Option<String>,
    #[serde(default)]
    generate: Vec<GeneratedTest>,
}

/// The checked `[efficiency]` section.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct EfficiencyConfig {
    pub seed: String,
    pub checker: CheckerSpec,
    pub visible: TestSetConfig,
    pub hidden: TestSetConfig,
    pub generator: Option<String>,
    pub reference: Option<String>,
    pub fuel_factor: f64,
    pub fuel_floor: u64,
    pub memory_mb: u64,
    pub timeout_ms: u64,
    /// Stages of the visible tests, checked against their number once they are built.
    pub cascade: Vec<StageSection>,
}

/// Where the tests of one set come from: files, generated inputs, or both.
#[derive(Clone, Debug, PartialEq, Default)]
pub(crate) struct TestSetConfig {
    pub files: Option<String>,
    pub generate: Vec<GeneratedTest>,
}

/// One generated test: the line given to the generator on stdin, which starts with its seed.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct GeneratedTest {
    pub line: String,
    pub seed: u64,
}

impl TryFrom<String> for GeneratedTest {
    type Error = String;

    fn try_from(line: String) -> Result<GeneratedTest, String> {
        let seed = line
            .split_ascii_whitespace()
            .next()
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(|| {
                format!(
                    "`{line}` does not start with a seed; expected \"SEED [ARGS...]\" with SEED an unsigned integer"
                )
            })?;
        Ok(GeneratedTest {
            line: line.trim().to_string(),
            seed,
        })
    }
}

impl GeneratedTest {
    /// The test's name: `gen-` and the line's tokens joined by `-`.
    pub(super) fn name(&self) -> String {
        format!(
            "gen-{}",
            self.line
                .split_ascii_whitespace()
                .collect::<Vec<_>>()
                .join("-")
        )
    }
}

/// Parses the section strictly: unknown keys, missing required keys, wrong types and bad
/// values are errors naming `efficiency.<key>` and what is accepted.
pub(crate) fn parse(manifest: &Path, section: &toml::Table) -> Result<EfficiencyConfig, TaskError> {
    let error = |field: &str, message: String| {
        TaskError::field(manifest, format!("efficiency.{field}"), message)
    };
    let missing =
        |field: &str, accepted: &str| error(field, format!("missing; accepted: {accepted}"));
    let raw: Section = deserialize_table(section).map_err(|e| explain(manifest, e))?;
    let seed = raw
        .seed
        .ok_or_else(|| missing("seed", "a path such as \"seed.c\""))?;
    let checker = raw
        .checker
        .ok_or_else(|| missing("checker", CHECKER_FORMS))?;
    let test_set = "a table such as { files = \"tests/visible\", generate = [\"1 1000\"] }";
    let visible = raw.visible.ok_or_else(|| missing("visible", test_set))?;
    let visible = test_set_config(manifest, "visible", visible)?;
    let hidden = raw.hidden.ok_or_else(|| missing("hidden", test_set))?;
    let hidden = test_set_config(manifest, "hidden", hidden)?;
    let fuel_factor = raw
        .fuel_factor
        .ok_or_else(|| missing("fuel_factor", "a number >= 1, e.g. fuel_factor = 20"))?;
    if !(fuel_factor.is_finite() && fuel_factor >= 1.0) {
        return Err(error(
            "fuel_factor",
            format!("{fuel_factor} is not accepted: expected a number >= 1, e.g. 20"),
        ));
    }
    let positive = |field: &str, value: Option<i64>| -> Result<Option<u64>, TaskError> {
        match value {
            None => Ok(None),
            Some(v) if v >= 1 => Ok(Some(v as u64)),
            Some(v) => Err(error(
                field,
                format!("{v} is not accepted: expected a positive integer"),
            )),
        }
    };
    let fuel_floor = positive("fuel_floor", raw.fuel_floor)?.unwrap_or(DEFAULT_FUEL_FLOOR);
    let memory_mb = positive("memory_mb", raw.memory_mb)?
        .ok_or_else(|| missing("memory_mb", "a positive integer"))?;
    let timeout_ms = positive("timeout_ms", raw.timeout_ms)?
        .ok_or_else(|| missing("timeout_ms", "a positive integer"))?;
    for (set, name) in [(&visible, "visible"), (&hidden, "hidden")] {
        if !set.generate.is_empty() && raw.generator.is_none() {
            return Err(error(
                "generator",
                format!(
                    "`efficiency.{name}.generate` needs a generator program; add generator = \"gen.c\" (or .rs)"
                ),
            ));
        }
    }
    Ok(EfficiencyConfig {
        seed,
        checker,
        visible,
        hidden,
        generator: raw.generator,
        reference: raw.reference,
        fuel_factor,
        fuel_floor,
        memory_mb,
        timeout_ms,
        cascade: raw.cascade,
    })
}

/// A test set's lines must be distinct, and it must have tests.
fn test_set_config(
    manifest: &Path,
    name: &str,
    raw: TestSetSection,
) -> Result<TestSetConfig, TaskError> {
    let prefix = format!("efficiency.{name}");
    for (i, test) in raw.generate.iter().enumerate() {
        if raw.generate[..i].iter().any(|g| g.name() == test.name()) {
            return Err(TaskError::field(
                manifest,
                format!("{prefix}.generate[{i}]"),
                format!(
                    "`{}` is listed twice; each line must be distinct",
                    test.line
                ),
            ));
        }
    }
    if raw.files.is_none() && raw.generate.is_empty() {
        return Err(TaskError::field(
            manifest,
            format!("{prefix}.files"),
            format!(
                "[{prefix}] has no tests: give `files` (a folder of NAME.in / NAME.out) and/or `generate`"
            ),
        ));
    }
    Ok(TestSetConfig {
        files: raw.files,
        generate: raw.generate,
    })
}

/// A deserialization error, with the field named in full and what its table accepts: an
/// unknown key lists the table's keys, a bad value says what the key takes.
fn explain(manifest: &Path, error: TableError) -> TaskError {
    let field = error.field("efficiency");
    let keys: Vec<&str> = error
        .path
        .split('.')
        .map(|k| k.split('[').next().unwrap_or(k))
        .collect();
    let (table, known, key) = match keys.as_slice() {
        [set @ ("visible" | "hidden"), key, ..] => {
            (format!("efficiency.{set}"), TEST_SET_KEYS, *key)
        }
        [key, ..] => ("efficiency".to_string(), SECTION_KEYS, *key),
        [] => ("efficiency".to_string(), SECTION_KEYS, ""),
    };
    let message = match known.iter().find(|(k, _)| *k == key) {
        None if !key.is_empty() => {
            let list: Vec<String> = known
                .iter()
                .map(|(k, what)| format!("{k} ({what})"))
                .collect();
            format!("unknown key; [{table}] accepts: {}", list.join("; "))
        }
        // An element of a list: its own message says what is wrong with it.
        Some(_) if error.path.ends_with(']') => error.message,
        Some((_, accepted)) => format!("{}; accepted: {accepted}", error.message),
        None => error.message,
    };
    TaskError::field(manifest, field, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<EfficiencyConfig, TaskError> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| TaskError::field("t", "x", e.to_string()))?;
        parse(Path::new("task.toml"), &table)
    }

    const GOOD: &str = r#"
        seed = "seed.c"
        checker = { type = "tokens" }
        generator = "gen.c"
        fuel_factor = 20
        memory_mb = 64
        timeout_ms = 5000
        visible = { files = "tests/visible", generate = ["1 100", "2 1000"] }
        hidden = { generate = ["7 1000"] }
    "#;

    #[test]
    fn parses_a_complete_section() {
        let config = parse_text(GOOD).unwrap();
        assert_eq!(config.fuel_factor, 20.0);
        assert_eq!(config.fuel_floor, DEFAULT_FUEL_FLOOR);
        assert_eq!(config.visible.generate[1].name(), "gen-2-1000");
        assert_eq!(config.hidden.generate[0].seed, 7);
        assert_eq!(config.checker, CheckerSpec::Tokens);
    }

    #[test]
    fn names_the_faulty_field() {
        let missing = parse_text(&GOOD.replace("memory_mb = 64", ""))
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("efficiency.memory_mb") && missing.contains("missing"),
            "{missing}"
        );
        let typed = parse_text(&GOOD.replace("fuel_factor = 20", "fuel_factor = \"fast\""))
            .unwrap_err()
            .to_string();
        assert!(
            typed.contains("efficiency.fuel_factor") && typed.contains("number >= 1"),
            "{typed}"
        );
        let unknown = parse_text(&format!("{GOOD}\nspeed = 3"))
            .unwrap_err()
            .to_string();
        assert!(
            unknown.contains("efficiency.speed") && unknown.contains("accepts: seed"),
            "{unknown}"
        );
        let nested = parse_text(&GOOD.replace("hidden = {", "hidden = { count = 3,"))
            .unwrap_err()
            .to_string();
        assert!(
            nested.contains("efficiency.hidden.count")
                && nested.contains("[efficiency.hidden] accepts: files"),
            "{nested}"
        );
        let seedless = parse_text(&GOOD.replace("\"7 1000\"", "\"x 1000\""))
            .unwrap_err()
            .to_string();
        assert!(
            seedless.contains("efficiency.hidden.generate[0]")
                && seedless.contains("does not start with a seed"),
            "{seedless}"
        );
        let twice = parse_text(&GOOD.replace("\"7 1000\"", "\"7 1000\", \"7  1000\""))
            .unwrap_err()
            .to_string();
        assert!(
            twice.contains("efficiency.hidden.generate[1]") && twice.contains("listed twice"),
            "{twice}"
        );
        let checker = parse_text(&GOOD.replace("\"tokens\"", "\"exact\""))
            .unwrap_err()
            .to_string();
        assert!(
            checker.contains("efficiency.checker") && checker.contains("yes_no"),
            "{checker}"
        );
        let no_gen = parse_text(&GOOD.replace("generator = \"gen.c\"", ""))
            .unwrap_err()
            .to_string();
        assert!(no_gen.contains("efficiency.generator"), "{no_gen}");
        let empty =
            parse_text(&GOOD.replace("hidden = { generate = [\"7 1000\"] }", "hidden = {}"))
                .unwrap_err()
                .to_string();
        assert!(
            empty.contains("efficiency.hidden.files") && empty.contains("no tests"),
            "{empty}"
        );
        let zero = parse_text(&GOOD.replace("timeout_ms = 5000", "timeout_ms = 0"))
            .unwrap_err()
            .to_string();
        assert!(
            zero.contains("efficiency.timeout_ms") && zero.contains("positive"),
            "{zero}"
        );
    }
}
