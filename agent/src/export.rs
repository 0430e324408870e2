//! Expert-iteration exports of a run: SFT chat JSONL, DPO preference pairs, full trajectories.
//!
//! The store hands the run's rows (its nodes and model calls); this module picks the
//! examples and writes them in the chat-message shape trainers read. Field names follow
//! what TRL-style trainers read: SFT lines are
//! `{"messages": [{"role": "system", ...}, {"role": "user", ...}, {"role": "assistant", ...}]}`;
//! DPO lines are conversational `{"prompt": [system, user], "chosen": [assistant],
//! "rejected": [assistant]}`. A node's prompt and reply come from the model call that
//! produced it (`NewNode::llm_call`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use hone_store::{LlmCallRecord, NodeId, NodeRecord, RunId, Store};
use serde_json::json;

/// Which export to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Chat messages of replies whose node beat its parent.
    Sft,
    /// Preference pairs: siblings with a score gap, and working vs failing replies to the
    /// same prompt.
    Dpo,
    /// One JSON object per node with everything the store knows about it.
    Trajectories,
}

impl std::str::FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sft" => Ok(ExportFormat::Sft),
            "dpo" => Ok(ExportFormat::Dpo),
            "trajectories" => Ok(ExportFormat::Trajectories),
            other => Err(format!(
                "unknown export format `{other}`; accepted: sft, dpo, trajectories"
            )),
        }
    }
}

/// Filters for the exports.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// SFT: the minimum score gain of a child over its parent. A valid child of an invalid
    /// parent (a successful debug) always counts.
    pub min_gain: f64,
    /// DPO: the minimum score gap between two valid siblings. A valid sibling against an
    /// invalid one always counts.
    pub min_gap: f64,
    /// DPO: at most this many pairs per parent (and per prompt), best gaps first.
    pub max_pairs_per_group: usize,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            min_gain: 0.0,
            min_gap: 0.0,
            max_pairs_per_group: 16,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportStats {
    pub records: usize,
}

/// Why an export was not written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The run's rows could not be read.
    #[error(transparent)]
    Store(#[from] hone_store::Error),
    /// The output could not be created or written.
    #[error("{context} `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// Writes a run's export as JSON lines to `out`.
pub async fn export(
    store: &Store,
    run: RunId,
    format: ExportFormat,
    options: &ExportOptions,
    out: &mut (dyn Write + Send),
) -> Result<ExportStats, ExportError> {
    let tree = store.load_tree(run).await?;
    let calls = store.llm_calls(run).await?;
    let lines = lines(&tree, &calls, format, options);
    let io = |source| ExportError::Io {
        path: format!("export of run {run}").into(),
        context: "cannot write",
        source,
    };
    for line in &lines {
        // A JSON value always serializes.
        let text = line.to_string();
        out.write_all(text.as_bytes()).map_err(io)?;
        out.write_all(b"\n").map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(ExportStats {
        records: lines.len(),
    })
}

/// Writes a run's export to a file (replacing it).
pub async fn export_to_path(
    store: &Store,
    run: RunId,
    format: ExportFormat,
    options: &ExportOptions,
    path: impl AsRef<Path>,
) -> Result<ExportStats, ExportError> {
    let path = path.as_ref();
    let file = std::fs::File::create(path).map_err(|source| ExportError::Io {
        path: path.to_path_buf(),
        context: "cannot create the export file",
        source,
    })?;
    let mut writer = std::io::BufWriter::new(file);
    export(store, run, format, options, &mut writer).await
}

/// The export's lines for a run's nodes and model calls (as the store reads them).
pub fn lines(
    tree: &[NodeRecord],
    calls: &[LlmCallRecord],
    format: ExportFormat,
    options: &ExportOptions,
) -> Vec<serde_json::Value> {
    match format {
        ExportFormat::Sft => sft_lines(tree, calls, options),
        ExportFormat::Dpo => dpo_lines(tree, calls, options),
        ExportFormat::Trajectories => trajectory_lines(tree, calls),
    }
}

/// A reply with the node it produced (if any).
struct Reply<'a> {
    call: &'a LlmCallRecord,
    reply: &'a str,
    node: Option<&'a NodeRecord>,
}

impl Reply<'_> {
    /// Rank score: valid nodes' scores; failing replies rank below everything.
    fn rank(&self) -> Option<f64> {
        self.node.and_then(NodeRecord::rank_score)
    }

    fn works(&self) -> bool {
        self.rank().is_some()
    }

    /// An unparsable reply, or a node that was evaluated and failed (a candidate rejected
    /// unevaluated by `--novelty` is neither a success nor a failure).
    fn fails(&self) -> bool {
        self.call.parse_error.is_some()
            || self
                .node
                .map(|n| !n.evaluation.valid && n.evaluation.status != hone_store::REJECTED_NOVELTY)
                .unwrap_or(false)
    }
}

fn prompt_messages(call: &LlmCallRecord) -> Vec<serde_json::Value> {
    let mut messages = Vec::with_capacity(2);
    if !call.system.is_empty() {
        messages.push(json!({"role": "system", "content": call.system}));
    }
    messages.push(json!({"role": "user", "content": call.prompt}));
    messages
}

fn assistant(reply: &str) -> serde_json::Value {
    json!([{"role": "assistant", "content": reply}])
}

