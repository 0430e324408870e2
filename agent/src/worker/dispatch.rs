//! The orchestrator's side of the queue: [`RemoteEvaluations`] enqueues a candidate's
//! public or private evaluation (or adopts the run's job of the same kind and content),
//! waits for its result — woken by NOTIFY, with a short poll as a fallback — and warns when
//! jobs wait while no worker is seen.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hone_store::{
    JobKind, JobOutcome, NewJob, PrivateEvaluation, RESULTS_CHANNEL, RunId, Store, WorkerStatus,
};
use hone_tasks::{Candidate, Evaluation};
use tokio::sync::Notify;

use super::{WorkerError, wire};

/// How often a waiting step re-reads its job when no notification came.
const POLL: Duration = Duration::from_millis(500);
/// How long jobs may wait with no worker seen before the orchestrator warns.
const NO_WORKER_WARNING: Duration = Duration::from_secs(30);

/// Evaluations by `hone worker` processes through the store's queue.
pub struct RemoteEvaluations {
    store: Store,
    run: RunId,
    task_hash: String,
    wake: Arc<Notify>,
    listener: tokio::task::JoinHandle<()>,
    last_warning: Mutex<Option<Instant>>,
}

impl RemoteEvaluations {
    /// Uploads the task folder (if the store lacks it), cancels jobs an earlier segment of
    /// this run left pending, and starts listening for results.
    pub async fn start(
        store: Store,
        run: RunId,
        task_dir: &Path,
        task_hash: &str,
    ) -> Result<RemoteEvaluations, WorkerError> {
        super::folder::upload(&store, task_dir, task_hash).await?;
        let cancelled = store.cancel_jobs(run, false).await?;
        if cancelled > 0 {
            tracing::warn!(
                run = run.0,
                cancelled,
                "cancelled evaluation jobs an earlier segment of this run left unclaimed"
            );
        }
        let wake = Arc::new(Notify::new());
        let listener = match store.listen(RESULTS_CHANNEL).await {
            Ok(mut listener) => {
                let wake = wake.clone();
                tokio::spawn(async move {
                    loop {
                        if listener.wait(Duration::from_secs(1)).await {
                            wake.notify_waiters();
                        }
                    }
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for results; polling instead");
                tokio::spawn(async {})
            }
        };
        Ok(RemoteEvaluations {
            store,
            run,
            task_hash: task_hash.to_string(),
            wake,
            listener,
            last_warning: Mutex::new(None),
        })
    }

    /// Evaluates `candidate` on a worker and returns its evaluation. An `Err` is a failure
    /// of the machinery (the store, a worker that could not load the task), not of the
    /// candidate.
    pub async fn evaluate(&self, candidate: &Candidate) -> Result<Evaluation, WorkerError> {
        let result = self.run_job(candidate, JobKind::Public).await?;
        wire::decode(&result)
    }

    /// Evaluates `candidate` privately on a worker and returns the numbers the worker kept
    /// (`None`: the task has no held-out cases). Errors as [`RemoteEvaluations::evaluate`].
    pub async fn evaluate_private(
        &self,
        candidate: &Candidate,
    ) -> Result<Option<PrivateEvaluation>, WorkerError> {
        let result = self.run_job(candidate, JobKind::Private).await?;
        wire::decode_private(&result)
    }

    /// Enqueues (or adopts) the job of this kind for `candidate` and waits for its result.
    async fn run_job(
        &self,
        candidate: &Candidate,
        kind: JobKind,
    ) -> Result<serde_json::Value, WorkerError> {
        let job = NewJob {
            run: self.run,
            kind,
            task_hash: self.task_hash.clone(),
            content_hash: candidate.content_hash(),
            candidate: serde_json::to_value(candidate)
                .map_err(WorkerError::json("encode a candidate"))?,
        };
        let (id, adopted) = self.store.enqueue_job(&job).await?;
        if adopted {
            tracing::info!(
                job = id.0,
                "adopted a job an earlier segment of this run enqueued"
            );
        }
        let since = Instant::now();
        loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.store.job_outcomes(&[id]).await {
                Ok(outcomes) => match outcomes.into_iter().next().map(|(_, o)| o) {
                    Some(JobOutcome::Done(value)) => return Ok(value),
                    Some(JobOutcome::Failed(message)) => {
                        return Err(WorkerError::JobFailed { job: id, message });
                    }
                    Some(JobOutcome::Cancelled) => return Err(WorkerError::JobCancelled(id)),
                    Some(JobOutcome::Waiting) => {}
                    None => return Err(WorkerError::JobVanished(id)),
                },
                Err(e) => tracing::warn!(error = %e, job = id.0, "cannot read the job; retrying"),
            }
            if since.elapsed() > NO_WORKER_WARNING {
                self.warn_if_no_worker().await;
            }
            let _ = tokio::time::timeout(POLL, notified).await;
        }
    }

    /// Warns (at most once a minute) when no worker was seen recently.
    async fn warn_if_no_worker(&self) {
        let due = self
            .last_warning
            .lock()
            .map(|last| last.is_none_or(|t| t.elapsed() > Duration::from_secs(60)))
            .unwrap_or(false);
        if !due {
            return;
        }
        let (Ok(workers), Ok(now)) = (self.store.workers().await, self.store.database_now().await)
        else {
            return;
        };
        let recent = workers.iter().any(|w| {
            w.status != WorkerStatus::Stopped
                && now.0 - w.last_seen.0 < NO_WORKER_WARNING.as_millis() as i64
        });
        if recent {
            return;
        }
        if let Ok(mut last) = self.last_warning.lock() {
            *last = Some(Instant::now());
        }
        let depth = self
            .store
            .queue_depth(Some(self.run))
            .await
            .unwrap_or_default();
        tracing::warn!(
            "run {}: {} evaluation job(s) waiting and no worker seen for {} s; start one with `hone worker --store {}`",
            self.run.0,
            depth.pending + depth.leased,
            NO_WORKER_WARNING.as_secs(),
            self.store.name()
        );
    }

    /// Cancels the run's unfinished jobs (a run that ends stops wanting them) and stops
    /// listening.
    pub async fn shutdown(&self) {
        self.listener.abort();
        match self.store.cancel_jobs(self.run, true).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(run = self.run.0, n, "cancelled unfinished evaluation jobs"),
            Err(e) => tracing::warn!(error = %e, "cannot cancel the run's unfinished jobs"),
        }
    }
}

impl Drop for RemoteEvaluations {
    fn drop(&mut self) {
        self.listener.abort();
    }
}
