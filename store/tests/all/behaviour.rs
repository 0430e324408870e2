//! Store behaviour, run against SQLite (one test each) and PostgreSQL (all in one test).

use std::time::Duration;

use hone_store::{Error, PrivateEvaluation, RunStatus, ScoreBasis, Store};

use crate::support::{Postgres, Target, call, eval, new_run, node, node_from_reply, ok, t};

/// Declares the cases: one SQLite test per case, and `postgres_all_cases` running every
/// case on its own database of one PostgreSQL server.
macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = crate::support::ok(tempfile::tempdir());
                    super::$name(crate::support::Target::sqlite(dir.path())).await;
                }
            )*
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn postgres_all_cases() {
            let Some(server) = Postgres::get() else { return };
            let dir = ok(tempfile::tempdir());
            $(
                let target = server.database(&format!("hone_{}", stringify!($name)), dir.path()).await;
                $name(target).await;
            )*
        }
    };
}

cases!(
    runs_round_trip,
    nodes_round_trip_and_resume,
    model_calls_count_before_their_nodes,
    duplicates_reuse_and_count,
    best_node_and_summary,
    batch_insert_is_atomic,
    private_evaluations_rank_the_best,
    a_v4_store_is_migrated,
    events_round_trip,
    missing_runs_are_clear_errors,
    reader_works_while_a_writer_writes,
    lineage_follows_the_tree,
    lineage_batches_match_one_by_one,
    lineage_packs_match_loose_commits,
    load_tree_is_exact,
    failed_and_cancelled_node_writes_leave_no_trace,
    web_view_reads,
    embeddings_are_cached_by_model_and_content,
    rejected_nodes_are_not_evaluations,
);

/// An embedding is stored once per (model, content hash), read back bit for bit, and a
/// run's nodes find theirs through their content hash (duplicates left out).
async fn embeddings_are_cached_by_model_and_content(target: Target) {
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    let other = ok(store.create_run(&new_run(2)).await);
    assert_eq!(ok(store.embedding("m", "h0").await), None);
    let vector = [0.25f32, -1.5, 3.0e-7, f32::MIN_POSITIVE];
    ok(store.put_embedding("m", "h0", &vector).await);
    // A second write of the same content keeps the first vector.
    ok(store.put_embedding("m", "h0", &[9.0, 9.0]).await);
    ok(store.put_embedding("other-model", "h0", &[1.0]).await);
    ok(store.put_embedding("m", "h1", &[0.5, 0.5, 0.5, 0.5]).await);
    assert_eq!(ok(store.embedding("m", "h0").await), Some(vector.to_vec()));
    assert_eq!(
        ok(store.embedding("other-model", "h0").await),
        Some(vec![1.0])
    );
    let seed = ok(store
        .insert_node(&node(run, None, "h0", "seed"), &eval(1.0, true))
        .await);
    let child = ok(store
        .insert_node(&node(run, Some(seed), "h1", "child"), &eval(2.0, true))
        .await);
    let mut copy = node(run, Some(seed), "h1", "child");
    copy.duplicate_of = Some(child);
    ok(store.insert_node(&copy, &eval(2.0, true)).await);
    ok(store
        .insert_node(
            &node(run, Some(seed), "h2", "not embedded"),
            &eval(0.5, true),
        )
        .await);
    // The same content in another run shares the row.
    let elsewhere = ok(store
        .insert_node(&node(other, None, "h0", "seed"), &eval(1.0, true))
        .await);
    let embedded = ok(store.run_embeddings(run, "m").await);
    assert_eq!(
        embedded,
        vec![(seed, vector.to_vec()), (child, vec![0.5; 4])],
        "one row per non-duplicate node with an embedding, oldest first"
    );
    assert_eq!(
        ok(store.run_embeddings(other, "m").await),
        vec![(elsewhere, vector.to_vec())]
    );
    assert!(ok(store.run_embeddings(run, "unknown").await).is_empty());
}

/// A node stored with status `rejected_novelty` (not evaluated) counts neither as an
/// evaluation nor as a duplicate; a duplicate of it counts as a duplicate.
async fn rejected_nodes_are_not_evaluations(target: Target) {
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    let seed = ok(store
        .insert_node(&node(run, None, "h0", "seed"), &eval(1.0, true))
        .await);
    let mut rejected = eval(f64::NEG_INFINITY, false);
    rejected.status = hone_store::REJECTED_NOVELTY.into();
    let near = ok(store
        .insert_node(&node(run, Some(seed), "h1", "seed "), &rejected)
        .await);
    let mut again = node(run, Some(seed), "h1", "seed ");
    again.duplicate_of = Some(near);
    ok(store.insert_node(&again, &rejected).await);
    let spend = ok(store.spend(run).await);
    assert_eq!(
        (spend.evaluations, spend.duplicates, spend.rejected),
        (1, 1, 1),
        "{spend:?}"
    );
    let nodes = ok(store.load_tree(run).await);
    let evaluated: Vec<bool> = nodes.iter().map(|n| n.is_evaluated()).collect();
    assert_eq!(evaluated, [true, false, false]);
    let best = ok(store.best_node(run).await).map(|b| b.node);
    assert_eq!(best, Some(seed));
}

/// What `hone serve` reads beyond resume's rows: a node's own model calls, the spend by
/// model and the best public score.
async fn web_view_reads(target: Target) {
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    let other = ok(store.create_run(&new_run(2)).await);
    assert_eq!(ok(store.run_summary(run).await).best_public, None);
    let seed = ok(store
        .insert_node(&node(run, None, "h0", "seed"), &eval(1.0, true))
        .await);
    // A step whose first ask did not parse and whose re-ask made the node.
    let first = ok(store
        .record_llm_call(&call(run, Some(seed), "ask", "prose"))
        .await);
    ok(store
        .set_llm_call_parse_error(first, "no fenced code block")
        .await);
    let mut reask = call(run, Some(seed), "ask again", "```rust\nfn main(){}\n```");
    reask.attempt = 2;
    reask.model = "other-model".into();
    reask.cost_dollars = 0.5;
    let reask = ok(store.record_llm_call(&reask).await);
    let mut child = node(run, Some(seed), "h1", "fn main(){}");
    child.llm_call = Some(reask);
    let child = ok(store.insert_node(&child, &eval(3.0, true)).await);
    ok(store.attach_llm_call(first, child).await);
    // An invalid node with a higher score, a duplicate and another run's calls do not count.
    ok(store
        .insert_node(&node(run, Some(seed), "h2", "bad"), &eval(9.0, false))
        .await);
    let mut dup = node(run, Some(seed), "h1", "fn main(){}");
    dup.duplicate_of = Some(child);
    ok(store.insert_node(&dup, &eval(3.0, true)).await);
    ok(store.record_llm_call(&call(other, None, "x", "y")).await);

    let calls = ok(store.node_llm_calls(child).await);
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.id, c.node, c.attempt))
            .collect::<Vec<_>>(),
        [(first, Some(child), 1), (reask, Some(child), 2)]
    );
    assert_eq!(
        calls[0].parse_error.as_deref(),
        Some("no fenced code block")
    );
    assert_eq!(calls[1].prompt, "ask again");
    assert!(ok(store.node_llm_calls(seed).await).is_empty());
    assert!(matches!(
        store.node_llm_calls(hone_store::NodeId(9999)).await,
        Err(Error::NodeNotFound { .. })
    ));

    let by_model = ok(store.spend_by_model(run).await);
    assert_eq!(by_model.len(), 2, "{by_model:?}");
    assert_eq!(
        (
            by_model[0].model.as_str(),
            by_model[0].calls,
            by_model[0].errors
        ),
        ("other-model", 1, 0)
    );
    assert!((by_model[0].dollars - 0.5).abs() < 1e-9);
    assert_eq!(
        (
            by_model[1].model.as_str(),
            by_model[1].calls,
            by_model[1].errors
        ),
        ("test-model", 1, 1)
    );
    assert_eq!((by_model[1].tokens_in, by_model[1].tokens_out), (100, 20));
    assert!(matches!(
        store.spend_by_model(hone_store::RunId(9999)).await,
        Err(Error::RunNotFound { .. })
    ));

    assert_eq!(ok(store.run_summary(run).await).best_public, Some(3.0));
}

