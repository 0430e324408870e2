//! `hone run` and `hone resume`: start or continue an optimization run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use hone_store::{Budgets, RunId, RunStatus, Store};

use crate::orchestrator::{LeaseSettings, Orchestrator, RunOutcome, RunSettings, best_dir};
use crate::search::StrategyConfig;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The task folder (holding task.toml), or a bundled task's name (see `hone tasks`).
    pub task_dir: PathBuf,
    /// Search strategy: greedy, best-first, mcts, forest, islands, aide, map-elites.
    #[arg(long)]
    pub strategy: Option<String>,
    /// Proposer: openai, record:FILE, replay:FILE, replay-seq:FILE; without a model: builtin
    /// (or builtin:cma-es, builtin:nelder-mead), grid and tsallis (params tasks), random
    /// (counterexample tasks).
    #[arg(long)]
    pub llm: Option<String>,
    /// Model name; repeat for several, optionally with a weight: `--model gpt-4o=3 --model gpt-4o-mini=1`.
    #[arg(long = "model")]
    pub models: Vec<String>,
    /// How to choose among several models: fixed (by weight) or ucb (cost-aware bandit).
    #[arg(long)]
    pub selection: Option<String>,
    /// Base URL of an OpenAI-compatible server.
    #[arg(long, env = "OPENAI_BASE_URL")]
    pub base_url: Option<String>,
    /// The environment variable that holds the API key.
    #[arg(long)]
    pub api_key_env: Option<String>,
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Stop after this many evaluations.
    #[arg(long)]
    pub budget_evals: Option<i64>,
    /// Stop after this many model calls.
    #[arg(long)]
    pub budget_calls: Option<i64>,
    /// Stop after this many tokens (in + out).
    #[arg(long)]
    pub budget_tokens: Option<i64>,
    /// Stop after this many dollars.
    #[arg(long)]
    pub budget_usd: Option<f64>,
    /// Stop after this much active time, e.g. 30m or 2h.
    #[arg(long, value_parser = super::parse_duration)]
    pub budget_time: Option<std::time::Duration>,
    /// Steps in flight at once.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Seed of every random choice.
    #[arg(long)]
    pub seed: Option<u64>,
    /// A folder of prompt templates overriding the embedded ones.
    #[arg(long)]
    pub prompts: Option<PathBuf>,
    /// How long the model may stay unreachable (HTTP 429 and 5xx, timeouts, connection
    /// errors) before the run stops as interrupted, e.g. 90s or 30m [default: 10m].
    #[arg(long, value_parser = super::parse_duration)]
    pub model_patience: Option<std::time::Duration>,
    /// Stop after this many evaluations in a row that did not raise the best public score.
    #[arg(long, value_name = "N")]
    pub stop_after_stale: Option<u64>,
    /// Stop once the best public score reaches this.
    #[arg(long, value_name = "SCORE", allow_negative_numbers = true)]
    pub stop_at: Option<f64>,
    /// Every K nodes, a model call summarises what worked and what did not; later prompts
    /// show the summary.
    #[arg(long, value_name = "K")]
    pub meta_every: Option<usize>,
    /// map-elites: the grid's behaviour descriptors, NAME:MIN..MAX:BINS,... (NAME: fuel,
    /// code_len, memory, score or a metric of the task's evaluation) [default: task.toml's
    /// [search.map_elites] descriptors].
    #[arg(long, value_name = "SPECS")]
    pub descriptors: Option<String>,
    /// Pareto selection over these objectives (best-first, islands, map-elites):
    /// score, fuel, code_len, memory, or a metric as NAME:min / NAME:max.
    #[arg(long, value_name = "LIST")]
    pub objectives: Option<String>,
    /// Do not evaluate a candidate whose similarity to a valid node is at least THRESHOLD
    /// (in (0, 1]; token shingles, or embeddings with --embeddings-model).
    #[arg(long, value_name = "THRESHOLD")]
    pub novelty: Option<f64>,
    /// Compare candidates by the cosine of this model's embeddings (needs --novelty).
    #[arg(long, value_name = "MODEL")]
    pub embeddings_model: Option<String>,
    /// Base URL of the OpenAI-compatible server of the embeddings [default: --base-url].
    #[arg(long, value_name = "URL")]
    pub embeddings_url: Option<String>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
    /// Evaluate on `hone worker` processes through the store's queue (PostgreSQL store only).
    #[arg(long)]
    pub workers: bool,
    /// How often this process renews its lease on the run (tests shorten it).
    #[arg(long, hide = true, value_parser = super::parse_duration)]
    pub lease_renewal: Option<std::time::Duration>,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// The run to continue.
    pub run: i64,
    #[arg(long)]
    pub json: bool,
    /// Drive the run even though another live process drives it; that process stops
    /// driving at its next lease renewal (a few seconds).
    #[arg(long)]
    pub take_over: bool,
    /// How often this process renews its lease on the run (tests shorten it).
    #[arg(long, hide = true, value_parser = super::parse_duration)]
    pub lease_renewal: Option<std::time::Duration>,
}

