//! Run ownership: the lease a driver (`hone run`, `hone resume`, a bench row) holds on its
//! run while it drives it, so a run has one driver at a time.
//!
//! The lease is taken before the driver writes anything to the run, renewed by a
//! background task every [`DEFAULT_RENEWAL`] (a setting), and released when the driver
//! ends (finished, stopped, failed or interrupted). A lease not renewed for
//! [`STALE_PERIODS`] of its holder's renewal periods is abandoned, and so is one whose
//! holder ran on this host under a pid that no longer exists (a `kill -9`): either is taken
//! over without asking. A live holder is displaced only on request (`--take-over`); it
//! learns so at its next renewal and stops driving, and the new driver waits one of the
//! old driver's renewal periods (plus a margin) before it reads the run, so what the old
//! driver stored before it noticed is part of the tree the new one resumes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use hone_store::{LeaseAcquisition, LeaseRequest, RunDriver, RunId, Store};
use tokio::sync::Notify;

use super::OrchestratorError;

/// How often a driver renews its lease by default.
pub const DEFAULT_RENEWAL: Duration = Duration::from_secs(5);

/// A lease not renewed for this many of its holder's renewal periods is abandoned (15 s at
/// the default period): long enough for a busy database to answer late, short enough that
/// a driver lost with its machine does not hold the run for long.
pub const STALE_PERIODS: u32 = 3;

/// How long a new driver waits, beyond the displaced driver's renewal period, before it
/// reads the run it took over from a live driver.
const TAKE_OVER_MARGIN: Duration = Duration::from_secs(1);

/// How a driver holds its run's lease (per process; not stored with the run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    /// How often the lease is renewed; it is abandoned after [`STALE_PERIODS`] of these.
    pub renew_every: Duration,
    /// Take the run from a live driver (`hone resume --take-over`), which then stops.
    pub take_over: bool,
}

impl Default for LeaseSettings {
    fn default() -> LeaseSettings {
        LeaseSettings {
            renew_every: DEFAULT_RENEWAL,
            take_over: false,
        }
    }
}

/// What the renewal task tells the loop.
#[derive(Default)]
struct LeaseState {
    lost: AtomicBool,
    /// Who holds the run now, if known.
    taken_by: Mutex<Option<RunDriver>>,
    notify: Notify,
}

/// The loop's view of its lease: whether another driver took it.
#[derive(Clone)]
pub(super) struct LeaseWatch {
    run: RunId,
    state: Arc<LeaseState>,
}

impl LeaseWatch {
    pub(super) fn is_lost(&self) -> bool {
        self.state.lost.load(Ordering::SeqCst)
    }

    /// Resolves once the lease is lost (never, while it is held).
    pub(super) async fn lost(&self) {
        loop {
            let notified = self.state.notify.notified();
            if self.is_lost() {
                return;
            }
            notified.await;
        }
    }

    /// The error that ends a driver whose lease was taken.
    pub(super) fn error(&self) -> OrchestratorError {
        let taken_by = self.state.taken_by.lock().ok().and_then(|d| d.clone());
        OrchestratorError::LeaseLost {
            run: self.run.0,
            taken_by,
        }
    }
}

/// A held lease on one run, renewed in the background until released or dropped.
pub(super) struct RunLease {
    store: Store,
    run: RunId,
    token: String,
    state: Arc<LeaseState>,
    renewal: tokio::task::JoinHandle<()>,
    released: bool,
}

