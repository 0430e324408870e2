//! Each budget stops a run, and the stop reason is printed.

use std::time::{Duration, Instant};

use hone_agent::testing::MockResponse;

use super::{
    FIXTURE, MockModel, Work, assert_success, code_reply, float, improved_program, int, stdout,
};

/// `hone run` (human output) with the mock model and `budget`; returns the outcome from the
/// store and the printed text.
fn run_with(model: &MockModel, work: &Work, budget: &[&str]) -> (serde_json::Value, String) {
    let mut args = vec!["run".to_string(), FIXTURE.to_string()];
    args.extend(model.flags());
    args.extend(budget.iter().map(|s| s.to_string()));
    let output = work.hone(&args);
    assert_success(&output, &args.join(" "));
    let printed = stdout(&output);
    let status = work.status(1);
    (status, printed)
}

fn spent(status: &serde_json::Value, key: &str) -> f64 {
    float(&status["spend"], key)
}

#[test]
fn evaluation_budget() {
    let model = MockModel::start(Duration::ZERO);
    let work = Work::new();
    let (status, printed) = run_with(&model, &work, &["--budget-evals", "4"]);
    assert!(
        printed.contains("run 1 finished: evaluation budget spent (4)"),
        "{printed}"
    );
    assert_eq!(int(&status["spend"], "evaluations"), 4);
}

#[test]
fn model_call_budget() {
    let model = MockModel::start(Duration::ZERO);
    let work = Work::new();
    let (status, printed) = run_with(&model, &work, &["--budget-calls", "5"]);
    assert!(
        printed.contains("run 1 finished: model-call budget spent (5)"),
        "{printed}"
    );
    let calls = int(&status["spend"], "llm_calls");
    // A step reserves one call; its re-ask may add one more.
    assert!((5..=6).contains(&calls), "{calls} calls for a budget of 5");
    assert_eq!(calls as usize, model.requests().len());
}

#[test]
fn token_budget() {
    // Every mock reply reports 10 prompt and 5 completion tokens.
    let model = MockModel::start(Duration::ZERO);
    let work = Work::new();
    let (status, printed) = run_with(&model, &work, &["--budget-tokens", "100"]);
    assert!(
        printed.contains("run 1 finished: token budget spent (100)"),
        "{printed}"
    );
    let tokens = int(&status["spend"], "tokens_in") + int(&status["spend"], "tokens_out");
    // Stops at the first step that starts at or past 100; a step spends at most 2 x 15.
    assert!((100..130).contains(&tokens), "{tokens} tokens");
}