async fn runs_round_trip(target: Target) {
    let store = target.open().await;
    assert_eq!(ok(store.schema_version().await), hone_store::SCHEMA_VERSION);
    let spec = new_run(u64::MAX - 3);
    let run = ok(store.create_run(&spec).await);
    let record = ok(store.get_run(run).await);
    assert_eq!(record.id, run);
    assert_eq!(record.seed, u64::MAX - 3, "seeds keep all 64 bits");
    assert_eq!(record.config, spec.config);
    assert_eq!(record.budgets, spec.budgets);
    assert_eq!(record.status, RunStatus::Running);
    assert_eq!(record.finished_at, None);

    ok(store.add_active_time(run, 12.5, t(2000)).await);
    ok(store.add_active_time(run, 7.5, t(3000)).await);
    ok(store
        .set_run_status(
            run,
            RunStatus::Interrupted,
            Some("budget: evaluations"),
            t(3000),
        )
        .await);
    let record = ok(store.get_run(run).await);
    assert_eq!(record.status, RunStatus::Interrupted);
    assert_eq!(record.status_detail.as_deref(), Some("budget: evaluations"));
    assert_eq!(record.active_seconds, 20.0);
    ok(store
        .finish_run(run, RunStatus::Finished, None, t(4000))
        .await);
    assert_eq!(ok(store.get_run(run).await).finished_at, Some(t(4000)));

    let second = ok(store.create_run(&new_run(1)).await);
    let runs = ok(store.list_runs().await);
    assert_eq!(
        runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![run, second]
    );

    // The wall-time account survives reopening.
    store.close().await;
    let store = target.open().await;
    assert_eq!(ok(store.spend(run).await).wall_seconds, 20.0);
}

async fn nodes_round_trip_and_resume(target: Target) {
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    let seed = node(run, None, "h0", "fn main() {}");
    let seed_id = ok(store.insert_node(&seed, &eval(1.0, true)).await);
    let mut child = node(run, Some(seed_id), "h1", "fn main() { let x = 1; }");
    child
        .files
        .insert("src/util.rs".into(), "pub fn f() {}".into());
    child.island = Some(2);
    child.depth = 1;
    let child_id = ok(store.insert_node(&child, &eval(f64::NAN, false)).await);

    let tree = ok(store.load_tree(run).await);
    assert_eq!(tree.len(), 2);
    assert_eq!(tree[0].id, seed_id);
    assert_eq!(tree[0].files, seed.files);
    assert_eq!(tree[0].values, seed.values);
    assert_eq!(tree[0].evaluation.score, Some(1.0));
    assert_eq!(tree[0].evaluation.metrics, eval(1.0, true).metrics);
    assert_eq!(tree[0].evaluation.trace, eval(1.0, true).trace);
    assert_eq!(tree[1].parent, Some(seed_id));
    assert_eq!(tree[1].island, Some(2));
    assert_eq!(tree[1].files, child.files);
    assert_eq!(
        tree[1].evaluation.score, None,
        "a NaN score is stored as NULL"
    );
    assert!(!tree[1].evaluation.valid);
    assert_eq!(ok(store.get_node(child_id).await), tree[1]);

    // Resume: a new handle sees the same tree and spend.
    let spend = ok(store.spend(run).await);
    store.close().await;
    let store = target.open().await;
    assert_eq!(ok(store.load_tree(run).await), tree);
    assert_eq!(ok(store.spend(run).await), spend);
    assert_eq!(spend.evaluations, 2);
}

async fn model_calls_count_before_their_nodes(target: Target) {
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    // First ask: the reply does not parse; it still counts.
    let first = ok(store
        .record_llm_call(&call(run, None, "write it", "no code here"))
        .await);
    ok(store
        .set_llm_call_parse_error(first, "no fenced code block")
        .await);
    let spend = ok(store.spend(run).await);
    assert_eq!(
        (spend.llm_calls, spend.tokens_in, spend.tokens_out),
        (1, 100, 20)
    );
    assert_eq!(spend.evaluations, 0);
    // A failed call (transport error) counts too.
    let mut failed = call(run, None, "write it", "");
    failed.reply = None;
    failed.error = Some("HTTP 503".into());
    failed.tokens_estimated = true;
    ok(store.record_llm_call(&failed).await);
    // The re-ask produces the node.
    let mut second = call(
        run,
        None,
        "write it\n\nyour reply had no code",
        "```rust\nfn main(){}\n```",
    );
    second.attempt = 2;
    let second = ok(store.record_llm_call(&second).await);
    let mut n = node(run, None, "h0", "fn main(){}");
    n.llm_call = Some(second);
    let node_id = ok(store.insert_node(&n, &eval(1.0, true)).await);
    ok(store.attach_llm_call(first, node_id).await);

    let calls = ok(store.llm_calls(run).await);
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].node, Some(node_id));
    assert_eq!(
        calls[0].parse_error.as_deref(),
        Some("no fenced code block")
    );
    assert_eq!(calls[1].node, None);
    assert_eq!(calls[1].error.as_deref(), Some("HTTP 503"));
    assert!(calls[1].tokens_estimated);
    assert_eq!(calls[2].node, Some(node_id));
    assert_eq!(calls[2].attempt, 2);
    assert_eq!(calls[2].system, "You optimize programs.");
    assert_eq!(ok(store.get_node(node_id).await).llm_call, Some(second));

    let spend = ok(store.spend(run).await);
    assert_eq!(spend.llm_calls, 3);
    assert_eq!(spend.tokens(), 360);
    assert!((spend.dollars - 0.03).abs() < 1e-9);
    assert_eq!(spend.evaluations, 1);

    assert!(matches!(
        store
            .attach_llm_call(hone_store::LlmCallId(9999), node_id)
            .await,
        Err(Error::LlmCallNotFound { .. })
    ));
}

