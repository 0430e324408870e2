//! Nodes and their evaluations: transactional inserts, loading a tree, duplicate lookup.

use std::collections::{BTreeMap, HashMap};

use crate::error::{Error, Result};
use crate::store::writer::WriteConnection;
use crate::store::{BeginWrite, Db, RowError, RowExt, finite, on_db};
use crate::types::stored_text;
use crate::{
    EvaluationRecord, LlmCallId, NewEvaluation, NewNode, NodeId, NodeRecord, RunId, Store,
    Timestamp,
};

/// Ids bound in one `IN (...)` list: well under SQLite's and PostgreSQL's parameter limits.
pub(crate) const IN_LIST_CHUNK: usize = 500;

/// `$1, $2, ..., $n`.
pub(crate) fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) const NODE_SELECT: &str = "SELECT n.id, n.run_id, n.parent_id, n.operator, n.tree, \
    n.island, n.depth, n.files, n.param_values, n.content_hash, n.duplicate_of, n.llm_call_id, \
    n.lineage_commit, n.created_at, e.status, e.valid, e.score, e.metrics, e.feedback, e.trace, \
    e.fuel, e.wall_ms FROM nodes n JOIN evaluations e ON e.node_id = n.id";

/// Which of a node's large columns [`Store::load_tree_with`] reads; a column not read
/// comes back empty: no files, `null` metrics and trace, an empty feedback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeColumns {
    /// The candidate's files.
    pub files: bool,
    /// The evaluation's metrics.
    pub metrics: bool,
    /// The evaluation's feedback and trace.
    pub feedback_and_trace: bool,
}

impl TreeColumns {
    /// Every column.
    pub const ALL: TreeColumns = TreeColumns {
        files: true,
        metrics: true,
        feedback_and_trace: true,
    };
}

pub(crate) fn node_from_row(row: &impl RowExt) -> Result<NodeRecord, RowError> {
    let files: BTreeMap<String, String> = serde_json::from_str(&row.string("files")?)?;
    Ok(NodeRecord {
        id: NodeId(row.i64("id")?),
        run: RunId(row.i64("run_id")?),
        parent: row.opt_i64("parent_id")?.map(NodeId),
        operator: row.string("operator")?,
        tree: row.opt_i64("tree")?,
        island: row.opt_i64("island")?,
        depth: row.i64("depth")?,
        files,
        values: serde_json::from_str(&row.string("param_values")?)?,
        content_hash: row.string("content_hash")?,
        duplicate_of: row.opt_i64("duplicate_of")?.map(NodeId),
        llm_call: row.opt_i64("llm_call_id")?.map(LlmCallId),
        lineage_commit: row.opt_string("lineage_commit")?,
        created_at: Timestamp(row.i64("created_at")?),
        evaluation: evaluation_from_row(row)?,
    })
}

pub(crate) fn evaluation_from_row(row: &impl RowExt) -> Result<EvaluationRecord, RowError> {
    Ok(EvaluationRecord {
        status: row.string("status")?,
        valid: row.bool("valid")?,
        score: row.opt_f64("score")?,
        metrics: serde_json::from_str(&row.string("metrics")?)?,
        feedback: row.string("feedback")?,
        trace: serde_json::from_str(&row.string("trace")?)?,
        fuel: row.opt_i64("fuel")?,
        wall_ms: row.opt_f64("wall_ms")?,
    })
}

/// Nodes per chunk when SQLite loads a tree.
const TREE_CHUNK: i64 = 2000;

