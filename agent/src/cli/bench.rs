//! `hone bench SUITE.toml`: run a suite of rows (task × strategy × proposer × seed) and write
//! its results as markdown, CSV and JSON; rerun to resume an interrupted bench.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::bench::{self, BenchOptions, Suite};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The suite file (format: the top of agent/src/bench.rs; examples:
    /// tasks/library/params/bench.toml, tasks/library/heuristic/bench.toml).
    pub suite: PathBuf,
    /// Rows running at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Where the results go [default: .hone/bench/<suite name>/].
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Print the results as JSON instead of the markdown table.
    #[arg(long)]
    pub json: bool,
    /// The proposer of `kind = "llm"` rows: openai, record:FILE, replay:FILE, replay-seq:FILE
    /// (overrides the suite's `llm`).
    #[arg(long)]
    pub llm: Option<String>,
    /// Base URL of an OpenAI-compatible server for `llm` rows (overrides the suite's).
    #[arg(long, env = "OPENAI_BASE_URL")]
    pub base_url: Option<String>,
    /// The model of `llm` rows whose suite entry says `model = "default"`.
    #[arg(long)]
    pub model: Option<String>,
}

pub(super) fn run(cli: &super::Cli, args: &BenchArgs) -> anyhow::Result<ExitCode> {
    if args.concurrency == 0 {
        anyhow::bail!("--concurrency 0: at least one row must run at a time");
    }
    let suite = Suite::load(&args.suite)?;
    let options = BenchOptions {
        concurrency: args.concurrency,
        llm: args.llm.clone(),
        base_url: args.base_url.clone(),
        model: args.model.clone(),
        verbose: true,
    };
    let key = |name: &str| std::env::var(name).ok().filter(|k| !k.is_empty());
    let plan = bench::plan(&suite, &options, &|name| key(name).is_some())?;
    for note in &plan.notes {
        eprintln!("hone bench: {note}");
    }
    let dir = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(".hone").join("bench").join(&suite.name));
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let store = super::run::open_store(cli).await?;
        let tasks = super::task_loader(cli)?;
        eprintln!(
            "hone bench: suite `{}`: {} row(s), {} at a time",
            suite.name,
            plan.rows.len(),
            options.concurrency
        );
        let resolver: bench::KeyResolver = std::sync::Arc::new(key);
        let report = bench::run(&store, &tasks, &suite, &options, plan, resolver).await?;
        let markdown = bench::write_results(&dir, &suite, &report)
            .with_context(|| format!("suite {}", suite.file.display()))?;
        if args.json {
            let value = bench::report_json(&suite, &report);
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            print!("{markdown}");
        }
        eprintln!(
            "hone bench: {} row(s) skipped (already finished), {} started, {} resumed; results in {}",
            report.skipped,
            report.created,
            report.resumed,
            dir.display()
        );
        if report.interrupted {
            eprintln!(
                "hone bench: interrupted before every row finished; run `hone bench {}` again to resume",
                args.suite.display()
            );
            return Ok(ExitCode::from(130));
        }
        Ok(ExitCode::SUCCESS)
    })
}
