//! The settings of one run: stored as the run's config so `hone resume` rebuilds the run.

use std::path::PathBuf;

use hone_store::Budgets;
use hone_tasks::{Task, TaskKind};
use serde::{Deserialize, Serialize};

use super::StopRules;
use crate::search::StrategyConfig;
use crate::search::measures::{self, Objective, SpecError};

/// How proposals are obtained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlmSettings {
    /// `openai`, `record:FILE`, `replay:FILE`, `replay-seq:FILE`, `builtin` or `random`.
    pub spec: String,
    /// Models with their weights (weights matter for the `fixed` rule).
    pub models: Vec<(String, f64)>,
    /// `fixed` (weighted random) or `ucb` (cost-aware UCB on score gain per dollar).
    pub selection: String,
    pub base_url: String,
    /// The environment variable holding the API key (its value is never stored).
    pub api_key_env: String,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub request_timeout_seconds: f64,
    /// How long the model may stay unreachable (HTTP 429 and 5xx, timeouts, connection
    /// errors) before the run stops as interrupted; until then calls are retried with
    /// growing waits.
    #[serde(default = "default_model_patience")]
    pub model_patience_seconds: f64,
    /// Model requests in flight at once.
    pub concurrency: usize,
}

impl LlmSettings {
    /// Whether the proposer needs no model (builtin tuner, grid, Tsallis-INF, random).
    pub fn is_offline(&self) -> bool {
        super::OFFLINE_SPECS.contains(&self.spec.as_str())
    }
}

impl Default for LlmSettings {
    fn default() -> LlmSettings {
        LlmSettings {
            spec: "builtin".into(),
            models: vec![("gpt-4o-mini".into(), 1.0)],
            selection: "fixed".into(),
            base_url: "https://api.openai.com/v1".into(),
            api_key_env: "OPENAI_API_KEY".into(),
            temperature: Some(0.7),
            max_tokens: None,
            request_timeout_seconds: 300.0,
            model_patience_seconds: default_model_patience(),
            concurrency: 8,
        }
    }
}

/// Ten minutes: long enough for a server restart or a rate-limit window.
fn default_model_patience() -> f64 {
    600.0
}

/// Everything that defines a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSettings {
    pub task_dir: PathBuf,
    pub strategy: StrategyConfig,
    pub llm: LlmSettings,
    pub budgets: Budgets,
    /// Steps in flight at once.
    pub concurrency: usize,
    /// Evaluations running at once (on the blocking pool).
    pub eval_threads: usize,
    pub seed: u64,
    /// A folder of prompt templates overriding the embedded ones.
    pub prompts_dir: Option<PathBuf>,
    /// Stop after this many failed steps in a row.
    pub max_consecutive_failures: u32,
    /// The API key (resolved by the binary from `llm.api_key_env`; never stored).
    #[serde(skip)]
    pub api_key: Option<String>,
    /// Price overrides from the config file, as a TOML table (`[prices."model"]`).
    #[serde(default)]
    pub price_overrides: Option<toml::Table>,
    /// A label naming the run's origin, e.g. `bench:<suite>:<row key>` for a `hone bench`
    /// row (so an interrupted bench finds its rows' runs). Absent in older stored configs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Early stopping: `--stop-after-stale N`, `--stop-at SCORE`.
    #[serde(default)]
    pub stop: StopRules,
    /// `--meta-every K`: every K nodes a model call rewrites the run's insights from the
    /// recent attempts (what worked, what did not); later prompts show them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_every: Option<usize>,
    /// `--objectives score,fuel,...`: Pareto selection over these (best-first, islands,
    /// map-elites); empty: selection by score.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<Objective>,
    /// `--novelty THRESHOLD` (with `--embeddings-model`, `--embeddings-url`): candidates
    /// this similar to a valid node are not evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub novelty: Option<crate::novelty::NoveltySettings>,
}

