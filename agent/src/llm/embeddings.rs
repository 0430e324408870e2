//! Embeddings: the OpenAI-compatible `POST /embeddings` endpoint, and cassettes of its
//! answers.
//!
//! [`OpenAiEmbeddings`] sends one text per request through the same client as chat calls
//! (timeout, retries with backoff for HTTP 429 and 5xx, timeouts and dropped connections,
//! `Retry-After`, the model's patience); every error it returns names the endpoint
//! ([`LlmError::Embeddings`], inside [`LlmError::Unavailable`] when the endpoint stayed
//! down past the patience). A cassette holds embeddings as lines of their own
//! (`{"kind":"embedding", ...}`) beside the chat exchanges, so `replay:FILE` answers both
//! without the network.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::cassette::CassetteFile;
use super::{BoxFuture, LlmError, OpenAiClient, OpenAiConfig, excerpt};

/// One embeddings request: one text, one model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    pub model: String,
    pub input: String,
}

impl EmbeddingRequest {
    /// SHA-256 (hex) of the request's canonical JSON (model, then input): keys cassettes.
    pub fn hash(&self) -> String {
        let canonical = serde_json::to_string(self).unwrap_or_default();
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// An embedding model, real or replayed. Implementations are thread-safe.
pub trait EmbeddingBackend: Send + Sync {
    /// The embedding of the request's text.
    fn embed<'a>(
        &'a self,
        request: &'a EmbeddingRequest,
    ) -> BoxFuture<'a, Result<Vec<f32>, LlmError>>;

    /// An embedding the caller had already (the store's cache) instead of asking: a
    /// recorder writes it to its cassette too, so that the cassette alone replays the run.
    fn cached(&self, _request: &EmbeddingRequest, _vector: &[f32]) -> Result<(), LlmError> {
        Ok(())
    }
}

/// An OpenAI-compatible embeddings endpoint: `POST {base_url}/embeddings`.
#[derive(Clone, Debug)]
pub struct OpenAiEmbeddings {
    client: OpenAiClient,
    url: String,
}

impl OpenAiEmbeddings {
    /// A client of `config.base_url` + `/embeddings`, with the config's key, timeout and
    /// retry policy.
    pub fn new(config: OpenAiConfig) -> Result<OpenAiEmbeddings, LlmError> {
        let client = OpenAiClient::new(config)?;
        let url = client.endpoint("/embeddings");
        Ok(OpenAiEmbeddings { client, url })
    }

    /// The endpoint's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Embeds one text, retrying transient failures as chat calls do.
    pub async fn embedding(&self, request: &EmbeddingRequest) -> Result<Vec<f32>, LlmError> {
        let decode = |body: &str| self.decode(&request.model, body);
        match self
            .client
            .post(&self.url, &request.model, request, decode)
            .await
        {
            Ok((vector, _)) => Ok(vector),
            // The outage stays an outage (the run stops as interrupted), naming the endpoint.
            Err(LlmError::Unavailable {
                model,
                waited,
                attempts,
                last,
            }) => Err(LlmError::Unavailable {
                model,
                waited,
                attempts,
                last: Box::new(self.named(*last)),
            }),
            Err(error) => Err(self.named(error)),
        }
    }

    fn named(&self, error: LlmError) -> LlmError {
        LlmError::Embeddings {
            url: self.url.clone(),
            source: Box::new(error),
        }
    }

    fn decode(&self, model: &str, body: &str) -> Result<Vec<f32>, LlmError> {
        let fail = |message: String| LlmError::EmbeddingsDecode {
            model: model.to_string(),
            message,
            body: self.client.scrubbed(&excerpt(body, 200)),
        };
        let wire: WireEmbeddings = serde_json::from_str(body).map_err(|e| fail(e.to_string()))?;
        let vector = wire
            .data
            .into_iter()
            .next()
            .map(|d| d.embedding)
            .ok_or_else(|| fail("`data` is empty".into()))?;
        check_vector(&vector).map_err(fail)?;
        Ok(vector)
    }
}

/// Why a vector cannot be compared: empty, not finite, or all zeros.
fn check_vector(vector: &[f32]) -> Result<(), String> {
    if vector.is_empty() {
        return Err("the embedding is empty".into());
    }
    if let Some(i) = vector.iter().position(|x| !x.is_finite()) {
        return Err(format!("value {i} of the embedding is not a finite number"));
    }
    if vector.iter().all(|&x| x == 0.0) {
        return Err("the embedding is all zeros".into());
    }
    Ok(())
}

impl EmbeddingBackend for OpenAiEmbeddings {
    fn embed<'a>(
        &'a self,
        request: &'a EmbeddingRequest,
    ) -> BoxFuture<'a, Result<Vec<f32>, LlmError>> {
        Box::pin(self.embedding(request))
    }
}

#[derive(Deserialize)]
struct WireEmbeddings {
    data: Vec<WireEmbedding>,
}

#[derive(Deserialize)]
struct WireEmbedding {
    embedding: Vec<f32>,
}

/// The `kind` of a cassette line holding an embedding.
const EMBEDDING_KIND: &str = "embedding";

/// One recorded embedding (one JSONL line of a cassette).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingEntry {
    /// Always `embedding` (what tells the line from a chat exchange).
    pub kind: String,
    pub hash: String,
    pub request: EmbeddingRequest,
    pub embedding: Vec<f32>,
}

