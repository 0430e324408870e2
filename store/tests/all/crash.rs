//! Crash safety: a writer process is killed (SIGKILL) at random moments, many times; after
//! each kill the store is sound and holds every node the writer acknowledged, exactly once.
//!
//! The writer is this test binary re-invoked on `crash::crash_writer_child` with
//! `HONE_STORE_CRASH_WRITER` naming the store directory. It prints `ACK <node id>` after each
//! committed insert, resumes whatever the previous writer left, and also writes lineage
//! commits, so kills land in the middle of git writes too.

use std::collections::HashSet;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::support::{Target, call, eval, new_run, node, ok, t};

const WRITER_ENV: &str = "HONE_STORE_CRASH_WRITER";

/// The writer. A no-op unless `HONE_STORE_CRASH_WRITER` is set.
#[test]
fn crash_writer_child() {
    let Ok(dir) = std::env::var(WRITER_ENV) else {
        return;
    };
    let runtime = ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build());
    runtime.block_on(write_until_killed(std::path::PathBuf::from(dir)));
}

async fn write_until_killed(dir: std::path::PathBuf) {
    let store = Target::sqlite(&dir).open().await;
    let runs = ok(store.list_runs().await);
    let run = match runs.first() {
        Some(r) => r.id,
        None => ok(store.create_run(&new_run(1)).await),
    };
    let tree = ok(store.load_tree(run).await);
    // Resume: catch up lineage commits lost with the previous writer.
    ok(store.sync_lineage(run).await);
    let mut next = tree.len();
    let mut parent = tree.last().map(|n| n.id);
    println!("READY");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if next % 7 == 6 {
            let batch: Vec<_> = (0..5)
                .map(|k| {
                    let i = next + k;
                    let mut n = node(run, parent, &format!("n{i}"), &format!("code {i}"));
                    n.created_at = t(i as i64);
                    (n, eval(i as f64, i % 3 != 0))
                })
                .collect();
            let ids = ok(store.insert_nodes(&batch).await);
            for id in &ids {
                println!("ACK {id}");
            }
            next += ids.len();
            parent = ids.last().copied();
        } else {
            let call_id = ok(store
                .record_llm_call(&call(run, parent, "improve", &format!("reply {next}")))
                .await);
            let mut n = node(run, parent, &format!("n{next}"), &format!("code {next}"));
            n.llm_call = Some(call_id);
            n.created_at = t(next as i64);
            let id = ok(store
                .insert_node(&n, &eval(next as f64, next % 3 != 0))
                .await);
            println!("ACK {id}");
            next += 1;
            parent = Some(id);
            if next % 2 == 0 {
                ok(store.record_lineage(id).await);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_writers_lose_nothing_acknowledged() {
    let dir = ok(tempfile::tempdir());
    let exe = ok(std::env::current_exe());
    let acked: Arc<Mutex<Vec<i64>>> = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut kills = 0;
    let mut kills_after_acks = 0;
    let mut rng = rand::rng();
    while kills < 25 && started.elapsed() < Duration::from_secs(40) {
        let mut child = ok(Command::new(&exe)
            .args([
                "crash::crash_writer_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(WRITER_ENV, dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn());
        let stdout = child.stdout.take();
        let before = acked.lock().map(|a| a.len()).unwrap_or(0);
        let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let acked = acked.clone();
            let ready = ready.clone();
            std::thread::spawn(move || {
                let Some(stdout) = stdout else { return };
                for line in std::io::BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if line.contains("READY") {
                        ready.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    if let Some(pos) = line.find("ACK ")
                        && let Ok(id) = line[pos + 4..].trim().parse::<i64>()
                        && let Ok(mut acked) = acked.lock()
                    {
                        acked.push(id);
                    }
                }
            })
        };
        // Even kills land anywhere from the start (opening, resuming, syncing lineage);
        // odd ones once the writer writes, however long a loaded machine took to start it.
        if kills % 2 == 1 {
            let waiting = Instant::now();
            while !ready.load(std::sync::atomic::Ordering::SeqCst)
                && waiting.elapsed() < Duration::from_secs(10)
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let delay = rng.random_range(40..400);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        ok(child.kill()); // SIGKILL
        ok(child.wait());
        let _ = reader.join();
        kills += 1;
        let acked_now: Vec<i64> = acked.lock().map(|a| a.clone()).unwrap_or_default();
        if acked_now.len() > before {
            kills_after_acks += 1;
        }
        check_store(&Target::sqlite(dir.path()), &acked_now, kills).await;
    }
    let acked_now: Vec<i64> = acked.lock().map(|a| a.clone()).unwrap_or_default();
    eprintln!(
        "crash test: {kills} kills, {} acknowledged nodes, {kills_after_acks} kills after acknowledgements, {:.1?}",
        acked_now.len(),
        started.elapsed()
    );
    assert!(kills >= 10, "only {kills} kills in the time allowed");
    assert!(
        kills_after_acks >= 5,
        "the writer rarely got going before the kill"
    );

    // Lineage catches up: every node gets its commit, and the best ref follows the best node.
    let store = Target::sqlite(dir.path()).open().await;
    let run = ok(store.list_runs().await)[0].id;
    ok(store.sync_lineage(run).await);
    let tree = ok(store.load_tree(run).await);
    assert!(tree.iter().all(|n| n.lineage_commit.is_some()));
    let best = ok(store.best_node(run).await).map(|b| b.node);
    let best_commit = tree
        .iter()
        .find(|n| Some(n.id) == best)
        .and_then(|n| n.lineage_commit.clone());
    assert_eq!(ok(store.best_lineage_commit(run).await), best_commit);
}

async fn check_store(target: &Target, acked: &[i64], kill: usize) {
    let store = target.open().await;
    let report = ok(store.check_integrity().await);
    assert!(
        report.database_ok,
        "kill {kill}: integrity_check: {:?}",
        report.database_messages
    );
    assert_eq!(
        report.nodes_without_evaluation, 0,
        "kill {kill}: a node without its evaluation"
    );
    let runs = ok(store.list_runs().await);
    if acked.is_empty() {
        return;
    }
    assert_eq!(runs.len(), 1, "kill {kill}: one run, never re-created");
    let tree = ok(store.load_tree(runs[0].id).await);
    let ids: HashSet<i64> = tree.iter().map(|n| n.id.0).collect();
    for id in acked {
        assert!(
            ids.contains(id),
            "kill {kill}: acknowledged node {id} is missing"
        );
    }
    let hashes: HashSet<&str> = tree.iter().map(|n| n.content_hash.as_str()).collect();
    assert_eq!(
        hashes.len(),
        tree.len(),
        "kill {kill}: a node was written twice"
    );
    let unique_acks: HashSet<i64> = acked.iter().copied().collect();
    assert_eq!(
        unique_acks.len(),
        acked.len(),
        "kill {kill}: an id was acknowledged twice"
    );
    // Every acknowledged model call's node is attached (same transaction as the node).
    let calls = ok(store.llm_calls(runs[0].id).await);
    for n in &tree {
        if let Some(c) = n.llm_call {
            assert!(
                calls.iter().any(|x| x.id == c && x.node == Some(n.id)),
                "kill {kill}: call {c} not attached"
            );
        }
    }
    store.close().await;
}