async fn duplicates_reuse_and_count(target: Target) {
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    let other_run = ok(store.create_run(&new_run(2)).await);
    let original = ok(store
        .insert_node(&node(run, None, "same", "a"), &eval(2.0, true))
        .await);
    ok(store
        .insert_node(&node(other_run, None, "same", "a"), &eval(3.0, true))
        .await);

    let found = ok(store.find_by_content_hash(run, "same").await).map(|n| n.id);
    assert_eq!(found, Some(original), "lookup is within the run");
    assert!(ok(store.find_by_content_hash(run, "other").await).is_none());

    let stored = ok(store.get_node(original).await);
    let mut duplicate = node(run, Some(original), "same", "a");
    duplicate.duplicate_of = Some(original);
    let reused = hone_store::NewEvaluation {
        status: stored.evaluation.status.clone(),
        valid: stored.evaluation.valid,
        score: stored.evaluation.score.unwrap_or(f64::NAN),
        metrics: stored.evaluation.metrics.clone(),
        feedback: stored.evaluation.feedback.clone(),
        trace: stored.evaluation.trace.clone(),
        fuel: stored.evaluation.fuel,
        wall_ms: stored.evaluation.wall_ms,
    };
    let dup_id = ok(store.insert_node(&duplicate, &reused).await);
    assert_eq!(
        ok(store.get_node(dup_id).await).duplicate_of,
        Some(original)
    );
    let found = ok(store.find_by_content_hash(run, "same").await).map(|n| n.id);
    assert_eq!(found, Some(original), "the original, not the duplicate");

    let spend = ok(store.spend(run).await);
    assert_eq!((spend.evaluations, spend.duplicates), (1, 1));
    assert_eq!(
        ok(store.best_node(run).await).map(|b| b.node),
        Some(original)
    );
}

async fn best_node_and_summary(target: Target) {
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    assert_eq!(ok(store.best_node(run).await), None);
    let a = ok(store
        .insert_node(&node(run, None, "a", "a"), &eval(1.0, true))
        .await);
    let b = ok(store
        .insert_node(&node(run, Some(a), "b", "b"), &eval(5.0, true))
        .await);
    ok(store
        .insert_node(&node(run, Some(a), "c", "c"), &eval(9.0, false))
        .await);
    ok(store
        .insert_node(&node(run, Some(b), "d", "d"), &eval(5.0, true))
        .await);
    let mut compile = eval(f64::NEG_INFINITY, false);
    compile.status = "compile_error".into();
    ok(store
        .insert_node(&node(run, Some(b), "e", "e"), &compile)
        .await);

    let best = ok(store.best_node(run).await);
    assert_eq!(
        best.map(|b| (b.node, b.score, b.basis)),
        Some((b, 5.0, ScoreBasis::PublicOnly)),
        "without private evaluations: invalid nodes never win; ties go to the older"
    );

    let summary = ok(store.run_summary(run).await);
    assert_eq!(summary.nodes, 5);
    assert_eq!(summary.valid, 3);
    assert_eq!(summary.by_status.get("ok"), Some(&3));
    assert_eq!(summary.by_status.get("wrong_answer"), Some(&1));
    assert_eq!(summary.by_status.get("compile_error"), Some(&1));
    assert_eq!(summary.best.map(|b| b.node), Some(b));
    assert_eq!(summary.spend.evaluations, 5);
    let report = ok(store.check_integrity().await);
    assert!(report.is_ok(), "{report:?}");
}

async fn batch_insert_is_atomic(target: Target) {
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    let seed = ok(store
        .insert_node(&node(run, None, "s", "s"), &eval(1.0, true))
        .await);
    let batch: Vec<_> = (0..50)
        .map(|i| {
            (
                node(run, Some(seed), &format!("h{i}"), &format!("code {i}")),
                eval(i as f64, true),
            )
        })
        .collect();
    // Every third node was proposed by a model call: the batch links each call to its node.
    let mut batch = batch;
    for (i, (node, _)) in batch.iter_mut().enumerate().filter(|(i, _)| i % 3 == 0) {
        let prompt = format!("prompt {i}");
        node.llm_call = Some(ok(store
            .record_llm_call(&call(run, Some(seed), &prompt, "reply"))
            .await));
    }
    let ids = ok(store.insert_nodes(&batch).await);
    assert_eq!(ids.len(), 50);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(ok(store.load_tree(run).await).len(), 51);
    let calls = ok(store.llm_calls(run).await);
    assert_eq!(calls.len(), 17);
    for record in &calls {
        let i: usize = record.prompt["prompt ".len()..]
            .parse()
            .unwrap_or(usize::MAX);
        assert_eq!(record.node, Some(ids[i]), "call for node {i}");
    }

    // One bad item (a parent that does not exist) rolls the whole batch back.
    let mut bad = batch.clone();
    bad[30].0.parent = Some(hone_store::NodeId(987_654));
    let err = store.insert_nodes(&bad).await;
    assert!(err.is_err());
    assert_eq!(ok(store.load_tree(run).await).len(), 51);
}

fn private(score: f64, valid: bool) -> PrivateEvaluation {
    PrivateEvaluation {
        held_out: true,
        status: if valid { "ok" } else { "wrong_answer" }.into(),
        valid,
        score: Some(score),
        fuel: Some(99),
        wall_ms: Some(2.0),
    }
}

/// The best node is ranked by private score among nodes valid on both evaluations: a node
/// far ahead publicly but behind privately loses; ties on the private score go to the
/// higher public score, then to the older node.
async fn private_evaluations_rank_the_best(target: Target) {
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    let other = ok(store.create_run(&new_run(2)).await);
    let seed = ok(store
        .insert_node(&node(run, None, "s", "s"), &eval(1.0, true))
        .await);
    let cheat = ok(store
        .insert_node(&node(run, Some(seed), "c", "c"), &eval(40_000.0, true))
        .await);
    let honest = ok(store
        .insert_node(&node(run, Some(seed), "h", "h"), &eval(40.0, true))
        .await);
    let twin = ok(store
        .insert_node(&node(run, Some(seed), "t", "t"), &eval(45.0, true))
        .await);
    let broken = ok(store
        .insert_node(&node(run, Some(seed), "b", "b"), &eval(50.0, true))
        .await);
    let publicly_invalid = ok(store
        .insert_node(&node(run, Some(seed), "p", "p"), &eval(0.0, false))
        .await);
    for (n, p) in [
        (seed, private(1.0, true)),
        (cheat, private(35.0, true)),
        (honest, private(39.0, true)),
        (twin, private(38.0, true)),
        (broken, private(1e9, false)),
        (publicly_invalid, private(1e9, true)),
    ] {
        ok(store.record_private_evaluation(run, n, &p, t(9000)).await);
    }
    let best = ok(store.best_node(run).await).expect("a best node");
    assert_eq!(
        (best.node, best.score, best.public_score, best.basis),
        (honest, 39.0, 40.0, ScoreBasis::Private)
    );
    // A tie on the private score goes to the higher public score: the twin now.
    ok(store
        .record_private_evaluation(run, twin, &private(39.0, true), t(9001))
        .await);
    assert_eq!(ok(store.best_node(run).await).map(|b| b.node), Some(twin));
    // Recording again replaces: the cheater's private score is what it is.
    ok(store
        .record_private_evaluation(run, cheat, &private(41.0, true), t(9002))
        .await);
    assert_eq!(ok(store.best_node(run).await).map(|b| b.node), Some(cheat));
    let privates = ok(store.private_evaluations(run).await);
    assert_eq!(privates.len(), 6);
    assert_eq!(privates[1].node, cheat);
    assert_eq!(privates[1].evaluation, private(41.0, true));
    assert_eq!(privates[1].created_at, t(9002));
    assert_eq!(
        ok(store.run_summary(run).await).private_evaluations,
        privates
    );
    assert!(ok(store.private_evaluations(other).await).is_empty());
    // A node of another run, or none at all, is refused by name.
    assert!(matches!(
        store
            .record_private_evaluation(other, cheat, &private(1.0, true), t(9000))
            .await,
        Err(Error::NodeNotFound { .. })
    ));
    assert!(matches!(
        store
            .record_private_evaluation(
                run,
                hone_store::NodeId(999_999),
                &private(1.0, true),
                t(9000)
            )
            .await,
        Err(Error::NodeNotFound { .. })
    ));
    // A task without held-out cases: its rows repeat the public result, and say so.
    let plain = ok(store.create_run(&new_run(3)).await);
    let only = ok(store
        .insert_node(&node(plain, None, "o", "o"), &eval(7.0, true))
        .await);
    let mut same = private(7.0, true);
    same.held_out = false;
    ok(store
        .record_private_evaluation(plain, only, &same, t(1))
        .await);
    let best = ok(store.best_node(plain).await).expect("a best node");
    assert_eq!(best.basis, ScoreBasis::NoHeldOutCases);
    // Nothing valid privately: no best, even though nodes are valid publicly.
    let failing = ok(store.create_run(&new_run(4)).await);
    let f = ok(store
        .insert_node(&node(failing, None, "f", "f"), &eval(7.0, true))
        .await);
    ok(store
        .record_private_evaluation(failing, f, &private(0.0, false), t(1))
        .await);
    assert_eq!(ok(store.best_node(failing).await), None);
}

