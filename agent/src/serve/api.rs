//! The JSON API of `hone serve`: runs, a run's tree, a node, a comparison, a file, a
//! node's files as one archive, and a run's quality-diversity grid and Pareto front.
//!
//! Every answer is read from the store when asked. An unknown run, node or file is a 404
//! whose body is `{"error": "..."}` naming it; an id that is not a number is a 400.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hone_store::{
    EvaluationRecord, EventRecord, LlmCallRecord, ModelSpend, NodeId, NodeRecord,
    PrivateEvaluation, RunId, RunSummary, Store, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::diff::{self, FileDiff};
use crate::orchestrator::events::{FallbackCount, fallback_counts};

pub(super) fn routes(store: Store) -> axum::Router {
    axum::Router::new()
        .route("/runs", get(runs))
        .route("/runs/{run}", get(run))
        .route("/runs/{run}/tree", get(tree))
        .route("/runs/{run}/nodes/{node}", get(node))
        .route("/runs/{run}/nodes/{node}/files/{*file}", get(file))
        .route("/runs/{run}/nodes/{node}/archive", get(archive))
        .route("/runs/{run}/compare", get(compare))
        .route("/runs/{run}/quality", get(quality))
        .fallback(|uri: Uri| async move {
            ApiError::new(StatusCode::NOT_FOUND, format!("no API route /api{uri}"))
        })
        .with_state(store)
}

