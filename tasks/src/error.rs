//! The tasks crate's error type: a task that cannot be loaded or prepared.

use std::path::PathBuf;

/// A task folder that hone cannot use. Every variant names the file (and field) at fault
/// and what would be accepted. A candidate that fails is never an error: that is an
/// [`Evaluation`](crate::Evaluation).
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },

    #[error("{path}: field `{field}`: {message}")]
    Field {
        path: PathBuf,
        field: String,
        message: String,
    },

    #[error("{path}: the seed solution fails its own task: {message}")]
    SeedFails { path: PathBuf, message: String },

    #[error("{path}: a trusted task program does not compile:\n{diagnostics}")]
    TaskProgram { path: PathBuf, diagnostics: String },

    #[error("{path}: {source}")]
    Sandbox {
        path: PathBuf,
        #[source]
        source: hone_sandbox::SandboxError,
    },
}

impl TaskError {
    /// Shorthand for a field error.
    pub fn field(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> TaskError {
        TaskError::Field {
            path: path.into(),
            field: field.into(),
            message: message.into(),
        }
    }
}
