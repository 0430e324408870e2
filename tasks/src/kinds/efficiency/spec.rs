//! The `[efficiency]` section of task.toml, read key by key so every error names its field.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::checker::CheckerSpec;
use crate::error::TaskError;

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
        "path of a trusted generator program (.rs, .c or .wat)",
    ),
    (
        "reference",
        "path of a trusted reference solution (default: the seed)",
    ),
    (
        "fuel_factor",
        "number >= 1: per-test fuel limit = fuel_factor x the seed's fuel on that test",
    ),
    ("fuel_floor", "integer >= 1: smallest per-test fuel limit"),
    (
        "memory_mb",
        "integer >= 1: linear memory limit of a run, in MiB",
    ),
    (
        "timeout_ms",
        "integer >= 1: wall-clock limit of a run, in milliseconds",
    ),
];

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

/// The parsed `[efficiency]` section.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct EfficiencySpec {
    pub seed: String,
    pub checker: CheckerSpec,
    pub visible: TestSetSpec,
    pub hidden: TestSetSpec,
    pub generator: Option<String>,
    pub reference: Option<String>,
    pub fuel_factor: f64,
    pub fuel_floor: u64,
    pub memory_mb: u64,
    pub timeout_ms: u64,
}

/// Where the tests of one set come from: files, generated inputs, or both.
#[derive(Clone, Debug, PartialEq, Default)]
pub(crate) struct TestSetSpec {
    pub files: Option<String>,
    pub generate: Vec<GeneratedSpec>,
}

/// One generated test: the line given to the generator on stdin.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GeneratedSpec {
    pub line: String,
    pub seed: u64,
}

impl GeneratedSpec {
    /// The test's name: `gen-` and the line's tokens joined by `-`.
    pub fn name(&self) -> String {
        format!(
            "gen-{}",
            self.line
                .split_ascii_whitespace()
                .collect::<Vec<_>>()
                .join("-")
        )
    }
}

/// Reads the section strictly: unknown keys, missing required keys, wrong types and bad
/// values are errors naming `efficiency.<key>` and what is accepted.
pub(crate) fn parse(manifest: &Path, section: &toml::Table) -> Result<EfficiencySpec, TaskError> {
    let fields = Fields {
        manifest: manifest.to_path_buf(),
        prefix: "efficiency".into(),
        table: section,
    };
    fields.reject_unknown(SECTION_KEYS)?;
    let seed: String = fields.required("seed", "a path such as \"seed.c\"")?;
    let checker = match section.get("checker") {
        None => return Err(fields.missing("checker", CHECKER_FORMS)),
        Some(value) => value.clone().try_into::<CheckerSpec>().map_err(|e| {
            fields.error(
                "checker",
                format!("{}; accepted: {CHECKER_FORMS}", e.message().trim()),
            )
        })?,
    };
    let visible = parse_test_set(&fields, "visible")?;
    let hidden = parse_test_set(&fields, "hidden")?;
    let generator: Option<String> = fields.optional("generator", "a path such as \"gen.c\"")?;
    let reference: Option<String> =
        fields.optional("reference", "a path such as \"reference.c\"")?;
    let fuel_factor: f64 = match section.get("fuel_factor") {
        None => return Err(fields.missing("fuel_factor", "a number >= 1, e.g. fuel_factor = 20")),
        Some(toml::Value::Integer(i)) => *i as f64,
        Some(toml::Value::Float(f)) => *f,
        Some(other) => {
            return Err(fields.error(
                "fuel_factor",
                format!(
                    "expected a number >= 1 (e.g. 20), found {} `{other}`",
                    other.type_str()
                ),
            ));
        }
    };
    if !(fuel_factor.is_finite() && fuel_factor >= 1.0) {
        return Err(fields.error(
            "fuel_factor",
            format!("{fuel_factor} is not accepted: expected a number >= 1, e.g. 20"),
        ));
    }
    let fuel_floor = fields
        .positive("fuel_floor", false)?
        .unwrap_or(DEFAULT_FUEL_FLOOR);
    let memory_mb = fields.positive("memory_mb", true)?.unwrap_or_default();
    let timeout_ms = fields.positive("timeout_ms", true)?.unwrap_or_default();
    for (set, name) in [(&visible, "visible"), (&hidden, "hidden")] {
        if !set.generate.is_empty() && generator.is_none() {
            return Err(fields.error(
                "generator",
                format!("`efficiency.{name}.generate` needs a generator program; add generator = \"gen.c\" (or .rs)"),
            ));
        }
    }
    Ok(EfficiencySpec {
        seed,
        checker,
        visible,
        hidden,
        generator,
        reference,
        fuel_factor,
        fuel_floor,
        memory_mb,
        timeout_ms,
    })
}