/// Runs SQL on the target's database directly (SQLite or PostgreSQL).
async fn raw_sql(target: &Target, sql: &str) {
    use sqlx::Connection;
    if target.url.starts_with("postgres") {
        let mut conn = ok(sqlx::PgConnection::connect(&target.url).await);
        ok(sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await);
        ok(conn.close().await);
    } else {
        let url = format!("sqlite://{}", target.url);
        let mut conn = ok(sqlx::SqliteConnection::connect(&url).await);
        ok(sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await);
        ok(conn.close().await);
    }
}

/// A store at schema v4 (the best node's held-out re-checks in `final_evaluations`, with
/// metrics and feedback) opens at v5: the latest re-check of each node becomes its private
/// evaluation (numbers only), `final_evaluations` is gone, and the best node is ranked by it.
async fn a_v4_store_is_migrated(target: Target) {
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    let a = ok(store
        .insert_node(&node(run, None, "a", "a"), &eval(40_000.0, true))
        .await);
    let b = ok(store
        .insert_node(&node(run, Some(a), "b", "b"), &eval(40.0, true))
        .await);
    store.close().await;
    let id = if target.url.starts_with("postgres") {
        "BIGSERIAL PRIMARY KEY"
    } else {
        "INTEGER PRIMARY KEY"
    };
    // Back to what v4 had: final_evaluations as v1 created it, two re-checks of `a` (the
    // later one counts) and one of `b`.
    raw_sql(
        &target,
        &format!(
            "DROP TABLE embeddings; \
             DROP TABLE run_leases; \
             ALTER TABLE job_attempts DROP COLUMN detail; \
             ALTER TABLE eval_jobs DROP COLUMN kind; \
             DROP TABLE private_evaluations; \
             CREATE TABLE final_evaluations (id {id}, \
                 run_id BIGINT NOT NULL REFERENCES runs(id), \
                 node_id BIGINT NOT NULL REFERENCES nodes(id), label TEXT NOT NULL, \
                 status TEXT NOT NULL, valid BOOLEAN NOT NULL, score DOUBLE PRECISION, \
                 metrics TEXT NOT NULL, feedback TEXT NOT NULL, trace TEXT NOT NULL, \
                 fuel BIGINT, wall_ms DOUBLE PRECISION, created_at BIGINT NOT NULL); \
             CREATE INDEX final_evaluations_run ON final_evaluations (run_id, id); \
             INSERT INTO final_evaluations (run_id, node_id, label, status, valid, score, \
                 metrics, feedback, trace, fuel, wall_ms, created_at) VALUES \
                 ({run}, {a}, 'held_out', 'ok', TRUE, 30.0, '{{}}', 'hidden input 1 2 3', \
                  '[]', 500, 1.5, 100), \
                 ({run}, {a}, 'held_out', 'ok', TRUE, 35.0, '{{}}', 'hidden input 1 2 3', \
                  '[]', 400, 1.5, 200), \
                 ({run}, {b}, 'held_out', 'ok', TRUE, 39.0, '{{}}', '', '[]', 300, 2.5, 300); \
             UPDATE hone_schema SET version = 4;",
            run = run.0,
            a = a.0,
            b = b.0
        ),
    )
    .await;
    let store = target.open().await;
    assert_eq!(ok(store.schema_version().await), hone_store::SCHEMA_VERSION);
    let privates = ok(store.private_evaluations(run).await);
    let rows: Vec<_> = privates
        .iter()
        .map(|p| (p.node, p.evaluation.clone(), p.created_at))
        .collect();
    let held_out = |score: f64, fuel: i64, wall_ms: f64| PrivateEvaluation {
        held_out: true,
        status: "ok".into(),
        valid: true,
        score: Some(score),
        fuel: Some(fuel),
        wall_ms: Some(wall_ms),
    };
    assert_eq!(
        rows,
        [
            (a, held_out(35.0, 400, 1.5), hone_store::Timestamp(200)),
            (b, held_out(39.0, 300, 2.5), hone_store::Timestamp(300)),
        ]
    );
    let best = ok(store.best_node(run).await).expect("a best node");
    assert_eq!(
        (best.node, best.score, best.public_score, best.basis),
        (b, 39.0, 40.0, ScoreBasis::Private)
    );
    // The new schema takes new private evaluations, and the old table is gone.
    ok(store
        .record_private_evaluation(run, a, &private(50.0, true), t(400))
        .await);
    assert_eq!(ok(store.best_node(run).await).map(|b| b.node), Some(a));
    store.close().await;
    let gone = "SELECT 1 FROM final_evaluations";
    {
        use sqlx::Connection;
        let result = if target.url.starts_with("postgres") {
            let mut conn = ok(sqlx::PgConnection::connect(&target.url).await);
            let r = sqlx::query(gone).fetch_all(&mut conn).await.map(|_| ());
            ok(conn.close().await);
            r
        } else {
            let url = format!("sqlite://{}", target.url);
            let mut conn = ok(sqlx::SqliteConnection::connect(&url).await);
            let r = sqlx::query(gone).fetch_all(&mut conn).await.map(|_| ());
            ok(conn.close().await);
            r
        };
        assert!(result.is_err(), "final_evaluations should be dropped");
    }
}

