//! The store's error type: every variant names the store (URL or path) and, where known, the run.

use std::path::PathBuf;

use crate::{LlmCallId, NodeId, RunId};

/// Result alias for store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the store.
///
/// `store` fields carry the store URL (passwords redacted) or SQLite path, so a rendered error
/// always says which database was at fault. A failed evaluation is never an `Err`: it is data in
/// an evaluation record.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL's scheme is neither SQLite nor PostgreSQL.
    #[error(
        "unknown store scheme `{scheme}` in `{store}`\nhint: use a SQLite path, `sqlite://PATH`, or `postgres://USER@HOST/DB`"
    )]
    UnknownScheme { store: String, scheme: String },

    /// A SQLite URL option hone does not know, or a value it does not accept.
    #[error(
        "store `{store}`: unknown option `{option}`\nhint: the only SQLite option is `?synchronous=normal` (the default: a commit survives a killed process) or `?synchronous=full` (it also survives a power loss)"
    )]
    UnknownOption { store: String, option: String },

    /// The database could not be reached or opened.
    #[error("cannot open store `{store}`: {source}\nhint: {hint}")]
    Unreachable {
        store: String,
        hint: String,
        #[source]
        source: sqlx::Error,
    },

    /// A write was refused because the store is read-only (file permissions, a read-only open,
    /// or a read-only database user).
    #[error(
        "store `{store}` is read-only ({context})\nhint: check the file and directory permissions, or open the store for writing"
    )]
    ReadOnly { store: String, context: String },

    /// The store was written by a newer hone whose schema this binary does not know.
    #[error(
        "store `{store}` has schema version {found}, but this hone only knows up to version {supported}\nhint: upgrade hone, or point --store at another database"
    )]
    SchemaTooNew {
        store: String,
        found: i64,
        supported: i64,
    },

    /// Applying a schema migration failed.
    #[error("store `{store}`: migration to schema version {version} failed: {source}")]
    Migration {
        store: String,
        version: i64,
        #[source]
        source: sqlx::Error,
    },

    /// The run does not exist in this store.
    #[error("store `{store}` has no run {run}\nhint: `hone status` lists the runs of this store")]
    RunNotFound { store: String, run: RunId },

    /// The node does not exist in this store (or not in the named run).
    #[error("store `{store}` has no node {node}{}", run.map(|r| format!(" in run {r}")).unwrap_or_default())]
    NodeNotFound {
        store: String,
        run: Option<RunId>,
        node: NodeId,
    },

    /// The model call does not exist in this store.
    #[error("store `{store}` has no model call {call}")]
    LlmCallNotFound { store: String, call: LlmCallId },

    /// A query failed.
    #[error("store `{store}`: {context}{}: {source}", run.map(|r| format!(" (run {r})")).unwrap_or_default())]
    Database {
        store: String,
        run: Option<RunId>,
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },

    /// A stored JSON column could not be read back, or a value could not be serialized.
    #[error("store `{store}`: {context}{}: {source}", run.map(|r| format!(" (run {r})")).unwrap_or_default())]
    Json {
        store: String,
        run: Option<RunId>,
        context: &'static str,
        #[source]
        source: serde_json::Error,
    },

    /// A stored name (a run's status) that this version of hone does not know.
    #[error("store `{store}`: {context}{}: column `{column}` holds `{value}`, which this hone does not know\nhint: a newer hone may have written it; upgrade hone", run.map(|r| format!(" (run {r})")).unwrap_or_default())]
    UnknownValue {
        store: String,
        run: Option<RunId>,
        context: &'static str,
        column: &'static str,
        value: String,
    },

    /// A stored embedding's bytes are not the vector its row says.
    #[error(
        "store `{store}`: the embedding of content {content_hash} by model `{model}` holds {bytes} bytes, not {dimensions} f32 values"
    )]
    CorruptEmbedding {
        store: String,
        model: String,
        content_hash: String,
        dimensions: i64,
        bytes: usize,
    },

    /// The lineage repository could not be opened or written.
    #[error("lineage repository `{}`{}: {context}: {source}", path.display(), run.map(|r| format!(" (run {r})")).unwrap_or_default())]
    Lineage {
        path: PathBuf,
        run: Option<RunId>,
        context: String,
        #[source]
        source: git2::Error,
    },

    /// A candidate file name cannot be stored in the lineage repository.
    #[error("lineage repository `{}`: node {node} has a file named `{file}` that is not a relative path\nhint: candidate files must be relative paths without `..`", path.display())]
    BadFileName {
        path: PathBuf,
        node: NodeId,
        file: String,
    },

    /// Reading or writing a file (a store directory) failed.
    #[error("{context} `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        context: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// The evaluation queue (`hone run --workers`, `hone worker`) needs PostgreSQL.
    #[error(
        "store `{store}` is SQLite: the evaluation queue ({context}) needs a PostgreSQL store\nhint: point --store at postgres://USER@HOST/DB, or run without --workers to evaluate in this process"
    )]
    QueueNeedsPostgres {
        store: String,
        context: &'static str,
    },

    /// A run's lease changed hands at every try while this process tried to take it.
    #[error(
        "store `{store}`: the lease of run {run} changed hands at every try while this process tried to take it\nhint: other processes are starting and stopping this run; try again"
    )]
    LeaseContended { store: String, run: RunId },

    /// A blocking task (lineage work) panicked or was cancelled.
    #[error("store `{store}`: background task failed: {message}")]
    Background { store: String, message: String },
}

impl Error {
    /// True if this error means the store refused a write because it is read-only.
    pub fn is_read_only(&self) -> bool {
        matches!(self, Error::ReadOnly { .. })
    }
}
