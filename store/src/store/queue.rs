//! The evaluation queue on PostgreSQL: task folders by content hash, evaluation jobs claimed
//! with `FOR UPDATE SKIP LOCKED` under a renewable lease, worker registrations, and the
//! LISTEN/NOTIFY channels that wake idle workers and waiting orchestrators.
//!
//! Times that decide a lease (claim, expiry, renewal, last seen) come from the database's
//! clock, so workers on machines whose clocks disagree still agree on who holds a job. A
//! job's `attempts` counter is its lease token: each claim increments it under the row lock,
//! and a completion, failure or renewal must present the attempt it claimed. A second
//! completion of the same attempt, or a completion by a worker whose expired lease was
//! claimed again, changes nothing and is reported as not accepted.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool};

use crate::error::{Error, Result};
use crate::names::stored_names;
use crate::store::{Db, RowError, RowExt, on_db};
use crate::{RunId, Store, Timestamp};

/// The channel `hone worker` listens on: a job was enqueued.
pub const JOBS_CHANNEL: &str = "hone_jobs";
/// The channel orchestrators listen on: a job was completed, failed or cancelled.
pub const RESULTS_CHANNEL: &str = "hone_job_results";

/// The database clock in Unix milliseconds (PostgreSQL).
const NOW: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// An evaluation job's id, unique within one store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A worker's id, unique within one store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkerId(pub i64);

impl std::fmt::Display for WorkerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which evaluation a job asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// The public evaluation (`Evaluator::evaluate`): what the search sees.
    Public,
    /// The private evaluation on held-out cases (`Evaluator::evaluate_private`): its result
    /// holds only the numbers (status, validity, score, fuel, wall time).
    Private,
}

stored_names!(JobKind {
    Public => "public",
    Private => "private",
});

/// Where a job stands in the queue; stored as its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for a worker.
    Pending,
    /// Held by a worker under a lease.
    Leased,
    /// Finished with a result.
    Done,
    /// Finished without one: the worker could not evaluate it.
    Failed,
    /// Withdrawn by its run before it finished.
    Cancelled,
}

stored_names!(JobStatus {
    Pending => "pending",
    Leased => "leased",
    Done => "done",
    Failed => "failed",
    Cancelled => "cancelled",
});

/// How one claim of a job ended; stored as its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The worker completed the job with a result.
    Done,
    /// The worker could not evaluate it.
    Failed,
    /// The worker gave it back to the queue (the task does not load there).
    Passed,
    /// The worker finished, but its completion was not accepted (the lease had expired and
    /// the job was claimed again, or the job was cancelled).
    Dropped,
}

stored_names!(AttemptOutcome {
    Done => "done",
    Failed => "failed",
    Passed => "passed",
    Dropped => "dropped",
});

/// A job to enqueue: one evaluation of one candidate of one run, on the task folder stored
/// under `task_hash`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    pub run: RunId,
    pub kind: JobKind,
    /// The task folder's content hash (see [`Store::put_task_folder`]).
    pub task_hash: String,
    /// The candidate's normalized content hash: a job of the same run, kind, task and
    /// content that is pending, leased or done is adopted instead of enqueueing another.
    pub content_hash: String,
    /// The candidate, as JSON (the store does not interpret it).
    pub candidate: serde_json::Value,
}

/// A job a worker holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimedJob {
    pub id: JobId,
    pub run: RunId,
    pub kind: JobKind,
    pub task_hash: String,
    pub content_hash: String,
    pub candidate: serde_json::Value,
    /// This claim's number (1 for the first): the lease token.
    pub attempt: i64,
    /// When the lease ends unless renewed (database clock).
    pub lease_expires_at: Timestamp,
}

/// Where a job stands, as its orchestrator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JobOutcome {
    /// Not finished: waiting for a worker, or held by one.
    Waiting,
    /// Finished; the worker's result (JSON, not interpreted by the store).
    Done(serde_json::Value),
    /// A worker could not evaluate it (the task did not load there, ...).
    Failed(String),
    Cancelled,
}

/// How many workers may pass a job back (see [`Store::pass_job`]) before it fails.
pub const MAX_JOB_PASSES: i64 = 5;