/// An API failure: its HTTP status and a message naming what is wrong.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: String) -> ApiError {
        ApiError { status, message }
    }

    fn not_found(message: String) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<hone_store::Error> for ApiError {
    fn from(error: hone_store::Error) -> ApiError {
        let status = match error {
            hone_store::Error::RunNotFound { .. }
            | hone_store::Error::NodeNotFound { .. }
            | hone_store::Error::LlmCallNotFound { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// An id from the path, or a 400 naming it.
fn parse_id(text: &str, what: &str) -> Result<i64, ApiError> {
    text.trim().parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("`{text}` is not a {what} id (a whole number)"),
        )
    })
}

/// A run as the runs list and the run page show it.
#[derive(Debug, Serialize)]
pub(super) struct RunView {
    #[serde(flatten)]
    summary: RunSummary,
    /// The process driving the run, if one holds its lease.
    driver: Option<DriverView>,
}

#[derive(Debug, Serialize)]
struct DriverView {
    host: String,
    pid: i64,
    /// Milliseconds since its last heartbeat.
    silent_ms: i64,
    stale: bool,
}

async fn run_view(store: &Store, run: RunId) -> Result<RunView, ApiError> {
    let summary = store.run_summary(run).await?;
    let driver = store.run_driver(run).await?.map(|d| DriverView {
        silent_ms: d.silent_ms(),
        stale: d.is_stale(),
        host: d.host,
        pid: d.pid,
    });
    Ok(RunView { summary, driver })
}

async fn runs(State(store): State<Store>) -> ApiResult<Vec<RunView>> {
    let mut views = Vec::new();
    for run in store.list_runs().await? {
        views.push(run_view(&store, run.id).await?);
    }
    Ok(Json(views))
}

/// The run page's header: the run, spend by model, fallbacks and events.
#[derive(Debug, Serialize)]
pub(super) struct RunDetail {
    #[serde(flatten)]
    run: RunView,
    by_model: Vec<ModelSpend>,
    fallbacks: Vec<FallbackCount>,
    events: Vec<EventRecord>,
}

async fn run(State(store): State<Store>, Path(run): Path<String>) -> ApiResult<RunDetail> {
    let run = RunId(parse_id(&run, "run")?);
    let view = run_view(&store, run).await?;
    let events = store.events(run).await?;
    Ok(Json(RunDetail {
        run: view,
        by_model: store.spend_by_model(run).await?,
        fallbacks: fallback_counts(&events),
        events,
    }))
}

/// A run's search tree: every node without its files.
#[derive(Debug, Serialize)]
pub(super) struct TreeView {
    best: Option<NodeId>,
    /// The root-to-best path.
    best_path: Vec<NodeId>,
    nodes: Vec<TreeNode>,
}

#[derive(Debug, Serialize)]
struct TreeNode {
    id: NodeId,
    parent: Option<NodeId>,
    operator: String,
    status: String,
    valid: bool,
    score: Option<f64>,
    private: Option<PrivateEvaluation>,
    duplicate_of: Option<NodeId>,
    depth: i64,
    tree: Option<i64>,
    island: Option<i64>,
    /// The model whose reply made the node (none for the seed or a tuner's proposal).
    model: Option<String>,
    created_at: Timestamp,
    fuel: Option<i64>,
}

async fn tree(State(store): State<Store>, Path(run): Path<String>) -> ApiResult<TreeView> {
    let run = RunId(parse_id(&run, "run")?);
    let nodes = store.load_tree(run).await?;
    let best = store.best_node(run).await?.map(|b| b.node);
    let mut private: HashMap<NodeId, PrivateEvaluation> = store
        .private_evaluations(run)
        .await?
        .into_iter()
        .map(|p| (p.node, p.evaluation))
        .collect();
    let calls: Vec<_> = nodes.iter().filter_map(|n| n.llm_call).collect();
    let models = store.models_of_calls(&calls).await?;
    let parents: HashMap<NodeId, Option<NodeId>> = nodes.iter().map(|n| (n.id, n.parent)).collect();
    let mut best_path = Vec::new();
    let mut cursor = best;
    while let Some(id) = cursor {
        best_path.push(id);
        cursor = parents.get(&id).copied().flatten();
    }
    best_path.reverse();
    let nodes = nodes
        .into_iter()
        .map(|n| TreeNode {
            private: private.remove(&n.id),
            model: n.llm_call.and_then(|c| models.get(&c).cloned()),
            id: n.id,
            parent: n.parent,
            operator: n.operator,
            status: n.evaluation.status,
            valid: n.evaluation.valid,
            score: n.evaluation.score,
            duplicate_of: n.duplicate_of,
            depth: n.depth,
            tree: n.tree,
            island: n.island,
            created_at: n.created_at,
            fuel: n.evaluation.fuel,
        })
        .collect();
    Ok(Json(TreeView {
        best,
        best_path,
        nodes,
    }))
}

/// One node in full: its candidate, evaluation, diff against its parent and model calls.
#[derive(Debug, Serialize)]
pub(super) struct NodeDetail {
    id: NodeId,
    run: RunId,
    parent: Option<NodeId>,
    operator: String,
    depth: i64,
    tree: Option<i64>,
    island: Option<i64>,
    duplicate_of: Option<NodeId>,
    content_hash: String,
    lineage_commit: Option<String>,
    created_at: Timestamp,
    /// The candidate's files (its named values as `values.json`).
    files: BTreeMap<String, String>,
    evaluation: EvaluationRecord,
    private: Option<PrivateEvaluation>,
    /// Against the parent; none for a root.
    diff: Option<Vec<FileDiff>>,
    calls: Vec<LlmCallRecord>,
}

/// The node, if it belongs to the run; a 404 otherwise.
async fn node_of_run(store: &Store, run: RunId, node: &str) -> Result<NodeRecord, ApiError> {
    let node = NodeId(parse_id(node, "node")?);
    // An unknown run is named as such, before the node.
    store.get_run(run).await?;
    let record = store.get_node(node).await?;
    if record.run != run {
        return Err(ApiError::not_found(format!(
            "node {} is not in run {} (it is in run {})",
            node.0, run.0, record.run.0
        )));
    }
    Ok(record)
}

async fn node(
    State(store): State<Store>,
    Path((run, node)): Path<(String, String)>,
) -> ApiResult<NodeDetail> {
    let run = RunId(parse_id(&run, "run")?);
    let record = node_of_run(&store, run, &node).await?;
    let files = diff::candidate_files(&record);
    let diff = match record.parent {
        Some(parent) => {
            let parent = store.get_node(parent).await?;
            Some(diff::files(&diff::candidate_files(&parent), &files))
        }
        None => None,
    };
    let private = store
        .private_evaluations(run)
        .await?
        .into_iter()
        .find(|p| p.node == record.id)
        .map(|p| p.evaluation);
    let calls = store.node_llm_calls(record.id).await?;
    Ok(Json(NodeDetail {
        id: record.id,
        run: record.run,
        parent: record.parent,
        operator: record.operator,
        depth: record.depth,
        tree: record.tree,
        island: record.island,
        duplicate_of: record.duplicate_of,
        content_hash: record.content_hash,
        lineage_commit: record.lineage_commit,
        created_at: record.created_at,
        files,
        evaluation: record.evaluation,
        private,
        diff,
        calls,
    }))
}

#[derive(Debug, Deserialize)]
pub(super) struct ComparePair {
    a: Option<String>,
    b: Option<String>,
}

/// Two nodes of a run, diffed from `a` to `b`.
#[derive(Debug, Serialize)]
pub(super) struct Comparison {
    a: NodeId,
    b: NodeId,
    diff: Vec<FileDiff>,
}

async fn compare(
    State(store): State<Store>,
    Path(run): Path<String>,
    Query(pair): Query<ComparePair>,
) -> ApiResult<Comparison> {
    let run = RunId(parse_id(&run, "run")?);
    let (Some(a), Some(b)) = (pair.a, pair.b) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "compare needs two nodes: ?a=NODE&b=NODE".into(),
        ));
    };
    let a = node_of_run(&store, run, &a).await?;
    let b = node_of_run(&store, run, &b).await?;
    Ok(Json(Comparison {
        a: a.id,
        b: b.id,
        diff: diff::files(&diff::candidate_files(&a), &diff::candidate_files(&b)),
    }))
}

