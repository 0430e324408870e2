//! Model calls, events and private evaluations.

use crate::error::{Error, Result};
use crate::store::writer::WriteConnection;
use crate::store::{Db, RowError, RowExt, finite, on_db};
use crate::types::stored_text;
use crate::{
    EventId, EventRecord, LlmCallId, LlmCallRecord, ModelSpend, NewLlmCall, NodeId,
    PrivateEvaluation, PrivateEvaluationRecord, RunId, Store, Timestamp,
};

/// A run's calls with the node each led to. A node names its own call (`nodes.llm_call_id`,
/// written with the node, so storing a node never rewrites the call's row, prompt and reply
/// included); `llm_calls.node_id` is set only for the earlier calls of a step (an ask
/// before its re-ask, [`Store::attach_llm_call`]) and by stores before schema v4. The
/// run's links are materialized first, so SQLite joins them through an automatic index
/// (100,000 calls in a fraction of a second) instead of scanning the run's nodes per call.
const RUN_CALLS_SQL: &str = "WITH n AS MATERIALIZED \
    (SELECT id, llm_call_id FROM nodes WHERE run_id = $1 AND llm_call_id IS NOT NULL) \
    SELECT c.id, c.run_id, COALESCE(c.node_id, n.id) AS node_id, \
    c.parent_node_id, c.operator, c.model, c.system, c.prompt, c.reply, c.tokens_in, \
    c.tokens_out, c.tokens_estimated, c.cost_dollars, c.latency_ms, c.error, c.parse_error, \
    c.replayed, c.attempt, c.created_at \
    FROM llm_calls c LEFT JOIN n ON n.llm_call_id = c.id \
    WHERE c.run_id = $1 ORDER BY c.id";

fn call_from_row(row: &impl RowExt) -> Result<LlmCallRecord, RowError> {
    Ok(LlmCallRecord {
        id: LlmCallId(row.i64("id")?),
        run: RunId(row.i64("run_id")?),
        node: row.opt_i64("node_id")?.map(NodeId),
        parent: row.opt_i64("parent_node_id")?.map(NodeId),
        operator: row.string("operator")?,
        model: row.string("model")?,
        system: row.string("system")?,
        prompt: row.string("prompt")?,
        reply: row.opt_string("reply")?,
        tokens_in: row.i64("tokens_in")?,
        tokens_out: row.i64("tokens_out")?,
        tokens_estimated: row.bool("tokens_estimated")?,
        cost_dollars: row.f64("cost_dollars")?,
        latency_ms: row.f64("latency_ms")?,
        error: row.opt_string("error")?,
        parse_error: row.opt_string("parse_error")?,
        replayed: row.bool("replayed")?,
        attempt: row.i64("attempt")?,
        created_at: Timestamp(row.i64("created_at")?),
    })
}

/// Events per chunk of [`Store::events_with_latest`] on SQLite.
const EVENT_CHUNK: i64 = 5000;

fn event_from_row(row: &impl RowExt) -> Result<EventRecord, RowError> {
    Ok(EventRecord {
        id: EventId(row.i64("id")?),
        run: RunId(row.i64("run_id")?),
        at: Timestamp(row.i64("at")?),
        kind: row.string("kind")?,
        payload: serde_json::from_str(&row.string("payload")?)?,
    })
}

fn private_from_row(row: &impl RowExt) -> Result<PrivateEvaluationRecord, RowError> {
    Ok(PrivateEvaluationRecord {
        run: RunId(row.i64("run_id")?),
        node: NodeId(row.i64("node_id")?),
        evaluation: PrivateEvaluation {
            held_out: row.bool("held_out")?,
            status: row.string("status")?,
            valid: row.bool("valid")?,
            score: row.opt_f64("score")?,
            fuel: row.opt_i64("fuel")?,
            wall_ms: row.opt_f64("wall_ms")?,
        },
        created_at: Timestamp(row.i64("created_at")?),
    })
}

/// Writes (or replaces) a node's private evaluation; binds run, node, held_out, status,
/// valid, score, fuel, wall_ms, created_at.
const UPSERT_PRIVATE_SQL: &str = "INSERT INTO private_evaluations (run_id, node_id, held_out, \
    status, valid, score, fuel, wall_ms, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
    ON CONFLICT (node_id) DO UPDATE SET held_out = excluded.held_out, \
    status = excluded.status, valid = excluded.valid, score = excluded.score, \
    fuel = excluded.fuel, wall_ms = excluded.wall_ms, created_at = excluded.created_at";

