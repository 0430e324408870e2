//! A model that fails for a while is waited for; one that will not answer stops the run
//! at once with a message naming the cause.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use hone_agent::testing::MockResponse;

use super::{MockModel, Work, assert_success, int, scheduled_reply, stdout};

fn greedy(model: &MockModel, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "run".into(),
        super::FIXTURE.into(),
        "--json".into(),
        "--budget-evals".into(),
        "3".into(),
    ];
    args.extend(model.flags());
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

fn outcome(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON outcome ({e}): {}", stdout(output)))
}

#[test]
fn a_short_outage_is_waited_for() {
    // The first two requests fail (a 503, then a 429), then the model answers.
    let failures = Arc::new(AtomicUsize::new(0));
    let count = failures.clone();
    let model = MockModel::with_replies(move |ask, n| match count.fetch_add(1, Ordering::SeqCst) {
        0 => MockResponse::error(503, "restarting"),
        1 => MockResponse::error(429, "slow down"),
        _ => MockResponse::completion(&scheduled_reply(ask, n)),
    });
    let work = Work::new();
    let output = work.hone(&greedy(&model, &[]));
    assert_success(&output, "hone run");
    let outcome = outcome(&output);
    assert_eq!(outcome["status"], "finished", "{outcome:#}");
    assert!(failures.load(Ordering::SeqCst) > 2);
    // The waits were retries inside one call: no model call of the run failed.
    let calls = work.calls(int(&outcome, "run"));
    assert!(calls.iter().all(|c| c.error.is_none()), "{calls:#?}");
}

#[test]
fn an_outage_longer_than_the_patience_interrupts_the_run_and_resume_completes_it() {
    let down = Arc::new(AtomicBool::new(true));
    let switch = down.clone();
    let model = MockModel::with_replies(move |ask, n| {
        if switch.load(Ordering::SeqCst) {
            MockResponse::error(503, "the model is down")
        } else {
            MockResponse::completion(&scheduled_reply(ask, n))
        }
    });
    let work = Work::new();
    let output = work.hone(&greedy(&model, &["--model-patience", "2s"]));
    assert_success(&output, "hone run");
    let interrupted = outcome(&output);
    let run = int(&interrupted, "run");
    assert_eq!(interrupted["status"], "interrupted", "{interrupted:#}");
    let reason = interrupted["stop_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("unreachable for") && reason.contains("the model is down"),
        "{reason}"
    );
    assert!(reason.contains(&format!("hone resume {run}")), "{reason}");
    let status = work.status(run);
    assert_eq!(status["run"]["status"], "interrupted", "{status:#}");
    assert_eq!(status["run"]["status_detail"].as_str(), Some(reason));
    assert!(model.requests().len() >= 2, "the model was not retried");

    down.store(false, Ordering::SeqCst);
    let output = work.hone(&["resume", &run.to_string(), "--json"]);
    assert_success(&output, "hone resume");
    let resumed = outcome(&output);
    assert_eq!(resumed["status"], "finished", "{resumed:#}");
    assert!(int(&resumed, "evaluations") >= 3, "{resumed:#}");
}

#[test]
fn a_refused_key_stops_the_run_at_once() {
    let model = MockModel::with_replies(|_, _| MockResponse::error(401, "invalid api key"));
    let work = Work::new();
    let output = work.hone(&greedy(&model, &["--concurrency", "1"]));
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let outcome = outcome(&output);
    assert_eq!(outcome["status"], "failed", "{outcome:#}");
    let reason = outcome["stop_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("HTTP 401") && reason.contains("invalid api key"),
        "{reason}"
    );
    assert!(reason.contains("hint: check the API key"), "{reason}");
    assert_eq!(model.requests().len(), 1, "a refused key is not retried");
}

#[test]
fn an_address_nothing_listens_on_stops_the_run_at_once() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let work = Work::new();
    let args = [
        "run",
        super::FIXTURE,
        "--json",
        "--budget-evals",
        "3",
        "--llm",
        "openai",
        "--base-url",
        &format!("http://127.0.0.1:{port}/v1"),
    ];
    let output = work.hone(&args);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let outcome = outcome(&output);
    assert_eq!(outcome["status"], "failed", "{outcome:#}");
    let reason = outcome["stop_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("cannot reach http://127.0.0.1:{port}/v1"))
            && reason.contains("hint: check --base-url"),
        "{reason}"
    );
}
