//! Evaluation workers coordinated through PostgreSQL (`hone run --workers`, `hone worker`).
//!
//! A run created with remote evaluation ([`Evaluations::Workers`], stored in the run's
//! config so `hone resume` keeps it) sends each evaluation to the store's queue instead of
//! the in-process blocking pool; everything else in the loop (duplicates, budgets, nodes,
//! lineage, resume) is unchanged. `hone worker` processes, on any machine that reaches the
//! database, claim jobs (`FOR UPDATE SKIP LOCKED`), renew their lease in the background
//! while the evaluation runs on a blocking thread, and complete the job with its result in
//! one transaction guarded by the lease token. A worker killed mid-job loses its lease and
//! the job is claimed again once the lease expires.
//!
//! Task folders travel through the store by content hash ([`folder`]); compiled programs
//! are cached per worker in its sandbox cache directory. The evaluation limits travel with
//! the task folder (its `task.toml`), so every worker evaluates with the same limits.
//!
//! A worker on which a job's task does not load (its folder cannot be unpacked there, a
//! compiler is missing, ...) passes the job back to the queue for a worker that has not
//! tried it, and skips that task's jobs from then on; the job fails the run only when no
//! live worker that has not passed it is left, or after [`hone_store::MAX_JOB_PASSES`].
//!
//! Resume: a resumed orchestrator cancels the jobs its killed predecessor left pending
//! (nobody started them), and adopts a job that is leased or done when it proposes the same
//! candidate again, so finished work is not redone. A run that ends cancels its unfinished
//! jobs.

pub mod dispatch;
mod error;
pub mod folder;
pub mod wire;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hone_store::{
    Backend, ClaimedJob, JOBS_CHANNEL, JobKind, PassOutcome, QueueListener, Store, WorkerId,
    WorkerStatus,
};
use hone_tasks::{Candidate, Task, TaskLoader};

pub use dispatch::RemoteEvaluations;
pub use error::WorkerError;

/// Where a run's evaluations happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Evaluations {
    /// On this process's blocking pool (the default; SQLite or PostgreSQL).
    #[default]
    InProcess,
    /// On `hone worker` processes through the queue (PostgreSQL only).
    Workers,
}

/// The key of the run config that records remote evaluation.
const CONFIG_KEY: &str = "evaluation";

impl Evaluations {
    /// The mode recorded in a stored run config (absent: in-process).
    pub fn from_config(config: &serde_json::Value) -> Evaluations {
        match config.get(CONFIG_KEY).and_then(|v| v.as_str()) {
            Some("workers") => Evaluations::Workers,
            _ => Evaluations::InProcess,
        }
    }

    /// `config` with this mode recorded.
    pub fn tag(self, mut config: serde_json::Value) -> serde_json::Value {
        if self == Evaluations::Workers
            && let Some(map) = config.as_object_mut()
        {
            map.insert(CONFIG_KEY.into(), serde_json::json!("workers"));
        }
        config
    }

    /// Refuses remote evaluation on a SQLite store.
    pub fn check(self, store: &Store) -> Result<(), WorkerError> {
        if self == Evaluations::Workers && store.backend() == Backend::Sqlite {
            return Err(WorkerError::WorkersNeedPostgres {
                store: store.name().to_string(),
            });
        }
        Ok(())
    }
}

/// How a worker behaves.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// How long a claim holds without renewal; renewed every third of it.
    pub lease: Duration,
    /// Stop after this many jobs.
    pub max_jobs: Option<u64>,
    /// Stop as soon as no job is waiting.
    pub once: bool,
    /// Re-check the queue this often when no notification arrives.
    pub poll: Duration,
    /// Where task folders are unpacked (`DIR/tasks/HASH/`).
    pub cache_dir: PathBuf,
}

/// What a worker did before it stopped.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct WorkerSummary {
    pub worker: i64,
    pub jobs_done: u64,
    pub jobs_failed: u64,
    /// Jobs given back to the queue because their task does not load here.
    pub jobs_passed: u64,
    /// Results the store did not accept (the lease was lost or the job cancelled).
    pub results_dropped: u64,
}

