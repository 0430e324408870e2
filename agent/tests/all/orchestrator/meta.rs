//! Meta-recommendations (`--meta-every K`): every K nodes a model call rewrites the run's
//! insights, whatever the strategy, and later prompts show them, cut to a bounded size.

use std::time::Duration;

use hone_agent::testing::MockResponse;

use super::{Ask, INSIGHTS, MockModel, Work, classify, int, scheduled_reply, stderr};

fn run(work: &Work, model: &MockModel, strategy: &str, extra: &[&str]) -> serde_json::Value {
    let mut args: Vec<String> = vec!["--strategy".into(), strategy.into()];
    args.extend(model.flags());
    args.extend(extra.iter().map(|a| a.to_string()));
    work.run_json(&args)
}

#[test]
fn every_k_nodes_a_summary_is_asked_for_and_later_prompts_show_it() {
    for strategy in ["greedy", "mcts"] {
        let model = MockModel::start(Duration::ZERO);
        let work = Work::new();
        let outcome = run(
            &work,
            &model,
            strategy,
            &["--meta-every", "3", "--budget-evals", "8"],
        );
        let requests = model.requests();
        let kinds: Vec<Ask> = requests.iter().map(classify).collect();
        let summaries = kinds.iter().filter(|k| **k == Ask::Insights).count();
        let nodes = work.nodes(int(&outcome, "run")).len();
        // One summary per 3 nodes stored when it is planned (the last may not be reached).
        assert!(
            summaries >= 2 && summaries <= nodes / 3,
            "{strategy}: {summaries} summaries for {nodes} nodes: {kinds:?}"
        );
        let first = kinds
            .iter()
            .position(|k| *k == Ask::Insights)
            .unwrap_or(requests.len());
        for (i, request) in requests.iter().enumerate() {
            if kinds[i] != Ask::Candidate {
                continue;
            }
            let prompt = request.last_user_message().unwrap_or_default();
            assert_eq!(
                prompt.contains(INSIGHTS),
                i > first,
                "{strategy}: candidate request {i} (the first summary is request {first}):\n{prompt}"
            );
        }
        // The summaries are the run's insights events, so resume restores the latest.
        let events = work.read(async |store| {
            store
                .events(hone_store::RunId(int(&outcome, "run")))
                .await
                .unwrap_or_else(|e| panic!("events: {e}"))
        });
        let stored = events.iter().filter(|e| e.kind == "insights").count();
        assert_eq!(stored, summaries, "{strategy}");
        let config = work.read(async |store| {
            store
                .get_run(hone_store::RunId(int(&outcome, "run")))
                .await
                .unwrap_or_else(|e| panic!("get_run: {e}"))
                .config
        });
        assert_eq!(config["meta_every"], 3, "{config:#}");
    }
}

#[test]
fn a_long_summary_reaches_later_prompts_cut_to_a_bounded_size() {
    let long: String = (0..2_000)
        .map(|i| format!("- idea {i:04} that did not help\n"))
        .collect();
    let text = long.clone();
    let model = MockModel::with_replies(move |ask, n| match ask {
        Ask::Insights => MockResponse::completion(&text),
        _ => MockResponse::completion(&scheduled_reply(ask, n)),
    });
    let work = Work::new();
    run(
        &work,
        &model,
        "greedy",
        &["--meta-every", "2", "--budget-evals", "5"],
    );
    let requests = model.requests();
    let kinds: Vec<Ask> = requests.iter().map(classify).collect();
    let first = kinds
        .iter()
        .position(|k| *k == Ask::Insights)
        .unwrap_or_else(|| panic!("no summary was asked for: {kinds:?}"));
    let before = requests[..first]
        .iter()
        .zip(&kinds)
        .filter(|(_, k)| **k == Ask::Candidate)
        .map(|(r, _)| r.last_user_message().unwrap_or_default().len())
        .max()
        .unwrap_or_else(|| panic!("no candidate before the first summary"));
    let later: Vec<String> = requests[first + 1..]
        .iter()
        .zip(&kinds[first + 1..])
        .filter(|(_, k)| **k == Ask::Candidate)
        .map(|(r, _)| r.last_user_message().unwrap_or_default())
        .collect();
    assert!(!later.is_empty(), "no candidate after the summary");
    for prompt in &later {
        assert!(prompt.contains("- idea 0000 that did not help"), "{prompt}");
        // Its head and tail are kept, its middle cut with a note saying so.
        assert!(!prompt.contains("- idea 1000"), "the summary was not cut");
        assert!(
            prompt.contains("characters of the insights here to fit the prompt budget"),
            "{prompt}"
        );
        // 4,000 characters of insights at most (plus the cut note and the memory's growth).
        assert!(
            prompt.len() < before + 6_000,
            "{} characters after the summary, {before} before ({} in the summary)",
            prompt.len(),
            long.len()
        );
    }
}

#[test]
fn meta_recommendations_without_a_model_are_refused() {
    let work = Work::new();
    let output = work.hone(&[
        "run",
        super::FIXTURE,
        "--llm",
        "builtin",
        "--budget-evals",
        "3",
        "--meta-every",
        "2",
    ]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("--meta-every needs a model"), "{err}");
}