fn replies<'a>(tree: &'a [NodeRecord], calls: &'a [LlmCallRecord]) -> Vec<Reply<'a>> {
    let by_id: HashMap<NodeId, &NodeRecord> = tree.iter().map(|n| (n.id, n)).collect();
    calls
        .iter()
        .filter_map(|call| {
            let reply = call.reply.as_deref()?;
            Some(Reply {
                call,
                reply,
                node: call.node.and_then(|n| by_id.get(&n).copied()),
            })
        })
        .collect()
}

fn sft_lines(
    tree: &[NodeRecord],
    calls: &[LlmCallRecord],
    options: &ExportOptions,
) -> Vec<serde_json::Value> {
    let by_id: HashMap<NodeId, &NodeRecord> = tree.iter().map(|n| (n.id, n)).collect();
    let calls_by_id: HashMap<_, _> = calls.iter().map(|c| (c.id, c)).collect();
    let mut lines = Vec::new();
    for node in tree {
        if node.duplicate_of.is_some() {
            continue;
        }
        let Some(call) = node.llm_call.and_then(|c| calls_by_id.get(&c)) else {
            continue;
        };
        let Some(reply) = call.reply.as_deref() else {
            continue;
        };
        let Some(parent) = node.parent.and_then(|p| by_id.get(&p)) else {
            continue;
        };
        let Some(child_score) = node.rank_score() else {
            continue;
        };
        let improved = match parent.rank_score() {
            Some(parent_score) => child_score - parent_score >= options.min_gain,
            None => true,
        };
        if improved {
            let mut messages = prompt_messages(call);
            messages.push(json!({"role": "assistant", "content": reply}));
            lines.push(json!({ "messages": messages }));
        }
    }
    lines
}

fn dpo_lines(
    tree: &[NodeRecord],
    calls: &[LlmCallRecord],
    options: &ExportOptions,
) -> Vec<serde_json::Value> {
    let replies = replies(tree, calls);
    let mut seen: HashSet<(i64, i64)> = HashSet::new();
    let mut lines = Vec::new();
    let mut push = |chosen: &Reply<'_>,
                    rejected: &Reply<'_>,
                    lines: &mut Vec<serde_json::Value>| {
        if seen.insert((chosen.call.id.0, rejected.call.id.0)) && chosen.reply != rejected.reply {
            lines.push(json!({
                "prompt": prompt_messages(chosen.call),
                "chosen": assistant(chosen.reply),
                "rejected": assistant(rejected.reply),
            }));
        }
    };

    // Siblings: replies whose nodes share a parent, ranked by score.
    let mut by_parent: BTreeMap<NodeId, Vec<&Reply<'_>>> = BTreeMap::new();
    for reply in &replies {
        if let Some(node) = reply.node
            && node.duplicate_of.is_none()
            && let Some(parent) = node.parent
            && reply.call.node == Some(node.id)
            && node.llm_call == Some(reply.call.id)
        {
            by_parent.entry(parent).or_default().push(reply);
        }
    }
    for siblings in by_parent.values() {
        let mut pairs = Vec::new();
        for a in siblings {
            let Some(a_score) = a.rank() else { continue };
            for b in siblings {
                let gap = match b.rank() {
                    Some(b_score) if a_score - b_score >= options.min_gap && a_score > b_score => {
                        a_score - b_score
                    }
                    Some(_) => continue,
                    None => f64::INFINITY,
                };
                pairs.push((gap, *a, *b));
            }
        }
        pairs.sort_by(|x, y| y.0.total_cmp(&x.0));
        for (_, chosen, rejected) in pairs.into_iter().take(options.max_pairs_per_group) {
            push(chosen, rejected, &mut lines);
        }
    }

    // Same prompt: a reply that works against one that failed (did not parse, or its
    // candidate was invalid), as BFS-Prover pairs tactics with compiler errors.
    let mut by_prompt: BTreeMap<(&str, &str), Vec<&Reply<'_>>> = BTreeMap::new();
    for reply in &replies {
        by_prompt
            .entry((reply.call.system.as_str(), reply.call.prompt.as_str()))
            .or_default()
            .push(reply);
    }
    for group in by_prompt.values() {
        let best = group.iter().filter(|r| r.works()).max_by(|a, b| {
            a.rank()
                .unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&b.rank().unwrap_or(f64::NEG_INFINITY))
        });
        let Some(best) = best else { continue };
        for rejected in group
            .iter()
            .filter(|r| r.fails())
            .take(options.max_pairs_per_group)
        {
            push(best, rejected, &mut lines);
        }
    }
    lines
}

fn trajectory_lines(tree: &[NodeRecord], calls: &[LlmCallRecord]) -> Vec<serde_json::Value> {
    let mut calls_by_node: HashMap<NodeId, Vec<&LlmCallRecord>> = HashMap::new();
    for call in calls {
        if let Some(node) = call.node {
            calls_by_node.entry(node).or_default().push(call);
        }
    }
    tree.iter()
        .map(|node| {
            let node_calls = calls_by_node.get(&node.id).cloned().unwrap_or_default();
            json!({
                "node": node.id,
                "run": node.run,
                "parent": node.parent,
                "operator": node.operator,
                "tree": node.tree,
                "island": node.island,
                "depth": node.depth,
                "files": node.files,
                "values": node.values,
                "content_hash": node.content_hash,
                "duplicate_of": node.duplicate_of,
                "lineage_commit": node.lineage_commit,
                "created_at": node.created_at,
                "evaluation": node.evaluation,
                "llm_call": node.llm_call,
                "llm_calls": node_calls,
            })
        })
        .collect()
}
