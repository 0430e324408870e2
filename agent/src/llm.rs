//! Model access: chat requests and completions, the OpenAI-compatible client, cassettes,
//! prices and model selection.
//!
//! Every backend implements [`ChatBackend`]: one [`ChatRequest`] in, one [`Completion`] out
//! (reply text, token usage, dollars, whether it was replayed). Backends are cheap to share
//! (`Arc<dyn ChatBackend>`) and safe to call from many tasks at once.
//!
//! - [`OpenAiClient`]: any OpenAI-compatible `/chat/completions` endpoint, with a timeout,
//!   retries (exponential backoff with jitter, `Retry-After` honoured), a concurrency limit
//!   and cost accounting from a [`PriceTable`].
//! - [`CassetteRecorder`] / [`CassetteReplayer`]: `record:FILE`, `replay:FILE`, `replay-seq:FILE`.
//! - [`ModelSelector`]: fixed weights or a cost-aware UCB bandit over several models.
//! - [`EmbeddingBackend`]: [`OpenAiEmbeddings`] (`/embeddings`, same retries and errors),
//!   recorded into and replayed from the same cassettes (`--novelty` with embeddings).
//!
//! The library never reads environment variables: the binary resolves `OPENAI_BASE_URL`,
//! `OPENAI_API_KEY` and friends and passes an [`OpenAiConfig`].

mod cassette;
mod embeddings;
mod error;
mod openai;
mod price;
mod reask;
mod selector;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use cassette::{CassetteEntry, CassetteRecorder, CassetteReplayer, ReplayOrder};
pub use embeddings::{
    CassetteEmbeddingRecorder, CassetteEmbeddingReplayer, EmbeddingBackend, EmbeddingEntry,
    EmbeddingRequest, OpenAiEmbeddings,
};
pub use error::LlmError;
pub use openai::{ApiKey, OpenAiClient, OpenAiConfig, RetryPolicy};
pub use price::{ModelPrice, PriceTable};
pub use reask::{CallRecord, Proposal, ProposeFailure, propose_with_reask, reask_request};
pub use selector::{ModelSelector, SelectionRule};

/// A boxed, sendable future (what [`ChatBackend`] returns, so backends can be `dyn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Who wrote a chat message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// One chat-completion request. Its [`ChatRequest::hash`] keys cassettes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl ChatRequest {
    /// A request with no sampling options.
    pub fn new(model: impl Into<String>, messages: Vec<ChatMessage>) -> ChatRequest {
        ChatRequest {
            model: model.into(),
            messages,
            temperature: None,
            max_tokens: None,
            seed: None,
        }
    }

    /// SHA-256 (hex) of the request's canonical JSON: model, messages, temperature,
    /// max_tokens and seed, in that fixed order (a struct, so no map-order ambiguity).
    pub fn hash(&self) -> String {
        let canonical = serde_json::to_string(self).unwrap_or_default();
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }

    /// The content of the last user message (empty if there is none).
    pub fn last_user_message(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .unwrap_or("")
    }
}

/// Token counts of one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// True when the server did not report usage and the counts are estimates (chars / 4).
    #[serde(default)]
    pub estimated: bool,
}

impl Usage {
    /// Estimated usage (about four characters per token) for a server that reports none.
    pub fn estimate(request: &ChatRequest, reply: &str) -> Usage {
        let prompt_chars: usize = request
            .messages
            .iter()
            .map(|m| m.content.chars().count() + 4)
            .sum();
        Usage {
            prompt_tokens: prompt_chars.div_ceil(4) as u64,
            completion_tokens: reply.chars().count().div_ceil(4) as u64,
            estimated: true,
        }
    }

    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// The answer to one [`ChatRequest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The reply text (the first choice's message content).
    pub text: String,
    /// The model that answered (as the server names it, else as requested).
    pub model: String,
    pub usage: Usage,
    /// Dollars spent, from the price table (0 for unpriced models). Replays report the
    /// recorded cost, so a replayed run meets its dollar budget at the same step.
    pub cost_usd: f64,
    /// False when the model is not in the price table (its cost counts as 0).
    pub priced: bool,
    /// The server's `finish_reason` (`length` means the reply was cut by max_tokens).
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// True when the reply came from a cassette, not a model.
    #[serde(default)]
    pub replayed: bool,
    /// HTTP attempts made (1 when the first succeeded; 0 for replays).
    #[serde(default)]
    pub attempts: u32,
    /// Wall time of the call in milliseconds, retries included.
    #[serde(default)]
    pub latency_ms: u64,
}

/// A chat model, real or replayed. Implementations are thread-safe.
pub trait ChatBackend: Send + Sync {
    /// Answers one request.
    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<Completion, LlmError>>;
}

impl<T: ChatBackend + ?Sized> ChatBackend for Arc<T> {
    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<Completion, LlmError>> {
        (**self).complete(request)
    }
}

