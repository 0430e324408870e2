//! Runs: creation, status, active time, listing, spend and summaries.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::store::{BeginWrite, Db, RowError, RowExt, on_db};
use crate::{
    BestNode, Budgets, NewRun, RunId, RunRecord, RunStatus, RunSummary, ScoreBasis, Spend, Store,
    Timestamp,
};

const RUN_COLUMNS: &str = "id, task_name, task_dir, task_hash, kind, config, seed, strategy, \
    budget_evaluations, budget_llm_calls, budget_tokens, budget_dollars, budget_wall_seconds, \
    status, status_detail, started_at, updated_at, finished_at, active_seconds";

fn run_from_row(row: &impl RowExt) -> Result<RunRecord, RowError> {
    Ok(RunRecord {
        id: RunId(row.i64("id")?),
        task_name: row.string("task_name")?,
        task_dir: row.string("task_dir")?,
        task_hash: row.string("task_hash")?,
        kind: row.string("kind")?,
        config: serde_json::from_str(&row.string("config")?)?,
        seed: row.i64("seed")? as u64,
        strategy: row.string("strategy")?,
        budgets: Budgets {
            evaluations: row.opt_i64("budget_evaluations")?,
            llm_calls: row.opt_i64("budget_llm_calls")?,
            tokens: row.opt_i64("budget_tokens")?,
            dollars: row.opt_f64("budget_dollars")?,
            wall_seconds: row.opt_f64("budget_wall_seconds")?,
        },
        status: {
            let value = row.string("status")?;
            RunStatus::parse(&value).ok_or(RowError::UnknownValue {
                column: "status",
                value,
            })?
        },
        status_detail: row.opt_string("status_detail")?,
        started_at: Timestamp(row.i64("started_at")?),
        updated_at: Timestamp(row.i64("updated_at")?),
        finished_at: row.opt_i64("finished_at")?.map(Timestamp),
        active_seconds: row.f64("active_seconds")?,
    })
}

