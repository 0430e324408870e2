//! Lineage commits written by a background task, in batches, off the steps' path.
//!
//! A step acknowledges its node once the node's transaction commits; the git commit of its
//! files follows here. Whatever a crash leaves without a commit is written by
//! `Store::sync_lineage` when the run resumes or ends, so lineage never holds a step up.
//!
//! A step only appends the node's id to a shared list: the writer wakes on its own every
//! [`BATCH_WINDOW`], or early when the list fills up or a flush is asked for, so a fast run
//! costs no wake-up per step and its nodes go to git in big batches (one pack file each),
//! while a run whose steps take longer than the window writes one commit at a time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hone_store::{NodeId, RunId, Store};
use tokio::sync::{Notify, oneshot};

/// The most nodes committed in one batch; a list this long wakes the writer early.
const MAX_BATCH: usize = 512;

/// How often the writer looks for nodes to commit.
const BATCH_WINDOW: Duration = Duration::from_millis(250);

/// What the steps hand to the writer.
#[derive(Default)]
struct Pending {
    nodes: Vec<NodeId>,
    /// Answered once every node queued before them is committed.
    flushes: Vec<oneshot::Sender<()>>,
    /// The writer has stopped (it panicked, or the runtime is shutting down): a flush
    /// does not wait for it.
    stopped: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Notify,
}

impl Shared {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The sending side, shared by the steps. With lineage disabled it drops everything.
#[derive(Clone)]
pub(super) struct LineageQueue {
    shared: Option<Arc<Shared>>,
    store: Store,
    /// A batch failed since the last flush: its commits are still to be written.
    failed: Arc<AtomicBool>,
}

impl LineageQueue {
    /// Starts the background writer (none when the store has no lineage repository).
    pub(super) fn start(store: Store) -> LineageQueue {
        let failed = Arc::new(AtomicBool::new(false));
        if store.lineage_path().is_none() {
            return LineageQueue {
                shared: None,
                store,
                failed,
            };
        }
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Notify::new(),
        });
        tokio::spawn(write_batches(store.clone(), shared.clone(), failed.clone()));
        LineageQueue {
            shared: Some(shared),
            store,
            failed,
        }
    }

    /// Queues a stored node's commit.
    pub(super) fn record(&self, node: NodeId) {
        if let Some(shared) = &self.shared {
            let full = {
                let mut pending = shared.pending();
                pending.nodes.push(node);
                pending.nodes.len() >= MAX_BATCH
            };
            if full {
                shared.wake.notify_one();
            }
        }
    }

    /// Waits until every node queued before this call has been committed; if a batch
    /// failed, writes `run`'s missing commits once more (a finished run is never resumed,
    /// so this is the last chance) and logs what still fails.
    pub(super) async fn flush(&self, run: RunId) {
        let Some(shared) = &self.shared else {
            return;
        };
        let (done, wait) = oneshot::channel();
        {
            let mut pending = shared.pending();
            if pending.stopped {
                drop(done);
            } else {
                pending.flushes.push(done);
            }
        }
        shared.wake.notify_one();
        // An error means the writer stopped before answering: nothing more to wait for.
        let _ = wait.await;
        if self.failed.swap(false, Ordering::SeqCst)
            && let Err(e) = self.store.sync_lineage(run).await
        {
            tracing::warn!(error = %e, run = run.0, "lineage commits are still missing; `git log` shows fewer nodes");
        }
    }
}

/// Marks the writer stopped when its task ends in any way, and drops the flushes it can no
/// longer answer (their waiters then return).
struct StopGuard(Arc<Shared>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        let mut pending = self.0.pending();
        pending.stopped = true;
        pending.flushes.clear();
    }
}

/// The writer: until the last queue handle is dropped, commits what the steps queued.
async fn write_batches(store: Store, shared: Arc<Shared>, failed: Arc<AtomicBool>) {
    let _stop = StopGuard(shared.clone());
    loop {
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(BATCH_WINDOW) => {}
        }
        let (nodes, flushes) = {
            let mut pending = shared.pending();
            (
                std::mem::take(&mut pending.nodes),
                std::mem::take(&mut pending.flushes),
            )
        };
        for batch in nodes.chunks(MAX_BATCH) {
            if let Err(e) = store.record_lineage_batch(batch).await {
                failed.store(true, Ordering::SeqCst);
                tracing::warn!(error = %e, nodes = batch.len(), "lineage commits failed; `hone resume` writes them later");
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
        // Only this task (and its guard) hold the list: no step can queue another node.
        if Arc::strong_count(&shared) == 2 && shared.pending().nodes.is_empty() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_flush_does_not_wait_for_a_stopped_writer() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open_with(hone_store::StoreConfig::new(
            dir.path().join("hone.db").to_string_lossy(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Notify::new(),
        });
        let queue = LineageQueue {
            shared: Some(shared.clone()),
            store,
            failed: Arc::new(AtomicBool::new(false)),
        };
        // A flush waiting when the writer stops is released...
        let (done, wait) = oneshot::channel();
        shared.pending().flushes.push(done);
        drop(StopGuard(shared.clone()));
        assert!(wait.await.is_err());
        // ...and a later one does not wait at all.
        let flushed = tokio::time::timeout(Duration::from_secs(5), queue.flush(RunId(1))).await;
        assert!(flushed.is_ok(), "the flush waited for a stopped writer");
    }
}
