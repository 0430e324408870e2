//! The suite file of `hone bench`: strict TOML, checked whole before anything runs, and
//! expanded into rows (task × strategy × proposer × seed).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::BenchError;
use crate::search::StrategyConfig;
use crate::search::measures::{Objective, parse_descriptors, parse_objectives};

/// The suite file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    suite: SuiteSection,
    #[serde(default)]
    tasks: Vec<TaskEntry>,
    #[serde(default)]
    proposers: Vec<ProposerEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteSection {
    name: String,
    #[serde(default)]
    description: String,
    budget_evals: Option<i64>,
    budget_time: Option<Duration>,
    #[serde(default)]
    seeds: Vec<u64>,
    strategies: Option<Vec<StrategyEntry>>,
    /// `--llm` of the `llm` proposers: `openai`, `record:FILE`, `replay:FILE`, `replay-seq:FILE`
    /// (FILE relative to the suite file).
    llm: Option<String>,
    base_url: Option<String>,
    api_key_env: Option<String>,
    /// Steps in flight within one row's run.
    run_concurrency: Option<usize>,
}

/// A strategy of the suite as written: a name, or a table with options.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StrategyEntry {
    Name(String),
    Table(StrategyTable),
}

/// `{ name = "map-elites", label = "...", descriptors = "...", objectives = "..." }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StrategyTable {
    name: String,
    label: Option<String>,
    descriptors: Option<String>,
    objectives: Option<String>,
}

/// A strategy of the suite with its options; `label` names it in row keys and tables.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategySpec {
    pub label: String,
    pub config: StrategyConfig,
    /// `--objectives` of its runs.
    pub objectives: Vec<Objective>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskEntry {
    path: String,
    budget_evals: Option<i64>,
    budget_time: Option<Duration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProposerEntry {
    name: String,
    kind: ProposerKind,
    method: Option<Method>,
    model: Option<String>,
    tasks: Option<Vec<String>>,
    #[serde(default)]
    optional: bool,
    /// `--novelty THRESHOLD` of its runs.
    novelty: Option<f64>,
    /// `--embeddings-model` of its runs (needs `novelty`).
    embeddings_model: Option<String>,
}

/// A duration: seconds as a number, or text such as `90s`, `5m`, `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Duration(f64);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        let seconds = match Raw::deserialize(d)? {
            Raw::Number(n) => n,
            Raw::Text(text) => crate::cli::parse_duration(&text)
                .map_err(serde::de::Error::custom)?
                .as_secs_f64(),
        };
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(serde::de::Error::custom(format!(
                "{seconds}: a time budget must be positive"
            )));
        }
        Ok(Duration(seconds))
    }
}

/// What proposes a row's candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProposerKind {
    Builtin,
    Grid,
    Tsallis,
    Llm,
}

/// The builtin tuner's algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(super) enum Method {
    #[serde(rename = "cma_es", alias = "cma-es")]
    CmaEs,
    #[serde(rename = "nelder_mead", alias = "nelder-mead")]
    NelderMead,
}

/// A proposer of the suite.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposerSpec {
    pub name: String,
    pub kind: ProposerKind,
    /// The `--llm` value of its runs (`builtin:nelder-mead`, `grid`, `openai`, ...).
    pub llm: String,
    /// The model of an `llm` proposer (`None`: the default model).
    pub model: Option<String>,
    /// Task paths it runs on (`None`: all).
    pub tasks: Option<Vec<String>>,
    pub optional: bool,
    /// `--novelty` (and `--embeddings-model`) of its runs.
    pub novelty: Option<crate::novelty::NoveltySettings>,
}

/// A task of the suite.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    /// As written in the suite (the row key uses it).
    pub path: String,
    /// Resolved against the suite file's folder.
    pub dir: PathBuf,
    pub budget_evals: Option<i64>,
    pub budget_time: Option<f64>,
}

/// A loaded, checked suite.
#[derive(Debug, Clone)]
pub struct Suite {
    pub file: PathBuf,
    pub name: String,
    pub description: String,
    pub seeds: Vec<u64>,
    pub strategies: Vec<StrategySpec>,
    pub tasks: Vec<TaskSpec>,
    pub proposers: Vec<ProposerSpec>,
    /// The `--llm` of `llm` proposers, if configured.
    pub llm: Option<String>,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    pub run_concurrency: usize,
}

/// One row: a run to make (or find in the store).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub task: TaskSpec,
    /// The strategy's label.
    pub strategy: String,
    pub search: StrategySpec,
    pub proposer: ProposerSpec,
    pub seed: u64,
}

