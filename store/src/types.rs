//! The store's own record types: ids, timestamps, what callers write and what they read back.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse().map($name)
            }
        }
    };
}

id_type!(
    /// A run's id, unique within one store.
    RunId
);
id_type!(
    /// A node's id, unique within one store (not only within its run).
    NodeId
);
id_type!(
    /// A model call's id, unique within one store.
    LlmCallId
);
id_type!(
    /// An event's id, unique within one store.
    EventId
);

/// A point in time: milliseconds since the Unix epoch, from the run's clock.
///
/// The store never reads the clock for anything that is hashed: lineage commit times come
/// from the timestamps callers pass in, so a replayed run produces the same commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded down).
    pub fn as_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }
}

/// A run's budgets. `None` means unlimited.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Budgets {
    pub evaluations: Option<i64>,
    pub llm_calls: Option<i64>,
    pub tokens: Option<i64>,
    pub dollars: Option<f64>,
    pub wall_seconds: Option<f64>,
}

/// A run to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    pub task_name: String,
    pub task_dir: String,
    /// A hash of the task folder, so resume can tell the task changed underneath.
    pub task_hash: String,
    /// The task kind (efficiency, pde, heuristic, ...).
    pub kind: String,
    /// The full run configuration, as the orchestrator wants it back on resume.
    pub config: serde_json::Value,
    /// Stored bit-for-bit as a signed 64-bit integer.
    pub seed: u64,
    pub strategy: String,
    pub budgets: Budgets,
    pub started_at: Timestamp,
}

/// Where a run stands; stored as its name (`running`, `finished`, `interrupted`, `failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// A driver is working on it (or was, and died without saying so).
    Running,
    /// It ended: a budget was spent or the strategy had nothing left to try.
    Finished,
    /// It stopped before its end (Ctrl-C, the model unreachable); `hone resume` continues it.
    Interrupted,
    /// It cannot go on as configured (steps kept failing, the model refused the request).
    Failed,
}

crate::names::stored_names!(RunStatus {
    Running => "running",
    Finished => "finished",
    Interrupted => "interrupted",
    Failed => "failed",
});

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: RunId,
    pub task_name: String,
    pub task_dir: String,
    pub task_hash: String,
    pub kind: String,
    pub config: serde_json::Value,
    pub seed: u64,
    pub strategy: String,
    pub budgets: Budgets,
    pub status: RunStatus,
    pub status_detail: Option<String>,
    pub started_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// Seconds the run has been active, summed over all its segments (see [`crate::Store::add_active_time`]).
    pub active_seconds: f64,
}

/// A model call, written before its reply is parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewLlmCall {
    pub run: RunId,
    /// The node the prompt was about (the parent of the node it will produce), if any.
    pub parent: Option<NodeId>,
    /// The operator that asked (draft, improve, debug, ...).
    pub operator: String,
    pub model: String,
    /// The system prompt.
    pub system: String,
    /// The user prompt.
    pub prompt: String,
    /// The reply text; `None` if the call failed.
    pub reply: Option<String>,
    pub tokens_in: i64,
    pub tokens_out: i64,
    /// True if the token counts are estimates (the backend did not report usage).
    pub tokens_estimated: bool,
    pub cost_dollars: f64,
    pub latency_ms: f64,
    /// Transport or API error, if the call failed.
    pub error: Option<String>,
    /// True if the reply came from a replayed cassette.
    pub replayed: bool,
    /// 1 for the first ask, 2 for the re-ask after a parse error, ...
    pub attempt: i64,
    pub created_at: Timestamp,
}

/// A stored model call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCallRecord {
    pub id: LlmCallId,
    pub run: RunId,
    /// The node this call produced: the node that names it as its `llm_call`, or the one
    /// it was attached to with [`crate::Store::attach_llm_call`] (an ask before a re-ask).
    pub node: Option<NodeId>,
    pub parent: Option<NodeId>,
    pub operator: String,
    pub model: String,
    pub system: String,
    pub prompt: String,
    pub reply: Option<String>,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub tokens_estimated: bool,
    pub cost_dollars: f64,
    pub latency_ms: f64,
    pub error: Option<String>,
    /// Why the reply could not be turned into a candidate, if it could not.
    pub parse_error: Option<String>,
    pub replayed: bool,
    pub attempt: i64,
    pub created_at: Timestamp,
}