/// One chunk of a run's tree after node `$2`: its size, its last id, and two texts in the
/// same row order: a JSON
/// array of the small columns (see [`TreeRow`]), and the JSON columns (files, values,
/// metrics, trace) joined with unit separators (U+001F) between columns and record
/// separators (U+001E) between rows. Those columns hold serde_json output, where control
/// characters are always escaped, so the separators cannot occur inside them.
const TREE_CHUNK_SQL: &str = "SELECT count(*), max(id), json_group_array(json_array(id, parent_id, operator, tree, \
    island, depth, content_hash, duplicate_of, llm_call_id, lineage_commit, created_at, status, \
    valid, CASE WHEN score IS NULL THEN NULL ELSE printf('%!.17g', score) END, feedback, fuel, \
    CASE WHEN wall_ms IS NULL THEN NULL ELSE printf('%!.17g', wall_ms) END)), \
    group_concat(files || char(31) || param_values || char(31) || metrics || char(31) || trace, \
    char(30)) \
    FROM (SELECT n.id, n.parent_id, n.operator, n.tree, n.island, n.depth, \
    CASE WHEN $4 THEN n.files ELSE '{}' END AS files, \
    n.param_values, n.content_hash, n.duplicate_of, n.llm_call_id, n.lineage_commit, \
    n.created_at, e.status, e.valid, e.score, \
    CASE WHEN $5 THEN e.metrics ELSE 'null' END AS metrics, \
    CASE WHEN $6 THEN e.feedback ELSE '' END AS feedback, \
    CASE WHEN $6 THEN e.trace ELSE 'null' END AS trace, e.fuel, e.wall_ms \
    FROM nodes n JOIN evaluations e ON e.node_id = n.id \
    WHERE n.run_id = $1 AND n.id > $2 ORDER BY n.id LIMIT $3)";

/// [`NODE_SELECT`] with the large columns each behind a condition (`$2` files, `$3`
/// metrics, `$4` feedback and trace), for PostgreSQL's [`Store::load_tree_with`].
const TREE_SELECT_PG: &str = "SELECT n.id, n.run_id, n.parent_id, n.operator, n.tree, \
    n.island, n.depth, CASE WHEN $2 THEN n.files ELSE '{}' END AS files, n.param_values, \
    n.content_hash, n.duplicate_of, n.llm_call_id, n.lineage_commit, n.created_at, e.status, \
    e.valid, e.score, CASE WHEN $3 THEN e.metrics ELSE 'null' END AS metrics, \
    CASE WHEN $4 THEN e.feedback ELSE '' END AS feedback, \
    CASE WHEN $4 THEN e.trace ELSE 'null' END AS trace, e.fuel, e.wall_ms \
    FROM nodes n JOIN evaluations e ON e.node_id = n.id WHERE n.run_id = $1 ORDER BY n.id";

/// The small columns of a row of [`TREE_CHUNK_SQL`], in its order.
#[derive(serde::Deserialize)]
struct TreeRow(
    i64,
    Option<i64>,
    String,
    Option<i64>,
    Option<i64>,
    i64,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
    String,
    i64,
    Option<String>,
    String,
    Option<i64>,
    Option<String>,
);

impl TreeRow {
    /// The record, with the row's JSON columns `files`, `values`, `metrics`, `trace`.
    fn into_record(self, run: RunId, json: &str) -> Result<NodeRecord, RowError> {
        let real = |text: Option<String>, column: &str| -> Result<Option<f64>, RowError> {
            text.map(|t| {
                t.parse::<f64>().map_err(|_| {
                    RowError::Sql(sqlx::Error::Decode(
                        format!("column {column}: `{t}` is not a number").into(),
                    ))
                })
            })
            .transpose()
        };
        let mut columns = json.split('\u{1f}');
        let mut next = |column: &str| {
            columns.next().ok_or_else(|| {
                RowError::Sql(sqlx::Error::Decode(
                    format!("node {}: column {column} is missing", self.0).into(),
                ))
            })
        };
        let (files, values, metrics, trace) = (
            next("files")?,
            next("param_values")?,
            next("metrics")?,
            next("trace")?,
        );
        Ok(NodeRecord {
            id: NodeId(self.0),
            run,
            parent: self.1.map(NodeId),
            operator: self.2,
            tree: self.3,
            island: self.4,
            depth: self.5,
            files: serde_json::from_str(files)?,
            values: serde_json::from_str(values)?,
            content_hash: self.6,
            duplicate_of: self.7.map(NodeId),
            llm_call: self.8.map(LlmCallId),
            lineage_commit: self.9,
            created_at: Timestamp(self.10),
            evaluation: EvaluationRecord {
                status: self.11,
                valid: self.12 != 0,
                score: real(self.13, "score")?,
                metrics: serde_json::from_str(metrics)?,
                feedback: self.14,
                trace: serde_json::from_str(trace)?,
                fuel: self.15,
                wall_ms: real(self.16, "wall_ms")?,
            },
        })
    }
}

