//! The error type of model access.

use std::path::PathBuf;
use std::time::Duration;

/// Why a model call (or a cassette) failed. Messages never contain the API key: bodies are
/// excerpted and scrubbed before they are stored here.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("invalid model configuration: {0}")]
    Config(String),

    #[error("model `{model}`: HTTP {status} after {attempts} attempt(s): {body}")]
    Http {
        model: String,
        status: u16,
        body: String,
        attempts: u32,
    },

    #[error("model `{model}`: no reply within {timeout:?} after {attempts} attempt(s)")]
    Timeout {
        model: String,
        timeout: Duration,
        attempts: u32,
    },

    #[error("model `{model}`: connection failed after {attempts} attempt(s): {message}")]
    Connect {
        model: String,
        message: String,
        attempts: u32,
    },

    /// The model failed (HTTP 429 or 5xx, timeouts, connection errors) for longer than the
    /// client's patience.
    #[error("model `{model}` unreachable for {:.0} s ({attempts} attempt(s)); last error: {last}", .waited.as_secs_f64())]
    Unavailable {
        model: String,
        waited: Duration,
        attempts: u32,
        last: Box<LlmError>,
    },

    /// The server's address is wrong: its host name does not resolve, or it refused the
    /// first connection.
    #[error(
        "model `{model}`: cannot reach {url}: {message}\nhint: check --base-url (or OPENAI_BASE_URL) and that the server is running"
    )]
    Unreachable {
        model: String,
        url: String,
        message: String,
    },

    #[error("model `{model}`: the reply is not a chat completion: {message}; body starts: {body}")]
    Decode {
        model: String,
        message: String,
        body: String,
    },

    #[error("model `{model}`: the reply has no choices (empty `choices` or no message content)")]
    EmptyReply { model: String },

    /// A call to an embeddings endpoint failed (`--novelty` with `--embeddings-model`).
    #[error("embeddings endpoint {url}: {source}")]
    Embeddings { url: String, source: Box<LlmError> },

    /// An embeddings endpoint answered 2xx with something that is not the embeddings asked for.
    #[error("model `{model}`: the reply is not an embeddings list: {message}; body starts: {body}")]
    EmbeddingsDecode {
        model: String,
        message: String,
        body: String,
    },

    #[error("cassette {}: {source}", .path.display())]
    CassetteIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cassette {}: line {line}: {message}", .path.display())]
    CassetteFormat {
        path: PathBuf,
        line: usize,
        message: String,
    },

    #[error(
        "cassette {}: no recorded embedding for request {} (model `{model}`)\nhint: the candidates changed since recording; re-record with `record:FILE`",
        .path.display(), short_hash(.hash)
    )]
    EmbeddingMiss {
        path: PathBuf,
        hash: String,
        model: String,
    },

    #[error(
        "cassette {}: no recorded reply for request {} (model `{model}`){closest}\nhint: the prompt changed since recording; re-record with `record:FILE`, or replay in order with `replay-seq:FILE`",
        .path.display(), short_hash(.hash)
    )]
    CassetteMiss {
        path: PathBuf,
        hash: String,
        model: String,
        closest: String,
    },

    #[error("cassette {}: all {recorded} recorded repl(ies) for request {} were already served", .path.display(), short_hash(.hash))]
    CassetteExhausted {
        path: PathBuf,
        hash: String,
        recorded: usize,
    },
}

pub(crate) fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

impl LlmError {
    /// True for failures worth retrying: 429, 5xx, timeouts and connection errors.
    pub fn is_transient(&self) -> bool {
        match self {
            LlmError::Http { status, .. } => *status == 429 || (500..600).contains(status),
            LlmError::Timeout { .. } | LlmError::Connect { .. } => true,
            LlmError::Embeddings { source, .. } => source.is_transient(),
            _ => false,
        }
    }

    /// True for failures that will not go away by themselves, so a run cannot go on: the
    /// key refused (401, 403), the model or endpoint unknown (404), a wrong address, a
    /// client that cannot be configured.
    pub fn is_permanent(&self) -> bool {
        match self {
            LlmError::Http { status, .. } => matches!(status, 401 | 403 | 404),
            LlmError::Unreachable { .. } | LlmError::Config(_) => true,
            // An embeddings endpoint that answers with something else is the wrong endpoint;
            // a cassette without the embedding will not grow one.
            LlmError::Embeddings { source, .. } => {
                source.is_permanent()
                    || matches!(
                        **source,
                        LlmError::EmbeddingsDecode { .. } | LlmError::Decode { .. }
                    )
            }
            LlmError::EmbeddingMiss { .. } => true,
            _ => false,
        }
    }

    /// What to do about a permanent failure, for the message that stops a run.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            LlmError::Http {
                status: 401 | 403, ..
            } => Some(
                "check the API key (the variable named by --api-key-env, OPENAI_API_KEY by default)",
            ),
            LlmError::Http { status: 404, .. } => {
                Some("check the model name (--model) and the base URL (--base-url)")
            }
            LlmError::Embeddings { .. } => Some(
                "check --embeddings-url (default: --base-url) and --embeddings-model, or drop --embeddings-model to compare token shingles",
            ),
            _ => None,
        }
    }
}
