//! Lineage commits written by a background task, in batches, off the steps' path.
//!
//! A step acknowledges its node once the node's transaction commits; the git commit of its
//! files follows here. Whatever a crash leaves without a commit is written by
//! `Store::sync_lineage` when the run resumes or ends, so lineage never holds a step up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hone_store::{NodeId, RunId, Store};
use tokio::sync::{mpsc, oneshot};

/// The most nodes committed in one batch.
const MAX_BATCH: usize = 512;

/// How long the writer gathers nodes after the first of a batch before writing them (unless
/// the batch fills up or a flush is asked for first). Fast runs get big batches, written as
/// one pack file each; a run whose steps take longer than this writes one commit at a time.
const BATCH_WINDOW: Duration = Duration::from_millis(250);

enum Message {
    Node(NodeId),
    Flush(oneshot::Sender<()>),
}

/// The sending side, shared by the steps. With lineage disabled it drops everything.
#[derive(Clone)]
pub struct LineageQueue {
    sender: Option<mpsc::UnboundedSender<Message>>,
    store: Store,
    /// A batch failed since the last flush: its commits are still to be written.
    failed: Arc<AtomicBool>,
}

impl LineageQueue {
    /// Starts the background writer (none when the store has no lineage repository).
    pub fn start(store: Store) -> LineageQueue {
        let failed = Arc::new(AtomicBool::new(false));
        if store.lineage_path().is_none() {
            return LineageQueue {
                sender: None,
                store,
                failed,
            };
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(store.clone(), receiver, failed.clone()));
        LineageQueue {
            sender: Some(sender),
            store,
            failed,
        }
    }

    /// Queues a stored node's commit.
    pub fn record(&self, node: NodeId) {
        if let Some(sender) = &self.sender {
            // The writer only stops when every sender is gone; a failed send cannot happen
            // while `self` lives, and a lost commit is synced on resume anyway.
            let _ = sender.send(Message::Node(node));
        }
    }

    /// Waits until every node queued before this call has been committed; if a batch
    /// failed, writes `run`'s missing commits once more (a finished run is never resumed,
    /// so this is the last chance) and logs what still fails.
    pub async fn flush(&self, run: RunId) {
        let Some(sender) = &self.sender else {
            return;
        };
        let (done, wait) = oneshot::channel();
        if sender.send(Message::Flush(done)).is_ok() {
            let _ = wait.await;
        }
        if self.failed.swap(false, Ordering::SeqCst)
            && let Err(e) = self.store.sync_lineage(run).await
        {
            tracing::warn!(error = %e, run = run.0, "lineage commits are still missing; `git log` shows fewer nodes");
        }
    }
}

async fn write_batches(
    store: Store,
    mut receiver: mpsc::UnboundedReceiver<Message>,
    failed: Arc<AtomicBool>,
) {
    let mut batch = Vec::new();
    let mut flushes = Vec::new();
    while let Some(first) = receiver.recv().await {
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Node(node) => batch.push(node),
                Message::Flush(done) => flushes.push(done),
            }
            if batch.len() >= MAX_BATCH {
                break;
            }
            next = match receiver.try_recv() {
                Ok(message) => Some(message),
                // Nothing queued: a flush writes now, otherwise wait out the window.
                Err(_) if !flushes.is_empty() => None,
                Err(_) => tokio::time::timeout_at(deadline, receiver.recv())
                    .await
                    .ok()
                    .flatten(),
            };
        }
        if !batch.is_empty() {
            if let Err(e) = store.record_lineage_batch(&batch).await {
                failed.store(true, Ordering::SeqCst);
                tracing::warn!(error = %e, nodes = batch.len(), "lineage commits failed; `hone resume` writes them later");
            }
            batch.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}
