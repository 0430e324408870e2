//! `hone worker`: evaluate the queued jobs of `hone run --workers` runs.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use hone_store::{Store, StoreConfig};

use crate::worker::{Worker, WorkerOptions};

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// How long a claimed job stays this worker's without renewal (renewed every third of
    /// it while the evaluation runs), e.g. 30s or 2m. At least 1s.
    #[arg(long, default_value = "30s", value_parser = super::parse_duration)]
    pub lease: std::time::Duration,
    /// Stop after this many jobs.
    #[arg(long)]
    pub max_jobs: Option<u64>,
    /// Stop as soon as no job is waiting.
    #[arg(long)]
    pub once: bool,
    /// How often to look at the queue when no notification arrives, e.g. 1s.
    #[arg(long, default_value = "1s", value_parser = super::parse_duration)]
    pub poll: std::time::Duration,
    /// Print the summary as JSON on stdout when stopping.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(cli: &super::Cli, args: &WorkerArgs) -> anyhow::Result<ExitCode> {
    let Some(url) = cli.store.clone() else {
        bail!(
            "hone worker needs --store postgres://USER@HOST/DB (or HONE_STORE): the store of a run started with `hone run --workers`"
        );
    };
    if args.lease < std::time::Duration::from_secs(1) {
        bail!(
            "--lease {:?}: a lease must be at least 1s (it is renewed every third of it)",
            args.lease
        );
    }
    if args.poll.is_zero() {
        bail!("--poll 0: the poll interval must be positive, e.g. 1s");
    }
    if args.max_jobs == Some(0) {
        bail!("--max-jobs 0: give at least 1, or leave it out to run until stopped");
    }
    let cache_dir =
        super::cache_dir(cli).unwrap_or_else(|| std::env::temp_dir().join("hone-cache"));
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        // A short connect timeout: a lost database is reported (and retried) within seconds.
        let mut config = StoreConfig::new(url);
        config.connect_timeout = std::time::Duration::from_secs(3);
        let store = Store::open_with(config).await?;
        let tasks = super::task_loader(cli)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("hone worker: stopping after the job in hand (Ctrl-C)");
                flag.store(true, Ordering::SeqCst);
            }
        });
        let options = WorkerOptions {
            lease: args.lease,
            max_jobs: args.max_jobs,
            once: args.once,
            poll: args.poll,
            cache_dir,
        };
        let worker = Worker::register(store, tasks, options, stop)
            .await
            .context("hone worker could not start")?;
        let summary = worker.run().await;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        Ok(ExitCode::SUCCESS)
    })
}
