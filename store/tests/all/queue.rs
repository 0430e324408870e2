//! The evaluation queue: task folders by hash, enqueue/adopt, claims under a lease, lease
//! expiry and re-claim, completions counted once, cancellation, many concurrent claimers,
//! and SQLite's clear refusal. PostgreSQL cases share one server, one database each.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hone_store::{
    AttemptOutcome, Error, JobId, JobKind, JobOutcome, NewJob, RunId, Store, WorkerStatus,
};

use crate::support::{Postgres, Target, new_run, ok};

fn job(run: RunId, content: &str) -> NewJob {
    NewJob {
        run,
        kind: JobKind::Public,
        task_hash: "task-a".into(),
        content_hash: content.into(),
        candidate: serde_json::json!({"files": {"main.c": content}, "values": {}}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_has_the_tables_but_refuses_the_queue() {
    let dir = ok(tempfile::tempdir());
    let store = Target::sqlite(dir.path()).open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    match store.enqueue_job(&job(run, "x")).await {
        Err(e @ Error::QueueNeedsPostgres { .. }) => {
            let text = e.to_string();
            assert!(text.contains("needs a PostgreSQL store"), "{text}");
            assert!(text.contains("postgres://"), "{text}");
        }
        other => panic!("expected QueueNeedsPostgres, got {other:?}"),
    }
    assert!(matches!(
        store.register_worker("h", 1).await,
        Err(Error::QueueNeedsPostgres { .. })
    ));
    // Readers work on both backends (the tables exist, empty).
    assert_eq!(ok(store.queue_depth(None).await), Default::default());
    assert!(ok(store.workers().await).is_empty());
    let files = vec![("task.toml".to_string(), b"[task]\n".to_vec())];
    assert!(ok(store.put_task_folder("h1", &files).await));
    assert_eq!(ok(store.task_folder("h1").await), Some(files));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_queue() {
    let Some(server) = Postgres::get() else {
        return;
    };
    let dir = ok(tempfile::tempdir());
    task_folders_round_trip(
        &server
            .database("queue_folders", dir.path())
            .await
            .open()
            .await,
    )
    .await;
    claim_renew_complete(
        &server
            .database("queue_claims", dir.path())
            .await
            .open()
            .await,
    )
    .await;
    expired_lease_is_claimed_again(
        &server
            .database("queue_expiry", dir.path())
            .await
            .open()
            .await,
    )
    .await;
    cancel_and_adopt(
        &server
            .database("queue_cancel", dir.path())
            .await
            .open()
            .await,
    )
    .await;
    let target = server.database("queue_many", dir.path()).await;
    many_claimers_never_share_a_job(&target.url).await;
}

async fn task_folders_round_trip(store: &Store) {
    assert!(!ok(store.has_task_folder("abc").await));
    assert_eq!(ok(store.task_folder("abc").await), None);
    let files = vec![
        ("data/blob.bin".to_string(), vec![0u8, 255, 1, 254, 0, 0]),
        (
            "task.toml".to_string(),
            b"[task]\nkind = \"params\"\n".to_vec(),
        ),
    ];
    assert!(ok(store.put_task_folder("abc", &files).await));
    // A second upload of the same hash writes nothing.
    assert!(!ok(store.put_task_folder("abc", &[]).await));
    assert_eq!(ok(store.task_folder("abc").await), Some(files));
}

async fn claim_renew_complete(store: &Store) {
    let run = ok(store.create_run(&new_run(1)).await);
    let worker = ok(store.register_worker("host-a", 4242).await);
    assert_eq!(
        ok(store.claim_job(worker, Duration::from_secs(5)).await),
        None
    );
    let (a, adopted) = ok(store.enqueue_job(&job(run, "a")).await);
    assert!(!adopted);
    // The same content of the same run is adopted, not enqueued twice.
    let (again, adopted) = ok(store.enqueue_job(&job(run, "a")).await);
    assert_eq!((again, adopted), (a, true));
    let (b, _) = ok(store.enqueue_job(&job(run, "b")).await);
    assert_eq!(
        ok(store.queue_depth(Some(run)).await).pending,
        2,
        "two distinct jobs"
    );

    let claimed = ok(store.claim_job(worker, Duration::from_secs(5)).await)
        .unwrap_or_else(|| panic!("a pending job to claim"));
    assert_eq!((claimed.id, claimed.attempt, claimed.run), (a, 1, run));
    assert_eq!(claimed.candidate["files"]["main.c"], "a");
    let now = ok(store.database_now().await);
    assert!(claimed.lease_expires_at.0 > now.0 + 3000, "lease of ~5 s");
    assert!(ok(store
        .renew_lease(a, worker, 1, Duration::from_secs(10))
        .await));
    // Another attempt number is not the lease holder.
    assert!(!ok(store
        .renew_lease(a, worker, 2, Duration::from_secs(10))
        .await));
    let workers = ok(store.workers().await);
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0].status, WorkerStatus::Working);
    assert_eq!(workers[0].current_job, Some(a));
    assert_eq!((workers[0].host.as_str(), workers[0].pid), ("host-a", 4242));
    assert_eq!(
        ok(store.job_outcomes(&[a, b]).await)[0].1,
        JobOutcome::Waiting
    );

    let result = serde_json::json!({"score": 2.5});
    assert!(ok(store.complete_job(a, worker, 1, &result).await));
    // The same result arriving twice is counted once.
    assert!(!ok(store.complete_job(a, worker, 1, &result).await));
    let outcomes = ok(store.job_outcomes(&[a, b]).await);
    assert_eq!(outcomes[0], (a, JobOutcome::Done(result)));
    assert_eq!(outcomes[1], (b, JobOutcome::Waiting));
    let workers = ok(store.workers().await);
    assert_eq!(
        (workers[0].jobs_done, workers[0].status.as_str()),
        (1, "idle")
    );

    let claimed = ok(store.claim_job(worker, Duration::from_secs(5)).await)
        .unwrap_or_else(|| panic!("job b"));
    assert_eq!(claimed.id, b);
    assert!(ok(store
        .fail_job(b, worker, 1, "the task did not load: no clang")
        .await));
    assert_eq!(
        ok(store.job_outcomes(&[b]).await)[0].1,
        JobOutcome::Failed("the task did not load: no clang".into())
    );
    let depth = ok(store.queue_depth(None).await);
    assert_eq!(
        (depth.pending, depth.leased, depth.done, depth.failed),
        (0, 0, 1, 1)
    );
    let attempts = ok(store.job_attempts(run).await);
    let outcomes: Vec<_> = attempts
        .iter()
        .map(|a| (a.job, a.attempt, a.outcome.map(AttemptOutcome::as_str)))
        .collect();
    assert_eq!(
        outcomes,
        vec![(a, 1, Some("done")), (b, 1, Some("failed"))],
        "the duplicate completion does not add an attempt"
    );
    ok(store.worker_heartbeat(worker, WorkerStatus::Stopped).await);
    assert_eq!(ok(store.workers().await)[0].status, WorkerStatus::Stopped);
}

async fn expired_lease_is_claimed_again(store: &Store) {
    let run = ok(store.create_run(&new_run(1)).await);
    let first = ok(store.register_worker("host-a", 1).await);
    let second = ok(store.register_worker("host-b", 2).await);
    let (id, _) = ok(store.enqueue_job(&job(run, "slow")).await);
    let held = ok(store.claim_job(first, Duration::from_millis(300)).await)
        .unwrap_or_else(|| panic!("claim"));
    assert_eq!(held.id, id);
    // While the lease holds, nobody else gets the job.
    assert_eq!(
        ok(store.claim_job(second, Duration::from_secs(5)).await),
        None
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    let again = ok(store.claim_job(second, Duration::from_secs(5)).await)
        .unwrap_or_else(|| panic!("the expired lease is claimed again"));
    assert_eq!((again.id, again.attempt), (id, 2));
    // The first worker lost its lease: no renewal, and its late result is not accepted.
    assert!(!ok(store
        .renew_lease(id, first, 1, Duration::from_secs(5))
        .await));
    let late = serde_json::json!({"from": "first"});
    assert!(!ok(store.complete_job(id, first, 1, &late).await));
    let result = serde_json::json!({"from": "second"});
    assert!(ok(store.complete_job(id, second, 2, &result).await));
    assert_eq!(
        ok(store.job_outcomes(&[id]).await)[0].1,
        JobOutcome::Done(result)
    );
    let attempts = ok(store.job_attempts(run).await);
    let summary: Vec<_> = attempts
        .iter()
        .map(|a| (a.attempt, a.worker, a.outcome.map(AttemptOutcome::as_str)))
        .collect();
    assert_eq!(
        summary,
        vec![(1, first, Some("dropped")), (2, second, Some("done"))]
    );
    let done: BTreeMap<_, _> = ok(store.workers().await)
        .into_iter()
        .map(|w| (w.id, w.jobs_done))
        .collect();
    assert_eq!(done[&first], 0);
    assert_eq!(done[&second], 1);
}

async fn cancel_and_adopt(store: &Store) {
    let run = ok(store.create_run(&new_run(1)).await);
    let worker = ok(store.register_worker("host-a", 1).await);
    let (held, _) = ok(store.enqueue_job(&job(run, "held")).await);
    let (waiting, _) = ok(store.enqueue_job(&job(run, "waiting")).await);
    let claimed = ok(store.claim_job(worker, Duration::from_secs(5)).await)
        .unwrap_or_else(|| panic!("claim"));
    assert_eq!((claimed.id, claimed.kind), (held, JobKind::Public));
    // Pending only: the held job goes on and is still adoptable.
    assert_eq!(ok(store.cancel_jobs(run, false).await), 1);
    assert_eq!(
        ok(store.job_outcomes(&[waiting]).await)[0].1,
        JobOutcome::Cancelled
    );
    assert_eq!(ok(store.enqueue_job(&job(run, "held")).await), (held, true));
    // The private evaluation of the same content is another job, adopted in its turn.
    let private = NewJob {
        kind: JobKind::Private,
        ..job(run, "held")
    };
    let (private_job, adopted) = ok(store.enqueue_job(&private).await);
    assert!(!adopted && private_job != held);
    assert_eq!(ok(store.enqueue_job(&private).await), (private_job, true));
    let kinds: Vec<(JobId, JobKind)> = ok(store.jobs(run).await)
        .iter()
        .map(|j| (j.id, j.kind))
        .collect();
    assert!(kinds.contains(&(held, JobKind::Public)), "{kinds:?}");
    assert!(
        kinds.contains(&(private_job, JobKind::Private)),
        "{kinds:?}"
    );
    let claimed_private = ok(store.claim_job(worker, Duration::from_secs(5)).await)
        .unwrap_or_else(|| panic!("claim the private job"));
    assert_eq!(
        (claimed_private.id, claimed_private.kind),
        (private_job, JobKind::Private)
    );
    // A cancelled job is not adopted: the same content is enqueued afresh.
    let (fresh, adopted) = ok(store.enqueue_job(&job(run, "waiting")).await);
    assert!(!adopted && fresh != waiting);
    // Everything unfinished: the held job's completion is then refused.
    assert_eq!(ok(store.cancel_jobs(run, true).await), 3);
    assert!(!ok(store
        .complete_job(held, worker, 1, &serde_json::json!(1))
        .await));
    assert_eq!(
        ok(store.claim_job(worker, Duration::from_secs(5)).await),
        None
    );
    // A job of a run that does not exist is a clear error.
    match store.enqueue_job(&job(RunId(999), "x")).await {
        Err(Error::RunNotFound { run, .. }) => assert_eq!(run, RunId(999)),
        other => panic!("expected RunNotFound, got {other:?}"),
    }
}

/// Eight claimers on their own connections drain 400 jobs: every job is claimed exactly
/// once and completed by the worker that claimed it.
async fn many_claimers_never_share_a_job(url: &str) {
    let store = ok(Store::open(url).await);
    let run = ok(store.create_run(&new_run(1)).await);
    let jobs = 400;
    for i in 0..jobs {
        ok(store.enqueue_job(&job(run, &format!("c{i}"))).await);
    }
    let claimed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for w in 0..8 {
        let url = url.to_string();
        let claimed = claimed.clone();
        tasks.push(tokio::spawn(async move {
            let store = ok(Store::open(&url).await);
            let worker = ok(store.register_worker("many", w).await);
            while let Some(job) = ok(store.claim_job(worker, Duration::from_secs(30)).await) {
                let accepted = ok(store
                    .complete_job(job.id, worker, job.attempt, &serde_json::json!(w))
                    .await);
                assert!(accepted, "job {} completed by its holder", job.id);
                if let Ok(mut list) = claimed.lock() {
                    list.push((job.id, worker, job.attempt));
                }
            }
        }));
    }
    for task in tasks {
        ok(task.await);
    }
    let claimed = claimed.lock().map(|l| l.clone()).unwrap_or_default();
    let distinct: HashSet<JobId> = claimed.iter().map(|(j, _, _)| *j).collect();
    assert_eq!(claimed.len(), jobs, "every job claimed once");
    assert_eq!(distinct.len(), jobs, "no job claimed twice");
    assert!(claimed.iter().all(|(_, _, attempt)| *attempt == 1));
    let workers: HashSet<_> = claimed.iter().map(|(_, w, _)| *w).collect();
    assert!(workers.len() > 1, "the claimers shared the work");
    let depth = ok(store.queue_depth(Some(run)).await);
    assert_eq!(depth.done, jobs as i64);
    let total: i64 = ok(store.workers().await).iter().map(|w| w.jobs_done).sum();
    assert_eq!(total, jobs as i64);
}

/// The queue's own cost per job: enqueue + claim + complete + read the outcome, with no
/// evaluation in between. `cargo test -p hone-store --test all queue_overhead -- --ignored
/// --nocapture` prints the figures (BENCHMARKS.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints figures"]
async fn queue_overhead() {
    let Some(server) = Postgres::get() else {
        return;
    };
    let dir = ok(tempfile::tempdir());
    let store = server
        .database("queue_bench", dir.path())
        .await
        .open()
        .await;
    let run = ok(store.create_run(&new_run(1)).await);
    let worker = ok(store.register_worker("bench", 1).await);
    let rounds = 2000;
    let mut phases = [Duration::ZERO; 4];
    let start = Instant::now();
    for i in 0..rounds {
        let t = Instant::now();
        let (id, _) = ok(store.enqueue_job(&job(run, &format!("b{i}"))).await);
        phases[0] += t.elapsed();
        let t = Instant::now();
        let held = ok(store.claim_job(worker, Duration::from_secs(30)).await)
            .unwrap_or_else(|| panic!("claim"));
        phases[1] += t.elapsed();
        assert_eq!(held.id, id);
        let t = Instant::now();
        let result = serde_json::json!({"score": 1.0});
        assert!(ok(store
            .complete_job(id, worker, held.attempt, &result)
            .await));
        phases[2] += t.elapsed();
        let t = Instant::now();
        assert!(matches!(
            ok(store.job_outcomes(&[id]).await)[0].1,
            JobOutcome::Done(_)
        ));
        phases[3] += t.elapsed();
    }
    let per_job = start.elapsed().as_secs_f64() / rounds as f64;
    let ms = |d: Duration| d.as_secs_f64() * 1e3 / rounds as f64;
    println!(
        "queue round trip (enqueue + claim + complete + outcome), one client: {:.3} ms/job, {:.0} jobs/s \
         (enqueue {:.3}, claim {:.3}, complete {:.3}, outcome {:.3} ms)",
        per_job * 1e3,
        1.0 / per_job,
        ms(phases[0]),
        ms(phases[1]),
        ms(phases[2]),
        ms(phases[3])
    );
}