/// Retries with exponential backoff (0.5 s to 30 s), reporting each failure on stderr.
struct Backoff {
    delay: Duration,
    failing: bool,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff {
            delay: Duration::from_millis(500),
            failing: false,
        }
    }

    async fn failed(&mut self, what: &str, error: &dyn std::fmt::Display) {
        eprintln!(
            "hone worker: cannot {what}: {error}; retrying in {:.1} s",
            self.delay.as_secs_f64()
        );
        self.failing = true;
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(Duration::from_secs(30));
    }

    fn succeeded(&mut self) {
        if self.failing {
            eprintln!("hone worker: the database is reachable again");
        }
        self.failing = false;
        self.delay = Duration::from_millis(500);
    }
}

/// Why a claimed job was not evaluated.
enum JobError {
    /// The task does not load on this worker (its folder cannot be fetched or unpacked, or
    /// `Task::load` fails here): another worker may do better.
    CannotLoad(String),
    /// The job itself cannot be evaluated (its candidate is unreadable, ...).
    Failed(WorkerError),
}

/// A worker passing a job back counts the workers seen within twice its lease, and at
/// least this long, as live (idle workers check in every third of their lease).
const LIVE_WORKER_MIN: Duration = Duration::from_secs(30);

/// One `hone worker` process.
pub struct Worker {
    store: Store,
    loader: TaskLoader,
    options: WorkerOptions,
    id: WorkerId,
    tasks: HashMap<String, Task>,
    /// Tasks that did not load here, by content hash, with the reason: their jobs are
    /// passed back at once (until this worker restarts).
    unloadable: HashMap<String, String>,
    stop: Arc<AtomicBool>,
    summary: WorkerSummary,
}

/// This machine's host name.
pub fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it
    // or truncates, and we read only up to the first NUL.
    let rc = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

impl Worker {
    /// Registers a worker in `store` (retrying while the database is unreachable).
    pub async fn register(
        store: Store,
        loader: TaskLoader,
        options: WorkerOptions,
        stop: Arc<AtomicBool>,
    ) -> Result<Worker, WorkerError> {
        if store.backend() != Backend::Postgres {
            return Err(WorkerError::WorkerNeedsPostgres {
                store: store.name().to_string(),
            });
        }
        let host = host_name();
        let mut backoff = Backoff::new();
        let id = loop {
            match store
                .register_worker(&host, std::process::id() as i64)
                .await
            {
                Ok(id) => break id,
                Err(e) => backoff.failed("register this worker", &e).await,
            }
            if stop.load(Ordering::SeqCst) {
                return Err(WorkerError::StoppedBeforeRegistering);
            }
        };
        backoff.succeeded();
        eprintln!(
            "hone worker {id}: on {host} (pid {}), store {}, lease {:.1} s",
            std::process::id(),
            store.name(),
            options.lease.as_secs_f64()
        );
        Ok(Worker {
            store,
            loader,
            options,
            id,
            tasks: HashMap::new(),
            unloadable: HashMap::new(),
            stop,
            summary: WorkerSummary {
                worker: id.0,
                ..WorkerSummary::default()
            },
        })
    }

    pub fn id(&self) -> WorkerId {
        self.id
    }

