//! The thread that does the lineage's git work, at a lower scheduling priority.
//!
//! Building, compressing and packing commits costs about 0.15 ms of CPU a node, in bursts
//! every time the orchestrator's background writer drains its list. On a machine with few
//! cores that work competes with the steps of the run (the prompt, the evaluation, the
//! database writes); run at nice 10 on Linux, it takes the cores the steps leave idle and
//! yields as soon as a step's thread wakes. Git work is serialized by the repository's
//! lock anyway, so one thread loses nothing. Elsewhere it runs at normal priority.

use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::mpsc::{Sender, channel};

type Job = Box<dyn FnOnce() + Send>;

/// Hands jobs to the git thread, started on first use; it ends when this is dropped.
#[derive(Default)]
pub(crate) struct GitThread {
    jobs: Mutex<Option<Sender<Job>>>,
}

/// The niceness of the git thread (0 is normal, 19 the lowest priority).
const NICENESS: i32 = 10;

impl GitThread {
    /// Runs `f` on the git thread and waits for its result; `None` if the thread could
    /// not be started or `f` panicked.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = reply.send(f());
        });
        {
            let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
            let sender = match jobs.as_ref() {
                Some(sender) => sender.clone(),
                None => jobs.insert(start()?).clone(),
            };
            if let Err(returned) = sender.send(job) {
                // The thread is gone (it cannot panic, so only if it failed to run): start
                // another for this job and the next ones.
                let sender = jobs.insert(start()?);
                sender.send(returned.0).ok()?;
            }
        }
        result.await.ok()
    }
}

/// Starts a git thread and returns its queue.
fn start() -> Option<Sender<Job>> {
    let (sender, receiver) = channel::<Job>();
    std::thread::Builder::new()
        .name("hone-lineage".into())
        .spawn(move || {
            lower_priority();
            while let Ok(job) = receiver.recv() {
                // A panicking job drops its reply (the caller sees the failure); the
                // thread goes on with the next one.
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            }
        })
        .ok()?;
    Some(sender)
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux a thread id names one thread for `setpriority`.
    // SAFETY: plain system calls on this thread's own id; a failure changes nothing.
    let status =
        unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, NICENESS) };
    if status != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "cannot lower the lineage thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_in_order_and_a_panic_spares_the_thread() {
        let thread = GitThread::default();
        assert_eq!(thread.run(|| 1 + 1).await, Some(2));
        let panicked: Option<()> = thread.run(|| panic!("a failing job")).await;
        assert_eq!(panicked, None);
        let name = thread
            .run(|| std::thread::current().name().map(str::to_string))
            .await;
        assert_eq!(name, Some(Some("hone-lineage".to_string())));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_thread_runs_below_normal_priority() {
        // SAFETY: plain system calls about the calling thread.
        let niceness =
            || unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        let ours = niceness();
        let thread = GitThread::default();
        let theirs = thread.run(niceness).await;
        // At least NICENESS: a process already nicer than that stays as nice as it was.
        assert!(theirs.is_some_and(|n| n >= NICENESS), "{theirs:?}");
        // Only that thread: the caller's keeps its priority.
        assert_eq!(niceness(), ours);
    }
}