impl Store {
    /// Records a model call. Call it as soon as the reply (or the error) arrives, before the
    /// reply is parsed, so its tokens and cost count even if the process dies right after.
    pub async fn record_llm_call(&self, call: &NewLlmCall) -> Result<LlmCallId> {
        let run = call.run;
        // The same query for either database.
        macro_rules! query {
            () => {
                sqlx::query_scalar(
                    "INSERT INTO llm_calls (run_id, parent_node_id, operator, model, system, \
                     prompt, reply, tokens_in, tokens_out, tokens_estimated, cost_dollars, \
                     latency_ms, error, replayed, attempt, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                     $16) RETURNING id",
                )
                .bind(run.0)
                .bind(call.parent.map(|p| p.0))
                .bind(stored_text(&call.operator))
                .bind(stored_text(&call.model))
                .bind(stored_text(&call.system))
                .bind(stored_text(&call.prompt))
                .bind(call.reply.as_deref().map(stored_text))
                .bind(call.tokens_in)
                .bind(call.tokens_out)
                .bind(call.tokens_estimated)
                .bind(if call.cost_dollars.is_finite() { call.cost_dollars } else { 0.0 })
                .bind(if call.latency_ms.is_finite() { call.latency_ms } else { 0.0 })
                .bind(call.error.as_deref().map(stored_text))
                .bind(call.replayed)
                .bind(call.attempt)
                .bind(call.created_at.0)
            };
        }
        let id: Result<i64, sqlx::Error> = match &self.inner.db {
            Db::Sqlite(pool) => {
                match WriteConnection::acquire(self.inner.writer.as_ref(), pool).await {
                    Ok(mut writer) => query!().fetch_one(writer.connection()).await,
                    Err(e) => Err(e),
                }
            }
            Db::Postgres(pool) => query!().fetch_one(pool).await,
        };
        match id {
            Ok(id) => Ok(LlmCallId(id)),
            Err(e) if is_fk(&e) => Err(self.missing_run_or(run, e, "record a model call").await),
            Err(e) => Err(self.db_err("record a model call", Some(run))(e)),
        }
    }

