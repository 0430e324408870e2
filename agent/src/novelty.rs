//! Novelty rejection (`hone run --novelty THRESHOLD`, ShinkaEvolve's and OpenEvolve's):
//! a candidate whose similarity to a valid node of the run is at or above the threshold is
//! not evaluated; it is stored as a node of status [`REJECTED_NOVELTY`] whose metrics name
//! the nearest node and the similarity.
//!
//! The similarity is the cosine of code embeddings when `--embeddings-model` is given
//! (`/embeddings` of `--embeddings-url`, default `--base-url`; stored in the store by model
//! and content hash, so the same code is embedded once; recorded in the run's cassette), and
//! otherwise the Jaccard index of token shingles estimated by MinHash, which needs no model.
//! Only valid nodes are compared with (a near-copy of a failed candidate may be its fix).
//! Steps in flight at once are not compared with each other.

mod index;
mod shingles;

use std::sync::{Arc, Mutex};

use hone_store::{NodeRecord, REJECTED_NOVELTY, RunId, Store};
use hone_tasks::{Candidate, Evaluation};
use serde::{Deserialize, Serialize};

pub use index::{DimensionMismatch, Index, Probe};
pub use shingles::{HASHES, SHINGLE, Signature, tokens};

use crate::llm::{EmbeddingBackend, EmbeddingRequest, LlmError};

/// `--novelty`: the threshold, and the embeddings to compare by (none: token shingles).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoveltySettings {
    /// A candidate at least this similar to a valid node is rejected (in (0, 1]).
    pub threshold: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<EmbeddingSettings>,
}

/// `--embeddings-model`, `--embeddings-url`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingSettings {
    pub model: String,
    /// The server's base URL; `None`: the chat models' `--base-url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

impl NoveltySettings {
    /// How similarities are measured, as a rejection's metrics name it.
    pub fn method(&self) -> String {
        match &self.embeddings {
            Some(e) => format!("cosine of `{}` embeddings", e.model),
            None => format!("Jaccard of {SHINGLE}-token shingles (MinHash, {HASHES} hashes)"),
        }
    }
}

/// Why a candidate was not evaluated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// The nearest valid node.
    pub neighbour: i64,
    pub similarity: f64,
    pub threshold: f64,
    pub method: String,
}

impl Rejection {
    /// The evaluation stored for the rejected node: status [`REJECTED_NOVELTY`], invalid, no
    /// score, the rejection in its metrics (`novelty`) and its feedback.
    pub fn evaluation(&self) -> hone_store::NewEvaluation {
        hone_store::NewEvaluation {
            status: REJECTED_NOVELTY.to_string(),
            valid: false,
            score: f64::NEG_INFINITY,
            metrics: serde_json::json!({ "novelty": self }),
            feedback: format!(
                "not evaluated: {:.4} similar to node {} ({}), at or above --novelty {}",
                self.similarity, self.neighbour, self.method, self.threshold
            ),
            trace: serde_json::Value::Null,
            fuel: None,
            wall_ms: Some(0.0),
        }
    }

    /// The rejection a stored node's metrics hold, if it is a rejected node.
    pub fn of(record: &NodeRecord) -> Option<Rejection> {
        if record.evaluation.status != REJECTED_NOVELTY {
            return None;
        }
        serde_json::from_value(record.evaluation.metrics.get("novelty")?.clone()).ok()
    }
}

/// The text a candidate is compared by: its files in name order, then its values (JSON)
/// when it has any.
pub fn candidate_text(candidate: &Candidate) -> String {
    let mut text = String::new();
    for content in candidate.files.values() {
        text.push_str(content);
        text.push('\n');
    }
    if !candidate.values.is_empty() {
        text.push_str(&serde_json::to_string(&candidate.values).unwrap_or_default());
    }
    text
}