impl RunSettings {
    pub fn new(task_dir: PathBuf) -> RunSettings {
        RunSettings {
            task_dir,
            strategy: StrategyConfig::Greedy,
            llm: LlmSettings::default(),
            budgets: Budgets {
                evaluations: Some(50),
                ..Budgets::default()
            },
            concurrency: 1,
            eval_threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            seed: 0,
            prompts_dir: None,
            max_consecutive_failures: 20,
            api_key: None,
            price_overrides: None,
            label: None,
            stop: StopRules::default(),
            meta_every: None,
            objectives: Vec::new(),
            novelty: None,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    pub fn from_json(value: &serde_json::Value) -> Result<RunSettings, serde_json::Error> {
        serde_json::from_value(value.clone())
    }

    /// Fills in what the task folder decides when the command line did not: a map-elites
    /// run's descriptors from task.toml's `[search.map_elites]`. Stored with the run after.
    pub fn resolve(&mut self, task: &Task) -> Result<(), SettingsError> {
        if let StrategyConfig::MapElites { descriptors } = &mut self.strategy
            && descriptors.is_empty()
        {
            *descriptors = task_descriptors(task)?;
        }
        Ok(())
    }

    /// Checks the settings against the task before a run starts.
    pub fn check(&self, task: &Task) -> Result<(), SettingsError> {
        if let StrategyConfig::MapElites { descriptors } = &self.strategy {
            measures::check_grid(descriptors)?;
        }
        if !self.objectives.is_empty() {
            if !self.strategy.takes_objectives() {
                return Err(SettingsError::ObjectivesStrategy(self.strategy.name()));
            }
            measures::check_objectives(&self.objectives)?;
        }
        if self.concurrency == 0 {
            return Err(SettingsError::ZeroConcurrency);
        }
        let offline = self.llm.is_offline();
        if offline && self.strategy.needs_model() {
            return Err(SettingsError::StrategyNeedsModel {
                strategy: self.strategy.name(),
            });
        }
        if self.llm.spec == "random" && task.random_candidates().is_none() {
            return Err(SettingsError::RandomNeedsInputs {
                task: task.name.clone(),
                kind: task.kind,
            });
        }
        let b = &self.budgets;
        for (flag, value) in [
            ("--budget-evals", b.evaluations),
            ("--budget-calls", b.llm_calls),
            ("--budget-tokens", b.tokens),
        ] {
            if let Some(n) = value
                && n < 1
            {
                return Err(SettingsError::CountBudget { flag, value: n });
            }
        }
        for (flag, value) in [
            ("--budget-usd", b.dollars),
            ("--budget-time", b.wall_seconds),
        ] {
            if let Some(x) = value
                && !(x.is_finite() && x > 0.0)
            {
                return Err(SettingsError::AmountBudget { flag, value: x });
            }
        }
        if self.meta_every == Some(0) {
            return Err(SettingsError::MetaEvery);
        }
        if offline && self.meta_every.is_some() {
            return Err(SettingsError::MetaNeedsModel);
        }
        if self.stop.stale_evaluations == Some(0) {
            return Err(SettingsError::Stale);
        }
        if let Some(target) = self.stop.target_score
            && !target.is_finite()
        {
            return Err(SettingsError::Target(target));
        }
        if let Some(novelty) = &self.novelty {
            let t = novelty.threshold;
            if !(t.is_finite() && t > 0.0 && t <= 1.0) {
                return Err(SettingsError::Novelty(t));
            }
            if novelty
                .embeddings
                .as_ref()
                .is_some_and(|e| e.model.trim().is_empty())
            {
                return Err(SettingsError::EmbeddingsModel);
            }
        }
        let patience = self.llm.model_patience_seconds;
        if !(patience.is_finite() && patience >= 0.0) {
            return Err(SettingsError::Patience(patience));
        }
        if self.budgets == Budgets::default() {
            return Err(SettingsError::NoBudget);
        }
        Ok(())
    }
}

/// Settings a run cannot start (or resume) with; each names the flag or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("--concurrency must be at least 1")]
    ZeroConcurrency,
    #[error(
        "strategy `{strategy}` needs a model for its scatter and scout steps; use --llm openai, record:FILE or replay:FILE\nhint: with --llm builtin use greedy, best-first, mcts, islands, aide or map-elites"
    )]
    StrategyNeedsModel { strategy: &'static str },
    #[error(
        "--llm random proposes random valid inputs and works only for counterexample tasks; task `{task}` is of kind {kind}"
    )]
    RandomNeedsInputs { task: String, kind: TaskKind },
    #[error("{flag} {value}: a budget must be at least 1")]
    CountBudget { flag: &'static str, value: i64 },
    #[error("{flag} {value}: a budget must be a positive finite number")]
    AmountBudget { flag: &'static str, value: f64 },
    #[error("--meta-every 0: give the number of nodes between two summaries (at least 1)")]
    MetaEvery,
    #[error(
        "--meta-every needs a model for its summaries; use --llm openai, record:FILE or replay:FILE"
    )]
    MetaNeedsModel,
    #[error(
        "--stop-after-stale 0: give the number of evaluations without improvement (at least 1)"
    )]
    Stale,
    #[error("--stop-at {0}: the target score must be a finite number")]
    Target(f64),
    #[error(
        "--novelty {0}: give the similarity (above 0, at most 1) at or above which a candidate is not evaluated, e.g. 0.95"
    )]
    Novelty(f64),
    #[error("--embeddings-model is empty: name the embedding model, e.g. text-embedding-3-small")]
    EmbeddingsModel,
    #[error("--model-patience {0} s: give a duration such as 30s or 10m")]
    Patience(f64),
    #[error(
        "no budget set: give at least one of --budget-evals, --budget-calls, --budget-tokens, --budget-usd or --budget-time"
    )]
    NoBudget,
    #[error("unknown --llm `{spec}`; accepted: {accepted}")]
    UnknownLlm {
        spec: String,
        accepted: &'static str,
    },
    #[error("unknown model selection `{0}`; accepted: fixed, ucb")]
    UnknownSelection(String),
    #[error("--llm {flag} cannot search task `{task}` (kind {kind}): {source}")]
    Baseline {
        flag: &'static str,
        task: String,
        kind: TaskKind,
        source: crate::tuner::TunerError,
    },
    #[error("--llm builtin cannot tune task `{task}`: {source}")]
    Builtin {
        task: String,
        source: crate::tuner::TunerError,
    },
    #[error("the builtin proposer has no chat backend")]
    NoChatBackend,
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(
        "--objectives selects parents in best-first, islands and map-elites; strategy `{0}` picks by score"
    )]
    ObjectivesStrategy(&'static str),
    #[error("task.toml of `{task}`: [search.map_elites] descriptors: {why}")]
    TaskDescriptors { task: String, why: String },
    #[error("run {run}: its stored settings cannot be read: {source}")]
    Stored { run: i64, source: serde_json::Error },
}