    /// Records why a call's reply could not be turned into a candidate.
    pub async fn set_llm_call_parse_error(&self, call: LlmCallId, message: &str) -> Result<()> {
        let affected = on_db!(self, pool => {
            sqlx::query("UPDATE llm_calls SET parse_error = $1 WHERE id = $2")
                .bind(stored_text(message))
                .bind(call.0)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(self.db_err("record a parse error", None))?;
        self.expect_call_updated(call, affected)
    }

    /// Attaches a call to the node it led to (for calls not named in [`crate::NewNode::llm_call`],
    /// such as the first ask before a re-ask).
    pub async fn attach_llm_call(&self, call: LlmCallId, node: NodeId) -> Result<()> {
        let affected = on_db!(self, pool => {
            sqlx::query("UPDATE llm_calls SET node_id = $1 WHERE id = $2")
                .bind(node.0)
                .bind(call.0)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(|e| {
            if is_fk(&e) {
                Error::NodeNotFound {
                    store: self.inner.name.clone(),
                    run: None,
                    node,
                }
            } else {
                self.db_err("attach a model call", None)(e)
            }
        })?;
        self.expect_call_updated(call, affected)
    }

    /// All model calls of a run, oldest first.
    pub async fn llm_calls(&self, run: RunId) -> Result<Vec<LlmCallRecord>> {
        self.get_run(run).await?;
        on_db!(self, pool => {
            let rows = sqlx::query(RUN_CALLS_SQL)
                .bind(run.0)
                .fetch_all(pool)
                .await
                .map_err(self.db_err("read model calls", Some(run)))?;
            rows.iter()
                .map(call_from_row)
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.row_err("read model calls", Some(run)))
        })
    }

    /// The model calls that produced a node, oldest first: the call the node names and the
    /// earlier asks of its step (an ask before its re-ask, [`Store::attach_llm_call`]).
    /// Empty for a node no model wrote (the seed, a tuner's proposal); an unknown node is
    /// [`Error::NodeNotFound`].
    pub async fn node_llm_calls(&self, node: NodeId) -> Result<Vec<LlmCallRecord>> {
        let rows = on_db!(self, pool => {
            let rows = sqlx::query(
                "SELECT c.id, c.run_id, CAST($1 AS BIGINT) AS node_id, c.parent_node_id, \
                 c.operator, c.model, c.system, c.prompt, c.reply, c.tokens_in, c.tokens_out, \
                 c.tokens_estimated, c.cost_dollars, c.latency_ms, c.error, c.parse_error, \
                 c.replayed, c.attempt, c.created_at FROM llm_calls c \
                 WHERE c.node_id = $1 OR c.id = (SELECT llm_call_id FROM nodes WHERE id = $1) \
                 ORDER BY c.id",
            )
            .bind(node.0)
            .fetch_all(pool)
            .await
            .map_err(self.db_err("read a node's model calls", None))?;
            rows.iter()
                .map(call_from_row)
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.row_err("read a node's model calls", None))
        })?;
        if rows.is_empty() {
            // Tell "no model wrote it" from "no such node".
            let found: Option<i64> = on_db!(self, pool => {
                sqlx::query_scalar("SELECT id FROM nodes WHERE id = $1")
                    .bind(node.0)
                    .fetch_optional(pool)
                    .await
            })
            .map_err(self.db_err("read a node's model calls", None))?;
            if found.is_none() {
                return Err(Error::NodeNotFound {
                    store: self.inner.name.clone(),
                    run: None,
                    node,
                });
            }
        }
        Ok(rows)
    }

    /// What each model of a run has spent, by model name.
    pub async fn spend_by_model(&self, run: RunId) -> Result<Vec<ModelSpend>> {
        self.get_run(run).await?;
        let err = self.db_err("count the spend by model", Some(run));
        on_db!(self, pool => {
            let rows = sqlx::query(
                "SELECT model, CAST(COUNT(*) AS BIGINT) AS calls, \
                 CAST(COALESCE(SUM(tokens_in), 0) AS BIGINT) AS tokens_in, \
                 CAST(COALESCE(SUM(tokens_out), 0) AS BIGINT) AS tokens_out, \
                 CAST(COALESCE(SUM(cost_dollars), 0) AS DOUBLE PRECISION) AS dollars, \
                 CAST(COALESCE(SUM(CASE WHEN error IS NOT NULL OR parse_error IS NOT NULL \
                 THEN 1 ELSE 0 END), 0) AS BIGINT) AS errors \
                 FROM llm_calls WHERE run_id = $1 GROUP BY model ORDER BY model",
            )
            .bind(run.0)
            .fetch_all(pool)
            .await
            .map_err(&err)?;
            rows.iter()
                .map(|row| {
                    Ok(ModelSpend {
                        model: row.string("model")?,
                        calls: row.i64("calls")?,
                        tokens_in: row.i64("tokens_in")?,
                        tokens_out: row.i64("tokens_out")?,
                        dollars: row.f64("dollars")?,
                        errors: row.i64("errors")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(&err)
        })
    }

    /// The model names of some calls, by call id; ids that do not exist are left out.
    pub async fn models_of_calls(
        &self,
        calls: &[LlmCallId],
    ) -> Result<std::collections::HashMap<LlmCallId, String>> {
        let mut models = std::collections::HashMap::with_capacity(calls.len());
        for chunk in calls.chunks(super::nodes::IN_LIST_CHUNK) {
            let sql = format!(
                "SELECT id, model FROM llm_calls WHERE id IN ({})",
                super::nodes::placeholders(chunk.len())
            );
            let rows: Vec<(i64, String)> = on_db!(self, pool => {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for call in chunk {
                    query = query.bind(call.0);
                }
                query.fetch_all(pool).await
            })
            .map_err(self.db_err("read model names", None))?;
            models.extend(rows.into_iter().map(|(id, m)| (LlmCallId(id), m)));
        }
        Ok(models)
    }

    /// Records an event of a run (strategy decisions, budget stops, errors, resumes...).
    pub async fn record_event(
        &self,
        run: RunId,
        at: Timestamp,
        kind: &str,
        payload: &serde_json::Value,
    ) -> Result<EventId> {
        let payload = serde_json::to_string(payload)
            .map_err(self.json_err("serialize an event", Some(run)))?;
        let id: Result<i64, sqlx::Error> = on_db!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO events (run_id, at, kind, payload) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(run.0)
            .bind(at.0)
            .bind(kind)
            .bind(&payload)
            .fetch_one(pool)
            .await
        });
        match id {
            Ok(id) => Ok(EventId(id)),
            Err(e) if is_fk(&e) => Err(self.missing_run_or(run, e, "record an event").await),
            Err(e) => Err(self.db_err("record an event", Some(run))(e)),
        }
    }

    /// A run's events, oldest first.
    pub async fn events(&self, run: RunId) -> Result<Vec<EventRecord>> {
        self.get_run(run).await?;
        on_db!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, run_id, at, kind, payload FROM events WHERE run_id = $1 ORDER BY id",
            )
            .bind(run.0)
            .fetch_all(pool)
            .await
            .map_err(self.db_err("read events", Some(run)))?;
            rows.iter()
                .map(event_from_row)
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.row_err("read events", Some(run)))
        })
    }

