//! Cassettes: record every model exchange to JSONL, and replay them without the network.
//!
//! One line per exchange: `{"hash", "request", "reply", "usage", "model", "cost_usd",
//! "finish_reason"}`. `replay:FILE` answers a request by its [`ChatRequest::hash`] (the same
//! request recorded several times is served in recorded order); `replay-seq:FILE` serves
//! the replies in file order whatever the prompts are (for prompts that changed wording).
//! Lines of kind `embedding` (`llm/embeddings.rs`) are skipped here.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::error::short_hash;
use super::{BoxFuture, ChatBackend, ChatRequest, Completion, LlmError, Usage, excerpt};

/// One recorded exchange (one JSONL line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CassetteEntry {
    pub hash: String,
    pub request: ChatRequest,
    pub reply: String,
    pub usage: Usage,
    pub model: String,
    #[serde(default)]
    pub cost_usd: f64,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// A cassette opened for appending. Each entry is one JSON line written with one `write`
/// on an `O_APPEND` handle, so the chat and the embedding recorders of a run can share the
/// file without interleaving.
pub(crate) struct CassetteFile {
    path: PathBuf,
    file: Mutex<File>,
}

impl CassetteFile {
    /// Opens `path` for appending (creating it and its folder if needed).
    pub(crate) fn open(path: &Path) -> Result<CassetteFile, LlmError> {
        let io = |source| LlmError::CassetteIo {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        Ok(CassetteFile {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// Appends `entry` as one line.
    pub(crate) fn append(&self, entry: &impl Serialize) -> Result<(), LlmError> {
        let mut line = serde_json::to_string(entry).map_err(|e| LlmError::CassetteFormat {
            path: self.path.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        line.push('\n');
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        file.write_all(line.as_bytes())
            .and_then(|()| file.flush())
            .map_err(|source| LlmError::CassetteIo {
                path: self.path.clone(),
                source,
            })
    }
}

/// Wraps a real backend and appends every successful exchange to a cassette file.
pub struct CassetteRecorder {
    file: CassetteFile,
    inner: std::sync::Arc<dyn ChatBackend>,
}

impl CassetteRecorder {
    /// Opens `path` for appending (creating it and its folder if needed).
    pub fn create(
        path: &Path,
        inner: std::sync::Arc<dyn ChatBackend>,
    ) -> Result<CassetteRecorder, LlmError> {
        Ok(CassetteRecorder {
            file: CassetteFile::open(path)?,
            inner,
        })
    }

    async fn record(&self, request: &ChatRequest) -> Result<Completion, LlmError> {
        let completion = self.inner.complete(request).await?;
        self.file.append(&CassetteEntry {
            hash: request.hash(),
            request: request.clone(),
            reply: completion.text.clone(),
            usage: completion.usage,
            model: completion.model.clone(),
            cost_usd: completion.cost_usd,
            finish_reason: completion.finish_reason.clone(),
        })?;
        Ok(completion)
    }
}

impl ChatBackend for CassetteRecorder {
    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<Completion, LlmError>> {
        Box::pin(self.record(request))
    }
}

/// How a replayer picks the recorded reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayOrder {
    /// By request hash; a miss is an error naming the closest recorded request.
    ByHash,
    /// In file order, whatever the request.
    Sequential,
}

/// Answers requests from a cassette file. Never touches the network.
pub struct CassetteReplayer {
    path: PathBuf,
    order: ReplayOrder,
    entries: Vec<CassetteEntry>,
    by_hash: HashMap<String, Vec<usize>>,
    /// Served count per hash (ByHash) or in total (Sequential, key "").
    served: Mutex<HashMap<String, usize>>,
}

impl CassetteReplayer {
    /// Loads a cassette; every line must be a valid entry.
    pub fn open(path: &Path, order: ReplayOrder) -> Result<CassetteReplayer, LlmError> {
        let text = std::fs::read_to_string(path).map_err(|source| LlmError::CassetteIo {
            path: path.to_path_buf(),
            source,
        })?;
        let mut entries = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry: CassetteEntry = match serde_json::from_str(line) {
                Ok(entry) => entry,
                // Embeddings are the embeddings replayer's.
                Err(_) if super::embeddings::is_embedding_line(line) => continue,
                Err(e) => {
                    return Err(LlmError::CassetteFormat {
                        path: path.to_path_buf(),
                        line: index + 1,
                        message: e.to_string(),
                    });
                }
            };
            entries.push(entry);
        }
        Ok(CassetteReplayer::from_entries(path, order, entries))
    }

    /// A replayer over entries already in memory (`path` only names it in errors).
    pub fn from_entries(
        path: &Path,
        order: ReplayOrder,
        entries: Vec<CassetteEntry>,
    ) -> CassetteReplayer {
        let mut by_hash: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, entry) in entries.iter().enumerate() {
            // The hash is recomputed so a hand-edited request still matches what it says.
            by_hash.entry(entry.request.hash()).or_default().push(i);
        }
        CassetteReplayer {
            path: path.to_path_buf(),
            order,
            entries,
            by_hash,
            served: Mutex::new(HashMap::new()),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The recorded reply for `request`.
    pub fn lookup(&self, request: &ChatRequest) -> Result<Completion, LlmError> {
        let mut served = self
            .served
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let index = match self.order {
            ReplayOrder::Sequential => {
                let next = served.entry(String::new()).or_insert(0);
                if *next >= self.entries.len() {
                    return Err(LlmError::CassetteExhausted {
                        path: self.path.clone(),
                        hash: request.hash(),
                        recorded: self.entries.len(),
                    });
                }
                *next += 1;
                *next - 1
            }
            ReplayOrder::ByHash => {
                let hash = request.hash();
                let Some(indices) = self.by_hash.get(&hash) else {
                    return Err(LlmError::CassetteMiss {
                        path: self.path.clone(),
                        model: request.model.clone(),
                        closest: self.closest(request),
                        hash,
                    });
                };
                let next = served.entry(hash.clone()).or_insert(0);
                let Some(&index) = indices.get(*next) else {
                    return Err(LlmError::CassetteExhausted {
                        path: self.path.clone(),
                        hash,
                        recorded: indices.len(),
                    });
                };
                *next += 1;
                index
            }
        };
        let entry = &self.entries[index];
        if self.order == ReplayOrder::Sequential && entry.request.hash() != request.hash() {
            tracing::debug!(
                entry = index,
                "replay-seq: the prompt differs from the recorded one"
            );
        }
        Ok(Completion {
            text: entry.reply.clone(),
            model: entry.model.clone(),
            usage: entry.usage,
            cost_usd: entry.cost_usd,
            priced: true,
            finish_reason: entry.finish_reason.clone(),
            replayed: true,
            attempts: 0,
            latency_ms: 0,
        })
    }

    /// A description of the recorded request closest to `request`: the longest common
    /// prefix of the last user message (ties: same model first), with where they differ.
    fn closest(&self, request: &ChatRequest) -> String {
        let wanted = request.last_user_message();
        let best = self
            .entries
            .iter()
            .map(|entry| {
                let recorded = entry.request.last_user_message();
                let common = common_prefix_chars(wanted, recorded);
                (
                    common,
                    entry.request.model == request.model,
                    entry,
                    recorded,
                )
            })
            .max_by_key(|(common, same_model, _, _)| (*common, *same_model));
        let Some((common, _, entry, recorded)) = best else {
            return "; the cassette is empty".into();
        };
        let at = |text: &str| {
            excerpt(
                &text
                    .chars()
                    .skip(common.saturating_sub(20))
                    .collect::<String>(),
                80,
            )
        };
        format!(
            "\nclosest recorded request: {} (model `{}`), whose last user message shares the first {} of {} characters;\n  recorded:  `{}`\n  requested: `{}`",
            short_hash(&entry.hash),
            entry.request.model,
            common,
            wanted.chars().count(),
            at(recorded),
            at(wanted),
        )
    }
}

fn common_prefix_chars(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

impl ChatBackend for CassetteReplayer {
    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<Completion, LlmError>> {
        Box::pin(async move { self.lookup(request) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ChatMessage;

    fn entry(prompt: &str, reply: &str) -> CassetteEntry {
        let request = ChatRequest::new("m", vec![ChatMessage::user(prompt)]);
        CassetteEntry {
            hash: request.hash(),
            request,
            reply: reply.into(),
            usage: Usage::default(),
            model: "m".into(),
            cost_usd: 0.0,
            finish_reason: None,
        }
    }

    #[test]
    fn by_hash_serves_repeats_in_order_then_errors() {
        let replayer = CassetteReplayer::from_entries(
            Path::new("c.jsonl"),
            ReplayOrder::ByHash,
            vec![entry("a", "1"), entry("b", "2"), entry("a", "3")],
        );
        let a = ChatRequest::new("m", vec![ChatMessage::user("a")]);
        assert_eq!(replayer.lookup(&a).map(|c| c.text).ok(), Some("1".into()));
        assert_eq!(replayer.lookup(&a).map(|c| c.text).ok(), Some("3".into()));
        assert!(matches!(
            replayer.lookup(&a),
            Err(LlmError::CassetteExhausted { recorded: 2, .. })
        ));
    }

    #[test]
    fn miss_names_the_closest_request() {
        let replayer = CassetteReplayer::from_entries(
            Path::new("c.jsonl"),
            ReplayOrder::ByHash,
            vec![
                entry("improve the solver: score 1.0", "x"),
                entry("draft something", "y"),
            ],
        );
        let request = ChatRequest::new(
            "m",
            vec![ChatMessage::user("improve the solver: score 2.0")],
        );
        let message = replayer
            .lookup(&request)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let closest = entry("improve the solver: score 1.0", "x").hash;
        assert!(message.contains(&closest[..12]), "{message}");
        assert!(message.contains("shares the first 26 of 29"), "{message}");
        assert!(
            message.contains("score 1.0") && message.contains("score 2.0"),
            "{message}"
        );
    }

    #[test]
    fn sequential_ignores_the_prompt() {
        let replayer = CassetteReplayer::from_entries(
            Path::new("c.jsonl"),
            ReplayOrder::Sequential,
            vec![entry("a", "1"), entry("b", "2")],
        );
        let other = ChatRequest::new("m", vec![ChatMessage::user("zzz")]);
        assert_eq!(
            replayer.lookup(&other).map(|c| (c.text, c.replayed)).ok(),
            Some(("1".into(), true))
        );
        assert_eq!(
            replayer.lookup(&other).map(|c| c.text).ok(),
            Some("2".into())
        );
        assert!(replayer.lookup(&other).is_err());
    }
}
