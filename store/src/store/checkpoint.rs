//! SQLite WAL checkpoints off the writers' path.
//!
//! SQLite's own policy has the commit that pushes the WAL past 1,000 pages copy the WAL
//! back into the database and fsync both: on a slow disk that one commit takes hundreds of
//! milliseconds, about 0.4 ms on every commit when amortized, and it lands on whichever step
//! happened to commit. A writable file store instead runs a passive checkpoint from a
//! background task every 100 ms: it takes no lock that writers wait on, so commits stay
//! appends to the WAL. A commit can still stall while a checkpoint syncs the files (the
//! disk is shared); small, frequent checkpoints keep those stalls short (measured at zero
//! model latency: 0.74–0.90 ms of overhead a step at 100 ms, 0.89–0.92 ms at 500 ms; see
//! BENCHMARKS.md). A checkpoint with nothing to copy costs next to nothing. The
//! connection's `wal_autocheckpoint` stays as a high safety net.

use std::sync::Weak;
use std::time::Duration;

use super::{Db, Inner};

/// How often the WAL is copied back into the database.
const INTERVAL: Duration = Duration::from_millis(100);

/// Starts the checkpointer on the current tokio runtime; it stops once every handle to the
/// store is dropped or the store is closed.
pub(super) fn start(store: Weak<Inner>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate: nothing to copy yet.
        tick.tick().await;
        loop {
            tick.tick().await;
            // Hold the pool, not the store, so that dropping the last `Store` ends the task.
            let (pool, name) = match store.upgrade().as_deref() {
                Some(Inner {
                    db: Db::Sqlite(pool),
                    name,
                    ..
                }) if !pool.is_closed() => (pool.clone(), name.clone()),
                _ => return,
            };
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                if pool.is_closed() {
                    return;
                }
                // A busy database or a full disk: the next tick tries again, and commits
                // still checkpoint by themselves past the safety net.
                tracing::debug!(store = %name, error = %e, "WAL checkpoint failed");
            }
        }
    });
}