    /// A run's events, oldest first, but of kind `superseded` only the latest: for a
    /// reader that only needs the last one (a long run rewrites its insights after every
    /// expansion).
    pub async fn events_with_latest(
        &self,
        run: RunId,
        superseded: &str,
    ) -> Result<Vec<EventRecord>> {
        self.get_run(run).await?;
        match &self.inner.db {
            Db::Sqlite(pool) => self.events_with_latest_sqlite(pool, run, superseded).await,
            Db::Postgres(pool) => {
                let rows = sqlx::query(
                    "SELECT id, run_id, at, kind, payload FROM events WHERE run_id = $1 \
                     AND (kind <> $2 OR id = (SELECT MAX(id) FROM events WHERE run_id = $1 AND kind = $2)) \
                     ORDER BY id",
                )
                .bind(run.0)
                .bind(superseded)
                .fetch_all(pool)
                .await
                .map_err(self.db_err("read events", Some(run)))?;
                rows.iter()
                    .map(event_from_row)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(self.row_err("read events", Some(run)))
            }
        }
    }

    /// SQLite: [`Store::events_with_latest`] in chunks of [`EVENT_CHUNK`] events, each one
    /// row of one JSON array built by SQLite (sqlx-sqlite hands rows over one by one from its
    /// worker thread, which costs more than decoding them: forest records two or three
    /// events a node).
    async fn events_with_latest_sqlite(
        &self,
        pool: &sqlx::SqlitePool,
        run: RunId,
        superseded: &str,
    ) -> Result<Vec<EventRecord>> {
        let mut events = Vec::new();
        let mut after = 0i64;
        loop {
            let (count, last, json): (i64, Option<i64>, String) = sqlx::query_as(
                "SELECT count(*), max(id), json_group_array(json_array(id, at, kind, json(payload))) \
                 FROM (SELECT id, at, kind, payload FROM events WHERE run_id = $1 AND id > $3 \
                 AND (kind <> $2 OR id = (SELECT MAX(id) FROM events WHERE run_id = $1 AND kind = $2)) \
                 ORDER BY id LIMIT $4)",
            )
            .bind(run.0)
            .bind(superseded)
            .bind(after)
            .bind(EVENT_CHUNK)
            .fetch_one(pool)
            .await
            .map_err(self.db_err("read events", Some(run)))?;
            let rows: Vec<(i64, i64, String, serde_json::Value)> = serde_json::from_str(&json)
                .map_err(|e| self.row_err("read events", Some(run))(RowError::Json(e)))?;
            events.extend(rows.into_iter().map(|(id, at, kind, payload)| EventRecord {
                id: EventId(id),
                run,
                at: Timestamp(at),
                kind,
                payload,
            }));
            match last {
                Some(last) if count == EVENT_CHUNK => after = last,
                _ => break,
            }
        }
        // SQLite aggregates in the subquery's order; sorting makes it a guarantee.
        events.sort_by_key(|e| e.id.0);
        Ok(events)
    }