impl Row {
    /// The row's key, unique within the suite: `task/strategy/proposer/seed`.
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.task.path, self.strategy, self.proposer.name, self.seed
        )
    }
}

impl Suite {
    /// Reads and checks a suite file.
    pub fn load(path: &Path) -> Result<Suite, BenchError> {
        let text = std::fs::read_to_string(path).map_err(|e| BenchError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let file: SuiteFile = toml::from_str(&text).map_err(|e| BenchError::Suite {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Suite::check(path, base, file)
    }

    fn check(path: &Path, base: &Path, file: SuiteFile) -> Result<Suite, BenchError> {
        let fail = |message: String| {
            Err(BenchError::Suite {
                path: path.to_path_buf(),
                message,
            })
        };
        let s = file.suite;
        if s.name.is_empty()
            || !s
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || s.name.starts_with('.')
        {
            return fail(format!(
                "suite.name `{}`: use letters, digits, `-`, `_` and `.` (it names the results folder)",
                s.name
            ));
        }
        if s.seeds.is_empty() {
            return fail(
                "suite.seeds: give at least one run seed, e.g. `seeds = [1, 2, 3]`".into(),
            );
        }
        let mut seen = HashSet::new();
        if let Some(dup) = s.seeds.iter().find(|seed| !seen.insert(**seed)) {
            return fail(format!("suite.seeds: seed {dup} is listed twice"));
        }
        if let Some(n) = s.budget_evals
            && n < 1
        {
            return fail(format!("suite.budget_evals = {n}: must be at least 1"));
        }
        let entries = s
            .strategies
            .unwrap_or_else(|| vec![StrategyEntry::Name("greedy".to_string())]);
        if entries.is_empty() {
            return fail(
                "suite.strategies: give at least one strategy (default [\"greedy\"])".into(),
            );
        }
        let mut seen = HashSet::new();
        let mut strategies = Vec::new();
        for entry in entries {
            let spec = match strategy_spec(entry) {
                Ok(spec) => spec,
                Err(message) => return fail(format!("suite.strategies: {message}")),
            };
            if !seen.insert(spec.label.clone()) {
                return fail(format!(
                    "suite.strategies: `{}` is listed twice (give each its own `label`)",
                    spec.label
                ));
            }
            strategies.push(spec);
        }
        if file.tasks.is_empty() {
            return fail(
                "no [[tasks]]: give at least one, e.g. `[[tasks]]\\npath = \"sor\"`".into(),
            );
        }
        let mut tasks = Vec::new();
        let mut seen = HashSet::new();
        for (i, t) in file.tasks.iter().enumerate() {
            let dir = base.join(&t.path);
            if !dir.join("task.toml").is_file() {
                return fail(format!(
                    "tasks[{i}].path = \"{}\": no task.toml in {} (paths are relative to the suite file)",
                    t.path,
                    dir.display()
                ));
            }
            if !seen.insert(t.path.as_str()) {
                return fail(format!("tasks[{i}].path = \"{}\" is listed twice", t.path));
            }
            if let Some(n) = t.budget_evals
                && n < 1
            {
                return fail(format!("tasks[{i}].budget_evals = {n}: must be at least 1"));
            }
            let budget_evals = t.budget_evals.or(s.budget_evals);
            let budget_time = t.budget_time.or(s.budget_time).map(|d| d.0);
            if budget_evals.is_none() && budget_time.is_none() {
                return fail(format!(
                    "tasks[{i}] (`{}`) has no budget: set budget_evals or budget_time in [suite] or on the task",
                    t.path
                ));
            }
            let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
            tasks.push(TaskSpec {
                path: t.path.clone(),
                dir,
                budget_evals,
                budget_time,
            });
        }
        let llm = s.llm.map(|spec| resolve_llm(&spec, base));
        let entries = if file.proposers.is_empty() {
            vec![ProposerEntry {
                name: "builtin".into(),
                kind: ProposerKind::Builtin,
                method: None,
                model: None,
                tasks: None,
                optional: false,
                novelty: None,
                embeddings_model: None,
            }]
        } else {
            file.proposers
        };
        let mut proposers = Vec::new();
        let mut seen = HashSet::new();
        for (i, p) in entries.into_iter().enumerate() {
            let at = format!("proposers[{i}] (`{}`)", p.name);
            if p.name.is_empty() || p.name.contains('/') {
                return fail(format!("{at}: name must be non-empty and hold no `/`"));
            }
            if !seen.insert(p.name.clone()) {
                return fail(format!("{at}: the name is used twice"));
            }
            if p.method.is_some() && p.kind != ProposerKind::Builtin {
                return fail(format!("{at}: `method` is for kind = \"builtin\" only"));
            }
            if p.model.is_some() && p.kind != ProposerKind::Llm {
                return fail(format!("{at}: `model` is for kind = \"llm\" only"));
            }
            if p.optional && p.kind != ProposerKind::Llm {
                return fail(format!(
                    "{at}: `optional` is for kind = \"llm\" only (the others need no model)"
                ));
            }
            if let Some(list) = &p.tasks {
                for name in list {
                    if !tasks.iter().any(|t| &t.path == name) {
                        return fail(format!(
                            "{at}: tasks names `{name}`, which is not a [[tasks]] path of this suite; paths: {}",
                            tasks
                                .iter()
                                .map(|t| t.path.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                }
            }
            let spec = match (p.kind, p.method) {
                (ProposerKind::Builtin, None | Some(Method::CmaEs)) => "builtin:cma-es".to_string(),
                (ProposerKind::Builtin, Some(Method::NelderMead)) => {
                    "builtin:nelder-mead".to_string()
                }
                (ProposerKind::Grid, _) => "grid".into(),
                (ProposerKind::Tsallis, _) => "tsallis".into(),
                (ProposerKind::Llm, _) => llm.clone().unwrap_or_default(),
            };
            let model = p.model.filter(|m| m != "default");
            let novelty = match (p.novelty, p.embeddings_model) {
                (None, None) => None,
                (None, Some(_)) => {
                    return fail(format!("{at}: `embeddings_model` needs `novelty`"));
                }
                (Some(t), _) if !(t.is_finite() && t > 0.0 && t <= 1.0) => {
                    return fail(format!(
                        "{at}: novelty = {t}: give a similarity above 0 and at most 1, e.g. 0.95"
                    ));
                }
                (Some(threshold), embeddings_model) => Some(crate::novelty::NoveltySettings {
                    threshold,
                    embeddings: embeddings_model.map(|model| crate::novelty::EmbeddingSettings {
                        model,
                        base_url: None,
                    }),
                }),
            };
            proposers.push(ProposerSpec {
                name: p.name,
                kind: p.kind,
                llm: spec,
                model,
                tasks: p.tasks,
                optional: p.optional,
                novelty,
            });
        }
        for strategy in strategies.iter().map(|s| &s.label) {
            let needs_model = strategies
                .iter()
                .any(|s| &s.label == strategy && s.config.needs_model());
            if let Some(p) = proposers
                .iter()
                .find(|p| needs_model && p.kind != ProposerKind::Llm)
            {
                return fail(format!(
                    "strategy `{strategy}` needs a model (scatter and scout steps), but proposer `{}` is of kind {:?}; use it with greedy, best-first, mcts, islands, aide or map-elites",
                    p.name, p.kind
                ));
            }
        }
        if let Some(n) = s.run_concurrency
            && n == 0
        {
            return fail("suite.run_concurrency = 0: must be at least 1".into());
        }
        Ok(Suite {
            file: path.to_path_buf(),
            name: s.name,
            description: s.description,
            seeds: s.seeds,
            strategies,
            tasks,
            proposers,
            llm,
            base_url: s.base_url,
            api_key_env: s.api_key_env,
            run_concurrency: s.run_concurrency.unwrap_or(1),
        })
    }

    /// Every row, in order: task, strategy, proposer, seed. `skip` leaves out proposers.
    pub fn rows(&self, skip: &HashSet<String>) -> Vec<Row> {
        let mut rows = Vec::new();
        for task in &self.tasks {
            for strategy in &self.strategies {
                for proposer in &self.proposers {
                    if skip.contains(&proposer.name)
                        || proposer
                            .tasks
                            .as_ref()
                            .is_some_and(|list| !list.contains(&task.path))
                    {
                        continue;
                    }
                    for &seed in &self.seeds {
                        rows.push(Row {
                            task: task.clone(),
                            strategy: strategy.label.clone(),
                            search: strategy.clone(),
                            proposer: proposer.clone(),
                            seed,
                        });
                    }
                }
            }
        }
        rows
    }
}

/// A strategy entry checked: a known name, descriptors only for map-elites, objectives
/// only where they select, a label without `/` or spaces (it is part of row keys).
fn strategy_spec(entry: StrategyEntry) -> Result<StrategySpec, String> {
    let table = match entry {
        StrategyEntry::Name(name) => StrategyTable {
            name,
            label: None,
            descriptors: None,
            objectives: None,
        },
        StrategyEntry::Table(table) => table,
    };
    let name = &table.name;
    let mut config = StrategyConfig::default_for(name).ok_or_else(|| {
        format!(
            "unknown strategy `{name}`; accepted: {}",
            StrategyConfig::NAMES.join(", ")
        )
    })?;
    if let Some(spec) = &table.descriptors {
        let StrategyConfig::MapElites { descriptors } = &mut config else {
            return Err(format!(
                "`{name}`: descriptors are the grid of map-elites; `{name}` has none"
            ));
        };
        *descriptors = parse_descriptors(spec).map_err(|e| format!("`{name}`: {e}"))?;
    }
    let objectives = match &table.objectives {
        Some(spec) => {
            if !config.takes_objectives() {
                return Err(format!(
                    "`{name}`: objectives select parents in best-first, islands and map-elites only"
                ));
            }
            parse_objectives(spec).map_err(|e| format!("`{name}`: {e}"))?
        }
        None => Vec::new(),
    };
    let label = table.label.unwrap_or_else(|| name.clone());
    if label.is_empty() || label.contains('/') || label.contains(char::is_whitespace) {
        return Err(format!(
            "label `{label}`: use a name without `/` or spaces (it is part of row keys)"
        ));
    }
    Ok(StrategySpec {
        label,
        config,
        objectives,
    })
}

/// A cassette path in `record:`/`replay:`/`replay-seq:` is relative to the suite file.
fn resolve_llm(spec: &str, base: &Path) -> String {
    for prefix in ["record:", "replay-seq:", "replay:"] {
        if let Some(file) = spec.strip_prefix(prefix) {
            let path = Path::new(file);
            if path.is_relative() {
                return format!("{prefix}{}", base.join(path).display());
            }
        }
    }
    spec.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Suite, BenchError> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for task in ["a", "b"] {
            std::fs::create_dir_all(dir.path().join(task)).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(dir.path().join(task).join("task.toml"), "")
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let path = dir.path().join("suite.toml");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        Suite::load(&path)
    }

    const GOOD: &str = r#"
[suite]
name = "s"
budget_evals = 5
seeds = [1, 2]
strategies = ["greedy", "mcts"]

[[tasks]]
path = "a"

[[tasks]]
path = "b"
budget_time = "2m"

[[proposers]]
name = "nm"
kind = "builtin"
method = "nelder_mead"

[[proposers]]
name = "grid"
kind = "grid"
tasks = ["b"]
"#;

    #[test]
    fn strategies_take_descriptors_objectives_and_labels() {
        let text = GOOD.replace(
            r#"strategies = ["greedy", "mcts"]"#,
            r#"strategies = ["best-first", { name = "best-first", label = "bf-pareto", objectives = "score,fuel" }, { name = "map-elites", descriptors = "fuel:0..1e9:10,code_len:0..4000:8" }]"#,
        );
        let suite = load(&text).unwrap_or_else(|e| panic!("{e}"));
        let labels: Vec<&str> = suite.strategies.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["best-first", "bf-pareto", "map-elites"]);
        assert_eq!(suite.strategies[1].objectives.len(), 2);
        let StrategyConfig::MapElites { descriptors } = &suite.strategies[2].config else {
            panic!("{:?}", suite.strategies[2]);
        };
        assert_eq!(descriptors.len(), 2);
        let rows = suite.rows(&HashSet::new());
        assert!(rows.iter().any(|r| r.key() == "a/bf-pareto/nm/1"));
        for (strategies, expected) in [
            (
                r#"strategies = ["best-first", { name = "best-first", objectives = "score,fuel" }]"#,
                "`best-first` is listed twice (give each its own `label`)",
            ),
            (
                r#"strategies = [{ name = "mcts", objectives = "score,fuel" }]"#,
                "`mcts`: objectives select parents in best-first, islands and map-elites only",
            ),
            (
                r#"strategies = [{ name = "greedy", descriptors = "fuel:0..1:2" }]"#,
                "descriptors are the grid of map-elites",
            ),
            (
                r#"strategies = [{ name = "map-elites", descriptors = "fuel:0..1:0" }]"#,
                "zero bins",
            ),
            (
                r#"strategies = [{ name = "islands", label = "a/b" }]"#,
                "label `a/b`",
            ),
        ] {
            let err = load(&GOOD.replace(r#"strategies = ["greedy", "mcts"]"#, strategies))
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{strategies}: {err}");
        }
    }

    #[test]
    fn rows_expand_with_restrictions() {
        let suite = load(GOOD).unwrap_or_else(|e| panic!("{e}"));
        let rows = suite.rows(&HashSet::new());
        // a: 2 strategies x 1 proposer x 2 seeds; b: 2 x 2 x 2.
        assert_eq!(rows.len(), 4 + 8);
        assert_eq!(rows[0].key(), "a/greedy/nm/1");
        assert_eq!(rows[0].proposer.llm, "builtin:nelder-mead");
        let b = rows.iter().find(|r| r.task.path == "b").map(|r| &r.task);
        assert_eq!(b.and_then(|t| t.budget_time), Some(120.0));
        assert_eq!(b.and_then(|t| t.budget_evals), Some(5));
        let keys: HashSet<String> = rows.iter().map(|r| r.key()).collect();
        assert_eq!(keys.len(), rows.len());
    }

    #[test]
    fn a_proposer_may_run_with_novelty_rejection() {
        let text = format!(
            "{GOOD}\n[[proposers]]\nname = \"nm-novelty\"\nkind = \"builtin\"\nmethod = \"nelder_mead\"\nnovelty = 0.97\n"
        );
        let suite = load(&text).unwrap_or_else(|e| panic!("{e}"));
        let novelty = |name: &str| {
            suite
                .proposers
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.novelty.clone())
        };
        assert_eq!(novelty("nm"), Some(None));
        assert_eq!(
            novelty("nm-novelty"),
            Some(Some(crate::novelty::NoveltySettings {
                threshold: 0.97,
                embeddings: None,
            }))
        );
        for (bad, needle) in [
            ("novelty = 1.5", "novelty = 1.5"),
            (
                "embeddings_model = \"m\"",
                "`embeddings_model` needs `novelty`",
            ),
        ] {
            let text = text.replace("novelty = 0.97", bad);
            match load(&text) {
                Ok(_) => panic!("accepted {bad}"),
                Err(e) => assert!(e.to_string().contains(needle), "{e}"),
            }
        }
    }

    #[test]
    fn cassettes_are_relative_to_the_suite_file() {
        let base = Path::new("/suites");
        assert_eq!(
            resolve_llm("replay:c.jsonl", base),
            "replay:/suites/c.jsonl"
        );
        assert_eq!(
            resolve_llm("replay-seq:c.jsonl", base),
            "replay-seq:/suites/c.jsonl"
        );
        assert_eq!(resolve_llm("record:/abs.jsonl", base), "record:/abs.jsonl");
        assert_eq!(resolve_llm("openai", base), "openai");
        let suite =
            load(&GOOD.replace("seeds = [1, 2]", "seeds = [1, 2]\nllm = \"replay:x.jsonl\""))
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            suite
                .llm
                .as_deref()
                .is_some_and(|l| l.ends_with("/x.jsonl") && l.starts_with("replay:/")),
            "{:?}",
            suite.llm
        );
    }

    #[test]
    fn bad_suites_name_the_field() {
        let cases = [
            (GOOD.replace("seeds = [1, 2]", "seeds = []"), "suite.seeds"),
            (GOOD.replace("[suite]", "[suite]\ncolour = 1"), "colour"),
            (
                GOOD.replace("path = \"a\"", "path = \"zz\""),
                "tasks[0].path",
            ),
            (GOOD.replace("kind = \"grid\"", "kind = \"gird\""), "gird"),
            (GOOD.replace("\"mcts\"", "\"mtcs\""), "mtcs"),
            (GOOD.replace("tasks = [\"b\"]", "tasks = [\"c\"]"), "`c`"),
            (
                GOOD.replace("budget_evals = 5", "budget_evals = 0"),
                "budget_evals",
            ),
            (GOOD.replace("budget_evals = 5", ""), "no budget"),
            (GOOD.replace("\"mcts\"", "\"forest\""), "needs a model"),
            (
                GOOD.replace("name = \"s\"", "name = \"../x\""),
                "suite.name",
            ),
        ];
        for (text, needle) in cases {
            match load(&text) {
                Ok(_) => panic!("accepted a bad suite ({needle})"),
                Err(e) => {
                    let message = e.to_string();
                    assert!(message.contains(needle), "{needle}: {message}");
                    assert!(message.contains("suite.toml"), "{message}");
                }
            }
        }
    }
}