    /// Claims and evaluates jobs until `--max-jobs`, `--once` with an empty queue, or a stop
    /// request (Ctrl-C: the job in hand is finished first). Database failures are retried
    /// with backoff and reported; they never end the loop.
    pub async fn run(mut self) -> WorkerSummary {
        let mut backoff = Backoff::new();
        let mut listener: Option<QueueListener> = None;
        let mut last_heartbeat = Instant::now();
        loop {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let handled =
                self.summary.jobs_done + self.summary.jobs_failed + self.summary.jobs_passed;
            if self.options.max_jobs.is_some_and(|max| handled >= max) {
                break;
            }
            if listener.is_none() {
                listener = self.store.listen(JOBS_CHANNEL).await.ok();
            }
            match self.store.claim_job(self.id, self.options.lease).await {
                Err(e) => backoff.failed("claim a job", &e).await,
                Ok(Some(job)) => {
                    backoff.succeeded();
                    self.process(job).await;
                    last_heartbeat = Instant::now();
                }
                Ok(None) => {
                    backoff.succeeded();
                    if self.options.once {
                        break;
                    }
                    if last_heartbeat.elapsed() > self.options.lease / 3 {
                        if let Err(e) = self
                            .store
                            .worker_heartbeat(self.id, WorkerStatus::Idle)
                            .await
                        {
                            backoff.failed("record a heartbeat", &e).await;
                            continue;
                        }
                        last_heartbeat = Instant::now();
                    }
                    match &mut listener {
                        Some(l) => {
                            l.wait(self.options.poll).await;
                        }
                        None => tokio::time::sleep(self.options.poll).await,
                    }
                }
            }
        }
        let mut tries = 0;
        while let Err(e) = self
            .store
            .worker_heartbeat(self.id, WorkerStatus::Stopped)
            .await
        {
            tries += 1;
            if tries >= 3 {
                eprintln!("hone worker {}: cannot record the stop: {e}", self.id);
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        eprintln!(
            "hone worker {}: stopped after {} job(s) ({} failed, {} passed back, {} result(s) not accepted)",
            self.id,
            self.summary.jobs_done,
            self.summary.jobs_failed,
            self.summary.jobs_passed,
            self.summary.results_dropped
        );
        self.summary
    }

    /// Loads (fetching and unpacking if needed) the task stored under `hash`.
    async fn task(&mut self, hash: &str) -> Result<Task, WorkerError> {
        if let Some(task) = self.tasks.get(hash) {
            return Ok(task.clone());
        }
        let dir = folder::materialize(&self.store, &self.options.cache_dir, hash).await?;
        let loader = self.loader.clone();
        let load_dir = dir.clone();
        let task = tokio::task::spawn_blocking(move || loader.load(&load_dir))
            .await
            .map_err(|source| WorkerError::Thread {
                what: "task loading",
                source,
            })?
            .map_err(|source| WorkerError::TaskDoesNotLoad { dir, source })?;
        eprintln!(
            "hone worker {}: loaded task `{}` ({hash:.12}) from the store",
            self.id, task.name
        );
        self.tasks.insert(hash.to_string(), task.clone());
        Ok(task)
    }

    async fn process(&mut self, job: ClaimedJob) {
        eprintln!(
            "hone worker {}: claimed job {} ({} evaluation) for run {} (attempt {})",
            self.id, job.id, job.kind, job.run, job.attempt
        );
        let renewal = self.start_renewal(&job);
        let evaluated = self.evaluate(&job).await;
        renewal.abort();
        let evaluated = match evaluated {
            Ok(result) => Ok(result),
            Err(JobError::Failed(error)) => Err(error.to_string()),
            Err(JobError::CannotLoad(reason)) => return self.pass(&job, &reason).await,
        };
        let mut backoff = Backoff::new();
        loop {
            let outcome = match &evaluated {
                Ok(result) => {
                    self.store
                        .complete_job(job.id, self.id, job.attempt, result)
                        .await
                }
                Err(message) => {
                    self.store
                        .fail_job(job.id, self.id, job.attempt, message)
                        .await
                }
            };
            match outcome {
                Ok(true) => {
                    backoff.succeeded();
                    match &evaluated {
                        Ok(result) => {
                            self.summary.jobs_done += 1;
                            eprintln!(
                                "hone worker {}: job {} ({}) done: {} score {}",
                                self.id,
                                job.id,
                                job.kind,
                                result["status"].as_str().unwrap_or("-"),
                                result["score"]
                            );
                        }
                        Err(message) => {
                            self.summary.jobs_failed += 1;
                            eprintln!("hone worker {}: job {} failed: {message}", self.id, job.id);
                        }
                    }
                    return;
                }
                Ok(false) => {
                    backoff.succeeded();
                    self.summary.results_dropped += 1;
                    eprintln!(
                        "hone worker {}: job {}: result not accepted (the lease expired and the job was claimed again, or it was cancelled)",
                        self.id, job.id
                    );
                    return;
                }
                Err(e) => backoff.failed("store a result", &e).await,
            }
        }
    }

    /// Gives a job whose task does not load here back to the queue for another worker
    /// (or fails it, when no live worker that has not tried it is left).
    async fn pass(&mut self, job: &ClaimedJob, reason: &str) {
        eprintln!(
            "hone worker {}: cannot evaluate job {} here: {reason}",
            self.id, job.id
        );
        let live_within = (self.options.lease * 2).max(LIVE_WORKER_MIN);
        let mut backoff = Backoff::new();
        loop {
            match self
                .store
                .pass_job(job.id, self.id, job.attempt, reason, live_within)
                .await
            {
                Ok(PassOutcome::Requeued { passes, untried }) => {
                    self.summary.jobs_passed += 1;
                    eprintln!(
                        "hone worker {}: passed job {} back to the queue (passed {passes} time(s); {untried} other live worker(s) may take it)",
                        self.id, job.id
                    );
                    return;
                }
                Ok(PassOutcome::Failed(message)) => {
                    self.summary.jobs_failed += 1;
                    eprintln!("hone worker {}: job {} failed: {message}", self.id, job.id);
                    return;
                }
                Ok(PassOutcome::NotHeld) => {
                    self.summary.results_dropped += 1;
                    eprintln!(
                        "hone worker {}: job {}: no longer held (the lease expired and the job was claimed again, or it was cancelled)",
                        self.id, job.id
                    );
                    return;
                }
                Err(e) => backoff.failed("pass a job back", &e).await,
            }
        }
    }

    /// Runs the job's evaluation on a blocking thread; `Err` when the job cannot be
    /// evaluated here (task missing or not loading, candidate unreadable).
    async fn evaluate(&mut self, job: &ClaimedJob) -> Result<serde_json::Value, JobError> {
        let task = match self.unloadable.get(&job.task_hash) {
            Some(reason) => return Err(JobError::CannotLoad(reason.clone())),
            None => match self.task(&job.task_hash).await {
                Ok(task) => task,
                Err(error) => {
                    let reason = error.to_string();
                    self.unloadable
                        .insert(job.task_hash.clone(), reason.clone());
                    return Err(JobError::CannotLoad(reason));
                }
            },
        };
        let candidate: Candidate = serde_json::from_value(job.candidate.clone())
            .map_err(|e| JobError::Failed(WorkerError::json("read the job's candidate")(e)))?;
        let evaluator = task.evaluator();
        let thread_failed = |source| {
            JobError::Failed(WorkerError::Thread {
                what: "evaluation",
                source,
            })
        };
        match job.kind {
            JobKind::Public => {
                let evaluation =
                    tokio::task::spawn_blocking(move || evaluator.evaluate(&candidate))
                        .await
                        .map_err(thread_failed)?;
                wire::encode(&evaluation).map_err(JobError::Failed)
            }
            // Of a private evaluation only its numbers leave this function.
            JobKind::Private => {
                let private =
                    tokio::task::spawn_blocking(move || evaluator.evaluate_private(&candidate))
                        .await
                        .map_err(thread_failed)?;
                wire::encode_private(private.as_ref()).map_err(JobError::Failed)
            }
        }
    }

    /// Renews the job's lease every third of the lease while the evaluation runs.
    fn start_renewal(&self, job: &ClaimedJob) -> tokio::task::JoinHandle<()> {
        let store = self.store.clone();
        let (id, worker, attempt, lease) = (job.id, self.id, job.attempt, self.options.lease);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                match store.renew_lease(id, worker, attempt, lease).await {
                    Ok(true) => tracing::debug!(job = id.0, "lease renewed"),
                    Ok(false) => {
                        eprintln!(
                            "hone worker {worker}: lost the lease of job {id} (expired and claimed again, or cancelled); its result will be dropped"
                        );
                        return;
                    }
                    Err(e) => {
                        eprintln!("hone worker {worker}: cannot renew the lease of job {id}: {e}")
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_round_trips_through_the_run_config() {
        let config = serde_json::json!({"concurrency": 2});
        assert_eq!(
            Evaluations::InProcess.tag(config.clone()),
            config,
            "in-process leaves the config as before"
        );
        let tagged = Evaluations::Workers.tag(config);
        assert_eq!(tagged["evaluation"], "workers");
        assert_eq!(Evaluations::from_config(&tagged), Evaluations::Workers);
        assert_eq!(
            Evaluations::from_config(&serde_json::json!({})),
            Evaluations::InProcess
        );
    }

    #[tokio::test]
    async fn workers_are_refused_on_sqlite() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        assert!(Evaluations::InProcess.check(&store).is_ok());
        let error = Evaluations::Workers.check(&store).unwrap_err().to_string();
        assert!(
            error.contains("--workers needs a PostgreSQL store"),
            "{error}"
        );
        assert!(!host_name().is_empty());
    }
}