    /// Records a node's private evaluation (replacing an earlier one). The node must belong
    /// to `run`.
    pub async fn record_private_evaluation(
        &self,
        run: RunId,
        node: NodeId,
        evaluation: &PrivateEvaluation,
        at: Timestamp,
    ) -> Result<()> {
        let stored: Option<i64> = on_db!(self, pool => {
            sqlx::query_scalar("SELECT run_id FROM nodes WHERE id = $1")
                .bind(node.0)
                .fetch_optional(pool)
                .await
        })
        .map_err(self.db_err("record a private evaluation", Some(run)))?;
        if stored != Some(run.0) {
            return Err(Error::NodeNotFound {
                store: self.inner.name.clone(),
                run: Some(run),
                node,
            });
        }
        macro_rules! upsert {
            () => {
                sqlx::query(UPSERT_PRIVATE_SQL)
                    .bind(run.0)
                    .bind(node.0)
                    .bind(evaluation.held_out)
                    .bind(stored_text(&evaluation.status))
                    .bind(evaluation.valid)
                    .bind(evaluation.score.and_then(finite))
                    .bind(evaluation.fuel)
                    .bind(evaluation.wall_ms.filter(|w| w.is_finite()))
                    .bind(at.0)
            };
        }
        let result: Result<(), sqlx::Error> = match &self.inner.db {
            // Through the steps' write connection, as their other writes.
            Db::Sqlite(pool) => {
                async {
                    let mut writer =
                        WriteConnection::acquire(self.inner.writer.as_ref(), pool).await?;
                    upsert!().execute(writer.connection()).await.map(|_| ())
                }
                .await
            }
            Db::Postgres(pool) => upsert!().execute(pool).await.map(|_| ()),
        };
        result.map_err(self.db_err("record a private evaluation", Some(run)))
    }

    /// A run's private evaluations, by node id.
    pub async fn private_evaluations(&self, run: RunId) -> Result<Vec<PrivateEvaluationRecord>> {
        on_db!(self, pool => {
            let rows = sqlx::query(
                "SELECT run_id, node_id, held_out, status, valid, score, fuel, wall_ms, \
                 created_at FROM private_evaluations WHERE run_id = $1 ORDER BY node_id",
            )
            .bind(run.0)
            .fetch_all(pool)
            .await
            .map_err(self.db_err("read private evaluations", Some(run)))?;
            rows.iter()
                .map(private_from_row)
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.row_err("read private evaluations", Some(run)))
        })
    }

    async fn missing_run_or(
        &self,
        run: RunId,
        source: sqlx::Error,
        context: &'static str,
    ) -> Error {
        match self.get_run(run).await {
            Err(not_found @ Error::RunNotFound { .. }) => not_found,
            _ => self.db_err(context, Some(run))(source),
        }
    }

    fn expect_call_updated(&self, call: LlmCallId, affected: u64) -> Result<()> {
        if affected == 0 {
            Err(Error::LlmCallNotFound {
                store: self.inner.name.clone(),
                call,
            })
        } else {
            Ok(())
        }
    }
}

fn is_fk(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .map(|d| d.is_foreign_key_violation())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading a run's calls joins their nodes through an index SQLite builds for the
    /// query, not a scan of the run's nodes for every call (quadratic in a long run).
    #[tokio::test]
    async fn a_runs_calls_find_their_nodes_through_an_index() {
        let store = match Store::open("sqlite::memory:").await {
            Ok(store) => store,
            Err(e) => panic!("{e}"),
        };
        let Db::Sqlite(pool) = &store.inner.db else {
            panic!("an in-memory store is SQLite");
        };
        let explain = format!("EXPLAIN QUERY PLAN {RUN_CALLS_SQL}");
        let plan: Vec<(i64, i64, i64, String)> = match sqlx::query_as(sqlx::AssertSqlSafe(explain))
            .bind(1_i64)
            .fetch_all(pool)
            .await
        {
            Ok(plan) => plan,
            Err(e) => panic!("{e}"),
        };
        let steps: Vec<&str> = plan.iter().map(|(.., detail)| detail.as_str()).collect();
        assert!(
            steps
                .iter()
                .any(|s| s.starts_with("SEARCH n USING AUTOMATIC")),
            "{steps:?}"
        );
        assert!(!steps.iter().any(|s| s.starts_with("SCAN")), "{steps:?}");
    }
}
