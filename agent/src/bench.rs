//! `hone bench SUITE.toml`: runs every row of a suite (task × strategy × proposer × seed) as
//! an ordinary run in the store, one after another or K at a time, and tabulates them.
//!
//! Every row's run carries the label `bench:<suite>:<row key>` in its stored settings, so a
//! bench is resumable with the store as its only checkpoint: a row whose run finished (or
//! failed) is skipped, a row whose run was interrupted or killed is resumed with
//! `Orchestrator::resume` (never started again), and the rest are created.
//!
//! # Suite format
//!
//! ```toml
//! [suite]
//! name = "params"              # names the results folder: letters, digits, - _ .
//! description = "..."          # optional
//! budget_evals = 30            # evaluations per row (suite default)
//! budget_time = "2m"           # active time per row (number of seconds, or 90s, 5m, 1h)
//! seeds = [1, 2, 3]            # run seeds (required, distinct)
//! strategies = ["greedy"]      # default ["greedy"]; an entry may be a table with options:
//!                              # { name = "map-elites", label = "me-fuel",
//!                              #   descriptors = "fuel:0..1e9:10,code_len:0..4000:8",
//!                              #   objectives = "score,fuel" }  (label: the row key's
//!                              # strategy part, default the name; each label once)
//! llm = "openai"               # for `llm` proposers: openai | record:F | replay:F | replay-seq:F
//! base_url = "http://..."      # optional, for `llm` proposers
//! api_key_env = "OPENAI_API_KEY"
//! run_concurrency = 1          # steps in flight within one row's run
//!
//! [[tasks]]
//! path = "sor"                 # relative to the suite file
//! budget_evals = 60            # optional per-task overrides
//! budget_time = "30s"
//!
//! [[proposers]]                # default: one `builtin` proposer
//! name = "nelder-mead"         # shown in the tables
//! kind = "builtin"             # builtin | grid | tsallis | llm
//! method = "nelder_mead"       # builtin only: cma_es (default) | nelder_mead
//! model = "gpt-4o-mini"        # llm only ("default": the default model)
//! tasks = ["sor"]              # optional: only these tasks (their paths as written above)
//! optional = true              # llm only: skipped with a note when no model is configured
//! novelty = 0.95               # optional: `--novelty` of its runs (to compare with and without)
//! embeddings_model = "m"       # optional, with novelty: `--embeddings-model` (suite base_url)
//! ```
//!
//! Unknown fields, a missing task folder, an unknown kind, strategy or method, no seeds or no
//! budget are errors naming the suite file and the field, before anything runs. An `llm`
//! proposer needs a configured model: a suite or `--llm` spec, and for `openai` an API key in
//! the environment or an explicit base URL; otherwise the bench stops before running (or
//! skips the proposer with a note when it is `optional`).

mod results;
mod suite;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use hone_store::{Budgets, RunId, RunRecord, RunStatus, Store};
use hone_tasks::TaskLoader;

pub use results::{Aggregate, RowResult, aggregate};
pub use suite::{ProposerKind, ProposerSpec, Row, StrategySpec, Suite, TaskSpec};

use crate::orchestrator::{Orchestrator, OrchestratorError, RunSettings};