/// The lease settings of this process: `--take-over` and the (hidden) renewal period.
fn lease_settings(renewal: Option<std::time::Duration>, take_over: bool) -> LeaseSettings {
    LeaseSettings {
        renew_every: renewal.unwrap_or(crate::orchestrator::DEFAULT_RENEWAL),
        take_over,
    }
}

/// `hone.toml` in the working directory: defaults under `[run]`, prices under `[prices]`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    run: RunDefaults,
    #[serde(default)]
    prices: Option<toml::Table>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RunDefaults {
    strategy: Option<String>,
    llm: Option<String>,
    models: Option<Vec<String>>,
    selection: Option<String>,
    base_url: Option<String>,
    api_key_env: Option<String>,
    temperature: Option<f64>,
    budget_evals: Option<i64>,
    budget_calls: Option<i64>,
    budget_tokens: Option<i64>,
    budget_usd: Option<f64>,
    budget_time: Option<String>,
    model_patience: Option<String>,
    concurrency: Option<usize>,
    seed: Option<u64>,
    workers: Option<bool>,
    stop_after_stale: Option<u64>,
    stop_at: Option<f64>,
    meta_every: Option<usize>,
    descriptors: Option<String>,
    objectives: Option<String>,
    novelty: Option<f64>,
    embeddings_model: Option<String>,
    embeddings_url: Option<String>,
}