/// Whether a cassette line that is not a chat exchange is an embedding (chat replayers
/// skip those).
pub(crate) fn is_embedding_line(line: &str) -> bool {
    #[derive(Deserialize)]
    struct Kind {
        kind: Option<String>,
    }
    serde_json::from_str::<Kind>(line).is_ok_and(|k| k.kind.as_deref() == Some(EMBEDDING_KIND))
}

/// Wraps a real embeddings backend and appends every embedding to a cassette file (the one
/// the chat exchanges of the run go to).
pub struct CassetteEmbeddingRecorder {
    file: CassetteFile,
    inner: Arc<dyn EmbeddingBackend>,
}

impl CassetteEmbeddingRecorder {
    /// Opens `path` for appending (creating it and its folder if needed); each line is one
    /// `write` on an `O_APPEND` handle, so it does not interleave with the chat recorder's.
    pub fn create(
        path: &Path,
        inner: Arc<dyn EmbeddingBackend>,
    ) -> Result<CassetteEmbeddingRecorder, LlmError> {
        Ok(CassetteEmbeddingRecorder {
            file: CassetteFile::open(path)?,
            inner,
        })
    }

    async fn record(&self, request: &EmbeddingRequest) -> Result<Vec<f32>, LlmError> {
        let vector = self.inner.embed(request).await?;
        self.append(request, &vector)?;
        Ok(vector)
    }

    fn append(&self, request: &EmbeddingRequest, vector: &[f32]) -> Result<(), LlmError> {
        self.file.append(&EmbeddingEntry {
            kind: EMBEDDING_KIND.into(),
            hash: request.hash(),
            request: request.clone(),
            embedding: vector.to_vec(),
        })
    }
}

impl EmbeddingBackend for CassetteEmbeddingRecorder {
    fn embed<'a>(
        &'a self,
        request: &'a EmbeddingRequest,
    ) -> BoxFuture<'a, Result<Vec<f32>, LlmError>> {
        Box::pin(self.record(request))
    }

    fn cached(&self, request: &EmbeddingRequest, vector: &[f32]) -> Result<(), LlmError> {
        self.append(request, vector)
    }
}

/// Answers embeddings from a cassette's `embedding` lines, by request hash. Never touches
/// the network.
pub struct CassetteEmbeddingReplayer {
    path: PathBuf,
    by_hash: HashMap<String, Vec<f32>>,
}

impl CassetteEmbeddingReplayer {
    /// Loads the embeddings of a cassette (its chat exchanges are left to the chat replayer).
    pub fn open(path: &Path) -> Result<CassetteEmbeddingReplayer, LlmError> {
        let text = std::fs::read_to_string(path).map_err(|source| LlmError::CassetteIo {
            path: path.to_path_buf(),
            source,
        })?;
        let mut by_hash = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            if !is_embedding_line(line) {
                continue;
            }
            let entry: EmbeddingEntry =
                serde_json::from_str(line).map_err(|e| LlmError::CassetteFormat {
                    path: path.to_path_buf(),
                    line: index + 1,
                    message: e.to_string(),
                })?;
            check_vector(&entry.embedding).map_err(|message| LlmError::CassetteFormat {
                path: path.to_path_buf(),
                line: index + 1,
                message,
            })?;
            // Recomputed, so a hand-edited request still matches what it says.
            by_hash.insert(entry.request.hash(), entry.embedding);
        }
        Ok(CassetteEmbeddingReplayer {
            path: path.to_path_buf(),
            by_hash,
        })
    }

    /// How many distinct embeddings the cassette holds.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The recorded embedding of `request`.
    pub fn lookup(&self, request: &EmbeddingRequest) -> Result<Vec<f32>, LlmError> {
        let hash = request.hash();
        self.by_hash
            .get(&hash)
            .cloned()
            .ok_or_else(|| LlmError::EmbeddingMiss {
                path: self.path.clone(),
                hash,
                model: request.model.clone(),
            })
    }
}

impl EmbeddingBackend for CassetteEmbeddingReplayer {
    fn embed<'a>(
        &'a self,
        request: &'a EmbeddingRequest,
    ) -> BoxFuture<'a, Result<Vec<f32>, LlmError>> {
        Box::pin(async move { self.lookup(request) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_that_cannot_be_compared_are_refused() {
        assert!(check_vector(&[]).is_err());
        assert!(check_vector(&[0.0, 0.0]).is_err());
        assert!(check_vector(&[1.0, f32::NAN]).is_err());
        assert!(check_vector(&[0.0, 0.5]).is_ok());
    }

    #[test]
    fn embedding_lines_are_told_from_chat_lines() {
        let request = EmbeddingRequest {
            model: "e".into(),
            input: "int main() {}".into(),
        };
        let entry = EmbeddingEntry {
            kind: EMBEDDING_KIND.into(),
            hash: request.hash(),
            request,
            embedding: vec![0.5, 0.5],
        };
        let line = serde_json::to_string(&entry).unwrap_or_default();
        assert!(is_embedding_line(&line));
        assert!(!is_embedding_line(r#"{"hash":"x","request":{}}"#));
        assert!(!is_embedding_line("not json"));
    }
}
