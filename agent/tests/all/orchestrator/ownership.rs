//! One driver per run: a second `hone resume` of a live run is refused and names the
//! driver; after `kill -9` of the driver, `hone resume` takes over without a flag;
//! `--take-over` makes a live driver stop; a driver on another machine is refused while
//! its heartbeat is fresh and taken over once it is stale. Real `hone` processes on one
//! SQLite store.

use std::process::Output;
use std::time::{Duration, Instant};

use hone_store::{LeaseAcquisition, LeaseRequest, RunId};

use super::{
    FIXTURE, MockModel, Work, assert_success, assert_tree_integrity, int, stderr, stdout,
    wait_for_nodes,
};

const EVALS: i64 = 10;

/// `hone run FIXTURE` on `model` (greedy, one step at a time) with `extra` flags.
fn run_args(model: &MockModel, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["run".to_string(), FIXTURE.to_string(), "--json".to_string()];
    args.extend(model.flags());
    args.extend(
        ["--strategy", "greedy", "--budget-evals", &EVALS.to_string()]
            .iter()
            .chain(["--seed", "3"].iter())
            .chain(extra)
            .map(|s| s.to_string()),
    );
    args
}

fn outcome(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no outcome JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        )
    })
}

fn driver_pid(work: &Work) -> Option<i64> {
    work.read(async |store| {
        store
            .run_driver(RunId(1))
            .await
            .unwrap_or_else(|e| panic!("run_driver: {e}"))
            .map(|d| d.pid)
    })
}

#[test]
fn a_second_driver_is_refused_and_a_killed_one_is_replaced() {
    let model = MockModel::start(Duration::from_millis(200));
    let work = Work::new();
    let mut first = work.spawn(&run_args(&model, &[]));
    wait_for_nodes(&work, &mut first, 2);
    assert_eq!(driver_pid(&work), Some(i64::from(first.id())));
    let status = work.hone(&["status", "1"]);
    assert!(
        stdout(&status).contains(&format!("driver       pid {} on", first.id())),
        "{}",
        stdout(&status)
    );

    // A second driver is refused at once, naming the first, and writes nothing.
    let events_before = work.read(async |store| {
        store
            .events(RunId(1))
            .await
            .unwrap_or_else(|e| panic!("events: {e}"))
            .len()
    });
    let refused = work.hone_within(&["resume", "1"], Duration::from_secs(30));
    assert!(!refused.status.success(), "a second driver was accepted");
    let text = stderr(&refused);
    assert!(
        text.contains("run 1 is driven by another process"),
        "{text}"
    );
    assert!(
        text.contains(&format!("pid {} on host", first.id())),
        "{text}"
    );
    assert!(text.contains("last heartbeat"), "{text}");
    assert!(text.contains("hone resume 1 --take-over"), "{text}");
    let events_after = work.read(async |store| {
        store
            .events(RunId(1))
            .await
            .unwrap_or_else(|e| panic!("events: {e}"))
            .len()
    });
    assert_eq!(
        events_after, events_before,
        "the refused driver wrote events"
    );

    // SIGKILL: the lease stays behind, but its pid is gone, so resume needs no flag.
    first.kill().unwrap_or_else(|e| panic!("kill: {e}"));
    let _ = first.wait();
    assert!(
        driver_pid(&work).is_some(),
        "a killed driver leaves its lease"
    );
    let resumed = work.hone_within(&["resume", "1", "--json"], Duration::from_secs(120));
    assert_success(&resumed, "hone resume after kill -9");
    assert!(
        stderr(&resumed).contains("that process is gone"),
        "{}",
        stderr(&resumed)
    );
    let result = outcome(&resumed);
    assert_eq!(result["status"], "finished", "{result:#}");
    assert_eq!(int(&result, "evaluations"), EVALS);
    assert_tree_integrity(&work, 1);
    assert_eq!(driver_pid(&work), None, "the lease is released at the end");
}