/// What `--llm` selects: `openai`, `record:FILE`, `replay:FILE`, `replay-seq:FILE` or `builtin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LlmSpec {
    OpenAi,
    Record(PathBuf),
    Replay(PathBuf),
    ReplaySequential(PathBuf),
    Builtin,
}

impl LlmSpec {
    /// Parses the `--llm` value.
    pub fn parse(text: &str) -> Result<LlmSpec, LlmError> {
        let text = text.trim();
        let with_file = |prefix: &str| -> Option<Result<PathBuf, LlmError>> {
            let rest = text.strip_prefix(prefix)?;
            Some(if rest.is_empty() {
                Err(LlmError::Config(format!(
                    "`{text}`: missing file name; write `{prefix}FILE`"
                )))
            } else {
                Ok(PathBuf::from(rest))
            })
        };
        if text == "openai" {
            return Ok(LlmSpec::OpenAi);
        }
        if text == "builtin" {
            return Ok(LlmSpec::Builtin);
        }
        if let Some(path) = with_file("record:") {
            return path.map(LlmSpec::Record);
        }
        if let Some(path) = with_file("replay-seq:") {
            return path.map(LlmSpec::ReplaySequential);
        }
        if let Some(path) = with_file("replay:") {
            return path.map(LlmSpec::Replay);
        }
        Err(LlmError::Config(format!(
            "unknown --llm `{text}`; accepted: openai, record:FILE, replay:FILE, replay-seq:FILE, builtin"
        )))
    }

    /// Builds the chat backend of this spec (`None` for `builtin`, which needs no model).
    /// `openai` and `record:` use `config`; replays never touch the network.
    pub fn backend(&self, config: &OpenAiConfig) -> Result<Option<Arc<dyn ChatBackend>>, LlmError> {
        let backend: Arc<dyn ChatBackend> = match self {
            LlmSpec::OpenAi => Arc::new(OpenAiClient::new(config.clone())?),
            LlmSpec::Record(path) => {
                let inner: Arc<dyn ChatBackend> = Arc::new(OpenAiClient::new(config.clone())?);
                Arc::new(CassetteRecorder::create(path, inner)?)
            }
            LlmSpec::Replay(path) => Arc::new(CassetteReplayer::open(path, ReplayOrder::ByHash)?),
            LlmSpec::ReplaySequential(path) => {
                Arc::new(CassetteReplayer::open(path, ReplayOrder::Sequential)?)
            }
            LlmSpec::Builtin => return Ok(None),
        };
        Ok(Some(backend))
    }

    /// The embeddings backend that goes with this spec: `config`'s endpoint for `openai`
    /// and `builtin`, the same endpoint recorded into the cassette for `record:`, and the
    /// cassette's recorded embeddings for the replays (no network).
    pub fn embedding_backend(
        &self,
        config: &OpenAiConfig,
    ) -> Result<Arc<dyn EmbeddingBackend>, LlmError> {
        Ok(match self {
            LlmSpec::OpenAi | LlmSpec::Builtin => Arc::new(OpenAiEmbeddings::new(config.clone())?),
            LlmSpec::Record(path) => {
                let inner: Arc<dyn EmbeddingBackend> =
                    Arc::new(OpenAiEmbeddings::new(config.clone())?);
                Arc::new(CassetteEmbeddingRecorder::create(path, inner)?)
            }
            LlmSpec::Replay(path) | LlmSpec::ReplaySequential(path) => {
                Arc::new(CassetteEmbeddingReplayer::open(path)?)
            }
        })
    }
}

/// A short, single-line excerpt of `text` (at most `max` characters, with `...` if cut).
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.chars().count() <= max {
        flat.to_string()
    } else {
        flat.chars().take(max).collect::<String>() + "..."
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_every_field() {
        let a = ChatRequest::new("m", vec![ChatMessage::user("hi")]);
        let mut b = a.clone();
        assert_eq!(a.hash(), b.hash());
        b.temperature = Some(0.5);
        assert_ne!(a.hash(), b.hash());
        let mut c = a.clone();
        c.messages[0].content.push('!');
        assert_ne!(a.hash(), c.hash());
    }

    #[test]
    fn parse_llm_spec() {
        assert_eq!(LlmSpec::parse("openai").ok(), Some(LlmSpec::OpenAi));
        assert_eq!(
            LlmSpec::parse("replay:a.jsonl").ok(),
            Some(LlmSpec::Replay("a.jsonl".into()))
        );
        assert_eq!(
            LlmSpec::parse("replay-seq:a.jsonl").ok(),
            Some(LlmSpec::ReplaySequential("a.jsonl".into()))
        );
        assert!(LlmSpec::parse("record:").is_err());
        let err = LlmSpec::parse("gpt")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("accepted"), "{err}");
    }

    #[test]
    fn estimate_is_marked() {
        let r = ChatRequest::new("m", vec![ChatMessage::user("abcdefgh")]);
        let u = Usage::estimate(&r, "abcd");
        assert!(u.estimated);
        assert_eq!(u.completion_tokens, 1);
        assert_eq!(u.prompt_tokens, 3);
    }
}