/// Decodes one chunk of [`TREE_CHUNK_SQL`].
fn decode_chunk(
    run: RunId,
    small: Option<&str>,
    json: Option<&str>,
) -> Result<Vec<NodeRecord>, RowError> {
    let rows: Vec<TreeRow> = serde_json::from_str(small.unwrap_or("[]"))?;
    let mut json_rows = json.unwrap_or_default().split('\u{1e}');
    rows.into_iter()
        .map(|row| {
            let columns = json_rows.next().unwrap_or_default();
            row.into_record(run, columns)
        })
        .collect()
}

/// A node and its evaluation, serialized for binding.
struct Encoded<'a> {
    node: &'a NewNode,
    evaluation: &'a NewEvaluation,
    files: String,
    values: String,
    metrics: String,
    trace: String,
}

/// The columns a node row binds, in [`bind_node!`]'s order.
const NODE_COLUMNS: &str = "run_id, parent_id, operator, tree, island, depth, files, \
    param_values, content_hash, duplicate_of, llm_call_id, created_at";

/// The columns an evaluation row binds, in [`bind_evaluation!`]'s order.
const EVALUATION_COLUMNS: &str =
    "node_id, run_id, status, valid, score, metrics, feedback, trace, fuel, wall_ms";

/// One node row, returning its id.
static INSERT_NODE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO nodes ({NODE_COLUMNS}) VALUES ({}) RETURNING id",
        placeholders(12)
    )
});

/// One evaluation row.
static INSERT_EVALUATION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO evaluations ({EVALUATION_COLUMNS}) VALUES ({})",
        placeholders(10)
    )
});

/// Binds an [`Encoded`] node's [`NODE_COLUMNS`] (12 parameters) on `$query`.
macro_rules! bind_node {
    ($query:expr, $e:expr) => {{
        let e = $e;
        $query
            .bind(e.node.run.0)
            .bind(e.node.parent.map(|p| p.0))
            .bind(stored_text(&e.node.operator))
            .bind(e.node.tree)
            .bind(e.node.island)
            .bind(e.node.depth)
            .bind(&e.files)
            .bind(&e.values)
            .bind(stored_text(&e.node.content_hash))
            .bind(e.node.duplicate_of.map(|p| p.0))
            .bind(e.node.llm_call.map(|c| c.0))
            .bind(e.node.created_at.0)
    }};
}

/// Binds an [`Encoded`] evaluation's [`EVALUATION_COLUMNS`] (10 parameters) for node `$id`.
macro_rules! bind_evaluation {
    ($query:expr, $id:expr, $e:expr) => {{
        let e = $e;
        bind_evaluation_fields!($query.bind($id).bind(e.node.run.0), e)
    }};
}

/// Binds the 8 [`EVALUATION_COLUMNS`] after `node_id, run_id`.
macro_rules! bind_evaluation_fields {
    ($query:expr, $e:expr) => {{
        let e = $e;
        $query
            .bind(stored_text(&e.evaluation.status))
            .bind(e.evaluation.valid)
            .bind(finite(e.evaluation.score))
            .bind(&e.metrics)
            .bind(stored_text(&e.evaluation.feedback))
            .bind(&e.trace)
            .bind(e.evaluation.fuel)
            .bind(e.evaluation.wall_ms.filter(|w| w.is_finite()))
    }};
}

/// Inserts one encoded node + evaluation on `$conn` (inside a transaction) and evaluates to
/// `Result<i64, sqlx::Error>`.
macro_rules! insert_encoded {
    ($conn:expr, $e:expr) => {
        async {
            let e = $e;
            let id: i64 = bind_node!(
                sqlx::query_scalar(sqlx::AssertSqlSafe(INSERT_NODE.as_str())),
                e
            )
            .fetch_one(&mut *$conn)
            .await?;
            bind_evaluation!(
                sqlx::query(sqlx::AssertSqlSafe(INSERT_EVALUATION.as_str())),
                id,
                e
            )
            .execute(&mut *$conn)
            .await?;
            Ok::<i64, sqlx::Error>(id)
        }
    };
}

