//! Lineage commits written by a background task, in batches, off the steps' path.
//!
//! A step acknowledges its node once the node's transaction commits; the git commit of its
//! files follows here. Whatever a crash leaves without a commit is written by
//! `Store::sync_lineage` when the run resumes or ends, so lineage never holds a step up.

use hone_store::{NodeId, Store};
use tokio::sync::{mpsc, oneshot};

/// The most nodes committed in one batch.
const MAX_BATCH: usize = 256;

enum Message {
    Node(NodeId),
    Flush(oneshot::Sender<()>),
}

/// The sending side, shared by the steps. With lineage disabled it drops everything.
#[derive(Clone)]
pub struct LineageQueue {
    sender: Option<mpsc::UnboundedSender<Message>>,
}

impl LineageQueue {
    /// Starts the background writer (none when the store has no lineage repository).
    pub fn start(store: Store) -> LineageQueue {
        if store.lineage_path().is_none() {
            return LineageQueue { sender: None };
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(store, receiver));
        LineageQueue {
            sender: Some(sender),
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

    /// Waits until every node queued before this call has been committed (or has failed
    /// and been logged).
    pub async fn flush(&self) {
        let Some(sender) = &self.sender else {
            return;
        };
        let (done, wait) = oneshot::channel();
        if sender.send(Message::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_batches(store: Store, mut receiver: mpsc::UnboundedReceiver<Message>) {
    let mut batch = Vec::new();
    let mut flushes = Vec::new();
    while let Some(first) = receiver.recv().await {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Node(node) => batch.push(node),
                Message::Flush(done) => flushes.push(done),
            }
            if batch.len() < MAX_BATCH {
                next = receiver.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            if let Err(e) = store.record_lineage_batch(&batch).await {
                tracing::warn!(error = %e, nodes = batch.len(), "lineage commits failed; `hone resume` writes them later");
            }
            batch.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}
