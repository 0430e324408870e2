//! Fixtures shared by the store's integration tests: stores on a temp dir or PostgreSQL, and record builders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hone_store::testing::PostgresServer;
use hone_store::{
    Budgets, LineageLocation, LlmCallId, NewEvaluation, NewLlmCall, NewNode, NewRun, NodeId, RunId,
    Store, StoreConfig, Timestamp,
};

/// A place to open stores: a SQLite file, or a database on a PostgreSQL server.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub url: String,
    /// Where lineage goes (a temp dir for both backends).
    pub lineage: PathBuf,
}

impl Target {
    pub(crate) fn sqlite(dir: &Path) -> Target {
        Target {
            url: dir.join("hone.db").to_string_lossy().into_owned(),
            lineage: dir.join("lineage.git"),
        }
    }

    pub(crate) fn config(&self) -> StoreConfig {
        let mut config = StoreConfig::new(self.url.clone());
        config.lineage = LineageLocation::At(self.lineage.clone());
        config
    }

    pub(crate) async fn open(&self) -> Store {
        match Store::open_with(self.config()).await {
            Ok(store) => store,
            Err(e) => panic!("open {}: {e}", self.url),
        }
    }
}

/// Whether the tests run under CI: `CI` set to anything but empty, `false` or `0`.
pub(crate) fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "false" | "0"))
}

/// A service a test needs is missing: under CI the test fails with `reason`; elsewhere it
/// prints `SKIPPED: ...` and the caller returns.
pub(crate) fn unavailable(what: &str, reason: &dyn std::fmt::Display) {
    if under_ci() {
        panic!(
            "{what}: {reason}\nCI is set, so this test must run, not skip.\n\
             hint: scripts/bootstrap installs PostgreSQL; or set HONE_TEST_POSTGRES_URL to a server"
        );
    }
    eprintln!("SKIPPED: {what}: {reason} (under CI=true this fails)");
}

/// Where PostgreSQL tests run: `HONE_TEST_POSTGRES_URL` (a server the CI started; each
/// case gets its own database created through it) or a server this process starts.
pub(crate) enum Postgres {
    External(String),
    Owned(PostgresServer),
}

impl Postgres {
    /// `None` (with the reason printed) when no server can be had, outside CI; under CI
    /// (`CI` set and not `false`/`0`) the test fails instead, so it can never pass unrun.
    pub(crate) fn get() -> Option<Postgres> {
        if let Ok(url) = std::env::var("HONE_TEST_POSTGRES_URL")
            && !url.trim().is_empty()
        {
            return Some(Postgres::External(url));
        }
        match PostgresServer::start() {
            Ok(server) => Some(Postgres::Owned(server)),
            Err(e) => {
                unavailable("PostgreSQL tests: no server could be started", &e);
                None
            }
        }
    }

    /// A fresh, empty database for one test case.
    pub(crate) async fn database(&self, name: &str, lineage_dir: &Path) -> Target {
        let url = match self {
            Postgres::Owned(server) => match server.create_database(name) {
                Ok(url) => url,
                Err(e) => panic!("createdb {name}: {e}"),
            },
            Postgres::External(base) => {
                use sqlx::Connection;
                let mut conn = match sqlx::PgConnection::connect(base).await {
                    Ok(c) => c,
                    Err(e) => panic!("connect to HONE_TEST_POSTGRES_URL: {e}"),
                };
                let sql = format!("DROP DATABASE IF EXISTS {name}");
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await;
                let sql = format!("CREATE DATABASE {name}");
                if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                {
                    panic!("create database {name}: {e}");
                }
                let (prefix, _) = base.rsplit_once('/').unwrap_or((base.as_str(), ""));
                format!("{prefix}/{name}")
            }
        };
        Target {
            url,
            lineage: lineage_dir.join(format!("{name}.git")),
        }
    }
}

pub(crate) fn t(ms: i64) -> Timestamp {
    Timestamp(1_700_000_000_000 + ms)
}

pub(crate) fn new_run(seed: u64) -> NewRun {
    NewRun {
        task_name: "sum".into(),
        task_dir: "tasks/library/efficiency/sum".into(),
        task_hash: "taskhash".into(),
        kind: "efficiency".into(),
        config: serde_json::json!({"strategy": {"name": "greedy"}, "concurrency": 2}),
        seed,
        strategy: "greedy".into(),
        budgets: Budgets {
            evaluations: Some(100),
            llm_calls: Some(50),
            tokens: None,
            dollars: Some(1.5),
            wall_seconds: Some(3600.0),
        },
        started_at: t(0),
    }
}

pub(crate) fn node(run: RunId, parent: Option<NodeId>, hash: &str, code: &str) -> NewNode {
    NewNode {
        run,
        parent,
        operator: if parent.is_some() { "improve" } else { "draft" }.into(),
        tree: Some(0),
        island: None,
        depth: if parent.is_some() { 1 } else { 0 },
        files: BTreeMap::from([("main.rs".to_string(), code.to_string())]),
        values: serde_json::json!({"alpha": 0.5}),
        content_hash: hash.into(),
        duplicate_of: None,
        llm_call: None,
        created_at: t(1000),
    }
}

pub(crate) fn eval(score: f64, valid: bool) -> NewEvaluation {
    NewEvaluation {
        status: if valid { "ok" } else { "wrong_answer" }.into(),
        valid,
        score,
        metrics: serde_json::json!({"fuel": 1234, "cases": 3}),
        feedback: format!("score {score}"),
        trace: serde_json::json!([{"case": 1, "ok": valid}]),
        fuel: Some(1234),
        wall_ms: Some(1.5),
    }
}

pub(crate) fn call(run: RunId, parent: Option<NodeId>, prompt: &str, reply: &str) -> NewLlmCall {
    NewLlmCall {
        run,
        parent,
        operator: "improve".into(),
        model: "test-model".into(),
        system: "You optimize programs.".into(),
        prompt: prompt.into(),
        reply: Some(reply.into()),
        tokens_in: 100,
        tokens_out: 20,
        tokens_estimated: false,
        cost_dollars: 0.01,
        latency_ms: 250.0,
        error: None,
        replayed: false,
        attempt: 1,
        created_at: t(500),
    }
}

/// Inserts a node produced by a model call with this prompt and reply.
pub(crate) async fn node_from_reply(
    store: &Store,
    run: RunId,
    parent: Option<NodeId>,
    prompt: &str,
    reply: &str,
    evaluation: NewEvaluation,
) -> (LlmCallId, NodeId) {
    let call_id = ok(store
        .record_llm_call(&call(run, parent, prompt, reply))
        .await);
    let mut n = node(run, parent, &format!("hash-{reply}"), reply);
    n.llm_call = Some(call_id);
    let node_id = ok(store.insert_node(&n, &evaluation).await);
    (call_id, node_id)
}

/// Unwraps with the error's message (tests only).
pub(crate) fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}