/// Why a bench cannot run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot read suite {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("suite {}: {message}", path.display())]
    Suite { path: PathBuf, message: String },
    #[error("row {row}: {error}")]
    Row {
        row: String,
        // In the message, not the cause chain (it would be printed twice).
        error: Box<OrchestratorError>,
    },
    #[error(transparent)]
    Store(#[from] hone_store::Error),
    #[error("a row panicked: {0}")]
    Panic(String),
    #[error("cannot write {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

/// Settings of a bench beyond the suite file.
#[derive(Clone, Debug, Default)]
pub struct BenchOptions {
    /// Rows in flight at once (at least 1).
    pub concurrency: usize,
    /// Overrides the suite's `llm`.
    pub llm: Option<String>,
    /// Overrides the suite's `base_url`.
    pub base_url: Option<String>,
    /// The model of `llm` proposers whose `model` is `default`.
    pub model: Option<String>,
    /// Show a line per row on stderr.
    pub verbose: bool,
}

/// What a bench produced.
#[derive(Clone, Debug)]
pub struct BenchReport {
    pub rows: Vec<RowResult>,
    /// Rows skipped because already finished, created, resumed.
    pub skipped: usize,
    pub created: usize,
    pub resumed: usize,
    /// Proposers left out and why.
    pub notes: Vec<String>,
    /// Stopped by Ctrl-C before every row finished.
    pub interrupted: bool,
}

/// The planned work of a bench: rows, with what the store already holds.
pub struct Plan {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

/// The label of a row's run.
pub fn row_label(suite: &Suite, row: &Row) -> String {
    format!("bench:{}:{}", suite.name, row.key())
}

/// Checks the model configuration of `llm` proposers and lists the rows.
/// `has_key(var)` says whether an API key variable is set.
pub fn plan(
    suite: &Suite,
    options: &BenchOptions,
    has_key: &dyn Fn(&str) -> bool,
) -> Result<Plan, BenchError> {
    let mut skip = HashSet::new();
    let mut notes = Vec::new();
    let llm = options.llm.clone().or(suite.llm.clone());
    let base_url = options.base_url.clone().or(suite.base_url.clone());
    let key_env = suite
        .api_key_env
        .clone()
        .unwrap_or_else(|| crate::orchestrator::LlmSettings::default().api_key_env);
    for p in suite
        .proposers
        .iter()
        .filter(|p| p.kind == ProposerKind::Llm)
    {
        let missing = match llm.as_deref() {
            None => Some(
                "no model is configured (set `llm` in [suite] or pass --llm openai|replay:FILE)"
                    .to_string(),
            ),
            Some("openai") if base_url.is_none() && !has_key(&key_env) => Some(format!(
                "--llm openai needs an API key in ${key_env} (or a base_url of a local server)"
            )),
            Some(spec) if crate::orchestrator::OFFLINE_SPECS.contains(&spec) => Some(format!(
                "`llm = \"{spec}\"` is not a model; kind = \"llm\" needs openai, record:FILE, replay:FILE or replay-seq:FILE"
            )),
            Some(_) => None,
        };
        if let Some(why) = missing {
            if p.optional {
                notes.push(format!("proposer `{}` skipped: {why}", p.name));
                skip.insert(p.name.clone());
            } else {
                return Err(BenchError::Suite {
                    path: suite.file.clone(),
                    message: format!(
                        "proposer `{}` (kind = \"llm\"): {why}\nhint: mark it `optional = true` to skip it without a model",
                        p.name
                    ),
                });
            }
        }
    }
    let mut rows = suite.rows(&skip);
    for row in &mut rows {
        if row.proposer.kind == ProposerKind::Llm {
            row.proposer.llm = llm.clone().unwrap_or_default();
            if row.proposer.model.is_none() {
                row.proposer.model = options.model.clone();
            }
        }
    }
    Ok(Plan { rows, notes })
}

/// The settings of a row's run.
pub fn row_settings(suite: &Suite, options: &BenchOptions, row: &Row) -> RunSettings {
    let mut s = RunSettings::new(row.task.dir.clone());
    s.strategy = row.search.config.clone();
    s.objectives = row.search.objectives.clone();
    s.llm.spec = row.proposer.llm.clone();
    if let Some(model) = &row.proposer.model {
        s.llm.models = vec![(model.clone(), 1.0)];
    }
    if let Some(url) = options.base_url.clone().or(suite.base_url.clone()) {
        s.llm.base_url = url;
    }
    if let Some(var) = &suite.api_key_env {
        s.llm.api_key_env = var.clone();
    }
    s.budgets = Budgets {
        evaluations: row.task.budget_evals,
        wall_seconds: row.task.budget_time,
        ..Budgets::default()
    };
    s.seed = row.seed;
    s.concurrency = suite.run_concurrency;
    s.llm.concurrency = s.llm.concurrency.max(s.concurrency);
    // Rows in flight share the machine's cores.
    s.eval_threads = (s.eval_threads / options.concurrency.max(1)).max(1);
    s.label = Some(row_label(suite, row));
    s.novelty = row.proposer.novelty.clone();
    s
}

/// The runs of the store by label (the latest of each label last).
fn runs_by_label(runs: Vec<RunRecord>) -> std::collections::HashMap<String, Vec<RunRecord>> {
    let mut map: std::collections::HashMap<String, Vec<RunRecord>> = Default::default();
    for run in runs {
        if let Some(label) = run.config.get("label").and_then(|l| l.as_str()) {
            map.entry(label.to_string()).or_default().push(run);
        }
    }
    for list in map.values_mut() {
        list.sort_by_key(|r| r.id.0);
    }
    map
}

/// Whether a stored run is over (not to be resumed).
fn is_done(run: &RunRecord) -> bool {
    is_done_status(run.status)
}

enum Action {
    Resume(RunId),
    Create,
}

/// Before anything runs: every task loads, and every (task, proposer, strategy) of the plan
/// can be built (a grid on a task without variables, a tuner with nothing to tune, a missing
/// cassette are errors naming the row, not a failure halfway through the bench).
fn preflight(
    loader: &TaskLoader,
    suite: &Suite,
    options: &BenchOptions,
    rows: &[Row],
) -> Result<(), BenchError> {
    let mut tasks: std::collections::HashMap<PathBuf, hone_tasks::Task> = Default::default();
    let mut checked = HashSet::new();
    for row in rows {
        if !checked.insert((
            row.task.path.clone(),
            row.proposer.name.clone(),
            row.strategy.clone(),
        )) {
            continue;
        }
        let fail = |error: OrchestratorError| BenchError::Row {
            row: row.key(),
            error: Box::new(error),
        };
        if !tasks.contains_key(&row.task.dir) {
            let task = loader
                .load(&row.task.dir)
                .map_err(|e| fail(OrchestratorError::Task(e)))?;
            tasks.insert(row.task.dir.clone(), task);
        }
        let Some(task) = tasks.get(&row.task.dir) else {
            continue;
        };
        let mut settings = row_settings(suite, options, row);
        settings
            .resolve(task)
            .and_then(|()| settings.check(task))
            .map_err(|e| fail(OrchestratorError::Settings(e)))?;
        crate::orchestrator::Proposer::build(&settings, task).map_err(fail)?;
    }
    Ok(())
}

/// Resolves an API key variable to its value.
pub type KeyResolver = std::sync::Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Runs (or resumes, or skips) every row. Ctrl-C stops starting rows; the rows in flight stop
/// as `hone run` does (their runs are left interrupted, resumed by the next bench).
pub async fn run(
    store: &Store,
    tasks: &TaskLoader,
    suite: &Suite,
    options: &BenchOptions,
    plan: Plan,
    api_key: KeyResolver,
) -> Result<BenchReport, BenchError> {
    preflight(tasks, suite, options, &plan.rows)?;
    let existing = runs_by_label(store.list_runs().await?);
    let mut report = BenchReport {
        rows: Vec::new(),
        skipped: 0,
        created: 0,
        resumed: 0,
        notes: plan.notes,
        interrupted: false,
    };
    let total = plan.rows.len();
    let mut runs: Vec<Option<RunId>> = vec![None; total];
    let mut pending: Vec<(usize, Row, RunSettings, Action)> = Vec::new();
    for (i, row) in plan.rows.iter().enumerate() {
        let settings = row_settings(suite, options, row);
        let label = row_label(suite, row);
        // A run of the same label with other budgets (the suite changed) does not count.
        let same: Vec<&RunRecord> = existing
            .get(&label)
            .map(|l| l.iter().filter(|r| r.budgets == settings.budgets).collect())
            .unwrap_or_default();
        if let Some(done) = same.iter().rev().find(|r| is_done(r)) {
            report.skipped += 1;
            runs[i] = Some(done.id);
        } else if let Some(open) = same.last() {
            pending.push((i, row.clone(), settings, Action::Resume(open.id)));
        } else {
            pending.push((i, row.clone(), settings, Action::Create));
        }
    }
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let flag = interrupted.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        })
    };
    let stopped = || interrupted.load(std::sync::atomic::Ordering::SeqCst);
    // Rows are driven on this thread (a LocalSet: a driver need not be Send); their
    // evaluations and model calls run on the runtime's workers and blocking pool.
    let local = tokio::task::LocalSet::new();
    let failure = local
        .run_until(async {
            let concurrency = options.concurrency.max(1);
            let mut queue = pending.into_iter();
            let mut in_flight: tokio::task::JoinSet<RowOutcome> = tokio::task::JoinSet::new();
            let mut failure = None;
            loop {
                while failure.is_none() && in_flight.len() < concurrency && !stopped() {
                    let Some((i, row, settings, action)) = queue.next() else {
                        break;
                    };
                    match action {
                        Action::Resume(_) => report.resumed += 1,
                        _ => report.created += 1,
                    }
                    if options.verbose {
                        let what = match action {
                            Action::Resume(id) => format!("resuming run {}", id.0),
                            _ => "starting".into(),
                        };
                        eprintln!("hone bench: row {} ({what})", row.key());
                    }
                    in_flight.spawn_local(run_row(
                        store.clone(),
                        tasks.clone(),
                        i,
                        row,
                        settings,
                        action,
                        api_key.clone(),
                    ));
                }
                let Some(joined) = in_flight.join_next().await else {
                    break;
                };
                let (i, row, outcome) = match joined {
                    Ok(done) => done,
                    Err(e) => {
                        failure.get_or_insert(BenchError::Panic(e.to_string()));
                        continue;
                    }
                };
                match outcome {
                    Ok((id, status)) => {
                        runs[i] = Some(id);
                        if status == RunStatus::Interrupted {
                            interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
                        }
                        if options.verbose {
                            eprintln!("hone bench: row {} run {} {status}", row.key(), id.0);
                        }
                    }
                    // The other rows in flight finish; no new row starts.
                    Err(source) => {
                        failure.get_or_insert(BenchError::Row {
                            row: row.key(),
                            error: Box::new(source),
                        });
                    }
                }
            }
            failure
        })
        .await;
    watcher.abort();
    if let Some(error) = failure {
        return Err(error);
    }
    report.interrupted = stopped();
    for (row, id) in plan.rows.iter().zip(runs) {
        if let Some(id) = id {
            report.rows.push(row_result(store, row, id).await?);
        }
    }
    if report.rows.len() < total || report.rows.iter().any(|r| !is_done_status(r.status)) {
        report.interrupted = true;
    }
    Ok(report)
}