#[test]
fn dollar_budget() {
    let model = MockModel::start(Duration::ZERO);
    let work = Work::new();
    // $1000 per million tokens: 15 tokens cost $0.015 a call.
    std::fs::write(
        work.path().join("hone.toml"),
        format!(
            "[prices.\"{}\"]\ninput = 1000.0\noutput = 1000.0\n",
            super::MODEL
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (status, printed) = run_with(&model, &work, &["--budget-usd", "0.05"]);
    assert!(
        printed.contains("run 1 finished: dollar budget spent ($0.0500)"),
        "{printed}"
    );
    let dollars = spent(&status, "dollars");
    assert!(
        (0.05..0.05 + 0.031).contains(&dollars),
        "${dollars} spent for a budget of $0.05"
    );
    let calls = int(&status["spend"], "llm_calls") as f64;
    assert!(
        (dollars - 0.015 * calls).abs() < 1e-9,
        "every call is priced"
    );
}

#[test]
fn time_budget() {
    let model = MockModel::start(Duration::from_millis(300));
    let work = Work::new();
    let started = Instant::now();
    let (status, printed) = run_with(&model, &work, &["--budget-time", "2s"]);
    let took = started.elapsed();
    assert!(
        printed.contains("run 1 finished: time budget spent (2 s)"),
        "{printed}"
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let active = spent(&status, "wall_seconds");
    assert!((2.0..10.0).contains(&active), "{active} active seconds");
    assert!(int(&status["spend"], "evaluations") >= 2, "{status:#}");
}

#[test]
fn a_model_that_repeats_itself_stops_the_run() {
    // Every reply is the same program: one evaluation, then only duplicates, which cost no
    // evaluation. The run must still end, and say why.
    let model = MockModel::with_replies(|_, _| {
        MockResponse::completion(&code_reply("Again.", &improved_program(7, 8)))
    });
    let work = Work::new();
    let mut args = vec!["run".to_string(), FIXTURE.to_string()];
    args.extend(model.flags());
    // Three steps in flight propose the same program at once: one is evaluated.
    args.extend(["--budget-evals", "10", "--concurrency", "3"].map(String::from));
    let output = work.hone_within(&args, Duration::from_secs(60));
    assert_success(&output, "hone run");
    let printed = stdout(&output);
    assert!(
        printed.contains("proposed only candidates already evaluated"),
        "{printed}"
    );
    let status = work.status(1);
    assert_eq!(
        int(&status["spend"], "evaluations"),
        2,
        "the seed and the one program"
    );
    let duplicates = int(&status["spend"], "duplicates");
    assert!((1..=25).contains(&duplicates), "{duplicates} duplicates");
    assert_eq!(status["run"]["status"], "finished");
    let nodes = super::assert_tree_integrity(&work, 1);
    assert!(
        nodes
            .iter()
            .filter(|n| n.duplicate_of.is_some())
            .all(|n| n.evaluation.status == "ok" && n.evaluation.valid),
        "a duplicate carries its original's evaluation"
    );
}

#[test]
fn failed_model_calls_count_against_the_call_budget() {
    // A 400 is not retried: each step makes one failed call.
    let model = MockModel::with_replies(|_, _| MockResponse::error(400, "bad request"));
    let work = Work::new();
    let (status, printed) = run_with(&model, &work, &["--budget-calls", "3"]);
    assert!(
        printed.contains("run 1 finished: model-call budget spent (3)"),
        "{printed}"
    );
    assert_eq!(int(&status["spend"], "llm_calls"), 3);
    assert_eq!(model.requests().len(), 3);
    assert!(work.calls(1).iter().all(|c| c.error.is_some()));
}

/// The evaluation budget's rule, both ways: a budget of N stores N evaluated candidates,
/// the seed included, whether the run is uninterrupted or killed (SIGKILL) and resumed.
/// The builtin tuner proposes duplicates too (stored as nodes, not counted).
#[test]
fn the_seed_counts_and_a_resumed_run_spends_the_same_budget() {
    const BUDGET: usize = 12;
    let task = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tasks/library/efficiency/pair-count"
    );
    let args = [
        "run",
        task,
        "--llm",
        "builtin",
        "--budget-evals",
        "12",
        "--seed",
        "1",
        "--json",
    ];
    let evaluated = |work: &Work| {
        let nodes = work.nodes(1);
        let evaluated: Vec<_> = nodes.iter().filter(|n| n.duplicate_of.is_none()).collect();
        assert_eq!(
            evaluated.first().map(|n| n.operator.as_str()),
            Some("seed"),
            "the seed is the first evaluation"
        );
        assert_eq!(nodes.iter().filter(|n| n.operator == "seed").count(), 1);
        evaluated.len()
    };

    let whole = Work::new();
    let output = whole.hone_within(&args, Duration::from_secs(300));
    assert_success(&output, "hone run, uninterrupted");
    assert_eq!(evaluated(&whole), BUDGET);
    assert_eq!(int(&whole.status(1)["spend"], "evaluations"), BUDGET as i64);

    let killed = Work::new();
    let mut child = killed.spawn(&args);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before it could be killed");
        }
        let stored = if killed.store().exists() {
            killed.read(async |store| {
                store
                    .load_tree(hone_store::RunId(1))
                    .await
                    .map(|n| n.len())
                    .unwrap_or(0)
            })
        } else {
            0
        };
        if stored >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "fewer than 3 nodes in 120 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
    let _ = child.wait();
    let before = evaluated(&killed);
    assert!(before < BUDGET, "killed after the run ended ({before})");
    let output = killed.hone_within(&["resume", "1", "--json"], Duration::from_secs(300));
    assert_success(&output, "hone resume");
    assert_eq!(
        evaluated(&killed),
        BUDGET,
        "the same count after a kill and a resume"
    );
    assert_eq!(
        int(&killed.status(1)["spend"], "evaluations"),
        BUDGET as i64
    );
}