/// The descriptors task.toml lists under `[search.map_elites]` (`descriptors = ["fuel:0..1e9:10",
/// ...]`, each as `--descriptors` writes one); none when the table is absent.
fn task_descriptors(task: &Task) -> Result<Vec<measures::Descriptor>, SettingsError> {
    let bad = |why: String| SettingsError::TaskDescriptors {
        task: task.name.clone(),
        why,
    };
    let Some(table) = task.search.get("map_elites") else {
        return Ok(Vec::new());
    };
    let Some(table) = table.as_table() else {
        return Err(bad("[search.map_elites] must be a table".into()));
    };
    for key in table.keys() {
        if key != "descriptors" {
            return Err(bad(format!("unknown key `{key}`; accepted: descriptors")));
        }
    }
    let Some(list) = table.get("descriptors") else {
        return Ok(Vec::new());
    };
    let Some(list) = list.as_array() else {
        return Err(bad(
            "descriptors must be a list of strings such as \"fuel:0..1e9:10\"".into(),
        ));
    };
    let descriptors = list
        .iter()
        .map(|item| {
            let spec = item.as_str().ok_or_else(|| {
                bad(format!(
                    "`{item}` is not a string such as \"fuel:0..1e9:10\""
                ))
            })?;
            measures::Descriptor::parse(spec).map_err(|e| bad(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    measures::check_grid(&descriptors).map_err(|e| bad(e.to_string()))?;
    Ok(descriptors)
}