#[test]
fn take_over_stops_the_live_driver() {
    let model = MockModel::start(Duration::from_millis(200));
    let work = Work::new();
    // The first driver renews every 200 ms, so it notices the take-over quickly.
    let mut first = work.spawn(&run_args(&model, &["--lease-renewal", "200ms"]));
    wait_for_nodes(&work, &mut first, 2);
    let second = work.hone_within(
        &["resume", "1", "--take-over", "--json"],
        Duration::from_secs(120),
    );
    assert_success(&second, "hone resume --take-over");
    let text = stderr(&second);
    assert!(
        text.contains(&format!("taking over from pid {}", first.id())),
        "{text}"
    );
    assert!(text.contains("--take-over"), "{text}");
    let result = outcome(&second);
    assert_eq!(result["status"], "finished", "{result:#}");

    // The displaced driver stopped driving, said why, and exited with an error.
    let deadline = Instant::now() + Duration::from_secs(30);
    while first.try_wait().ok().flatten().is_none() {
        assert!(
            Instant::now() < deadline,
            "the displaced driver kept running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let displaced = first
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    assert!(!displaced.status.success());
    let text = stderr(&displaced);
    assert!(text.contains("run 1 was taken over by pid"), "{text}");
    assert!(text.contains("stopped driving it"), "{text}");

    // One budget for the two drivers together: no evaluation beyond it.
    assert_eq!(int(&result, "evaluations"), EVALS, "{result:#}");
    assert_eq!(work.summary(1).spend.evaluations, EVALS);
    assert_tree_integrity(&work, 1);
}

/// Writes run 1's lease as if a driver on another machine held it, with `stale_after`.
fn lease_from_elsewhere(work: &Work, stale_after: Duration) {
    work.read(async |store| {
        let replacing = store
            .run_driver(RunId(1))
            .await
            .unwrap_or_else(|e| panic!("run_driver: {e}"))
            .map(|d| d.token);
        let request = LeaseRequest {
            host: "another-host".into(),
            pid: 4_000_000,
            token: format!("elsewhere-{}", stale_after.as_millis()),
            stale_after,
            replacing,
        };
        let taken = store
            .acquire_run_lease(RunId(1), &request)
            .await
            .unwrap_or_else(|e| panic!("acquire: {e}"));
        assert_eq!(taken, LeaseAcquisition::Acquired);
    });
}

#[test]
fn a_driver_elsewhere_is_refused_while_live_and_taken_over_once_stale() {
    let model = MockModel::start(Duration::from_millis(200));
    let work = Work::new();
    // A run interrupted with Ctrl-C (its lease released), then claimed by a driver on
    // another machine: its pid says nothing here, only its heartbeat does.
    let mut first = work.spawn(&run_args(&model, &[]));
    wait_for_nodes(&work, &mut first, 2);
    let sent = std::process::Command::new("kill")
        .args(["-INT", &first.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill -INT: {e}"));
    assert!(sent.success());
    let interrupted = first
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    assert_eq!(outcome(&interrupted)["status"], "interrupted");
    assert_eq!(driver_pid(&work), None, "Ctrl-C releases the lease");
    lease_from_elsewhere(&work, Duration::from_secs(600));
    let refused = work.hone_within(&["resume", "1"], Duration::from_secs(30));
    assert!(!refused.status.success());
    let text = stderr(&refused);
    assert!(
        text.contains("pid 4000000 on host `another-host`"),
        "{text}"
    );
    assert!(text.contains("600 s after its last heartbeat"), "{text}");

    // The same driver, silent for longer than its stale time: taken over without a flag.
    lease_from_elsewhere(&work, Duration::from_millis(200));
    std::thread::sleep(Duration::from_millis(500));
    let resumed = work.hone_within(&["resume", "1", "--json"], Duration::from_secs(120));
    assert_success(&resumed, "hone resume of a stale run");
    let text = stderr(&resumed);
    assert!(
        text.contains("taking over from pid 4000000 on host `another-host` (no heartbeat for"),
        "{text}"
    );
    let result = outcome(&resumed);
    assert_eq!(result["status"], "finished", "{result:#}");
    assert_eq!(int(&result, "evaluations"), EVALS, "{result:#}");
    assert_eq!(driver_pid(&work), None);
}