async fn events_round_trip(target: Target) {
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    let other = ok(store.create_run(&new_run(2)).await);
    let a = ok(store
        .insert_node(&node(run, None, "a", "a"), &eval(3.0, true))
        .await);

    let payload = serde_json::json!({"parent": a, "operator": "improve"});
    let e1 = ok(store.record_event(run, t(10), "step", &payload).await);
    let e2 = ok(store
        .record_event(run, t(20), "resume", &serde_json::json!(null))
        .await);
    let events = ok(store.events(run).await);
    assert_eq!(
        events.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![e1, e2]
    );
    assert_eq!(events[0].payload, payload);
    assert_eq!(events[1].kind, "resume");
    assert!(ok(store.events(other).await).is_empty());

    // Of a superseded kind only the latest, in its place among the others.
    let notes = |n: i64| serde_json::json!({ "text": format!("note {n}") });
    let i1 = ok(store.record_event(run, t(30), "insights", &notes(1)).await);
    let e3 = ok(store.record_event(run, t(40), "step", &payload).await);
    let i2 = ok(store.record_event(run, t(50), "insights", &notes(2)).await);
    let e4 = ok(store.record_event(run, t(60), "step", &payload).await);
    ok(store
        .record_event(other, t(70), "insights", &notes(3))
        .await);
    let all = ok(store.events(run).await);
    assert_eq!(
        all.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![e1, e2, i1, e3, i2, e4]
    );
    let latest = ok(store.events_with_latest(run, "insights").await);
    assert_eq!(
        latest.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![e1, e2, e3, i2, e4]
    );
    assert_eq!(latest[3].payload, notes(2));
    assert_eq!(
        ok(store.events_with_latest(run, "no such kind").await).len(),
        6
    );
    // Across several of the SQLite reader's chunks (5,000 events), payloads exact, the
    // superseded kind's latest in its place.
    let awkward = "\u{1e}\u{1f}\"quoted\"\n\ttabs \\ ünïcødé 🦀";
    let mut expected = latest.iter().map(|e| e.id).collect::<Vec<_>>();
    let mut last_insights = i2;
    for n in 0..10_500i64 {
        let (kind, payload) = if n % 1000 == 999 {
            ("insights", notes(n))
        } else {
            (
                "directions",
                serde_json::json!({"node": n, "directions": [awkward, format!("{n}"), 0.1 + 0.2]}),
            )
        };
        let id = ok(store.record_event(run, t(100 + n), kind, &payload).await);
        if kind == "insights" {
            expected.retain(|e| *e != last_insights);
            last_insights = id;
        }
        expected.push(id);
    }
    let many = ok(store.events_with_latest(run, "insights").await);
    assert_eq!(many.iter().map(|e| e.id).collect::<Vec<_>>(), expected);
    let all = ok(store.events(run).await);
    for event in &many {
        let same = all
            .iter()
            .find(|e| e.id == event.id)
            .unwrap_or_else(|| panic!("event {:?} is not among the run's", event.id));
        assert_eq!(event, same);
    }
}

async fn missing_runs_are_clear_errors(target: Target) {
    let store = target.open().await;
    let missing = hone_store::RunId(4242);
    let expect_missing = |result: Result<(), Error>, what: &str| match result {
        Err(e @ Error::RunNotFound { .. }) => {
            let message = e.to_string();
            assert!(message.contains("4242"), "{what}: {message}");
            assert!(message.contains("hint:"), "{what}: {message}");
        }
        other => panic!("{what}: expected RunNotFound, got {other:?}"),
    };
    expect_missing(store.get_run(missing).await.map(|_| ()), "get_run");
    expect_missing(store.load_tree(missing).await.map(|_| ()), "load_tree");
    expect_missing(store.spend(missing).await.map(|_| ()), "spend");
    expect_missing(store.best_node(missing).await.map(|_| ()), "best_node");
    expect_missing(store.run_summary(missing).await.map(|_| ()), "run_summary");
    expect_missing(
        store
            .set_run_status(missing, RunStatus::Interrupted, None, t(0))
            .await,
        "set_run_status",
    );
    expect_missing(
        store.add_active_time(missing, 1.0, t(0)).await,
        "add_active_time",
    );
    expect_missing(
        store
            .insert_node(&node(missing, None, "h", "c"), &eval(1.0, true))
            .await
            .map(|_| ()),
        "insert_node",
    );
    expect_missing(
        store
            .record_llm_call(&call(missing, None, "p", "r"))
            .await
            .map(|_| ()),
        "record_llm_call",
    );
    expect_missing(
        store
            .record_event(missing, t(0), "k", &serde_json::json!({}))
            .await
            .map(|_| ()),
        "record_event",
    );
    match store.get_node(hone_store::NodeId(777)).await {
        Err(e @ Error::NodeNotFound { .. }) => assert!(e.to_string().contains("777")),
        other => panic!("expected NodeNotFound, got {other:?}"),
    }
}

async fn reader_works_while_a_writer_writes(target: Target) {
    let writer = target.open().await;
    let run = ok(writer.create_run(&new_run(1)).await);
    let seed = ok(writer
        .insert_node(&node(run, None, "s", "s"), &eval(0.0, true))
        .await);
    let handle = {
        let writer = writer.clone();
        tokio::spawn(async move {
            for i in 0..150 {
                let n = node(run, Some(seed), &format!("w{i}"), &format!("code {i}"));
                writer.insert_node(&n, &eval(i as f64, true)).await?;
            }
            Ok::<(), Error>(())
        })
    };
    // A separate handle (its own pool), like `hone status` in another process.
    let mut config = target.config();
    if !target.url.starts_with("postgres") {
        config.read_only = true;
    }
    let reader = ok(Store::open_with(config).await);
    let mut last = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let summary = ok(reader.run_summary(run).await);
        assert!(summary.nodes >= last, "counts never go backwards");
        last = summary.nodes;
        if handle.is_finished() || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ok(ok(handle.await));
    assert_eq!(ok(reader.run_summary(run).await).nodes, 151);
    if !target.url.starts_with("postgres") {
        assert!(
            reader
                .create_run(&new_run(1))
                .await
                .is_err_and(|e| e.is_read_only())
        );
    }
}

