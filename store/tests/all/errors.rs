//! Bad input: unknown schemes, unreachable and read-only stores, newer schemas.

use std::time::Duration;

use hone_store::{Error, Store, StoreConfig};

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
            .set_run_status(run, "x", None, crate::support::t(0))
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
