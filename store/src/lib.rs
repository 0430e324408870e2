//! hone's run store: the memory and the checkpoint of every run.
//!
//! Everything a run produces — runs, nodes (candidates), their evaluations, every model
//! call, events and private evaluations — is written here, in SQLite (the default, in WAL
//! mode at `.hone/hone.db`) or PostgreSQL (one schema, migrated on open). A write returns
//! only after its transaction commits, so a run killed at any instant resumes with nothing
//! it had acknowledged lost or duplicated, and its budgets are counted from what is stored.
//! Beside the database, a bare git repository (`.hone/lineage.git`) holds each node as a
//! commit of its candidate files. Its nodes and model calls, read back, are the rows an
//! expert-iteration export is made of.
//!
//! # Core concepts
//!
//! - [`Store`]: the per-process handle, opened with [`Store::open`] (a SQLite path,
//!   `sqlite://PATH` or `postgres://...`) or [`Store::open_default`]. A connection pool
//!   inside an `Arc`: cheap to clone, `Send + Sync`, used from any tokio task. Readers
//!   (`hone status`) work while another process writes.
//! - [`NewRun`] / [`RunRecord`], [`NewNode`] + [`NewEvaluation`] / [`NodeRecord`],
//!   [`NewLlmCall`] / [`LlmCallRecord`]: what callers write and read back. Statuses are
//!   plain strings; the store interprets only [`REJECTED_NOVELTY`] (not an evaluation). Ids ([`RunId`], [`NodeId`],
//!   [`LlmCallId`]) are store-wide `i64` newtypes.
//! - [`PrivateEvaluation`]: a node's score on held-out cases, numbers only;
//!   [`Store::best_node`] ranks by it ([`BestNode`], [`ScoreBasis`]).
//! - [`Spend`]: a run's budgets used so far, counted from the store. Wall time is the sum
//!   of [`Store::add_active_time`] heartbeats, so time while no process ran is not counted.
//! - Lineage: [`Store::record_lineage`] commits a node after its transaction;
//!   [`Store::sync_lineage`] catches up after a crash. Commit hashes are reproducible.
//! - Evaluation queue (PostgreSQL only): [`Store::enqueue_job`], [`Store::claim_job`]
//!   (`FOR UPDATE SKIP LOCKED`, a lease renewed with [`Store::renew_lease`]),
//!   [`Store::complete_job`], [`Store::pass_job`] (a worker that cannot load the task);
//!   task folders by content hash ([`Store::put_task_folder`]); workers
//!   ([`Store::register_worker`], [`Store::workers`]) and [`Store::queue_depth`].
//! - Run leases: one driver per run. [`Store::acquire_run_lease`] (a conditional upsert:
//!   free, stale, or the named holder), [`Store::renew_run_lease`],
//!   [`Store::release_run_lease`], [`Store::run_driver`].
//! - Embeddings of candidates' code by (model, content hash), stored once and shared by
//!   every node of that content: [`Store::embedding`], [`Store::put_embedding`],
//!   [`Store::run_embeddings`].
//! - [`Error`]: one enum; every variant names the store and, where known, the run.
//!
//! # Example
//!
//! ```no_run
//! use hone_store::{Budgets, NewEvaluation, NewNode, NewRun, Store, Timestamp};
//!
//! # async fn demo() -> hone_store::Result<()> {
//! let store = Store::open_default(".").await?;
//! let run = store
//!     .create_run(&NewRun {
//!         task_name: "sum".into(),
//!         task_dir: "tasks/sum".into(),
//!         task_hash: "abc".into(),
//!         kind: "efficiency".into(),
//!         config: serde_json::json!({}),
//!         seed: 7,
//!         strategy: "greedy".into(),
//!         budgets: Budgets { evaluations: Some(100), ..Budgets::default() },
//!         started_at: Timestamp::now(),
//!     })
//!     .await?;
//! let node = store
//!     .insert_node(
//!         &NewNode {
//!             run,
//!             parent: None,
//!             operator: "draft".into(),
//!             tree: None,
//!             island: None,
//!             depth: 0,
//!             files: [("main.rs".to_string(), "fn main() {}".to_string())].into(),
//!             values: serde_json::json!({}),
//!             content_hash: "h0".into(),
//!             duplicate_of: None,
//!             llm_call: None,
//!             created_at: Timestamp::now(),
//!         },
//!         &NewEvaluation {
//!             status: "ok".into(),
//!             valid: true,
//!             score: 1.0,
//!             metrics: serde_json::json!({"fuel": 1000}),
//!             feedback: String::new(),
//!             trace: serde_json::json!([]),
//!             fuel: Some(1000),
//!             wall_ms: Some(3.0),
//!         },
//!     )
//!     .await?;
//! store.record_lineage(node).await?;
//! let spend = store.spend(run).await?;
//! assert_eq!(spend.evaluations, 1);
//! # Ok(()) }
//! ```

mod error;
mod lineage;
mod names;
mod schema;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod types;

pub use error::{Error, Result};
pub use lineage::{METADATA_FILE, best_ref};
pub use schema::SCHEMA_VERSION;
pub use store::TreeColumns;
pub use store::leases::{LeaseAcquisition, LeaseRequest, RunDriver};
pub use store::queue::{
    AttemptOutcome, ClaimedJob, JOBS_CHANNEL, JobAttempt, JobId, JobKind, JobOutcome, JobRecord,
    JobStatus, MAX_JOB_PASSES, NewJob, PassOutcome, QueueDepth, QueueListener, RESULTS_CHANNEL,
    WorkerId, WorkerRecord, WorkerStatus,
};
pub use store::runs::IntegrityReport;
pub use store::{Backend, Durability, LineageLocation, Store, StoreConfig};
pub use types::{
    BestNode, Budgets, EvaluationRecord, EventId, EventRecord, LlmCallId, LlmCallRecord,
    ModelSpend, NewEvaluation, NewLlmCall, NewNode, NewRun, NodeId, NodeRecord, PrivateEvaluation,
    PrivateEvaluationRecord, REJECTED_NOVELTY, RunId, RunRecord, RunStatus, RunSummary, ScoreBasis,
    Spend, Timestamp,
};
