//! Run leases, the same on SQLite and PostgreSQL: one holder at a time, refusals name the
//! holder, renewal and release need the holder's token, a named or stale holder is
//! replaced, and of many processes taking a free lease at once exactly one wins.

use std::sync::Arc;
use std::time::Duration;

use hone_store::{Error, LeaseAcquisition, LeaseRequest, RunId, Store};

use crate::support::{Postgres, Target, new_run, ok};

fn request(host: &str, pid: i64, token: &str) -> LeaseRequest {
    LeaseRequest {
        host: host.into(),
        pid,
        token: token.into(),
        stale_after: Duration::from_secs(60),
        replacing: None,
    }
}

async fn lease_rules(store: &Store) {
    let run = ok(store.create_run(&new_run(1)).await);
    assert_eq!(
        ok(store.run_driver(run).await),
        None,
        "a new run has no driver"
    );

    let a = request("host-a", 101, "token-a");
    assert_eq!(
        ok(store.acquire_run_lease(run, &a).await),
        LeaseAcquisition::Acquired
    );
    let driver = ok(store.run_driver(run).await).unwrap_or_else(|| panic!("no driver"));
    assert_eq!(
        (driver.host.as_str(), driver.pid, driver.token.as_str()),
        ("host-a", 101, "token-a")
    );
    assert_eq!(driver.stale_after_ms, 60_000);
    assert!(!driver.is_stale());
    assert!(driver.heartbeat_at >= driver.acquired_at);

    // A second driver is refused, and told who holds the run.
    let b = request("host-b", 202, "token-b");
    match ok(store.acquire_run_lease(run, &b).await) {
        LeaseAcquisition::Held(holder) => {
            assert_eq!((holder.host.as_str(), holder.pid), ("host-a", 101));
            assert_eq!(holder.acquired_at, driver.acquired_at);
        }
        other => panic!("the second driver got {other:?}"),
    }
    // Taking it again with the same token is no change; renewal needs the token.
    assert_eq!(
        ok(store.acquire_run_lease(run, &a).await),
        LeaseAcquisition::Acquired
    );
    assert!(ok(store.renew_run_lease(run, "token-a").await));
    assert!(!ok(store.renew_run_lease(run, "token-b").await));
    assert!(!ok(store.release_run_lease(run, "token-b").await));
    // Naming a token that is not the holder's takes nothing.
    let wrong = LeaseRequest {
        replacing: Some("token-z".into()),
        ..b.clone()
    };
    assert!(matches!(
        ok(store.acquire_run_lease(run, &wrong).await),
        LeaseAcquisition::Held(_)
    ));

    // Naming the holder's token replaces it: the old holder's renewal then fails.
    let take_over = LeaseRequest {
        replacing: Some("token-a".into()),
        ..b.clone()
    };
    assert_eq!(
        ok(store.acquire_run_lease(run, &take_over).await),
        LeaseAcquisition::Acquired
    );
    assert!(!ok(store.renew_run_lease(run, "token-a").await));
    assert!(!ok(store.release_run_lease(run, "token-a").await));
    assert_eq!(
        ok(store.run_driver(run).await).map(|d| d.token),
        Some("token-b".to_string())
    );

    // A holder silent for longer than its own stale time is replaced without naming it.
    let short = LeaseRequest {
        stale_after: Duration::ZERO,
        replacing: Some("token-b".into()),
        ..request("host-c", 303, "token-c")
    };
    assert_eq!(
        ok(store.acquire_run_lease(run, &short).await),
        LeaseAcquisition::Acquired
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    let stale = ok(store.run_driver(run).await).unwrap_or_else(|| panic!("no driver"));
    assert!(stale.is_stale(), "{stale:?}");
    assert!(stale.silent_ms() >= 20 - 1, "{stale:?}");
    let d = request("host-d", 404, "token-d");
    assert_eq!(
        ok(store.acquire_run_lease(run, &d).await),
        LeaseAcquisition::Acquired
    );
    assert!(!ok(store.renew_run_lease(run, "token-c").await));

    // Release frees the run for anyone.
    assert!(ok(store.release_run_lease(run, "token-d").await));
    assert_eq!(ok(store.run_driver(run).await), None);
    assert_eq!(
        ok(store.acquire_run_lease(run, &a).await),
        LeaseAcquisition::Acquired
    );

    // Leases are per run.
    let other = ok(store.create_run(&new_run(2)).await);
    assert_eq!(
        ok(store.acquire_run_lease(other, &b).await),
        LeaseAcquisition::Acquired
    );
    assert!(matches!(
        store.acquire_run_lease(RunId(9_999), &a).await,
        Err(Error::RunNotFound { .. })
    ));
}

/// Many drivers take a free lease at once: exactly one gets it, the others see it.
async fn one_of_many_wins(store: &Store) {
    let run = ok(store.create_run(&new_run(3)).await);
    let store = Arc::new(store.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.spawn(async move {
            let request = request("host", 1000 + i, &format!("token-{i}"));
            (i, ok(store.acquire_run_lease(run, &request).await))
        });
    }
    let mut winners = Vec::new();
    let mut holders = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match ok(joined) {
            (i, LeaseAcquisition::Acquired) => winners.push(i),
            (_, LeaseAcquisition::Held(holder)) => holders.push(holder.pid),
        }
    }
    assert_eq!(winners.len(), 1, "winners {winners:?}");
    assert!(
        holders.iter().all(|pid| *pid == 1000 + winners[0]),
        "every loser names the winner: {holders:?} vs {winners:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_leases() {
    let dir = ok(tempfile::tempdir());
    let store = Target::sqlite(dir.path()).open().await;
    lease_rules(&store).await;
    one_of_many_wins(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_leases() {
    let Some(server) = Postgres::get() else {
        return;
    };
    let dir = ok(tempfile::tempdir());
    let store = server.database("leases", dir.path()).await.open().await;
    lease_rules(&store).await;
    one_of_many_wins(&store).await;
}