fn is_done_status(status: RunStatus) -> bool {
    !matches!(status, RunStatus::Running | RunStatus::Interrupted)
}

type RowOutcome = (usize, Row, Result<(RunId, RunStatus), OrchestratorError>);

async fn run_row(
    store: Store,
    tasks: TaskLoader,
    index: usize,
    row: Row,
    settings: RunSettings,
    action: Action,
    api_key: KeyResolver,
) -> RowOutcome {
    let result = async {
        let orchestrator = match action {
            Action::Resume(id) => {
                let key = |name: &str| api_key(name);
                Orchestrator::resume(store.clone(), &tasks, id, &key).await?
            }
            _ => {
                let mut settings = settings;
                settings.api_key = api_key(&settings.llm.api_key_env);
                Orchestrator::create(store.clone(), &tasks, settings).await?
            }
        };
        let id = orchestrator.run_id();
        let outcome = orchestrator.drive().await?;
        Ok((id, outcome.status))
    }
    .await;
    (index, row, result)
}

/// A row's figures, read from the store.
async fn row_result(store: &Store, row: &Row, run: RunId) -> Result<RowResult, BenchError> {
    let record = store.get_run(run).await?;
    let spend = store.spend(run).await?;
    let best = store.best_node(run).await?;
    let llm = match &row.proposer.model {
        Some(model) => format!("{} ({model})", row.proposer.llm),
        None => row.proposer.llm.clone(),
    };
    Ok(RowResult {
        key: row.key(),
        task: record.task_name,
        strategy: row.strategy.clone(),
        proposer: row.proposer.name.clone(),
        llm,
        seed: row.seed,
        run: run.0,
        status: record.status,
        private_score: best.map(|b| b.score),
        public_score: best.map(|b| b.public_score),
        basis: best.map(|b| b.basis),
        evaluations: spend.evaluations,
        llm_calls: spend.llm_calls,
        tokens: spend.tokens(),
        dollars: spend.dollars,
        wall_seconds: spend.wall_seconds,
    })
}

/// Writes `results.md`, `results.csv` and `results.json` into `dir`; returns the markdown.
pub fn write_results(
    dir: &Path,
    suite: &Suite,
    report: &BenchReport,
) -> Result<String, BenchError> {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| BenchError::Write {
            path,
            message: e.to_string(),
        })
    };
    std::fs::create_dir_all(dir).map_err(|e| BenchError::Write {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let md = results::markdown(&suite.name, &suite.description, &report.rows, &report.notes);
    write("results.md", &md)?;
    write("results.csv", &results::csv(&report.rows))?;
    let json = results::json(&suite.name, &suite.description, &report.rows, &report.notes);
    write(
        "results.json",
        &serde_json::to_string_pretty(&json).unwrap_or_default(),
    )?;
    Ok(md)
}

/// The JSON of a report (what `--json` prints).
pub fn report_json(suite: &Suite, report: &BenchReport) -> serde_json::Value {
    let mut value = results::json(&suite.name, &suite.description, &report.rows, &report.notes);
    value["interrupted"] = serde_json::json!(report.interrupted);
    value["skipped"] = serde_json::json!(report.skipped);
    value["created"] = serde_json::json!(report.created);
    value["resumed"] = serde_json::json!(report.resumed);
    value
}