/// Why a candidate could not be compared: its embedding failed.
#[derive(Debug, thiserror::Error)]
pub enum NoveltyError {
    #[error(transparent)]
    Embedding(#[from] LlmError),
    #[error(transparent)]
    Store(#[from] hone_store::Error),
}

/// How probes are made.
enum Method {
    Shingles,
    Embeddings {
        model: String,
        backend: Arc<dyn EmbeddingBackend>,
    },
}

/// A run's novelty filter: the index of its valid nodes, and how to probe a candidate.
pub struct Novelty {
    settings: NoveltySettings,
    method: Method,
    store: Store,
    index: Mutex<Index>,
}

impl Novelty {
    /// A filter comparing by token shingles, or by the embeddings of `backend` when the
    /// settings name a model (`backend` must then be given).
    pub fn new(
        settings: NoveltySettings,
        backend: Option<Arc<dyn EmbeddingBackend>>,
        store: Store,
    ) -> Result<Novelty, LlmError> {
        let method = match (&settings.embeddings, backend) {
            (None, _) => Method::Shingles,
            (Some(e), Some(backend)) => Method::Embeddings {
                model: e.model.clone(),
                backend,
            },
            (Some(e), None) => {
                return Err(LlmError::Config(format!(
                    "--embeddings-model `{}` needs an embeddings backend",
                    e.model
                )));
            }
        };
        Ok(Novelty {
            settings,
            method,
            store,
            index: Mutex::new(Index::default()),
        })
    }

    /// Indexes a stored run's valid evaluated nodes (on resume), oldest first: signatures
    /// are recomputed from their code, embeddings read from the store.
    pub async fn rebuild(&self, run: RunId, nodes: &[NodeRecord]) -> Result<(), NoveltyError> {
        let valid = nodes
            .iter()
            .filter(|n| n.is_evaluated() && n.evaluation.valid);
        let mut index = Index::default();
        match &self.method {
            Method::Shingles => {
                for record in valid {
                    let text = candidate_text(&crate::orchestrator::candidate_of(record));
                    index.insert(record.id.0, Probe::Signature(Signature::of(&text)));
                }
            }
            Method::Embeddings { model, .. } => {
                let ids: std::collections::HashSet<i64> = valid.map(|n| n.id.0).collect();
                for (node, vector) in self.store.run_embeddings(run, model).await? {
                    if ids.contains(&node.0) {
                        index.insert(node.0, Probe::vector(vector));
                    }
                }
            }
        }
        *self.lock() = index;
        Ok(())
    }

    /// The probe of a candidate whose content hash is `hash`: its signature, or its
    /// embedding (from the store when that content was embedded before, else asked and
    /// stored).
    pub async fn probe(&self, candidate: &Candidate, hash: &str) -> Result<Probe, NoveltyError> {
        let text = candidate_text(candidate);
        let probe = match &self.method {
            Method::Shingles => Probe::Signature(Signature::of(&text)),
            Method::Embeddings { model, backend } => {
                let request = EmbeddingRequest {
                    model: model.clone(),
                    input: text,
                };
                let vector = match self.store.embedding(model, hash).await? {
                    Some(vector) => {
                        backend.cached(&request, &vector)?;
                        vector
                    }
                    None => {
                        let vector = backend.embed(&request).await?;
                        self.store.put_embedding(model, hash, &vector).await?;
                        vector
                    }
                };
                Probe::vector(vector)
            }
        };
        self.lock().check(&probe).map_err(|e| {
            NoveltyError::Embedding(LlmError::EmbeddingsDecode {
                model: self
                    .settings
                    .embeddings
                    .as_ref()
                    .map(|e| e.model.clone())
                    .unwrap_or_default(),
                message: e.to_string(),
                body: String::new(),
            })
        })?;
        Ok(probe)
    }

    /// The rejection of a probed candidate, if a valid node is at least as similar as the
    /// threshold.
    pub fn check(&self, probe: &Probe) -> Option<Rejection> {
        let (neighbour, similarity) = self.lock().nearest(probe)?;
        (similarity >= self.settings.threshold).then(|| Rejection {
            neighbour,
            similarity,
            threshold: self.settings.threshold,
            method: self.settings.method(),
        })
    }

    /// Indexes a node just stored, if it is valid.
    pub fn admit(&self, node: i64, evaluation: &Evaluation, probe: Probe) {
        if evaluation.valid {
            self.lock().insert(node, probe);
        }
    }

    /// Nodes indexed so far.
    pub fn indexed(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The run's novelty filter, if `--novelty` is set: comparing by token shingles, or by the
/// embeddings of `--embeddings-model` from the endpoint the run's `--llm` implies (the
/// server for `openai` and offline proposers, recorded for `record:`, the cassette for the
/// replays).
pub fn filter(
    settings: &crate::orchestrator::RunSettings,
    store: &Store,
) -> Result<Option<Arc<Novelty>>, LlmError> {
    let Some(novelty) = &settings.novelty else {
        return Ok(None);
    };
    let backend = match &novelty.embeddings {
        None => None,
        Some(embeddings) => {
            let config = crate::llm::OpenAiConfig {
                base_url: embeddings
                    .base_url
                    .clone()
                    .unwrap_or_else(|| settings.llm.base_url.clone()),
                api_key: settings.api_key.clone().map(crate::llm::ApiKey::new),
                timeout: std::time::Duration::from_secs_f64(
                    settings.llm.request_timeout_seconds.max(0.1),
                ),
                retry: crate::llm::RetryPolicy {
                    patience: std::time::Duration::from_secs_f64(
                        settings.llm.model_patience_seconds.max(0.0),
                    ),
                    jitter_seed: settings.seed,
                    ..crate::llm::RetryPolicy::default()
                },
                concurrency: settings.llm.concurrency.max(1),
                prices: crate::llm::PriceTable::defaults(),
            };
            // Offline proposers (builtin, grid, ...) have no cassette: the server itself.
            let spec = crate::llm::LlmSpec::parse(&settings.llm.spec)
                .unwrap_or(crate::llm::LlmSpec::Builtin);
            Some(spec.embedding_backend(&config)?)
        }
    };
    Ok(Some(Arc::new(Novelty::new(
        novelty.clone(),
        backend,
        store.clone(),
    )?)))
}
