//! What can go wrong between an orchestrator, the store's queue and the workers: typed here,
//! rendered once where it is shown (the CLI, the run's failure, or the job's stored error).

use std::path::PathBuf;

use hone_store::JobId;

/// A failure of the queue's machinery (not of a candidate: a candidate that fails to
/// compile or run is an evaluation like any other).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] hone_store::Error),
    #[error(
        "--workers needs a PostgreSQL store, but `{store}` is SQLite\nhint: pass --store postgres://USER@HOST/DB (and start `hone worker` with the same --store), or drop --workers to evaluate in this process"
    )]
    WorkersNeedPostgres { store: String },
    #[error(
        "hone worker needs a PostgreSQL store, but `{store}` is SQLite\nhint: pass --store postgres://USER@HOST/DB, the store of a run started with `hone run --workers`"
    )]
    WorkerNeedsPostgres { store: String },
    #[error("stopped before registering")]
    StoppedBeforeRegistering,
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot move `{from}` to `{to}`: {source}")]
    Move {
        from: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the task folder `{dir}` changed while the run was starting (hash {found}, loaded {loaded}); start the run again"
    )]
    FolderChanged {
        dir: PathBuf,
        found: String,
        loaded: String,
    },
    #[error("the stored task folder holds a file named `{0}`, which is not a plain relative path")]
    UnsafeFileName(String),
    #[error("the stored task folder holds a file with an empty name")]
    EmptyFileName,
    #[error("job names task hash `{0}`, which is not a hex digest")]
    NotAHexDigest(String),
    #[error("the store holds no task folder with hash {0} (was the run started by an older hone?)")]
    NoTaskFolder(String),
    #[error(
        "the task folder stored under {hash} hashes to {found} once unpacked; the store is damaged"
    )]
    DamagedTaskFolder { hash: String, found: String },
    #[error("the task at `{dir}` does not load here: {source}")]
    TaskDoesNotLoad {
        dir: PathBuf,
        source: hone_tasks::TaskError,
    },
    #[error(transparent)]
    Task(#[from] hone_tasks::TaskError),
    #[error("cannot {what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("a job result has `{field}` = `{text}`, which is not a number")]
    NotANumber { field: String, text: String },
    #[error("the {what} thread failed: {source}")]
    Thread {
        what: &'static str,
        source: tokio::task::JoinError,
    },
    #[error("no worker could evaluate job {job}: {message}")]
    JobFailed { job: JobId, message: String },
    #[error("evaluation job {0} was cancelled")]
    JobCancelled(JobId),
    #[error("evaluation job {0} vanished from the store")]
    JobVanished(JobId),
}

impl WorkerError {
    /// A failed file operation on `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> WorkerError {
        let path = path.into();
        move |source| WorkerError::Io {
            action,
            path,
            source,
        }
    }

    /// A failed JSON conversion, saying what was being done.
    pub(crate) fn json(what: &'static str) -> impl FnOnce(serde_json::Error) -> WorkerError {
        move |source| WorkerError::Json { what, source }
    }
}