impl Store {
    /// Creates a run with status [`RunStatus::Running`] and returns its id.
    pub async fn create_run(&self, run: &NewRun) -> Result<RunId> {
        let config = serde_json::to_string(&run.config)
            .map_err(self.json_err("serialize the run config", None))?;
        let id: i64 = on_db!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO runs (task_name, task_dir, task_hash, kind, config, seed, strategy, \
                 budget_evaluations, budget_llm_calls, budget_tokens, budget_dollars, budget_wall_seconds, \
                 status, started_at, updated_at, active_seconds) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, 0) RETURNING id",
            )
            .bind(&run.task_name)
            .bind(&run.task_dir)
            .bind(&run.task_hash)
            .bind(&run.kind)
            .bind(&config)
            .bind(run.seed as i64)
            .bind(&run.strategy)
            .bind(run.budgets.evaluations)
            .bind(run.budgets.llm_calls)
            .bind(run.budgets.tokens)
            .bind(run.budgets.dollars)
            .bind(run.budgets.wall_seconds)
            .bind(RunStatus::Running.as_str())
            .bind(run.started_at.0)
            .fetch_one(pool)
            .await
        })
        .map_err(self.db_err("create a run", None))?;
        Ok(RunId(id))
    }

    /// One run.
    pub async fn get_run(&self, run: RunId) -> Result<RunRecord> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
        let record = on_db!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(run.0)
                .fetch_optional(pool)
                .await
                .map_err(self.db_err("read a run", Some(run)))?;
            row.as_ref().map(run_from_row).transpose()
        })
        .map_err(self.row_err("read a run", Some(run)))?;
        record.ok_or_else(|| self.run_not_found(run))
    }

    /// All runs, oldest first.
    pub async fn list_runs(&self) -> Result<Vec<RunRecord>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id");
        on_db!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .map_err(self.db_err("list runs", None))?;
            rows.iter()
                .map(run_from_row)
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.row_err("list runs", None))
        })
    }

    /// Sets a run's status (and detail), clearing `finished_at` (a resumed run is not finished).
    pub async fn set_run_status(
        &self,
        run: RunId,
        status: RunStatus,
        detail: Option<&str>,
        at: Timestamp,
    ) -> Result<()> {
        let affected = on_db!(self, pool => {
            sqlx::query(
                "UPDATE runs SET status = $1, status_detail = $2, updated_at = $3, finished_at = NULL WHERE id = $4",
            )
            .bind(status.as_str())
            .bind(detail)
            .bind(at.0)
            .bind(run.0)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(self.db_err("set the run status", Some(run)))?;
        self.expect_run_updated(run, affected)
    }

    /// Sets a run's final status and its `finished_at` time.
    pub async fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        detail: Option<&str>,
        at: Timestamp,
    ) -> Result<()> {
        let affected = on_db!(self, pool => {
            sqlx::query(
                "UPDATE runs SET status = $1, status_detail = $2, updated_at = $3, finished_at = $3 WHERE id = $4",
            )
            .bind(status.as_str())
            .bind(detail)
            .bind(at.0)
            .bind(run.0)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(self.db_err("finish the run", Some(run)))?;
        self.expect_run_updated(run, affected)
    }

    /// Adds `seconds` of activity to the run's wall-time account.
    ///
    /// This is how the wall-time budget survives resume: the orchestrator calls it as a
    /// heartbeat (say every few seconds, and when it stops), and [`Spend::wall_seconds`] is the
    /// sum. A kill loses at most the time since the last heartbeat; time while no process ran
    /// the run is never counted.
    pub async fn add_active_time(&self, run: RunId, seconds: f64, at: Timestamp) -> Result<()> {
        let seconds = if seconds.is_finite() && seconds > 0.0 {
            seconds
        } else {
            0.0
        };
        let affected = on_db!(self, pool => {
            sqlx::query(
                "UPDATE runs SET active_seconds = active_seconds + $1, updated_at = $2 WHERE id = $3",
            )
            .bind(seconds)
            .bind(at.0)
            .bind(run.0)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(self.db_err("add active time", Some(run)))?;
        self.expect_run_updated(run, affected)
    }

    /// What the run has spent so far: evaluations, model calls, tokens, dollars, wall time.
    pub async fn spend(&self, run: RunId) -> Result<Spend> {
        let record = self.get_run(run).await?;
        let err = self.db_err("count the run's spend", Some(run));
        let (nodes, duplicates, rejected, calls, tokens_in, tokens_out, dollars) = on_db!(self, pool => {
            let (nodes, duplicates, rejected): (i64, i64, i64) = sqlx::query_as(
                "SELECT CAST(COUNT(*) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN n.duplicate_of IS NULL THEN 0 ELSE 1 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN n.duplicate_of IS NULL AND e.status = $2 \
                     THEN 1 ELSE 0 END), 0) AS BIGINT) \
                 FROM nodes n LEFT JOIN evaluations e ON e.node_id = n.id WHERE n.run_id = $1",
            )
            .bind(run.0)
            .bind(crate::REJECTED_NOVELTY)
            .fetch_one(pool)
            .await
            .map_err(&err)?;
            let row = sqlx::query(
                "SELECT CAST(COUNT(*) AS BIGINT) AS calls, \
                 CAST(COALESCE(SUM(tokens_in), 0) AS BIGINT) AS tokens_in, \
                 CAST(COALESCE(SUM(tokens_out), 0) AS BIGINT) AS tokens_out, \
                 CAST(COALESCE(SUM(cost_dollars), 0) AS DOUBLE PRECISION) AS dollars \
                 FROM llm_calls WHERE run_id = $1",
            )
            .bind(run.0)
            .fetch_one(pool)
            .await
            .map_err(&err)?;
            (
                nodes,
                duplicates,
                rejected,
                row.i64("calls").map_err(&err)?,
                row.i64("tokens_in").map_err(&err)?,
                row.i64("tokens_out").map_err(&err)?,
                row.f64("dollars").map_err(&err)?,
            )
        });
        Ok(Spend {
            evaluations: nodes - duplicates - rejected,
            duplicates,
            rejected,
            llm_calls: calls,
            tokens_in,
            tokens_out,
            dollars,
            wall_seconds: record.active_seconds,
        })
    }

    /// The run's best node, ranked by private score (see [`BestNode`]): among non-duplicate
    /// nodes valid on their public and their private evaluation, the highest private score,
    /// then the higher public score, then the older node. A run without any private
    /// evaluation falls back to the highest public score ([`ScoreBasis::PublicOnly`]).
    /// `None` if no node qualifies.
    pub async fn best_node(&self, run: RunId) -> Result<Option<BestNode>> {
        type Row = (i64, f64, f64, bool);
        let err = self.db_err("find the best node", Some(run));
        let (private, any_private, public): (Option<Row>, bool, Option<(i64, f64)>) = on_db!(self, pool => {
            let private: Option<Row> = sqlx::query_as(
                "SELECT p.node_id, p.score, e.score, p.held_out FROM private_evaluations p \
                 JOIN evaluations e ON e.node_id = p.node_id JOIN nodes n ON n.id = p.node_id \
                 WHERE p.run_id = $1 AND p.valid = TRUE AND p.score IS NOT NULL \
                 AND e.valid = TRUE AND e.score IS NOT NULL AND n.duplicate_of IS NULL \
                 ORDER BY p.score DESC, e.score DESC, p.node_id ASC LIMIT 1",
            )
            .bind(run.0)
            .fetch_optional(pool)
            .await
            .map_err(&err)?;
            if private.is_some() {
                (private, true, None)
            } else {
                let any: Option<i64> =
                    sqlx::query_scalar("SELECT node_id FROM private_evaluations WHERE run_id = $1 LIMIT 1")
                        .bind(run.0)
                        .fetch_optional(pool)
                        .await
                        .map_err(&err)?;
                let public: Option<(i64, f64)> = if any.is_some() {
                    None
                } else {
                    sqlx::query_as(
                        "SELECT e.node_id, e.score FROM evaluations e JOIN nodes n ON n.id = e.node_id \
                         WHERE e.run_id = $1 AND e.valid = TRUE AND e.score IS NOT NULL AND n.duplicate_of IS NULL \
                         ORDER BY e.score DESC, e.node_id ASC LIMIT 1",
                    )
                    .bind(run.0)
                    .fetch_optional(pool)
                    .await
                    .map_err(&err)?
                };
                (None, any.is_some(), public)
            }
        });
        let best = match (private, public) {
            (Some((node, score, public_score, held_out)), _) => Some(BestNode {
                node: crate::NodeId(node),
                score,
                public_score,
                basis: if held_out {
                    ScoreBasis::Private
                } else {
                    ScoreBasis::NoHeldOutCases
                },
            }),
            (None, Some((node, score))) if !any_private => Some(BestNode {
                node: crate::NodeId(node),
                score,
                public_score: score,
                basis: ScoreBasis::PublicOnly,
            }),
            _ => None,
        };
        if best.is_none() {
            // Tell "no valid node yet" from "no such run".
            self.get_run(run).await?;
        }
        Ok(best)
    }

    /// What `hone status` shows: counts by status, best node, spend, private evaluations.
    /// Safe to call while another process writes the run.
    pub async fn run_summary(&self, run: RunId) -> Result<RunSummary> {
        let record = self.get_run(run).await?;
        let spend = self.spend(run).await?;
        let best = self.best_node(run).await?;
        let private_evaluations = self.private_evaluations(run).await?;
        let best_public: Option<f64> = on_db!(self, pool => {
            sqlx::query_scalar(
                "SELECT MAX(e.score) FROM evaluations e JOIN nodes n ON n.id = e.node_id \
                 WHERE e.run_id = $1 AND e.valid = TRUE AND e.score IS NOT NULL \
                 AND n.duplicate_of IS NULL",
            )
            .bind(run.0)
            .fetch_one(pool)
            .await
        })
        .map_err(self.db_err("find the best public score", Some(run)))?;
        let counts: Vec<(String, i64, i64)> = on_db!(self, pool => {
            sqlx::query_as(
                "SELECT status, CAST(COUNT(*) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN valid THEN 1 ELSE 0 END), 0) AS BIGINT) \
                 FROM evaluations WHERE run_id = $1 GROUP BY status ORDER BY status",
            )
            .bind(run.0)
            .fetch_all(pool)
            .await
        })
        .map_err(self.db_err("count the run's nodes", Some(run)))?;
        let mut by_status = BTreeMap::new();
        let (mut nodes, mut valid) = (0, 0);
        for (status, count, valid_count) in counts {
            nodes += count;
            valid += valid_count;
            by_status.insert(status, count);
        }
        Ok(RunSummary {
            run: record,
            nodes,
            valid,
            by_status,
            best,
            best_public,
            spend,
            private_evaluations,
        })
    }

    pub(crate) fn run_not_found(&self, run: RunId) -> Error {
        Error::RunNotFound {
            store: self.inner.name.clone(),
            run,
        }
    }

    fn expect_run_updated(&self, run: RunId, affected: u64) -> Result<()> {
        if affected == 0 {
            Err(self.run_not_found(run))
        } else {
            Ok(())
        }
    }

    /// Checks the database file and the store's invariants: SQLite's `PRAGMA integrity_check`
    /// (PostgreSQL has no equivalent and reports ok), and that every node has its evaluation.
    pub async fn check_integrity(&self) -> Result<IntegrityReport> {
        let err = self.db_err("check integrity", None);
        let database_messages: Vec<String> = match &self.inner.db {
            Db::Sqlite(pool) => sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_all(pool)
                .await
                .map_err(&err)?,
            Db::Postgres(_) => vec!["ok".to_string()],
        };
        let nodes_without_evaluation: i64 = on_db!(self, pool => {
            sqlx::query_scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM nodes n \
                 WHERE NOT EXISTS (SELECT 1 FROM evaluations e WHERE e.node_id = n.id)",
            )
            .fetch_one(pool)
            .await
            .map_err(&err)?
        });
        Ok(IntegrityReport {
            database_ok: database_messages == ["ok"],
            database_messages,
            nodes_without_evaluation,
        })
    }

    /// Runs a no-op write transaction: fails with [`Error::ReadOnly`] if the store cannot be
    /// written. Useful before starting a run.
    pub async fn check_writable(&self) -> Result<()> {
        let err = self.db_err("check that the store is writable", None);
        if self.inner.read_only {
            return Err(Error::ReadOnly {
                store: self.inner.name.clone(),
                context: "opened read-only".into(),
            });
        }
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(&err)?;
            sqlx::query("UPDATE hone_schema SET version = version WHERE id = 1")
                .execute(&mut *tx)
                .await
                .map_err(&err)?;
            tx.commit().await.map_err(&err)?;
        });
        Ok(())
    }
}

/// The result of [`Store::check_integrity`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityReport {
    pub database_ok: bool,
    /// `["ok"]` when the database is sound.
    pub database_messages: Vec<String>,
    pub nodes_without_evaluation: i64,
}

impl IntegrityReport {
    /// True if the database and the store's invariants are sound.
    pub fn is_ok(&self) -> bool {
        self.database_ok && self.nodes_without_evaluation == 0
    }
}