fn load_config(path: &Path) -> anyhow::Result<ConfigFile> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            toml::from_str(&text).with_context(|| format!("{}: invalid config", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn parse_model(text: &str) -> anyhow::Result<(String, f64)> {
    match text.rsplit_once('=') {
        Some((name, weight)) => {
            let weight: f64 = weight.parse().with_context(|| {
                format!("--model `{text}`: the weight after `=` must be a number")
            })?;
            Ok((name.to_string(), weight))
        }
        None => Ok((text.to_string(), 1.0)),
    }
}

/// Flags > environment > hone.toml > defaults.
fn settings(args: &RunArgs) -> anyhow::Result<RunSettings> {
    let config = load_config(Path::new("hone.toml"))?;
    let d = config.run;
    let mut s = RunSettings::new(super::task_folder(&args.task_dir)?);
    let strategy = args
        .strategy
        .clone()
        .or(d.strategy)
        .unwrap_or_else(|| "greedy".into());
    s.strategy = StrategyConfig::default_for(&strategy).with_context(|| {
        format!(
            "unknown strategy `{strategy}`; accepted: {}",
            StrategyConfig::NAMES.join(", ")
        )
    })?;
    if let Some(llm) = args.llm.clone().or(d.llm) {
        s.llm.spec = llm;
    }
    let models: Vec<String> = if args.models.is_empty() {
        d.models.unwrap_or_default()
    } else {
        args.models.clone()
    };
    if !models.is_empty() {
        s.llm.models = models
            .iter()
            .map(|m| parse_model(m))
            .collect::<anyhow::Result<_>>()?;
    }
    if let Some(v) = args.selection.clone().or(d.selection) {
        s.llm.selection = v;
    }
    if let Some(v) = args.base_url.clone().or(d.base_url) {
        s.llm.base_url = v;
    }
    if let Some(v) = args.api_key_env.clone().or(d.api_key_env) {
        s.llm.api_key_env = v;
    }
    if let Some(v) = args.temperature.or(d.temperature) {
        s.llm.temperature = Some(v);
    }
    let budget_time = match (&args.budget_time, &d.budget_time) {
        (Some(t), _) => Some(t.as_secs_f64()),
        (None, Some(text)) => Some(
            super::parse_duration(text)
                .map_err(anyhow::Error::msg)?
                .as_secs_f64(),
        ),
        (None, None) => None,
    };
    match (&args.model_patience, &d.model_patience) {
        (Some(t), _) => s.llm.model_patience_seconds = t.as_secs_f64(),
        (None, Some(text)) => {
            s.llm.model_patience_seconds = super::parse_duration(text)
                .map_err(|e| anyhow::anyhow!("hone.toml: [run] model_patience: {e}"))?
                .as_secs_f64();
        }
        (None, None) => {}
    }
    let budgets = Budgets {
        evaluations: args.budget_evals.or(d.budget_evals),
        llm_calls: args.budget_calls.or(d.budget_calls),
        tokens: args.budget_tokens.or(d.budget_tokens),
        dollars: args.budget_usd.or(d.budget_usd),
        wall_seconds: budget_time,
    };
    // No default budget: a run without one is refused (RunSettings::check says how to set one).
    s.budgets = budgets;
    if let Some(v) = args.concurrency.or(d.concurrency) {
        s.concurrency = v;
        s.llm.concurrency = s.llm.concurrency.max(v);
    }
    if let Some(v) = args.seed.or(d.seed) {
        s.seed = v;
    }
    s.stop.stale_evaluations = args.stop_after_stale.or(d.stop_after_stale);
    s.stop.target_score = args.stop_at.or(d.stop_at);
    s.meta_every = args.meta_every.or(d.meta_every);
    if let Some(spec) = args.descriptors.clone().or(d.descriptors) {
        let StrategyConfig::MapElites { descriptors } = &mut s.strategy else {
            bail!(
                "--descriptors {spec}: descriptors are the grid of --strategy map-elites; strategy `{strategy}` has none"
            );
        };
        *descriptors = crate::search::measures::parse_descriptors(&spec)
            .with_context(|| format!("--descriptors {spec}"))?;
    }
    if let Some(spec) = args.objectives.clone().or(d.objectives) {
        s.objectives = crate::search::measures::parse_objectives(&spec)
            .with_context(|| format!("--objectives {spec}"))?;
    }
    s.novelty = novelty_settings(args, d.novelty, d.embeddings_model, d.embeddings_url)?;
    s.prompts_dir = args.prompts.clone();
    s.price_overrides = config.prices;
    Ok(s)
}

/// `--novelty`, `--embeddings-model`, `--embeddings-url` (flags > `hone.toml`).
fn novelty_settings(
    args: &RunArgs,
    novelty: Option<f64>,
    model: Option<String>,
    url: Option<String>,
) -> anyhow::Result<Option<crate::novelty::NoveltySettings>> {
    let model = args.embeddings_model.clone().or(model);
    let url = args.embeddings_url.clone().or(url);
    let Some(threshold) = args.novelty.or(novelty) else {
        if model.is_some() || url.is_some() {
            bail!("--embeddings-model and --embeddings-url need --novelty THRESHOLD");
        }
        return Ok(None);
    };
    if url.is_some() && model.is_none() {
        bail!("--embeddings-url needs --embeddings-model (the embedding model to ask)");
    }
    Ok(Some(crate::novelty::NoveltySettings {
        threshold,
        embeddings: model.map(|model| crate::novelty::EmbeddingSettings {
            model,
            base_url: url,
        }),
    }))
}

/// Resolves the API key from the named variable (never stored, never printed).
fn api_key(settings: &RunSettings) -> Option<String> {
    std::env::var(&settings.llm.api_key_env)
        .ok()
        .filter(|k| !k.is_empty())
}

pub(super) async fn open_store(cli: &super::Cli) -> anyhow::Result<Store> {
    let store = match &cli.store {
        Some(url) => Store::open(url).await?,
        None => Store::open_default(".").await?,
    };
    Ok(store)
}

pub(super) fn run(cli: &super::Cli, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let mut settings = settings(args)?;
    settings.api_key = api_key(&settings);
    // `--workers` or `[run] workers = true`: evaluations go to `hone worker` processes.
    let evaluations =
        if args.workers || load_config(Path::new("hone.toml"))?.run.workers == Some(true) {
            crate::worker::Evaluations::Workers
        } else {
            crate::worker::Evaluations::InProcess
        };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let store = open_store(cli).await?;
        let tasks = super::task_loader(cli)?;
        let lease = lease_settings(args.lease_renewal, false);
        let orchestrator = Orchestrator::create_with_lease(
            store.clone(),
            &tasks,
            settings,
            evaluations,
            &lease,
        )
        .await?;
        if evaluations == crate::worker::Evaluations::Workers {
            eprintln!(
                "hone: evaluations go to the queue of {}; start workers with `hone worker --store URL`",
                store.name()
            );
        }
        eprintln!(
            "hone: run {} on task `{}`",
            orchestrator.run_id().0,
            orchestrator.task().name
        );
        finish(&store, orchestrator, args.json).await
    })
}