/// A node to insert (always together with its evaluation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewNode {
    pub run: RunId,
    pub parent: Option<NodeId>,
    pub operator: String,
    pub tree: Option<i64>,
    pub island: Option<i64>,
    pub depth: i64,
    /// Candidate code files, by relative path.
    pub files: BTreeMap<String, String>,
    /// Candidate named values.
    pub values: serde_json::Value,
    /// Hash of the normalized candidate, for duplicate detection.
    pub content_hash: String,
    /// Set when this node is an exact duplicate whose evaluation was reused from that node.
    pub duplicate_of: Option<NodeId>,
    /// The model call whose reply produced this node.
    pub llm_call: Option<LlmCallId>,
    pub created_at: Timestamp,
}

/// An evaluation to store with its node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvaluation {
    /// ok, compile_error, runtime_error, ... (the tasks crate owns the list).
    pub status: String,
    pub valid: bool,
    /// Higher is better. A score that is not finite is stored as NULL and read back as `None`.
    pub score: f64,
    pub metrics: serde_json::Value,
    pub feedback: String,
    pub trace: serde_json::Value,
    pub fuel: Option<i64>,
    pub wall_ms: Option<f64>,
}

/// A stored evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationRecord {
    pub status: String,
    pub valid: bool,
    /// `None` if the score was not finite.
    pub score: Option<f64>,
    pub metrics: serde_json::Value,
    pub feedback: String,
    pub trace: serde_json::Value,
    pub fuel: Option<i64>,
    pub wall_ms: Option<f64>,
}

/// The evaluation status of a node that was not evaluated: its candidate was too similar
/// to an earlier node (`hone run --novelty`). The one status the store interprets: such a
/// node is not an evaluation in [`Spend`]. Its evaluation is invalid, has no score, and its
/// metrics name the nearest node and the similarity.
pub const REJECTED_NOVELTY: &str = "rejected_novelty";

/// A stored node joined with its evaluation: what resume loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub id: NodeId,
    pub run: RunId,
    pub parent: Option<NodeId>,
    pub operator: String,
    pub tree: Option<i64>,
    pub island: Option<i64>,
    pub depth: i64,
    pub files: BTreeMap<String, String>,
    pub values: serde_json::Value,
    pub content_hash: String,
    pub duplicate_of: Option<NodeId>,
    pub llm_call: Option<LlmCallId>,
    /// The node's lineage commit (hex), once written.
    pub lineage_commit: Option<String>,
    pub created_at: Timestamp,
    pub evaluation: EvaluationRecord,
}

impl NodeRecord {
    /// The record of a node just stored by [`Store::insert_node`](crate::Store::insert_node)
    /// under `id`, built without reading it back: what the store holds for it (a score that
    /// is not finite reads back as `None`, as does a wall time that is not finite; NUL
    /// characters in text read back as U+FFFD). Its
    /// lineage commit is not written yet.
    pub fn from_new(id: NodeId, node: &NewNode, evaluation: &NewEvaluation) -> NodeRecord {
        NodeRecord {
            id,
            run: node.run,
            parent: node.parent,
            operator: stored_text(&node.operator).into_owned(),
            tree: node.tree,
            island: node.island,
            depth: node.depth,
            files: node.files.clone(),
            values: node.values.clone(),
            content_hash: stored_text(&node.content_hash).into_owned(),
            duplicate_of: node.duplicate_of,
            llm_call: node.llm_call,
            lineage_commit: None,
            created_at: node.created_at,
            evaluation: EvaluationRecord {
                status: stored_text(&evaluation.status).into_owned(),
                valid: evaluation.valid,
                score: Some(evaluation.score).filter(|s| s.is_finite()),
                metrics: evaluation.metrics.clone(),
                feedback: stored_text(&evaluation.feedback).into_owned(),
                trace: evaluation.trace.clone(),
                fuel: evaluation.fuel,
                wall_ms: evaluation.wall_ms.filter(|w| w.is_finite()),
            },
        }
    }

    /// Whether the node is an evaluation of its own: neither a duplicate (which reuses an
    /// earlier node's) nor a candidate rejected before evaluation ([`REJECTED_NOVELTY`]).
    pub fn is_evaluated(&self) -> bool {
        self.duplicate_of.is_none() && self.evaluation.status != REJECTED_NOVELTY
    }