/// SQLite: one node and its evaluation in a transaction, as one command (one hand-off to
/// the connection's thread instead of four; see `store/writer.rs`). Binds [`bind_node!`]
/// ($1-$12) then [`bind_evaluation_fields!`] ($13-$20); the node's id comes back from
/// `RETURNING` and is the evaluation's through `last_insert_rowid()`.
static INSERT_NODE_SQLITE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let evaluation: Vec<String> = (13..=20).map(|i| format!("${i}")).collect();
    format!(
        "BEGIN IMMEDIATE; {}; \
         INSERT INTO evaluations ({EVALUATION_COLUMNS}) VALUES (last_insert_rowid(), $1, {}); \
         COMMIT",
        INSERT_NODE.as_str(),
        evaluation.join(", ")
    )
});

/// Rows per multi-row `INSERT` (12 parameters a node row: well under SQLite's 32,766).
const INSERT_CHUNK: usize = 400;

/// `($1, ..., $k), ($k+1, ..., $2k), ...` for `rows` rows of `k` parameters.
fn value_rows(rows: usize, k: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=k).map(|c| format!("${}", r * k + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `UPDATE table SET column = ...` for `rows` (id, value) pairs in one statement (binds
/// `$1, $2` per row: the id, then the value); `WITH ... UPDATE ... FROM` reads the same on
/// SQLite and PostgreSQL.
fn update_rows_sql(table: &str, column: &str, rows: usize) -> String {
    format!(
        "WITH v (id, value) AS (VALUES {}) \
         UPDATE {table} SET {column} = v.value FROM v WHERE {table}.id = v.id",
        value_rows(rows, 2)
    )
}

/// SQLite: a batch as multi-row `INSERT`s, two statements per [`INSERT_CHUNK`] nodes instead
/// of two per node, in one write transaction. Ids come back in the order of the `VALUES`
/// rows once sorted: under the write lock SQLite gives each inserted row the next rowid
/// (one more than the largest), one row after another.
async fn insert_rows_sqlite(
    pool: &sqlx::SqlitePool,
    encoded: &[Encoded<'_>],
) -> Result<Vec<i64>, sqlx::Error> {
    let mut tx = pool.begin_write().await?;
    let mut ids = Vec::with_capacity(encoded.len());
    for chunk in encoded.chunks(INSERT_CHUNK) {
        let sql = format!(
            "INSERT INTO nodes ({NODE_COLUMNS}) VALUES {} RETURNING id",
            value_rows(chunk.len(), 12)
        );
        let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            query = bind_node!(query, e);
        }
        let mut chunk_ids = query.fetch_all(&mut *tx).await?;
        if chunk_ids.len() != chunk.len() {
            return Err(sqlx::Error::Protocol(format!(
                "inserted {} nodes but got {} ids back",
                chunk.len(),
                chunk_ids.len()
            )));
        }
        chunk_ids.sort_unstable();
        let sql = format!(
            "INSERT INTO evaluations ({EVALUATION_COLUMNS}) VALUES {}",
            value_rows(chunk.len(), 10)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (e, id) in chunk.iter().zip(&chunk_ids) {
            query = bind_evaluation!(query, *id, e);
        }
        query.execute(&mut *tx).await?;
        ids.extend(chunk_ids);
    }
    tx.commit().await?;
    Ok(ids)
}

impl Store {
    fn encode<'a>(&self, node: &'a NewNode, evaluation: &'a NewEvaluation) -> Result<Encoded<'a>> {
        let err = self.json_err("serialize a node", Some(node.run));
        Ok(Encoded {
            node,
            evaluation,
            files: serde_json::to_string(&node.files).map_err(&err)?,
            values: serde_json::to_string(&node.values).map_err(&err)?,
            metrics: serde_json::to_string(&evaluation.metrics).map_err(&err)?,
            trace: serde_json::to_string(&evaluation.trace).map_err(&err)?,
        })
    }

    /// Inserts a node and its evaluation in one transaction. The node's `llm_call` is the
    /// link to its call ([`Store::llm_calls`] reads it back as the call's `node`); the call's
    /// row is not rewritten. When this returns `Ok`, both are durable.
    pub async fn insert_node(&self, node: &NewNode, evaluation: &NewEvaluation) -> Result<NodeId> {
        let encoded = self.encode(node, evaluation)?;
        let result: Result<i64, sqlx::Error> = match &self.inner.db {
            Db::Sqlite(pool) => {
                async {
                    let mut writer =
                        WriteConnection::acquire(self.inner.writer.as_ref(), pool).await?;
                    let query =
                        sqlx::query_scalar(sqlx::AssertSqlSafe(INSERT_NODE_SQLITE.as_str()));
                    let query = bind_evaluation_fields!(bind_node!(query, &encoded), &encoded);
                    writer.begin_command();
                    let ids: Result<Vec<i64>, _> = query.fetch_all(writer.connection()).await;
                    writer.settle(&ids).await;
                    let ids = ids?;
                    match ids[..] {
                        [id] => Ok(id),
                        _ => Err(sqlx::Error::Protocol(format!(
                            "inserted one node but got {} ids back",
                            ids.len()
                        ))),
                    }
                }
                .await
            }
            Db::Postgres(pool) => {
                async {
                    let mut tx = pool.begin_write().await?;
                    let id = insert_encoded!(tx, &encoded).await?;
                    tx.commit().await?;
                    Ok(id)
                }
                .await
            }
        };
        match result {
            Ok(id) => Ok(NodeId(id)),
            Err(e) => Err(self.insert_error(node.run, e).await),
        }
    }

    /// Inserts many nodes with their evaluations in one transaction: all or none. Parents
    /// must already be stored (a node cannot name another node of the same batch).
    pub async fn insert_nodes(&self, items: &[(NewNode, NewEvaluation)]) -> Result<Vec<NodeId>> {
        let encoded = items
            .iter()
            .map(|(n, e)| self.encode(n, e))
            .collect::<Result<Vec<_>>>()?;
        let result: Result<Vec<i64>, sqlx::Error> = match &self.inner.db {
            Db::Sqlite(pool) => insert_rows_sqlite(pool, &encoded).await,
            Db::Postgres(pool) => {
                async {
                    let mut tx = pool.begin_write().await?;
                    let mut ids = Vec::with_capacity(encoded.len());
                    for e in &encoded {
                        ids.push(insert_encoded!(tx, e).await?);
                    }
                    tx.commit().await?;
                    Ok(ids)
                }
                .await
            }
        };
        match result {
            Ok(ids) => Ok(ids.into_iter().map(NodeId).collect()),
            Err(e) => {
                let run = items.first().map(|(n, _)| n.run).unwrap_or(RunId(0));
                Err(self.insert_error(run, e).await)
            }
        }
    }

    /// Explains a failed insert: a missing run is named as such.
    async fn insert_error(&self, run: RunId, source: sqlx::Error) -> Error {
        let fk = source
            .as_database_error()
            .map(|d| d.is_foreign_key_violation())
            .unwrap_or(false);
        if fk && let Err(not_found @ Error::RunNotFound { .. }) = self.get_run(run).await {
            return not_found;
        }
        let context = if fk {
            "insert a node (its parent, duplicate_of or model call does not exist)"
        } else {
            "insert a node"
        };
        self.db_err(context, Some(run))(source)
    }

    /// The whole tree of a run, in insertion order (parents before children), every column
    /// read.
    pub async fn load_tree(&self, run: RunId) -> Result<Vec<NodeRecord>> {
        self.load_tree_with(run, TreeColumns::ALL).await
    }

    /// The whole tree of a run, in insertion order (parents before children), reading only
    /// the large columns `columns` asks for: what resume loads (a 100,000-node run's
    /// feedback, traces and code are most of its rows and none of what its search needs).
    pub async fn load_tree_with(
        &self,
        run: RunId,
        columns: TreeColumns,
    ) -> Result<Vec<NodeRecord>> {
        self.get_run(run).await?;
        match &self.inner.db {
            Db::Sqlite(pool) => self.load_tree_sqlite(pool, run, columns).await,
            Db::Postgres(pool) => {
                let rows = sqlx::query(TREE_SELECT_PG)
                    .bind(run.0)
                    .bind(columns.files)
                    .bind(columns.metrics)
                    .bind(columns.feedback_and_trace)
                    .fetch_all(pool)
                    .await
                    .map_err(self.db_err("load the run's tree", Some(run)))?;
                rows.iter()
                    .map(node_from_row)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(self.row_err("load the run's tree", Some(run)))
            }
        }
    }

    /// SQLite: the tree in chunks of [`TREE_CHUNK`] nodes, each chunk one row of two texts
    /// built by SQLite (see [`TREE_CHUNK_SQL`]). sqlx-sqlite hands rows over one by one from
    /// its worker thread, which costs more than decoding them; a chunk is one hand-off. A
    /// chunk is decoded on the blocking pool while SQLite reads the next one. Reals travel
    /// as 17-significant-digit text, which reads back bit for bit.
    async fn load_tree_sqlite(
        &self,
        pool: &sqlx::SqlitePool,
        run: RunId,
        columns: TreeColumns,
    ) -> Result<Vec<NodeRecord>> {
        let context = "load the run's tree";
        let mut nodes: Vec<NodeRecord> = Vec::new();
        let mut decoding: Option<tokio::task::JoinHandle<Result<Vec<NodeRecord>, RowError>>> = None;
        let mut after = 0i64;
        loop {
            let (count, last, small, json): (i64, Option<i64>, Option<String>, Option<String>) =
                sqlx::query_as(TREE_CHUNK_SQL)
                    .bind(run.0)
                    .bind(after)
                    .bind(TREE_CHUNK)
                    .bind(columns.files)
                    .bind(columns.metrics)
                    .bind(columns.feedback_and_trace)
                    .fetch_one(pool)
                    .await
                    .map_err(self.db_err(context, Some(run)))?;
            let next = tokio::task::spawn_blocking(move || {
                decode_chunk(run, small.as_deref(), json.as_deref())
            });
            if let Some(previous) = decoding.replace(next) {
                nodes.extend(self.decoded(previous, run).await?);
            }
            match last {
                Some(last) if count == TREE_CHUNK => after = last,
                _ => break,
            }
        }
        if let Some(previous) = decoding {
            nodes.extend(self.decoded(previous, run).await?);
        }
        // SQLite aggregates in the subquery's order; sorting makes it a guarantee.
        nodes.sort_by_key(|n| n.id);
        Ok(nodes)
    }

    async fn decoded(
        &self,
        handle: tokio::task::JoinHandle<Result<Vec<NodeRecord>, RowError>>,
        run: RunId,
    ) -> Result<Vec<NodeRecord>> {
        handle
            .await
            .map_err(|e| Error::Background {
                store: self.inner.name.clone(),
                message: e.to_string(),
            })?
            .map_err(self.row_err("load the run's tree", Some(run)))
    }

    /// One node with its evaluation.
    pub async fn get_node(&self, node: NodeId) -> Result<NodeRecord> {
        let sql = format!("{NODE_SELECT} WHERE n.id = $1");
        let record = on_db!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(node.0)
                .fetch_optional(pool)
                .await
                .map_err(self.db_err("read a node", None))?;
            row.as_ref().map(node_from_row).transpose()
        })
        .map_err(self.row_err("read a node", None))?;
        record.ok_or_else(|| Error::NodeNotFound {
            store: self.inner.name.clone(),
            run: None,
            node,
        })
    }

    /// The first non-duplicate node of `run` whose normalized content hash is `content_hash`.
    ///
    /// The orchestrator reuses its evaluation for an exact duplicate, inserting the new node
    /// with [`NewNode::duplicate_of`] set.
    pub async fn find_by_content_hash(
        &self,
        run: RunId,
        content_hash: &str,
    ) -> Result<Option<NodeRecord>> {
        let sql = format!(
            "{NODE_SELECT} WHERE n.run_id = $1 AND n.content_hash = $2 AND n.duplicate_of IS NULL \
             ORDER BY n.id LIMIT 1"
        );
        on_db!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(run.0)
                .bind(content_hash)
                .fetch_optional(pool)
                .await
                .map_err(self.db_err("look up a content hash", Some(run)))?;
            row.as_ref()
                .map(node_from_row)
                .transpose()
                .map_err(self.row_err("look up a content hash", Some(run)))
        })
    }

    /// The run's nodes that have no lineage commit yet, in id order (the nodes a crash left
    /// uncommitted: usually none, so a resume does not read the whole tree again).
    pub(crate) async fn nodes_without_lineage(&self, run: RunId) -> Result<Vec<NodeRecord>> {
        let sql =
            format!("{NODE_SELECT} WHERE n.run_id = $1 AND n.lineage_commit IS NULL ORDER BY n.id");
        on_db!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(run.0)
                .fetch_all(pool)
                .await
                .map_err(self.db_err("read the nodes without lineage", Some(run)))?;
            rows.iter()
                .map(node_from_row)
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.row_err("read the nodes without lineage", Some(run)))
        })
    }

    /// Several nodes with their evaluations, in id order; ids that do not exist are left out.
    pub async fn get_nodes(&self, nodes: &[NodeId]) -> Result<Vec<NodeRecord>> {
        let mut records = Vec::with_capacity(nodes.len());
        for chunk in nodes.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "{NODE_SELECT} WHERE n.id IN ({}) ORDER BY n.id",
                placeholders(chunk.len())
            );
            let part = on_db!(self, pool => {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for node in chunk {
                    query = query.bind(node.0);
                }
                let rows = query
                    .fetch_all(pool)
                    .await
                    .map_err(self.db_err("read nodes", None))?;
                rows.iter()
                    .map(node_from_row)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(self.row_err("read nodes", None))
            })?;
            records.extend(part);
        }
        records.sort_by_key(|r| r.id);
        Ok(records)
    }

    /// The lineage commits of some nodes (`None` for a node without one yet); ids that do
    /// not exist are left out.
    pub(crate) async fn lineage_commits_of(
        &self,
        nodes: &[NodeId],
    ) -> Result<HashMap<NodeId, Option<String>>> {
        let mut commits = HashMap::with_capacity(nodes.len());
        for chunk in nodes.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "SELECT id, lineage_commit FROM nodes WHERE id IN ({})",
                placeholders(chunk.len())
            );
            let rows: Vec<(i64, Option<String>)> = on_db!(self, pool => {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for node in chunk {
                    query = query.bind(node.0);
                }
                query.fetch_all(pool).await
            })
            .map_err(self.db_err("read lineage commits", None))?;
            commits.extend(rows.into_iter().map(|(id, c)| (NodeId(id), c)));
        }
        Ok(commits)
    }

    /// Records many nodes' lineage commits: one statement per [`INSERT_CHUNK`] nodes. A
    /// commit id stands alone (a chunk recorded without the next is simply written again by
    /// `sync_lineage`), so on SQLite each chunk is its own transaction on the steps' write
    /// connection: a step's write waits on its mutex for one chunk at most, where a pooled
    /// transaction would meet it as `SQLITE_BUSY`, whose handler sleeps a millisecond or more.
    pub(crate) async fn set_lineage_commits(&self, commits: &[(NodeId, String)]) -> Result<()> {
        // The same statement for either database.
        macro_rules! update {
            ($chunk:expr) => {{
                let chunk = $chunk;
                let sql = update_rows_sql("nodes", "lineage_commit", chunk.len());
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (node, commit) in chunk {
                    query = query.bind(node.0).bind(commit);
                }
                query
            }};
        }
        let result: Result<(), sqlx::Error> = match &self.inner.db {
            Db::Sqlite(pool) => {
                async {
                    for chunk in commits.chunks(INSERT_CHUNK) {
                        let mut writer =
                            WriteConnection::acquire(self.inner.writer.as_ref(), pool).await?;
                        update!(chunk).execute(writer.connection()).await?;
                    }
                    Ok(())
                }
                .await
            }
            Db::Postgres(pool) => {
                async {
                    let mut tx = pool.begin_write().await?;
                    for chunk in commits.chunks(INSERT_CHUNK) {
                        update!(chunk).execute(&mut *tx).await?;
                    }
                    tx.commit().await
                }
                .await
            }
        };
        result.map_err(self.db_err("record lineage commits", None))
    }
}