/// What became of a job a worker passed back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PassOutcome {
    /// Back in the queue: passed `passes` times so far; `untried` live workers have not
    /// passed it.
    Requeued { passes: i64, untried: i64 },
    /// Failed: no live worker is left to try it, or it was passed too often. The message
    /// names every worker that passed it and why.
    Failed(String),
    /// This attempt no longer held the job (its lease expired and it was claimed again,
    /// or it was cancelled): nothing changed.
    NotHeld,
}

/// What a registered worker is doing, as it last said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerStatus {
    /// Waiting for a job.
    Idle,
    /// Holding a job (`current_job`).
    Working,
    /// Exited cleanly.
    Stopped,
}

stored_names!(WorkerStatus {
    Idle => "idle",
    Working => "working",
    Stopped => "stopped",
});

/// A registered worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerRecord {
    pub id: WorkerId,
    pub host: String,
    pub pid: i64,
    pub status: WorkerStatus,
    pub current_job: Option<JobId>,
    pub jobs_done: i64,
    pub started_at: Timestamp,
    pub last_seen: Timestamp,
}

/// Jobs by status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueDepth {
    pub pending: i64,
    pub leased: i64,
    pub done: i64,
    pub failed: i64,
    pub cancelled: i64,
}

/// One claim of one job: who held it, when, and how it ended (`None` while held or if the
/// worker vanished).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobAttempt {
    pub job: JobId,
    pub attempt: i64,
    pub worker: WorkerId,
    pub claimed_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub outcome: Option<AttemptOutcome>,
}

/// One job of a run as the store holds it (its candidate and result left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: JobId,
    pub kind: JobKind,
    pub content_hash: String,
    pub status: JobStatus,
    /// How many times it was claimed.
    pub attempts: i64,
}

/// A LISTEN connection on one channel. After a lost connection it reconnects on the next
/// wait (notifications sent meanwhile are lost, which is why callers also poll).
pub struct QueueListener {
    listener: PgListener,
}

impl QueueListener {
    /// Waits up to `timeout` for a notification; true if one arrived.
    pub async fn wait(&mut self, timeout: Duration) -> bool {
        let start = std::time::Instant::now();
        match tokio::time::timeout(timeout, self.listener.try_recv()).await {
            Ok(Ok(Some(_))) => true,
            Ok(Ok(None)) => false,
            Ok(Err(_)) => {
                // The connection failed and cannot be re-established yet: do not spin.
                tokio::time::sleep(timeout.saturating_sub(start.elapsed())).await;
                false
            }
            Err(_) => false,
        }
    }
}

fn job_outcome(status: JobStatus, result: Option<String>, error: Option<String>) -> JobOutcome {
    match status {
        JobStatus::Done => match result.map(|r| serde_json::from_str(&r)) {
            Some(Ok(value)) => JobOutcome::Done(value),
            Some(Err(e)) => JobOutcome::Failed(format!("the stored result is not JSON: {e}")),
            None => JobOutcome::Failed("the job is done but holds no result".into()),
        },
        JobStatus::Failed => JobOutcome::Failed(error.unwrap_or_else(|| "no reason given".into())),
        JobStatus::Cancelled => JobOutcome::Cancelled,
        JobStatus::Pending | JobStatus::Leased => JobOutcome::Waiting,
    }
}

fn worker_from_row(row: &impl RowExt) -> Result<WorkerRecord, RowError> {
    Ok(WorkerRecord {
        id: WorkerId(row.i64("id")?),
        host: row.string("host")?,
        pid: row.i64("pid")?,
        status: {
            let value = row.string("status")?;
            WorkerStatus::parse(&value).ok_or(RowError::UnknownValue {
                column: "status",
                value,
            })?
        },
        current_job: row.opt_i64("current_job")?.map(JobId),
        jobs_done: row.i64("jobs_done")?,
        started_at: Timestamp(row.i64("started_at")?),
        last_seen: Timestamp(row.i64("last_seen")?),
    })
}

impl Store {
    /// The PostgreSQL pool, or [`Error::QueueNeedsPostgres`] naming what needed it.
    fn queue_pool(&self, context: &'static str) -> Result<&PgPool> {
        match &self.inner.db {
            Db::Postgres(pool) => Ok(pool),
            Db::Sqlite(_) => Err(Error::QueueNeedsPostgres {
                store: self.inner.name.clone(),
                context,
            }),
        }
    }