/// One of a node's files, as a download.
async fn file(
    State(store): State<Store>,
    Path((run, node, file)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let run = RunId(parse_id(&run, "run")?);
    let record = node_of_run(&store, run, &node).await?;
    let files = diff::candidate_files(&record);
    let Some(text) = files.get(&file).cloned() else {
        let names: Vec<&str> = files.keys().map(String::as_str).collect();
        return Err(ApiError::not_found(format!(
            "node {} has no file `{file}`; its files: {}",
            record.id.0,
            names.join(", ")
        )));
    };
    let name: String = file
        .rsplit('/')
        .next()
        .unwrap_or("file")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"node{}-{name}\"", record.id.0),
            ),
        ],
        text,
    )
        .into_response())
}

/// A node's files and its record (`node.json`: lineage, evaluations) as one gzipped tar
/// archive, `nodeN.tar.gz`, whose entries sit in a folder `nodeN/`. Entries carry the
/// node's creation time, so the same node always gives the same archive.
async fn archive(
    State(store): State<Store>,
    Path((run, node)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let run = RunId(parse_id(&run, "run")?);
    let record = node_of_run(&store, run, &node).await?;
    let private = store
        .private_evaluations(run)
        .await?
        .into_iter()
        .find(|p| p.node == record.id)
        .map(|p| p.evaluation);
    let folder = format!("node{}", record.id.0);
    let mut entries: Vec<(String, Vec<u8>)> = diff::candidate_files(&record)
        .into_iter()
        .map(|(name, text)| (format!("{folder}/{name}"), text.into_bytes()))
        .collect();
    let about = serde_json::json!({
        "node": record.id,
        "run": record.run,
        "parent": record.parent,
        "operator": record.operator,
        "depth": record.depth,
        "content_hash": record.content_hash,
        "lineage_commit": record.lineage_commit,
        "created_at": record.created_at,
        "evaluation": record.evaluation,
        "private_evaluation": private,
    });
    let about = serde_json::to_vec_pretty(&about).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write node.json: {e}"),
        )
    })?;
    entries.push((format!("{folder}/node.json"), about));
    let mtime = u64::try_from(record.created_at.0 / 1000).unwrap_or(0);
    let bytes = tar_gz(&entries, mtime).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot build the archive of node {}: {e}", record.id.0),
        )
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{folder}.tar.gz\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// A gzipped tar archive of `entries` (path, contents), each a regular file with mode 0644
/// and modification time `mtime` (seconds since the Unix epoch).
fn tar_gz(entries: &[(String, Vec<u8>)], mtime: u64) -> std::io::Result<Vec<u8>> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for (path, contents) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, contents.as_slice())?;
    }
    builder.into_inner()?.finish()
}

/// `/api/runs/RUN/quality`: a map-elites run's grid (occupied cells with their elite) and,
/// with `--objectives`, the Pareto front; empty lists for a run without them.
#[derive(Debug, Serialize)]
struct QualityView {
    /// The grid's descriptors as `NAME:MIN..MAX:BINS`.
    descriptors: Vec<String>,
    /// Cells the grid has.
    capacity: usize,
    cells: Vec<CellView>,
    objectives: Vec<crate::search::measures::Objective>,
    front: Vec<crate::search::pareto::FrontEntry>,
    /// Valid nodes with every objective, the front's members among them.
    compared: usize,
}

#[derive(Debug, Serialize)]
struct CellView {
    /// The cell's bin per descriptor.
    bins: Vec<usize>,
    node: i64,
    score: f64,
}

async fn quality(State(store): State<Store>, Path(run): Path<String>) -> ApiResult<QualityView> {
    let run = RunId(parse_id(&run, "run")?);
    let record = store.get_run(run).await?;
    let settings = crate::orchestrator::RunSettings::from_json(&record.config).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("run {}: its stored settings cannot be read: {e}", run.0),
        )
    })?;
    let nodes = store.load_tree(run).await?;
    let descriptors = match &settings.strategy {
        crate::search::StrategyConfig::MapElites { descriptors } => descriptors.clone(),
        _ => Vec::new(),
    };
    let (descriptor_specs, capacity, cells) = if descriptors.is_empty() {
        (Vec::new(), 0, Vec::new())
    } else {
        let archive = crate::search::archive_of_records(&nodes, &descriptors);
        let cells = archive
            .cells()
            .into_iter()
            .map(|c| CellView {
                bins: c.bins,
                node: nodes[c.elite].id.0,
                score: c.score,
            })
            .collect();
        (
            descriptors.iter().map(|d| d.spec()).collect(),
            archive.capacity(),
            cells,
        )
    };
    let (front, compared) = crate::search::pareto::front_of_records(&nodes, &settings.objectives);
    Ok(Json(QualityView {
        descriptors: descriptor_specs,
        capacity,
        cells,
        objectives: settings.objectives,
        front,
        compared,
    }))
}