impl RunLease {
    /// Takes the run's lease for this process, or says who drives the run. A dead or stale
    /// holder is replaced (and said so on stderr); a live one only with `take_over`.
    pub(super) async fn acquire(
        store: &Store,
        run: RunId,
        settings: &LeaseSettings,
    ) -> Result<RunLease, OrchestratorError> {
        let renew_every = settings.renew_every.max(Duration::from_millis(10));
        let mut request = LeaseRequest {
            host: crate::worker::host_name(),
            pid: i64::from(std::process::id()),
            token: format!("{:032x}", rand::random::<u128>()),
            stale_after: renew_every * STALE_PERIODS,
            replacing: None,
        };
        let mut holder = store.run_driver(run).await?;
        let mut displaced_live = None;
        // A few rounds: the holder seen may change between the look and the take.
        for _ in 0..3 {
            if let Some(driver) = &holder {
                match vacancy(driver, &request) {
                    Some(reason) => {
                        eprintln!(
                            "hone: run {}: taking over from pid {} on host `{}` ({reason})",
                            run.0, driver.pid, driver.host
                        );
                        request.replacing = Some(driver.token.clone());
                    }
                    None if settings.take_over => {
                        eprintln!(
                            "hone: run {}: taking over from pid {} on host `{}`, which drives it (--take-over)",
                            run.0, driver.pid, driver.host
                        );
                        request.replacing = Some(driver.token.clone());
                        displaced_live = Some(driver.clone());
                    }
                    None => {}
                }
            }
            match store.acquire_run_lease(run, &request).await? {
                LeaseAcquisition::Acquired => {
                    if let Some(driver) = displaced_live {
                        // The displaced driver notices at its next renewal and stops.
                        let period = Duration::from_millis(
                            (driver.stale_after_ms.max(0) as u64) / u64::from(STALE_PERIODS),
                        );
                        let wait = period + TAKE_OVER_MARGIN;
                        eprintln!(
                            "hone: run {}: waiting {:.1} s for pid {} to stop driving it",
                            run.0,
                            wait.as_secs_f64(),
                            driver.pid
                        );
                        tokio::time::sleep(wait).await;
                    }
                    return Ok(RunLease::start(
                        store.clone(),
                        run,
                        request.token,
                        renew_every,
                    ));
                }
                LeaseAcquisition::Held(driver) => {
                    let same = holder.as_ref().is_some_and(|h| h.token == driver.token);
                    if same {
                        return Err(OrchestratorError::RunDriven { run: run.0, driver });
                    }
                    holder = Some(driver);
                }
            }
        }
        match holder {
            Some(driver) => Err(OrchestratorError::RunDriven { run: run.0, driver }),
            None => Err(OrchestratorError::Store(
                hone_store::Error::LeaseContended {
                    store: store.name().to_string(),
                    run,
                },
            )),
        }
    }

    fn start(store: Store, run: RunId, token: String, renew_every: Duration) -> RunLease {
        let state = Arc::new(LeaseState::default());
        let renewal = {
            let (store, token, state) = (store.clone(), token.clone(), state.clone());
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(renew_every);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    match store.renew_run_lease(run, &token).await {
                        Ok(true) => {}
                        Ok(false) => {
                            let taken_by = store.run_driver(run).await.ok().flatten();
                            if let Ok(mut slot) = state.taken_by.lock() {
                                *slot = taken_by;
                            }
                            state.lost.store(true, Ordering::SeqCst);
                            state.notify.notify_waiters();
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(run = run.0, error = %e, "cannot renew the run's lease; retrying")
                        }
                    }
                }
            })
        };
        RunLease {
            store,
            run,
            token,
            state,
            renewal,
            released: false,
        }
    }

    pub(super) fn watch(&self) -> LeaseWatch {
        LeaseWatch {
            run: self.run,
            state: self.state.clone(),
        }
    }

    /// Stops renewing and frees the run (a no-op if another driver took it meanwhile).
    pub(super) async fn release(mut self) {
        self.released = true;
        self.renewal.abort();
        if let Err(e) = self.store.release_run_lease(self.run, &self.token).await {
            tracing::warn!(run = self.run.0, error = %e, "cannot release the run's lease; it expires on its own");
        }
    }
}

impl Drop for RunLease {
    /// A lease dropped without [`RunLease::release`] (a driver that never drove) is
    /// released in the background when a runtime is there to do it.
    fn drop(&mut self) {
        self.renewal.abort();
        if self.released {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let (store, run, token) = (self.store.clone(), self.run, self.token.clone());
            handle.spawn(async move {
                let _ = store.release_run_lease(run, &token).await;
            });
        }
    }
}

/// Why a recorded holder no longer drives the run, if it does not: its heartbeat is
/// stale, or it ran on this host under a pid that is gone.
fn vacancy(driver: &RunDriver, me: &LeaseRequest) -> Option<String> {
    if driver.is_stale() {
        return Some(format!(
            "no heartbeat for {:.1} s",
            driver.silent_ms() as f64 / 1000.0
        ));
    }
    if driver.host == me.host && driver.pid != me.pid && !process_alive(driver.pid) {
        return Some("that process is gone".into());
    }
    None
}

