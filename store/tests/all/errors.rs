//! Bad input: unknown schemes, unreachable and read-only stores, newer schemas.

use std::time::Duration;

use hone_store::{Error, RunStatus, Store, StoreConfig};

use crate::support::{Target, new_run, ok};

#[tokio::test]
async fn unknown_scheme_names_the_store() {
    let err = Store::open("mysql://root:pw@localhost/hone").await.err();
    match err {
        Some(e @ Error::UnknownScheme { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("mysql://root:***@localhost/hone"),
                "{message}"
            );
            assert!(message.contains("hint:"), "{message}");
            assert!(!message.contains("pw"), "passwords are redacted: {message}");
        }
        other => panic!("expected UnknownScheme, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_directory_is_unreachable() {
    let dir = ok(tempfile::tempdir());
    let path = dir.path().join("no/such/dir/hone.db");
    match Store::open(&path.to_string_lossy()).await {
        Err(e @ Error::Unreachable { .. }) => {
            let message = e.to_string();
            assert!(message.contains(&*path.to_string_lossy()), "{message}");
            assert!(message.contains("does not exist"), "{message}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn unreachable_postgres_is_a_clear_error() {
    // Port 1 on loopback: nothing listens there.
    let mut config = StoreConfig::new("postgres://hone:secret@127.0.0.1:1/hone");
    config.connect_timeout = Duration::from_secs(2);
    match Store::open_with(config).await {
        Err(e @ Error::Unreachable { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("postgres://hone:***@127.0.0.1:1/hone"),
                "{message}"
            );
            assert!(message.contains("hint:"), "{message}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn newer_schema_is_refused() {
    let dir = ok(tempfile::tempdir());
    let target = Target::sqlite(dir.path());
    let store = target.open().await;
    store.close().await;
    {
        use sqlx::Connection;
        let mut conn =
            ok(sqlx::SqliteConnection::connect(&format!("sqlite://{}", target.url)).await);
        ok(sqlx::query("UPDATE hone_schema SET version = 99")
            .execute(&mut conn)
            .await);
        ok(conn.close().await);
    }
    match Store::open_with(target.config()).await {
        Err(e @ Error::SchemaTooNew { found: 99, .. }) => {
            let message = e.to_string();
            assert!(message.contains(&target.url), "{message}");
            assert!(message.contains("upgrade hone"), "{message}");
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

/// A store written at schema v2 opens at the current version with its data intact: v3
/// drops two unread indexes, v4 rebuilds `evaluations` keyed by its node (SQLite kept the
/// `BIGINT PRIMARY KEY` as an index of its own). A call linked the old way (its `node_id`
/// set by the node's insert) still reads back with its node.
#[tokio::test]
async fn a_v2_store_is_migrated() {
    let dir = ok(tempfile::tempdir());
    let target = Target::sqlite(dir.path());
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    let (call, node) = crate::support::node_from_reply(
        &store,
        run,
        None,
        "prompt",
        "fn main() {}",
        crate::support::eval(2.0, true),
    )
    .await;
    store.close().await;
    const INDEXES: &str = "SELECT name FROM sqlite_master WHERE type = 'index' \
        AND name IN ('nodes_parent', 'llm_calls_node', 'sqlite_autoindex_evaluations_1') \
        ORDER BY name";
    let url = format!("sqlite://{}", target.url);
    {
        use sqlx::Connection;
        // Back to what v2 had.
        let mut conn = ok(sqlx::SqliteConnection::connect(&url).await);
        ok(sqlx::raw_sql(
            "CREATE INDEX nodes_parent ON nodes (parent_id); \
             CREATE INDEX llm_calls_node ON llm_calls (node_id); \
             CREATE TABLE evaluations_v2 (node_id BIGINT PRIMARY KEY REFERENCES nodes(id), \
                 run_id BIGINT NOT NULL REFERENCES runs(id), status TEXT NOT NULL, \
                 valid BOOLEAN NOT NULL, score DOUBLE PRECISION, metrics TEXT NOT NULL, \
                 feedback TEXT NOT NULL, trace TEXT NOT NULL, fuel BIGINT, \
                 wall_ms DOUBLE PRECISION); \
             INSERT INTO evaluations_v2 SELECT * FROM evaluations; \
             DROP TABLE evaluations; \
             ALTER TABLE evaluations_v2 RENAME TO evaluations; \
             CREATE INDEX evaluations_rank ON evaluations (run_id, valid, score); \
             UPDATE llm_calls SET node_id = (SELECT id FROM nodes WHERE llm_call_id = llm_calls.id); \
             DROP TABLE embeddings; \
             DROP TABLE run_leases; \
             ALTER TABLE job_attempts DROP COLUMN detail; \
             ALTER TABLE eval_jobs DROP COLUMN kind; \
             DROP TABLE private_evaluations; \
             CREATE TABLE final_evaluations (id INTEGER PRIMARY KEY, \
                 run_id BIGINT NOT NULL REFERENCES runs(id), \
                 node_id BIGINT NOT NULL REFERENCES nodes(id), label TEXT NOT NULL, \
                 status TEXT NOT NULL, valid BOOLEAN NOT NULL, score DOUBLE PRECISION, \
                 metrics TEXT NOT NULL, feedback TEXT NOT NULL, trace TEXT NOT NULL, \
                 fuel BIGINT, wall_ms DOUBLE PRECISION, created_at BIGINT NOT NULL); \
             UPDATE hone_schema SET version = 2;",
        )
        .execute(&mut conn)
        .await);
        let found: Vec<String> = ok(sqlx::query_scalar(INDEXES).fetch_all(&mut conn).await);
        assert_eq!(found.len(), 3);
        ok(conn.close().await);
    }
    let store = target.open().await;
    assert_eq!(ok(store.schema_version().await), hone_store::SCHEMA_VERSION);
    assert_eq!(ok(store.get_node(node).await).evaluation.score, Some(2.0));
    // The old link and a new one (from the node alone) both read back.
    let (new_call, new_node) = crate::support::node_from_reply(
        &store,
        run,
        Some(node),
        "prompt",
        "fn main() { 1; }",
        crate::support::eval(3.0, true),
    )
    .await;
    let links: Vec<_> = ok(store.llm_calls(run).await)
        .into_iter()
        .map(|c| (c.id, c.node))
        .collect();
    assert_eq!(links, [(call, Some(node)), (new_call, Some(new_node))]);
    assert_eq!(
        ok(store.best_node(run).await).map(|b| b.node),
        Some(new_node)
    );
    store.close().await;
    {
        use sqlx::Connection;
        let mut conn = ok(sqlx::SqliteConnection::connect(&url).await);
        let found: Vec<String> = ok(sqlx::query_scalar(INDEXES).fetch_all(&mut conn).await);
        assert_eq!(found, Vec::<String>::new());
        ok(conn.close().await);
    }
}

#[tokio::test]
async fn read_only_store_refuses_writes_clearly() {
    let dir = ok(tempfile::tempdir());
    let target = Target::sqlite(dir.path());
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    store.close().await;

    let mut config = target.config();
    config.read_only = true;
    let reader = ok(Store::open_with(config).await);
    assert_eq!(ok(reader.get_run(run).await).id, run);
    for result in [
        reader.create_run(&new_run(2)).await.map(|_| ()),
        reader.check_writable().await,
        reader
            .set_run_status(run, RunStatus::Interrupted, None, crate::support::t(0))
            .await,
    ] {
        match result {
            Err(e @ Error::ReadOnly { .. }) => {
                assert!(e.to_string().contains(&target.url), "{e}");
            }
            other => panic!("expected ReadOnly, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn read_only_open_of_a_missing_file_is_unreachable() {
    let dir = ok(tempfile::tempdir());
    let mut config = StoreConfig::new(dir.path().join("absent.db").to_string_lossy());
    config.read_only = true;
    match Store::open_with(config).await {
        Err(e @ Error::Unreachable { .. }) => assert!(e.to_string().contains("absent.db"), "{e}"),
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn open_default_uses_dot_hone() {
    let dir = ok(tempfile::tempdir());
    let store = ok(Store::open_default(dir.path()).await);
    assert!(dir.path().join(".hone/hone.db").is_file());
    assert_eq!(
        store.lineage_path(),
        Some(dir.path().join(".hone/lineage.git").as_path())
    );
    assert_eq!(store.backend(), hone_store::Backend::Sqlite);
    // sqlite:// URLs open the same file.
    store.close().await;
    let url = format!("sqlite://{}", dir.path().join(".hone/hone.db").display());
    let again = ok(Store::open(&url).await);
    assert!(ok(again.list_runs().await).is_empty());
}

#[tokio::test]
async fn in_memory_store_works_for_tests() {
    let store = ok(Store::open("sqlite::memory:").await);
    assert_eq!(store.lineage_path(), None);
    let run = ok(store.create_run(&new_run(1)).await);
    let clone = store.clone();
    let node = crate::support::node(run, None, "h", "c");
    ok(clone
        .insert_node(&node, &crate::support::eval(1.0, true))
        .await);
    assert_eq!(ok(store.load_tree(run).await).len(), 1);
    assert_eq!(ok(store.record_lineage(hone_store::NodeId(1)).await), None);
}

#[tokio::test]
async fn an_unknown_run_status_is_an_error_naming_it() {
    let dir = ok(tempfile::tempdir());
    let target = Target::sqlite(dir.path());
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    store.close().await;
    {
        use sqlx::Connection;
        let url = format!("sqlite://{}", target.url);
        let mut conn = ok(sqlx::SqliteConnection::connect(&url).await);
        ok(sqlx::query("UPDATE runs SET status = 'paused'")
            .execute(&mut conn)
            .await);
        ok(conn.close().await);
    }
    let store = target.open().await;
    for result in [
        store.get_run(run).await.map(|_| ()),
        store.list_runs().await.map(|_| ()),
    ] {
        match result {
            Err(e @ Error::UnknownValue { .. }) => {
                let message = e.to_string();
                assert!(message.contains("`paused`"), "{message}");
                assert!(message.contains("column `status`"), "{message}");
                assert!(message.contains(&target.url), "{message}");
            }
            other => panic!("expected UnknownValue, got {other:?}"),
        }
    }
    // Each status reads back as written.
    for &status in RunStatus::ALL {
        ok(store
            .set_run_status(run, status, None, crate::support::t(1))
            .await);
        assert_eq!(ok(store.get_run(run).await).status, status);
    }
}