fn parse_test_set(parent: &Fields<'_>, key: &str) -> Result<TestSetSpec, TaskError> {
    let accepted = "a table such as { files = \"tests/visible\", generate = [\"1 1000\"] }";
    let table = match parent.table.get(key) {
        None => return Err(parent.missing(key, accepted)),
        Some(toml::Value::Table(t)) => t,
        Some(other) => {
            return Err(parent.error(
                key,
                format!("expected {accepted}, found {}", other.type_str()),
            ));
        }
    };
    let fields = Fields {
        manifest: parent.manifest.clone(),
        prefix: format!("{}.{key}", parent.prefix),
        table,
    };
    fields.reject_unknown(TEST_SET_KEYS)?;
    let files: Option<String> =
        fields.optional("files", "a folder path such as \"tests/visible\"")?;
    let lines: Vec<String> = fields
        .optional(
            "generate",
            "a list of strings such as [\"1 1000\", \"2 200000\"]",
        )?
        .unwrap_or_default();
    let mut generate = Vec::new();
    for (i, line) in lines.into_iter().enumerate() {
        let seed = line.split_ascii_whitespace().next().and_then(|t| t.parse::<u64>().ok()).ok_or_else(|| {
            fields.error(
                &format!("generate[{i}]"),
                format!("`{line}` does not start with a seed; expected \"SEED [ARGS...]\" with SEED an unsigned integer"),
            )
        })?;
        let spec = GeneratedSpec {
            line: line.trim().to_string(),
            seed,
        };
        if generate
            .iter()
            .any(|g: &GeneratedSpec| g.name() == spec.name())
        {
            return Err(fields.error(
                &format!("generate[{i}]"),
                format!("`{line}` is listed twice; each line must be distinct"),
            ));
        }
        generate.push(spec);
    }
    if files.is_none() && generate.is_empty() {
        return Err(fields.error(
            "files",
            format!("[{}] has no tests: give `files` (a folder of NAME.in / NAME.out) and/or `generate`", fields.prefix),
        ));
    }
    Ok(TestSetSpec { files, generate })
}

/// One table of task.toml and where it sits, for error messages.
struct Fields<'a> {
    manifest: PathBuf,
    prefix: String,
    table: &'a toml::Table,
}

impl Fields<'_> {
    fn error(&self, key: &str, message: impl Into<String>) -> TaskError {
        TaskError::field(&self.manifest, format!("{}.{key}", self.prefix), message)
    }

    fn missing(&self, key: &str, accepted: &str) -> TaskError {
        self.error(key, format!("missing; accepted: {accepted}"))
    }

    fn reject_unknown(&self, known: &[(&str, &str)]) -> Result<(), TaskError> {
        for key in self.table.keys() {
            if !known.iter().any(|(k, _)| k == key) {
                let list: Vec<String> = known
                    .iter()
                    .map(|(k, what)| format!("{k} ({what})"))
                    .collect();
                return Err(self.error(
                    key,
                    format!(
                        "unknown key; [{}] accepts: {}",
                        self.prefix,
                        list.join("; ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn optional<T: DeserializeOwned>(
        &self,
        key: &str,
        accepted: &str,
    ) -> Result<Option<T>, TaskError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(value) => value.clone().try_into::<T>().map(Some).map_err(|_| {
                self.error(
                    key,
                    format!("expected {accepted}, found {} `{value}`", value.type_str()),
                )
            }),
        }
    }

    fn required<T: DeserializeOwned>(&self, key: &str, accepted: &str) -> Result<T, TaskError> {
        self.optional(key, accepted)?
            .ok_or_else(|| self.missing(key, accepted))
    }

    /// A positive integer; `required` makes a missing key an error.
    fn positive(&self, key: &str, required: bool) -> Result<Option<u64>, TaskError> {
        let accepted = "a positive integer";
        let value: Option<i64> = self.optional(key, accepted)?;
        match value {
            None if required => Err(self.missing(key, accepted)),
            None => Ok(None),
            Some(v) if v >= 1 => Ok(Some(v as u64)),
            Some(v) => Err(self.error(key, format!("{v} is not accepted: expected {accepted}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<EfficiencySpec, TaskError> {
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
        let spec = parse_text(GOOD).unwrap();
        assert_eq!(spec.fuel_factor, 20.0);
        assert_eq!(spec.fuel_floor, DEFAULT_FUEL_FLOOR);
        assert_eq!(spec.visible.generate[1].name(), "gen-2-1000");
        assert_eq!(spec.hidden.generate[0].seed, 7);
        assert_eq!(spec.checker, CheckerSpec::Tokens);
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
        let seedless = parse_text(&GOOD.replace("\"7 1000\"", "\"x 1000\""))
            .unwrap_err()
            .to_string();
        assert!(
            seedless.contains("efficiency.hidden.generate[0]"),
            "{seedless}"
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