async fn lineage_follows_the_tree(target: Target) {
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    let (_, seed) = node_from_reply(
        &store,
        run,
        None,
        "p",
        "fn main() { slow(); }",
        eval(1.0, true),
    )
    .await;
    let (_, a) = node_from_reply(
        &store,
        run,
        Some(seed),
        "p",
        "fn main() { faster(); }",
        eval(2.0, true),
    )
    .await;
    let (_, b) = node_from_reply(
        &store,
        run,
        Some(a),
        "p",
        "fn main() { fastest(); }",
        eval(3.0, true),
    )
    .await;
    let (_, bad) = node_from_reply(
        &store,
        run,
        Some(a),
        "p",
        "fn main() { broken( }",
        eval(f64::NAN, false),
    )
    .await;
    let mut commits = Vec::new();
    for id in [seed, a, b, bad] {
        commits.push(ok(store.record_lineage(id).await).unwrap_or_default());
    }
    assert_eq!(
        ok(store.record_lineage(b).await).as_deref(),
        Some(commits[2].as_str()),
        "idempotent"
    );
    assert_eq!(
        ok(store.best_lineage_commit(run).await).as_deref(),
        Some(commits[2].as_str())
    );

    let repo = ok(git2::Repository::open_bare(&target.lineage));
    let best = ok(repo.find_reference(&hone_store::best_ref(run)));
    assert_eq!(
        best.target().map(|o| o.to_string()),
        Some(commits[2].clone())
    );
    // git log best: best -> a -> seed.
    let mut walk = ok(repo.revwalk());
    ok(walk.push_ref(&hone_store::best_ref(run)));
    let path: Vec<String> = walk.map(|oid| ok(oid).to_string()).collect();
    assert_eq!(
        path,
        vec![commits[2].clone(), commits[1].clone(), commits[0].clone()]
    );
    // The failing node is a sibling of b, parented on a.
    let bad_commit = ok(repo.find_commit(ok(git2::Oid::from_str(&commits[3]))));
    assert_eq!(
        bad_commit.parent_id(0).map(|o| o.to_string()).ok(),
        Some(commits[1].clone())
    );
    // The tree holds the candidate and hone.json.
    let best_commit = ok(repo.find_commit(ok(git2::Oid::from_str(&commits[2]))));
    let tree = ok(best_commit.tree());
    let blob = ok(ok(tree.get_path(std::path::Path::new("main.rs"))).to_object(&repo));
    assert_eq!(
        blob.as_blob().map(|b| b.content().to_vec()),
        Some(b"fn main() { fastest(); }".to_vec())
    );
    let meta =
        ok(ok(tree.get_path(std::path::Path::new(hone_store::METADATA_FILE))).to_object(&repo));
    let meta: serde_json::Value = ok(serde_json::from_slice(
        meta.as_blob().map(|b| b.content()).unwrap_or_default(),
    ));
    assert_eq!(meta["score"], 3.0);
    assert_eq!(meta["status"], "ok");
    assert_eq!(meta["operator"], "improve");
    assert_eq!(meta["model"], "test-model");
    assert_eq!(
        best_commit.time().seconds(),
        t(1000).as_seconds(),
        "commit time from the run's clock"
    );
    // git diff between two nodes.
    let old_tree = ok(ok(repo.find_commit(ok(git2::Oid::from_str(&commits[1])))).tree());
    let diff = ok(repo.diff_tree_to_tree(Some(&old_tree), Some(&tree), None));
    let changed: Vec<String> = diff
        .deltas()
        .filter_map(|d| d.new_file().path().map(|p| p.display().to_string()))
        .collect();
    assert_eq!(
        changed,
        vec!["hone.json".to_string(), "main.rs".to_string()]
    );
    // The same through the git command line, when there is one.
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("--git-dir")
            .arg(&target.lineage)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    if let Some(log) = git(&["log", "--format=%H", &hone_store::best_ref(run)]) {
        assert_eq!(
            log.lines().collect::<Vec<_>>(),
            vec![
                commits[2].as_str(),
                commits[1].as_str(),
                commits[0].as_str()
            ]
        );
        let diff = git(&["diff", &commits[1], &commits[2], "--", "main.rs"]).unwrap_or_default();
        assert!(
            diff.contains("-fn main() { faster(); }") && diff.contains("+fn main() { fastest(); }"),
            "{diff}"
        );
    }

    // Nodes stored but not committed (a crash between the two) are caught up by sync_lineage,
    // with the hashes they would have had; the stored ids of the chain are stable.
    let (_, c) = node_from_reply(
        &store,
        run,
        Some(b),
        "p",
        "fn main() { best(); }",
        eval(4.0, true),
    )
    .await;
    let (_, d) = node_from_reply(
        &store,
        run,
        Some(c),
        "p",
        "fn main() { best2(); }",
        eval(5.0, true),
    )
    .await;
    assert_eq!(ok(store.sync_lineage(run).await), 2);
    assert_eq!(ok(store.sync_lineage(run).await), 0);
    let d_commit = ok(store.get_node(d).await).lineage_commit;
    assert!(d_commit.is_some());
    assert_eq!(ok(store.best_lineage_commit(run).await), d_commit);

    // Reproducible: the same nodes in another store give the same commit hashes.
    let dir = ok(tempfile::tempdir());
    let other = Target::sqlite(dir.path()).open().await;
    let run2 = ok(other.create_run(&new_run(1)).await);
    assert_eq!(run2, run, "fresh stores number runs alike");
    let tree = ok(store.load_tree(run).await);
    let calls = ok(store.llm_calls(run).await);
    let mut map = std::collections::HashMap::new();
    for (n, c) in tree.iter().zip(calls.iter()) {
        let mut new_call = call(
            run2,
            n.parent.and_then(|p| map.get(&p).copied()),
            &c.prompt,
            c.reply.as_deref().unwrap_or(""),
        );
        new_call.created_at = c.created_at;
        let call_id = ok(other.record_llm_call(&new_call).await);
        let mut new_node = node(
            run2,
            n.parent.and_then(|p| map.get(&p).copied()),
            &n.content_hash,
            "",
        );
        new_node.files = n.files.clone();
        new_node.llm_call = Some(call_id);
        let e = &n.evaluation;
        let new_eval = hone_store::NewEvaluation {
            status: e.status.clone(),
            valid: e.valid,
            score: e.score.unwrap_or(f64::NAN),
            metrics: e.metrics.clone(),
            feedback: e.feedback.clone(),
            trace: e.trace.clone(),
            fuel: e.fuel,
            wall_ms: e.wall_ms,
        };
        let id = ok(other.insert_node(&new_node, &new_eval).await);
        map.insert(n.id, id);
    }
    let d2 = map.get(&d).copied().unwrap_or(hone_store::NodeId(0));
    // Only ids can differ between stores (PostgreSQL sequences vs SQLite rowids); compare
    // when they match.
    if d2 == d {
        assert_eq!(ok(other.record_lineage(d2).await), d_commit);
    } else {
        assert!(ok(other.record_lineage(d2).await).is_some());
    }
}

/// Builds the same small tree in `store`: seed -> a -> b -> c, a -> d -> e (e the best).
async fn lineage_tree(store: &Store) -> (hone_store::RunId, Vec<hone_store::NodeId>) {
    let run = ok(store.create_run(&new_run(1)).await);
    let mut ids = Vec::new();
    let shape: [(Option<usize>, &str, f64); 6] = [
        (None, "fn main() { seed(); }", 1.0),
        (Some(0), "fn main() { a(); }", 2.0),
        (Some(1), "fn main() { b(); }", 3.0),
        (Some(2), "fn main() { c(); }", 2.5),
        (Some(1), "fn main() { d(); }", 1.5),
        (Some(4), "fn main() { e(); }", 9.0),
    ];
    for (parent, code, score) in shape {
        let parent = parent.map(|p| ids[p]);
        let (_, id) = node_from_reply(store, run, parent, "p", code, eval(score, true)).await;
        ids.push(id);
    }
    (run, ids)
}