    fn queue_writable(&self, context: &str) -> Result<()> {
        if self.inner.read_only {
            return Err(Error::ReadOnly {
                store: self.inner.name.clone(),
                context: context.to_string(),
            });
        }
        Ok(())
    }

    /// A stored job kind, or [`Error::UnknownValue`] naming it.
    fn job_kind(&self, name: &str, run: RunId, context: &'static str) -> Result<JobKind> {
        JobKind::parse(name).ok_or_else(|| Error::UnknownValue {
            store: self.inner.name.clone(),
            run: Some(run),
            context,
            column: "kind",
            value: name.to_string(),
        })
    }

    /// A stored job status, or [`Error::UnknownValue`] naming it.
    fn job_status(&self, name: &str, context: &'static str) -> Result<JobStatus> {
        JobStatus::parse(name).ok_or_else(|| Error::UnknownValue {
            store: self.inner.name.clone(),
            run: None,
            context,
            column: "status",
            value: name.to_string(),
        })
    }

    /// The database's clock (PostgreSQL), or this machine's (SQLite).
    pub async fn database_now(&self) -> Result<Timestamp> {
        match &self.inner.db {
            Db::Sqlite(_) => Ok(Timestamp::now()),
            Db::Postgres(pool) => {
                let sql = format!("SELECT {NOW}");
                let now: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(pool)
                    .await
                    .map_err(self.db_err("read the database clock", None))?;
                Ok(Timestamp(now))
            }
        }
    }

    /// True if the task folder with this content hash is stored (with all its files).
    pub async fn has_task_folder(&self, hash: &str) -> Result<bool> {
        let count: i64 = on_db!(self, pool => {
            sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM task_folders WHERE hash = $1")
                .bind(hash)
                .fetch_one(pool)
                .await
        })
        .map_err(self.db_err("look up a task folder", None))?;
        Ok(count > 0)
    }