/// Whether a process with this pid runs on this machine (a zombie does not count).
fn process_alive(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses: `pid (comm) S ...`.
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next()),
            Some('Z' | 'X')
        ),
        Err(_) => {
            // No procfs: ask the kernel (EPERM means it exists under another user).
            // SAFETY: signal 0 performs only the existence and permission checks.
            let rc = unsafe { libc::kill(pid, 0) };
            rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
        }
    }
}

/// A time for messages: `Tue, 15 Nov 1994 08:12:31 GMT`.
fn when(at: hone_store::Timestamp) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(at.0.max(0) as u64);
    httpdate::fmt_http_date(time)
}

/// The refusal a second driver gets: who drives the run, and how to take it over.
pub(crate) fn refusal(run: i64, driver: &RunDriver) -> String {
    format!(
        "run {run} is driven by another process: pid {} on host `{}`, since {} (last heartbeat {:.1} s ago)\n\
         hint: wait for it to end or stop it (Ctrl-C); to drive the run from here anyway, `hone resume {run} --take-over` (that process then stops driving it). A driver that dies is replaced without --take-over: at once on its host, elsewhere {:.0} s after its last heartbeat",
        driver.pid,
        driver.host,
        when(driver.acquired_at),
        driver.silent_ms() as f64 / 1000.0,
        driver.stale_after_ms as f64 / 1000.0,
    )
}

/// The message of a driver whose run was taken over.
pub(crate) fn lost(run: i64, taken_by: &Option<RunDriver>) -> String {
    match taken_by {
        Some(driver) => format!(
            "run {run} was taken over by pid {} on host `{}` at {}; this process stopped driving it (steps in flight were abandoned)",
            driver.pid,
            driver.host,
            when(driver.acquired_at)
        ),
        None => format!(
            "run {run}: this process lost its lease on the run (taken over or released elsewhere) and stopped driving it"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert!(process_alive(i64::from(std::process::id())));
        let mut child = std::process::Command::new("true")
            .spawn()
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        let pid = i64::from(child.id());
        let _ = child.wait();
        assert!(!process_alive(pid));
        assert!(!process_alive(-1));
        assert!(!process_alive(i64::MAX));
    }

    #[test]
    fn a_zombie_is_not_alive() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        let pid = i64::from(child.id());
        // Not reaped yet: a zombie once it exits.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z"))
            .unwrap_or(false)
        {
            assert!(std::time::Instant::now() < deadline, "never exited");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!process_alive(pid));
        let _ = child.wait();
    }

    #[test]
    fn refusals_name_the_driver_and_the_way_out() {
        let driver = RunDriver {
            run: RunId(7),
            host: "box".into(),
            pid: 4242,
            token: "t".into(),
            acquired_at: hone_store::Timestamp(784_887_151_000),
            heartbeat_at: hone_store::Timestamp(784_887_160_000),
            stale_after_ms: 15_000,
            read_at: hone_store::Timestamp(784_887_161_500),
        };
        let text = refusal(7, &driver);
        assert!(text.contains("pid 4242 on host `box`"), "{text}");
        assert!(
            text.contains("since Tue, 15 Nov 1994 08:12:31 GMT"),
            "{text}"
        );
        assert!(text.contains("last heartbeat 1.5 s ago"), "{text}");
        assert!(text.contains("hone resume 7 --take-over"), "{text}");
        let me = LeaseRequest {
            host: "box".into(),
            pid: i64::from(std::process::id()),
            token: "u".into(),
            stale_after: Duration::from_secs(15),
            replacing: None,
        };
        let live = RunDriver {
            pid: i64::from(std::process::id()),
            ..driver.clone()
        };
        assert_eq!(vacancy(&live, &me), None, "this very process");
        let stale = RunDriver {
            read_at: hone_store::Timestamp(784_887_176_000),
            ..live.clone()
        };
        assert!(vacancy(&stale, &me).is_some_and(|r| r.contains("no heartbeat for 16.0 s")));
        let elsewhere = RunDriver {
            host: "elsewhere".into(),
            pid: 1 << 30,
            ..live
        };
        assert_eq!(
            vacancy(&elsewhere, &me),
            None,
            "another host's pid is not ours to judge"
        );
    }
}