/// Each node's lineage commit, written one `record_lineage` at a time (loose objects).
async fn commits_one_by_one(store: &Store, ids: &[hone_store::NodeId]) -> Vec<Option<String>> {
    let mut commits = Vec::new();
    for id in ids {
        commits.push(ok(store.record_lineage(*id).await));
    }
    commits
}

async fn lineage_batches_match_one_by_one(target: Target) {
    // Batched: parents inside the batch in any order, a parent outside it already committed,
    // and a parent outside it without a commit (the walk-up path).
    let store = target.open().await;
    let (run, ids) = lineage_tree(&store).await;
    assert_eq!(
        ok(store.record_lineage_batch(&[ids[2], ids[0], ids[1]]).await),
        3
    );
    assert_eq!(ok(store.record_lineage_batch(&[ids[3]]).await), 1);
    // e's parent d has no commit and is not in the batch: both get one.
    assert_eq!(ok(store.record_lineage_batch(&[ids[5]]).await), 2);
    assert_eq!(ok(store.record_lineage_batch(&ids).await), 0, "idempotent");
    let batched: Vec<Option<String>> = ok(store.get_nodes(&ids).await)
        .into_iter()
        .map(|n| n.lineage_commit)
        .collect();
    assert!(batched.iter().all(Option::is_some), "{batched:?}");
    assert_eq!(ok(store.best_lineage_commit(run).await), batched[5]);

    // One by one in a fresh store: the same commits (ids match in fresh stores of one kind).
    let dir = ok(tempfile::tempdir());
    let other = Target::sqlite(dir.path()).open().await;
    let (run2, ids2) = lineage_tree(&other).await;
    let single = commits_one_by_one(&other, &ids2).await;
    if run2 == run && ids2 == ids {
        assert_eq!(batched, single);
    }
    // Either way, every commit's parent is its parent node's commit.
    let repo = ok(git2::Repository::open_bare(&target.lineage));
    let parent_of = [None, Some(0), Some(1), Some(2), Some(1), Some(4)];
    for (i, parent) in parent_of.iter().enumerate() {
        let commit = ok(repo.find_commit(ok(git2::Oid::from_str(
            batched[i].as_deref().unwrap_or_default(),
        ))));
        let expected = parent.and_then(|p| batched[p].clone());
        assert_eq!(
            commit.parent_id(0).ok().map(|o| o.to_string()),
            expected,
            "node {i}"
        );
    }
    // Nodes off the best path (b, c) are reachable from no ref: a plain `git gc` must keep
    // them (the repository says never to prune), where there is a git command line.
    let config = ok(ok(repo.config()).snapshot());
    assert_eq!(ok(config.get_str("gc.pruneExpire")), "never");
    let gc = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(&target.lineage)
        .args(["gc", "--quiet"])
        .output();
    if let Ok(output) = gc {
        assert!(
            output.status.success(),
            "git gc: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let repo = ok(git2::Repository::open_bare(&target.lineage));
        for (i, commit) in batched.iter().enumerate() {
            let oid = ok(git2::Oid::from_str(commit.as_deref().unwrap_or_default()));
            assert!(
                repo.find_commit(oid).is_ok(),
                "node {i}'s commit was pruned by git gc"
            );
        }
    }
}

/// A batch of lineage commits big enough to go into a pack gives the same commits as loose
/// one-by-one writes; the packs stay few, git reads them, and nothing is written loose.
async fn lineage_packs_match_loose_commits(target: Target) {
    async fn chain(store: &Store) -> (hone_store::RunId, Vec<hone_store::NodeId>) {
        let run = ok(store.create_run(&new_run(1)).await);
        let mut ids: Vec<hone_store::NodeId> = Vec::new();
        for i in 0..60 {
            // A chain with side branches: every third node hangs off the one before last.
            let parent = match i {
                0 => None,
                _ if i % 3 == 0 && i >= 2 => Some(ids[i - 2]),
                _ => Some(ids[i - 1]),
            };
            let code = format!("fn main() {{ step({i}); }}");
            let (_, id) =
                node_from_reply(store, run, parent, "p", &code, eval(i as f64, true)).await;
            ids.push(id);
        }
        (run, ids)
    }
    let store = target.open().await;
    let (run, ids) = chain(&store).await;
    // Three batches of 20 (each a pack), and a batch of everything (nothing left to write).
    for batch in ids.chunks(20) {
        assert_eq!(ok(store.record_lineage_batch(batch).await), 20);
    }
    assert_eq!(ok(store.record_lineage_batch(&ids).await), 0);
    let packed: Vec<Option<String>> = ok(store.get_nodes(&ids).await)
        .into_iter()
        .map(|n| n.lineage_commit)
        .collect();
    assert!(packed.iter().all(Option::is_some));
    assert_eq!(ok(store.best_lineage_commit(run).await), packed[59]);
    let objects = target.lineage.join("objects");
    let loose: Vec<String> = ok(std::fs::read_dir(&objects))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.len() == 2)
        .collect();
    assert!(loose.is_empty(), "loose objects: {loose:?}");
    let packs = ok(std::fs::read_dir(objects.join("pack")))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "pack"))
        .count();
    assert!(
        (1..=2).contains(&packs),
        "{packs} packs after three batches"
    );

    // The same tree committed one node at a time, loose, in a fresh store.
    let dir = ok(tempfile::tempdir());
    let other = Target::sqlite(dir.path()).open().await;
    let (run2, ids2) = chain(&other).await;
    let single = commits_one_by_one(&other, &ids2).await;
    if run2 == run && ids2 == ids {
        assert_eq!(packed, single);
    }
    // `git log` from the best ref walks back to the seed through the packed commits.
    let repo = ok(git2::Repository::open_bare(&target.lineage));
    let mut walk = ok(repo.revwalk());
    ok(walk.push_ref(&format!("refs/runs/{run}/best")));
    assert_eq!(
        walk.count(),
        41,
        "the best node's ancestry: 59, 58, 57, 55, ... 1, 0"
    );
    let fsck = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(&target.lineage)
        .args(["fsck", "--strict", "--no-dangling"])
        .output();
    if let Ok(output) = fsck {
        assert!(
            output.status.success(),
            "git fsck: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A node write that fails, or whose future is dropped part-way, leaves neither half of the
/// node behind, and the next write goes through (no transaction is left open).
async fn failed_and_cancelled_node_writes_leave_no_trace(target: Target) {
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    let seed = ok(store
        .insert_node(&node(run, None, "s", "s"), &eval(1.0, true))
        .await);
    let mut bad = node(run, Some(hone_store::NodeId(987_654)), "bad", "bad");
    assert!(store.insert_node(&bad, &eval(1.0, true)).await.is_err());
    bad.parent = Some(seed);
    bad.llm_call = Some(hone_store::LlmCallId(987_654));
    assert!(store.insert_node(&bad, &eval(1.0, true)).await.is_err());
    let mut acknowledged = vec![seed];
    for i in 0..40u64 {
        let attempt = node(run, Some(seed), &format!("c{i}"), &format!("code {i}"));
        // Dropped at a different point each time (or not at all).
        let cut = Duration::from_micros(i * i * 20);
        let _ = tokio::time::timeout(cut, store.insert_node(&attempt, &eval(i as f64, true))).await;
        let after = node(run, Some(seed), &format!("a{i}"), &format!("after {i}"));
        let written = tokio::time::timeout(
            Duration::from_secs(30),
            store.insert_node(&after, &eval(0.5, true)),
        )
        .await;
        acknowledged.push(ok(ok(written)));
    }
    let report = ok(store.check_integrity().await);
    assert!(report.database_ok, "{report:?}");
    assert_eq!(report.nodes_without_evaluation, 0);
    let tree = ok(store.load_tree(run).await);
    for id in &acknowledged {
        assert!(
            tree.iter().any(|n| n.id == *id),
            "node {id} was acknowledged"
        );
    }
    // Dropped writes are all or nothing: 41 acknowledged, at most 40 more.
    assert!((41..=81).contains(&tree.len()), "{} nodes", tree.len());
}

/// `load_tree` reads back exactly what was written, across chunk boundaries, whatever the
/// text holds (separators, quotes, unicode) and whatever the reals are.
async fn load_tree_is_exact(target: Target) {
    let store = target.open().await;
    let run = ok(store.create_run(&new_run(1)).await);
    let other = ok(store.create_run(&new_run(2)).await);
    let reals = [
        0.1 + 0.2,
        1.0 / 3.0,
        1e-300,
        5e-324,
        f64::MAX,
        -1.5e17,
        -0.0,
        123_456_789.123_456_78,
        f64::NAN,
        f64::INFINITY,
    ];
    let awkward = "\u{1e}\u{1f}\"quoted\"\n\ttabs \\ back\u{0}slash ünïcødé 🦀";
    let mut ids = Vec::new();
    let mut parent = None;
    for batch in 0..4 {
        let items: Vec<_> = (0..1000)
            .map(|k| {
                let i = batch * 1000 + k;
                let mut n = node(run, parent, &format!("h{i}"), &format!("// {i}\n{awkward}"));
                if i % 7 == 0 {
                    n.files.insert("src/x.rs".into(), awkward.into());
                    n.files.insert("empty.txt".into(), String::new());
                }
                n.values = serde_json::json!({"omega": reals[i % reals.len()], "s": awkward});
                n.island = (i % 3 == 0).then_some(i as i64);
                let mut e = eval(reals[i % reals.len()], i % 5 != 0);
                e.feedback = format!("{awkward} {i}");
                e.wall_ms = Some(reals[(i + 3) % reals.len()]).filter(|_| i % 4 != 0);
                e.fuel = (i % 6 != 0).then_some(i as i64 * 1_000_000_007);
                e.metrics = serde_json::json!({"x": 0.1 + 0.2, "note": awkward, "i": i});
                (n, e)
            })
            .collect();
        let batch_ids = ok(store.insert_nodes(&items).await);
        parent = batch_ids.first().copied();
        ids.extend(batch_ids);
        // Another run's nodes interleave and must not show up.
        ok(store
            .insert_node(&node(other, None, "o", "x"), &eval(1.0, true))
            .await);
    }
    // Ids follow the batch's order, and each evaluation sits with its own node.
    for (i, record) in ok(store.get_nodes(&ids).await).iter().enumerate() {
        assert!(
            record.files["main.rs"].starts_with(&format!("// {i}\n")),
            "node {i}"
        );
        let stored = awkward.replace('\0', "\u{fffd}");
        assert_eq!(record.evaluation.feedback, format!("{stored} {i}"));
        assert_eq!(record.content_hash, format!("h{i}"));
    }
    // 4000 nodes: an exact multiple of the chunk size, then one more.
    for round in 0..2 {
        let tree = ok(store.load_tree(run).await);
        let rows = ok(store.get_nodes(&ids).await);
        assert_eq!(tree.len(), ids.len(), "round {round}");
        for (loaded, row) in tree.iter().zip(rows.iter()) {
            assert_eq!(loaded, row, "node {}", row.id.0);
            // PartialEq says -0.0 == 0.0; compare bits.
            assert_eq!(
                loaded.evaluation.score.map(f64::to_bits),
                row.evaluation.score.map(f64::to_bits)
            );
            assert_eq!(
                loaded.evaluation.wall_ms.map(f64::to_bits),
                row.evaluation.wall_ms.map(f64::to_bits)
            );
        }
        let (extra, _) = (
            ok(store
                .insert_node(&node(run, Some(ids[0]), "extra", awkward), &eval(2.0, true))
                .await),
            (),
        );
        ids.push(extra);
    }
    assert_eq!(ok(store.load_tree(other).await).len(), 4);
    // Each subset of the large columns: those read are exact, the others empty.
    let full = ok(store.load_tree(run).await);
    for bits in 0..8u8 {
        let columns = hone_store::TreeColumns {
            files: bits & 1 != 0,
            metrics: bits & 2 != 0,
            feedback_and_trace: bits & 4 != 0,
        };
        let partial = ok(store.load_tree_with(run, columns).await);
        assert_eq!(partial.len(), full.len(), "{columns:?}");
        for (part, whole) in partial.iter().zip(&full) {
            let mut expected = whole.clone();
            if !columns.files {
                expected.files.clear();
            }
            if !columns.metrics {
                expected.evaluation.metrics = serde_json::Value::Null;
            }
            if !columns.feedback_and_trace {
                expected.evaluation.feedback.clear();
                expected.evaluation.trace = serde_json::Value::Null;
            }
            assert_eq!(part, &expected, "{columns:?}, node {}", whole.id.0);
            assert_eq!(part.values, whole.values, "{columns:?}");
        }
    }
    // What the orchestrator builds without reading back is what the store holds.
    let mut n = node(run, Some(ids[1]), awkward, awkward);
    n.operator = awkward.into();
    let mut e = eval(0.1 + 0.2, true);
    e.feedback = awkward.into();
    e.status = awkward.into();
    let id = ok(store.insert_node(&n, &e).await);
    assert_eq!(
        hone_store::NodeRecord::from_new(id, &n, &e),
        ok(store.get_node(id).await)
    );
}

/// A SQLite store copies its WAL back into the database from a background task, so commits
/// never pay for a checkpoint: after a burst of writes and a second's pause, the pages are
/// in the database file although no commit crossed the WAL's own checkpoint threshold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_is_checkpointed_in_the_background() {
    let dir = ok(tempfile::tempdir());
    let target = Target::sqlite(dir.path());
    let store = target.open().await;
    let database = dir.path().join("hone.db");
    let before = ok(std::fs::metadata(&database)).len();
    let run = ok(store.create_run(&new_run(1)).await);
    for i in 0..300 {
        let code = format!("// {i}\n{}", "x".repeat(8_000));
        ok(store
            .insert_node(&node(run, None, &format!("h{i}"), &code), &eval(1.0, true))
            .await);
    }
    let mut grown = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        grown = ok(std::fs::metadata(&database)).len() - before;
        if grown > 2_000_000 {
            break;
        }
    }
    assert!(
        grown > 2_000_000,
        "the database file grew by {grown} bytes only"
    );
}