pub(super) fn resume(cli: &super::Cli, args: &ResumeArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let store = open_store(cli).await?;
        let record = store.get_run(RunId(args.run)).await?;
        if record.status == RunStatus::Finished {
            bail!("run {} already finished ({}); nothing to resume\nhint: start a new run with `hone run {}`", args.run, record.status_detail.unwrap_or_default(), record.task_dir);
        }
        let tasks = super::task_loader(cli)?;
        let key = |name: &str| std::env::var(name).ok().filter(|k| !k.is_empty());
        let lease = lease_settings(args.lease_renewal, args.take_over);
        let orchestrator = Orchestrator::resume_with_lease(store.clone(), &tasks, RunId(args.run), &key, &lease).await?;
        eprintln!("hone: resuming run {} on task `{}`", args.run, orchestrator.task().name);
        finish(&store, orchestrator, args.json).await
    })
}

async fn finish(store: &Store, orchestrator: Orchestrator, json: bool) -> anyhow::Result<ExitCode> {
    let task_name = orchestrator.task().name.clone();
    let task_kind = orchestrator.task().kind;
    let show_progress = !json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    // On a worker thread of the runtime, each step's task starts on the thread that spawned
    // it instead of being handed over from the main thread: about 0.2 ms less per step
    // (BENCHMARKS.md, orchestrator overhead).
    let outcome = tokio::spawn(orchestrator.with_progress(show_progress).drive())
        .await
        .map_err(|e| anyhow::anyhow!("the run's task failed: {e}"))??;
    let best_path = write_best(store, &outcome).await?;
    if json {
        let mut value = serde_json::to_value(&outcome)?;
        value["best_path"] = serde_json::json!(best_path.as_ref().map(|p| p.display().to_string()));
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print_outcome(&task_name, task_kind.name(), &outcome, best_path.as_deref());
    }
    Ok(if outcome.status == RunStatus::Failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes the best node's files to `.hone/runs/<run>/best/`; returns the main file's path.
async fn write_best(store: &Store, outcome: &RunOutcome) -> anyhow::Result<Option<PathBuf>> {
    let Some(node) = outcome.best_node else {
        return Ok(None);
    };
    let record = store.get_node(hone_store::NodeId(node)).await?;
    let dir = best_dir(Path::new("."), outcome.run);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut main = None;
    for (name, text) in &record.files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        main.get_or_insert(path);
    }
    if let serde_json::Value::Object(values) = &record.values
        && !values.is_empty()
    {
        let path = dir.join("values.json");
        std::fs::write(&path, serde_json::to_string_pretty(&record.values)?)?;
        main.get_or_insert(path);
    }
    Ok(main)
}

fn print_outcome(task: &str, kind: &str, o: &RunOutcome, best_path: Option<&Path>) {
    println!("run {} {}: {}", o.run, o.status, o.stop_reason);
    println!("task         {task} ({kind})");
    if o.replayed {
        println!("proposals    replayed from a cassette (recorded replies, not a live model)");
    }
    println!(
        "spent        {} evaluations ({} duplicates reused), {} model calls, {} tokens, ${:.4}",
        o.evaluations, o.duplicates, o.llm_calls, o.tokens, o.dollars
    );
    if o.rejected > 0 {
        println!(
            "rejected     {} candidates too similar to a valid node (--novelty), not evaluated",
            o.rejected
        );
    }
    match o.seed_score {
        Some(s) => println!("seed score   {s:.4}"),
        None => println!("seed score   - (the seed was not valid)"),
    }
    match (o.best_score, o.best_node) {
        (Some(best), Some(node)) if o.best_valid => {
            let gain = o
                .seed_score
                .filter(|s| *s > 0.0)
                .map(|s| format!("  ({:.2}x the seed)", best / s))
                .unwrap_or_default();
            let basis = o.best_basis.unwrap_or(hone_store::ScoreBasis::PublicOnly);
            let public = o
                .best_public_score
                .filter(|_| basis == hone_store::ScoreBasis::Private)
                .map(|p| format!(", public {p:.4}"))
                .unwrap_or_default();
            println!(
                "best score   {best:.4}  node {node}{gain}  ({}{public})",
                basis.label()
            );
            if o.large_drop {
                println!(
                    "             WARNING: its public score is far above the private one (special-cased visible cases? overfitting?)"
                );
            }
        }
        _ => println!("best score   - (no candidate valid on the public and the private cases)"),
    }
    println!(
        "private      {} node(s) with a private result (each that entered the best {} public scores)",
        o.private_evaluations,
        crate::orchestrator::PRIVATE_TOP_K
    );
    if let Some(path) = best_path {
        println!("best files   {}", path.display());
    }
    println!("report       hone report {} -o report.html", o.run);
    if o.status == RunStatus::Interrupted {
        println!("resume       hone resume {}", o.run);
    }
}