    /// The score used to rank nodes: the score of a valid node, `None` otherwise.
    pub fn rank_score(&self) -> Option<f64> {
        if self.evaluation.valid {
            self.evaluation.score
        } else {
            None
        }
    }
}

/// A node's private evaluation: its result on the task's held-out cases, which no prompt,
/// feedback, log or export sees; the score a run reports and ranks by. Only the numbers are
/// stored (no metrics, feedback or trace), so nothing of the held-out cases can leak back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivateEvaluation {
    /// False when the task has no held-out cases: the row repeats the public result.
    pub held_out: bool,
    /// ok, compile_error, ... (as [`NewEvaluation::status`]).
    pub status: String,
    pub valid: bool,
    /// Higher is better. A score that is not finite is stored as NULL and read back as `None`.
    pub score: Option<f64>,
    pub fuel: Option<i64>,
    pub wall_ms: Option<f64>,
}

/// A stored private evaluation of one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivateEvaluationRecord {
    pub run: RunId,
    pub node: NodeId,
    pub evaluation: PrivateEvaluation,
    pub created_at: Timestamp,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub id: EventId,
    pub run: RunId,
    pub at: Timestamp,
    pub kind: String,
    pub payload: serde_json::Value,
}

/// What a run has spent so far, counted from the store (so it survives resume).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    /// Evaluations actually run: nodes that are neither duplicates nor rejected before
    /// evaluation.
    pub evaluations: i64,
    /// Nodes whose evaluation was reused from an exact duplicate.
    pub duplicates: i64,
    /// Nodes rejected before evaluation as too similar to an earlier one
    /// ([`REJECTED_NOVELTY`]; duplicates of them count as duplicates).
    pub rejected: i64,
    pub llm_calls: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub dollars: f64,
    /// Active seconds summed over the run's segments.
    pub wall_seconds: f64,
}

impl Spend {
    /// Tokens in and out together.
    pub fn tokens(&self) -> i64 {
        self.tokens_in + self.tokens_out
    }
}

/// How the score of a run's best node was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreBasis {
    /// The private score, on the task's held-out cases.
    Private,
    /// The task has no held-out cases: the public score is the private one.
    NoHeldOutCases,
    /// No node of the run has a private evaluation (a run stored before schema v5, or one
    /// stopped before any): the public score, unchecked.
    PublicOnly,
}

impl ScoreBasis {
    /// The snake_case name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            ScoreBasis::Private => "private",
            ScoreBasis::NoHeldOutCases => "no_held_out_cases",
            ScoreBasis::PublicOnly => "public_only",
        }
    }

    /// How the score is labelled for users.
    pub fn label(self) -> &'static str {
        match self {
            ScoreBasis::Private => "private",
            ScoreBasis::NoHeldOutCases => "private = public: no held-out cases",
            ScoreBasis::PublicOnly => "public only: not privately evaluated",
        }
    }
}

/// A run's best node: among non-duplicate nodes valid on both evaluations, the highest
/// private score, then the higher public score, then the older node. Without any private
/// evaluation in the run, the highest public score ([`ScoreBasis::PublicOnly`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BestNode {
    pub node: NodeId,
    /// The score the run reports: the private score (see `basis`).
    pub score: f64,
    /// The node's public score, shown beside it.
    pub public_score: f64,
    pub basis: ScoreBasis,
}

/// What one model of a run has spent: its calls, tokens and dollars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpend {
    pub model: String,
    pub calls: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub dollars: f64,
    /// Calls that failed (transport or API error) or whose reply could not be used.
    pub errors: i64,
}

/// What `hone status` shows for a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run: RunRecord,
    pub nodes: i64,
    pub valid: i64,
    /// Node counts by evaluation status.
    pub by_status: BTreeMap<String, i64>,
    pub best: Option<BestNode>,
    /// The highest public score of a valid, non-duplicate node (the search's view; the
    /// run's best is ranked by private score, see `best`).
    pub best_public: Option<f64>,
    pub spend: Spend,
    /// The run's private evaluations, by node id.
    pub private_evaluations: Vec<PrivateEvaluationRecord>,
}

/// Text as the store keeps it: NUL characters (which PostgreSQL's text type refuses, and
/// which candidate output or a model reply can hold) become U+FFFD on both backends, so
/// both store the same thing.
pub(crate) fn stored_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        std::borrow::Cow::Owned(text.replace('\0', "\u{fffd}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}