    /// Stores a task folder's files (relative path, bytes) under its content hash, all in
    /// one transaction. Returns false if it was already stored (nothing is written).
    pub async fn put_task_folder(&self, hash: &str, files: &[(String, Vec<u8>)]) -> Result<bool> {
        self.queue_writable("store a task folder")?;
        let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
        let result: Result<bool, sqlx::Error> = on_db!(self, pool => async {
            let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
            let exists: i64 = sqlx::query_scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM task_folders WHERE hash = $1",
            )
            .bind(hash)
            .fetch_one(&mut *tx)
            .await?;
            if exists > 0 {
                return Ok(false);
            }
            for (path, content) in files {
                sqlx::query(
                    "INSERT INTO task_files (hash, path, content) VALUES ($1, $2, $3) \
                     ON CONFLICT (hash, path) DO NOTHING",
                )
                .bind(hash)
                .bind(path)
                .bind(content.as_slice())
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "INSERT INTO task_folders (hash, files, bytes, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (hash) DO NOTHING",
            )
            .bind(hash)
            .bind(files.len() as i64)
            .bind(bytes as i64)
            .bind(Timestamp::now().0)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        }.await);
        result.map_err(self.db_err("store a task folder", None))
    }

    /// A stored task folder's files, sorted by path; `None` if it is not (completely) stored.
    pub async fn task_folder(&self, hash: &str) -> Result<Option<Vec<(String, Vec<u8>)>>> {
        if !self.has_task_folder(hash).await? {
            return Ok(None);
        }
        let rows: Vec<(String, Vec<u8>)> = on_db!(self, pool => {
            sqlx::query_as("SELECT path, content FROM task_files WHERE hash = $1 ORDER BY path")
                .bind(hash)
                .fetch_all(pool)
                .await
        })
        .map_err(self.db_err("read a task folder", None))?;
        Ok(Some(rows))
    }

    /// Enqueues an evaluation job, or adopts the run's job for the same task and content
    /// that is pending, leased or done. Returns the job and whether it was adopted. Idle
    /// workers are woken (NOTIFY) when the transaction commits.
    pub async fn enqueue_job(&self, job: &NewJob) -> Result<(JobId, bool)> {
        self.queue_writable("enqueue an evaluation job")?;
        let pool = self.queue_pool("enqueue an evaluation job")?;
        let candidate = serde_json::to_string(&job.candidate)
            .map_err(self.json_err("serialize a candidate", Some(job.run)))?;
        let result: Result<(i64, bool), sqlx::Error> = async {
            let mut tx = pool.begin().await?;
            let adoptable = format!(
                "SELECT id FROM eval_jobs WHERE run_id = $1 AND content_hash = $2 \
                 AND task_hash = $3 AND kind = $4 AND status IN ('{pending}', '{leased}', '{done}') \
                 ORDER BY id LIMIT 1",
                pending = JobStatus::Pending,
                leased = JobStatus::Leased,
                done = JobStatus::Done,
            );
            let existing: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(adoptable))
            .bind(job.run.0)
            .bind(&job.content_hash)
            .bind(&job.task_hash)
            .bind(job.kind.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(id) = existing {
                tx.commit().await?;
                return Ok((id, true));
            }
            let sql = format!(
                "INSERT INTO eval_jobs (run_id, kind, task_hash, content_hash, candidate, status, \
                 attempts, created_at) VALUES ($1, $2, $3, $4, $5, '{pending}', 0, {NOW}) \
                 RETURNING id",
                pending = JobStatus::Pending,
            );
            let id: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(job.run.0)
                .bind(job.kind.as_str())
                .bind(&job.task_hash)
                .bind(&job.content_hash)
                .bind(&candidate)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(JOBS_CHANNEL)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok((id, false))
        }
        .await;
        match result {
            Ok((id, adopted)) => Ok((JobId(id), adopted)),
            Err(e) => {
                let fk = e
                    .as_database_error()
                    .map(|d| d.is_foreign_key_violation())
                    .unwrap_or(false);
                if fk
                    && let Err(not_found @ Error::RunNotFound { .. }) = self.get_run(job.run).await
                {
                    return Err(not_found);
                }
                Err(self.db_err("enqueue an evaluation job", Some(job.run))(e))
            }
        }
    }

    /// Where these jobs stand (jobs not in the store are left out).
    pub async fn job_outcomes(&self, jobs: &[JobId]) -> Result<Vec<(JobId, JobOutcome)>> {
        let pool = self.queue_pool("read job outcomes")?;
        let ids: Vec<i64> = jobs.iter().map(|j| j.0).collect();
        let rows: Vec<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT id, status, result, error FROM eval_jobs WHERE id = ANY($1) ORDER BY id",
        )
        .bind(&ids)
        .fetch_all(pool)
        .await
        .map_err(self.db_err("read job outcomes", None))?;
        rows.into_iter()
            .map(|(id, status, result, error)| {
                let status = self.job_status(&status, "read job outcomes")?;
                Ok((JobId(id), job_outcome(status, result, error)))
            })
            .collect()
    }

    /// Cancels the run's jobs that are pending (and, with `leased_too`, those held by a
    /// worker, whose completion will then not be accepted). Returns how many were cancelled.
    pub async fn cancel_jobs(&self, run: RunId, leased_too: bool) -> Result<u64> {
        self.queue_writable("cancel evaluation jobs")?;
        let pool = self.queue_pool("cancel evaluation jobs")?;
        let statuses: &[&str] = if leased_too {
            &[JobStatus::Pending.as_str(), JobStatus::Leased.as_str()]
        } else {
            &[JobStatus::Pending.as_str()]
        };
        let sql = format!(
            "UPDATE eval_jobs SET status = '{cancelled}', finished_at = {NOW}, \
             lease_expires_at = NULL WHERE run_id = $1 AND status = ANY($2)",
            cancelled = JobStatus::Cancelled,
        );
        let result: Result<u64, sqlx::Error> = async {
            let mut tx = pool.begin().await?;
            let affected = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(run.0)
                .bind(statuses)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if affected > 0 {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(RESULTS_CHANNEL)
                    .bind(run.0.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(affected)
        }
        .await;
        result.map_err(self.db_err("cancel evaluation jobs", Some(run)))
    }

    /// Registers a worker process (status `idle`).
    pub async fn register_worker(&self, host: &str, pid: i64) -> Result<WorkerId> {
        self.queue_writable("register a worker")?;
        let pool = self.queue_pool("register a worker")?;
        let sql = format!(
            "INSERT INTO workers (host, pid, status, jobs_done, started_at, last_seen) \
             VALUES ($1, $2, '{idle}', 0, {NOW}, {NOW}) RETURNING id",
            idle = WorkerStatus::Idle
        );
        let id: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(host)
            .bind(pid)
            .fetch_one(pool)
            .await
            .map_err(self.db_err("register a worker", None))?;
        Ok(WorkerId(id))
    }

    /// Marks a worker as seen now, with its status.
    pub async fn worker_heartbeat(&self, worker: WorkerId, status: WorkerStatus) -> Result<()> {
        let pool = self.queue_pool("record a worker heartbeat")?;
        let sql = format!(
            "UPDATE workers SET status = $1, last_seen = {NOW}, \
             current_job = CASE WHEN $1 = '{working}' THEN current_job ELSE NULL END WHERE id = $2",
            working = WorkerStatus::Working
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(status.as_str())
            .bind(worker.0)
            .execute(pool)
            .await
            .map_err(self.db_err("record a worker heartbeat", None))?;
        Ok(())
    }

    /// Claims the oldest job that is pending or whose lease expired, for `lease`, leaving
    /// out jobs this worker passed back. Workers claiming at once each get a different job
    /// (`FOR UPDATE SKIP LOCKED`).
    pub async fn claim_job(&self, worker: WorkerId, lease: Duration) -> Result<Option<ClaimedJob>> {
        self.queue_writable("claim an evaluation job")?;
        let pool = self.queue_pool("claim an evaluation job")?;
        let lease_ms = lease.as_millis().min(i64::MAX as u128) as i64;
        // One statement (one round trip, atomic): take the job, record the attempt, mark the
        // worker busy.
        let claim = format!(
            "WITH next AS (SELECT id FROM eval_jobs WHERE (status = '{pending}' \
               OR (status = '{leased}' AND lease_expires_at < {NOW})) \
               AND NOT EXISTS (SELECT 1 FROM job_attempts a WHERE a.job_id = eval_jobs.id \
                 AND a.worker_id = $1 AND a.outcome = '{passed}') \
               ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED), \
             claimed AS (UPDATE eval_jobs j SET status = '{leased}', attempts = j.attempts + 1, \
               worker_id = $1, lease_expires_at = {NOW} + $2 \
               FROM next WHERE j.id = next.id \
               RETURNING j.id, j.run_id, j.kind, j.task_hash, j.content_hash, j.candidate, \
               j.attempts, j.lease_expires_at), \
             attempt AS (INSERT INTO job_attempts (job_id, attempt, worker_id, claimed_at) \
               SELECT id, attempts, $1, {NOW} FROM claimed), \
             seen AS (UPDATE workers SET status = '{working}', current_job = claimed.id, \
               last_seen = {NOW} FROM claimed WHERE workers.id = $1) \
             SELECT id, run_id, kind, task_hash, content_hash, candidate, attempts, \
             lease_expires_at FROM claimed",
            working = WorkerStatus::Working,
            pending = JobStatus::Pending,
            leased = JobStatus::Leased,
            passed = AttemptOutcome::Passed,
        );
        type Claimed = (i64, i64, String, String, String, String, i64, i64);
        let result: Result<Option<Claimed>, sqlx::Error> =
            sqlx::query_as(sqlx::AssertSqlSafe(claim))
                .bind(worker.0)
                .bind(lease_ms)
                .fetch_optional(pool)
                .await;
        let Some((id, run, kind, task_hash, content_hash, candidate, attempt, expires)) =
            result.map_err(self.db_err("claim an evaluation job", None))?
        else {
            return Ok(None);
        };
        let candidate = serde_json::from_str(&candidate)
            .map_err(self.json_err("read a job's candidate", Some(RunId(run))))?;
        let kind = self.job_kind(&kind, RunId(run), "claim an evaluation job")?;
        Ok(Some(ClaimedJob {
            id: JobId(id),
            run: RunId(run),
            kind,
            task_hash,
            content_hash,
            candidate,
            attempt,
            lease_expires_at: Timestamp(expires),
        }))
    }

    /// Extends a held lease by `lease` from now. False if the lease is no longer this
    /// worker's (it expired and was claimed again, or the job was cancelled).
    pub async fn renew_lease(
        &self,
        job: JobId,
        worker: WorkerId,
        attempt: i64,
        lease: Duration,
    ) -> Result<bool> {
        let pool = self.queue_pool("renew a lease")?;
        let lease_ms = lease.as_millis().min(i64::MAX as u128) as i64;
        let sql = format!(
            "UPDATE eval_jobs SET lease_expires_at = {NOW} + $1 \
             WHERE id = $2 AND status = '{leased}' AND attempts = $3 AND worker_id = $4",
            leased = JobStatus::Leased,
        );
        let seen = format!("UPDATE workers SET last_seen = {NOW} WHERE id = $1");
        let result: Result<bool, sqlx::Error> = async {
            let mut tx = pool.begin().await?;
            let affected = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(lease_ms)
                .bind(job.0)
                .bind(attempt)
                .bind(worker.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(sqlx::AssertSqlSafe(seen))
                .bind(worker.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(affected == 1)
        }
        .await;
        result.map_err(self.db_err("renew a lease", None))
    }

    /// Completes a held job with its result, in one transaction with the worker's count and
    /// the attempt's record. True if accepted; false if this attempt no longer holds the job
    /// (already completed, claimed again after its lease expired, or cancelled).
    pub async fn complete_job(
        &self,
        job: JobId,
        worker: WorkerId,
        attempt: i64,
        result: &serde_json::Value,
    ) -> Result<bool> {
        let text =
            serde_json::to_string(result).map_err(self.json_err("serialize a result", None))?;
        self.finish_job(job, worker, attempt, JobStatus::Done, Some(&text), None)
            .await
    }

    /// Marks a held job failed (the worker could not evaluate it), like [`Store::complete_job`].
    pub async fn fail_job(
        &self,
        job: JobId,
        worker: WorkerId,
        attempt: i64,
        error: &str,
    ) -> Result<bool> {
        self.finish_job(job, worker, attempt, JobStatus::Failed, None, Some(error))
            .await
    }

    /// Gives a held job back because this worker cannot evaluate it at all (the task does
    /// not load here): the attempt ends as `passed` with `reason`, and the job goes back to
    /// the queue for a worker that has not passed it, which this worker will not claim
    /// again. The job fails instead, with every passing worker's reason, once it has been
    /// passed [`MAX_JOB_PASSES`] times or no live worker (not stopped, seen within
    /// `live_within`) that has not passed it remains.
    pub async fn pass_job(
        &self,
        job: JobId,
        worker: WorkerId,
        attempt: i64,
        reason: &str,
        live_within: Duration,
    ) -> Result<PassOutcome> {
        self.queue_writable("pass an evaluation job back")?;
        let pool = self.queue_pool("pass an evaluation job back")?;
        let live_ms = live_within.as_millis().min(i64::MAX as u128) as i64;
        let held = format!(
            "SELECT run_id FROM eval_jobs \
             WHERE id = $1 AND status = '{leased}' AND attempts = $2 AND worker_id = $3 FOR UPDATE",
            leased = JobStatus::Leased,
        );
        let record = format!(
            "UPDATE job_attempts SET finished_at = {NOW}, outcome = '{passed}', detail = $4 \
             WHERE job_id = $1 AND attempt = $2 AND worker_id = $3",
            passed = AttemptOutcome::Passed,
        );
        let untried = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM workers w WHERE w.status <> '{stopped}' \
             AND w.last_seen >= {NOW} - $2 AND NOT EXISTS (SELECT 1 FROM job_attempts a \
             WHERE a.job_id = $1 AND a.worker_id = w.id AND a.outcome = '{passed}')",
            stopped = WorkerStatus::Stopped,
            passed = AttemptOutcome::Passed,
        );
        let fail = format!(
            "UPDATE eval_jobs SET status = '{failed}', error = $2, finished_at = {NOW}, \
             lease_expires_at = NULL WHERE id = $1",
            failed = JobStatus::Failed,
        );
        let passes_sql = format!(
            "SELECT a.worker_id, w.host, w.pid, a.detail FROM job_attempts a \
             JOIN workers w ON w.id = a.worker_id \
             WHERE a.job_id = $1 AND a.outcome = '{passed}' ORDER BY a.attempt",
            passed = AttemptOutcome::Passed,
        );
        let requeue = format!(
            "UPDATE eval_jobs SET status = '{pending}', worker_id = NULL, \
             lease_expires_at = NULL WHERE id = $1",
            pending = JobStatus::Pending,
        );
        let idle = format!(
            "UPDATE workers SET status = '{idle}', current_job = NULL, last_seen = {NOW} \
             WHERE id = $1",
            idle = WorkerStatus::Idle
        );
        let outcome: Result<PassOutcome, sqlx::Error> = async {
            let mut tx = pool.begin().await?;
            let run: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(held))
                .bind(job.0)
                .bind(attempt)
                .bind(worker.0)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(run) = run else {
                return Ok(PassOutcome::NotHeld);
            };
            sqlx::query(sqlx::AssertSqlSafe(record))
                .bind(job.0)
                .bind(attempt)
                .bind(worker.0)
                .bind(reason)
                .execute(&mut *tx)
                .await?;
            let passes: Vec<(i64, String, i64, Option<String>)> =
                sqlx::query_as(sqlx::AssertSqlSafe(passes_sql))
                    .bind(job.0)
                    .fetch_all(&mut *tx)
                    .await?;
            let untried: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(untried))
                .bind(job.0)
                .bind(live_ms)
                .fetch_one(&mut *tx)
                .await?;
            let count = passes.len() as i64;
            let outcome = if untried == 0 || count >= MAX_JOB_PASSES {
                let why = if untried == 0 {
                    "no other live worker is left to try it"
                } else {
                    "it was passed back too many times"
                };
                let reasons = passes
                    .iter()
                    .map(|(id, host, pid, detail)| {
                        format!(
                            "worker {id} on {host} (pid {pid}): {}",
                            detail.as_deref().unwrap_or("no reason given")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let message =
                    format!("{count} worker(s) could not evaluate it and {why}: {reasons}");
                sqlx::query(sqlx::AssertSqlSafe(fail))
                    .bind(job.0)
                    .bind(&message)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(RESULTS_CHANNEL)
                    .bind(run.to_string())
                    .execute(&mut *tx)
                    .await?;
                PassOutcome::Failed(message)
            } else {
                sqlx::query(sqlx::AssertSqlSafe(requeue))
                    .bind(job.0)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(JOBS_CHANNEL)
                    .bind(job.0.to_string())
                    .execute(&mut *tx)
                    .await?;
                PassOutcome::Requeued {
                    passes: count,
                    untried,
                }
            };
            sqlx::query(sqlx::AssertSqlSafe(idle))
                .bind(worker.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(outcome)
        }
        .await;
        outcome.map_err(self.db_err("pass an evaluation job back", None))
    }

    async fn finish_job(
        &self,
        job: JobId,
        worker: WorkerId,
        attempt: i64,
        status: JobStatus,
        result: Option<&str>,
        error: Option<&str>,
    ) -> Result<bool> {
        self.queue_writable("complete an evaluation job")?;
        let pool = self.queue_pool("complete an evaluation job")?;
        // One statement (one round trip, atomic): the job, its attempt record and the
        // worker's count; then, once committed, the notification.
        let finish = format!(
            "WITH done AS (UPDATE eval_jobs SET status = $1, result = $2, error = $3, \
               finished_at = {NOW}, lease_expires_at = NULL \
               WHERE id = $4 AND status = '{leased}' AND attempts = $5 AND worker_id = $6 \
               RETURNING run_id), \
             record AS (UPDATE job_attempts SET finished_at = {NOW}, \
               outcome = CASE WHEN EXISTS (SELECT 1 FROM done) THEN $7 ELSE '{dropped}' END \
               WHERE job_id = $4 AND attempt = $5 AND worker_id = $6 AND finished_at IS NULL), \
             counted AS (UPDATE workers SET \
               jobs_done = jobs_done + (SELECT COUNT(*) FROM done WHERE $1 = '{done}'), \
               status = '{idle}', current_job = NULL, last_seen = {NOW} WHERE id = $6) \
             SELECT run_id FROM done",
            idle = WorkerStatus::Idle,
            leased = JobStatus::Leased,
            dropped = AttemptOutcome::Dropped,
            done = JobStatus::Done,
        );
        let outcome = match status {
            JobStatus::Done => AttemptOutcome::Done,
            _ => AttemptOutcome::Failed,
        };
        let finished: Result<bool, sqlx::Error> = async {
            let run: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(finish))
                .bind(status.as_str())
                .bind(result)
                .bind(error)
                .bind(job.0)
                .bind(attempt)
                .bind(worker.0)
                .bind(outcome.as_str())
                .fetch_optional(pool)
                .await?;
            if let Some(run) = run {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(RESULTS_CHANNEL)
                    .bind(run.to_string())
                    .execute(pool)
                    .await?;
            }
            Ok(run.is_some())
        }
        .await;
        finished.map_err(self.db_err("complete an evaluation job", None))
    }

    /// Jobs by status, for one run or the whole store (zero on SQLite, which has no queue).
    pub async fn queue_depth(&self, run: Option<RunId>) -> Result<QueueDepth> {
        let rows: Vec<(String, i64)> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT status, CAST(COUNT(*) AS BIGINT) FROM eval_jobs \
                 WHERE ($1 IS NULL OR run_id = $1) GROUP BY status",
            )
            .bind(run.map(|r| r.0))
            .fetch_all(pool)
            .await
        })
        .map_err(self.db_err("count queued jobs", run))?;
        let mut depth = QueueDepth::default();
        for (status, n) in rows {
            match self.job_status(&status, "count queued jobs")? {
                JobStatus::Pending => depth.pending = n,
                JobStatus::Leased => depth.leased = n,
                JobStatus::Done => depth.done = n,
                JobStatus::Failed => depth.failed = n,
                JobStatus::Cancelled => depth.cancelled = n,
            }
        }
        Ok(depth)
    }

    /// Every registered worker, most recently seen first.
    pub async fn workers(&self) -> Result<Vec<WorkerRecord>> {
        let sql = "SELECT id, host, pid, status, current_job, jobs_done, started_at, last_seen \
                   FROM workers ORDER BY last_seen DESC, id DESC";
        on_db!(self, pool => {
            let rows = sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map_err(self.db_err("list workers", None))?;
            rows.iter()
                .map(worker_from_row)
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.row_err("list workers", None))
        })
    }

    /// Every job of the run, oldest first.
    pub async fn jobs(&self, run: RunId) -> Result<Vec<JobRecord>> {
        let rows: Vec<(i64, String, String, String, i64)> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT id, kind, content_hash, status, attempts FROM eval_jobs \
                 WHERE run_id = $1 ORDER BY id",
            )
            .bind(run.0)
            .fetch_all(pool)
            .await
        })
        .map_err(self.db_err("list jobs", Some(run)))?;
        rows.into_iter()
            .map(|(id, kind, content_hash, status, attempts)| {
                Ok(JobRecord {
                    id: JobId(id),
                    kind: self.job_kind(&kind, run, "list jobs")?,
                    content_hash,
                    status: self.job_status(&status, "list jobs")?,
                    attempts,
                })
            })
            .collect()
    }

    /// Every claim of the run's jobs, by job and attempt.
    pub async fn job_attempts(&self, run: RunId) -> Result<Vec<JobAttempt>> {
        type Row = (i64, i64, i64, i64, Option<i64>, Option<String>);
        let rows: Vec<Row> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT a.job_id, a.attempt, a.worker_id, a.claimed_at, a.finished_at, a.outcome \
                 FROM job_attempts a JOIN eval_jobs j ON j.id = a.job_id \
                 WHERE j.run_id = $1 ORDER BY a.job_id, a.attempt",
            )
            .bind(run.0)
            .fetch_all(pool)
            .await
        })
        .map_err(self.db_err("list job attempts", Some(run)))?;
        rows.into_iter()
            .map(|(job, attempt, worker, claimed, finished, outcome)| {
                let outcome = outcome
                    .map(|name| {
                        AttemptOutcome::parse(&name).ok_or_else(|| Error::UnknownValue {
                            store: self.inner.name.clone(),
                            run: Some(run),
                            context: "list job attempts",
                            column: "outcome",
                            value: name,
                        })
                    })
                    .transpose()?;
                Ok(JobAttempt {
                    job: JobId(job),
                    attempt,
                    worker: WorkerId(worker),
                    claimed_at: Timestamp(claimed),
                    finished_at: finished.map(Timestamp),
                    outcome,
                })
            })
            .collect()
    }

    /// A LISTEN connection on `channel` ([`JOBS_CHANNEL`] or [`RESULTS_CHANNEL`]).
    pub async fn listen(&self, channel: &str) -> Result<QueueListener> {
        let pool = self.queue_pool("listen for queue notifications")?;
        let mut listener = PgListener::connect_with(pool)
            .await
            .map_err(self.db_err("listen for queue notifications", None))?;
        listener
            .listen(channel)
            .await
            .map_err(self.db_err("listen for queue notifications", None))?;
        Ok(QueueListener { listener })
    }
}
