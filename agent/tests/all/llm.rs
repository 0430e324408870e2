//! The OpenAI-compatible client, cassettes and re-asking, against the local mock server.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hone_agent::llm::{
    ApiKey, CassetteRecorder, CassetteReplayer, ChatBackend, ChatMessage, ChatRequest, LlmError,
    LlmSpec, OpenAiClient, OpenAiConfig, PriceTable, ReplayOrder, RetryPolicy, propose_with_reask,
};
use hone_agent::reply::{ReplyContext, parse_code_reply};
use hone_agent::testing::{MockResponse, MockServer};
use hone_sandbox::Language;
use hone_tasks::TaskKind;

const KEY: &str = "sk-test-SECRET-0123456789";

fn config(server: &MockServer) -> OpenAiConfig {
    OpenAiConfig {
        base_url: server.base_url(),
        api_key: Some(ApiKey::new(KEY)),
        timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            patience: Duration::from_millis(300),
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(5),
            jitter_seed: 0,
        },
        concurrency: 4,
        prices: PriceTable::defaults(),
    }
}

fn request(text: &str) -> ChatRequest {
    ChatRequest::new(
        "gpt-4o-mini",
        vec![ChatMessage::system("sys"), ChatMessage::user(text)],
    )
}

async fn start(script: Vec<MockResponse>) -> MockServer {
    match MockServer::start(script).await {
        Ok(server) => server,
        Err(e) => panic!("mock server: {e}"),
    }
}

#[tokio::test]
async fn success_reads_usage_and_prices_the_call() {
    let server = start(vec![MockResponse::completion_with_usage(
        "hello", 1000, 500,
    )])
    .await;
    let client = OpenAiClient::new(config(&server)).map_err(|e| e.to_string());
    let completion = client
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
        .chat(&request("hi"))
        .await;
    let completion = completion.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(completion.text, "hello");
    assert_eq!(
        (
            completion.usage.prompt_tokens,
            completion.usage.completion_tokens,
            completion.usage.estimated
        ),
        (1000, 500, false)
    );
    // The mock answers as `mock-model` (unpriced); the client prices by the answering model.
    assert_eq!(completion.model, "mock-model");
    assert!(!completion.priced);
    assert_eq!(completion.attempts, 1);
    assert!(!completion.replayed);
    let got = server.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/v1/chat/completions");
    assert_eq!(
        got[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = got[0].json().unwrap_or_default();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["messages"][1]["content"], "hi");
}

#[tokio::test]
async fn cost_comes_from_the_price_table() {
    let mut body = hone_agent::testing::completion_json("ok", Some((2_000_000, 1_000_000)));
    body["model"] = serde_json::json!("gpt-4o-mini-2024-07-18");
    let server = start(vec![MockResponse::json(200, &body)]).await;
    let client = OpenAiClient::new(config(&server)).unwrap_or_else(|e| panic!("{e}"));
    let completion = client
        .chat(&request("hi"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(completion.priced);
    assert!(
        (completion.cost_usd - (2.0 * 0.15 + 1.0 * 0.60)).abs() < 1e-9,
        "{}",
        completion.cost_usd
    );
}

#[tokio::test]
async fn missing_usage_is_estimated_and_marked() {
    let server = start(vec![MockResponse::completion_without_usage("abcdefgh")]).await;
    let client = OpenAiClient::new(config(&server)).unwrap_or_else(|e| panic!("{e}"));
    let completion = client
        .chat(&request("hi"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(completion.usage.estimated);
    assert_eq!(completion.usage.completion_tokens, 2);
}

#[tokio::test]
async fn no_key_sends_no_authorization() {
    let server = start(vec![MockResponse::completion("x")]).await;
    let config = OpenAiConfig {
        api_key: None,
        ..config(&server)
    };
    let client = OpenAiClient::new(config).unwrap_or_else(|e| panic!("{e}"));
    assert!(client.chat(&request("hi")).await.is_ok());
    assert_eq!(server.requests()[0].header("authorization"), None);
}

#[tokio::test]
async fn retry_after_is_honoured_on_429() {
    let server = start(vec![
        MockResponse::error(429, "slow down").with_header("retry-after", "1"),
        MockResponse::completion("after the wait"),
    ])
    .await;
    // A wait is cut to the patience left: give it room for the server's.
    let mut config = config(&server);
    config.retry.patience = Duration::from_secs(5);
    let client = OpenAiClient::new(config).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let completion = client
        .chat(&request("hi"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(completion.text, "after the wait");
    assert_eq!(completion.attempts, 2);
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    // Two seconds from now, in whole seconds: a wait of more than one second. The client's
    // own backoff (10-50 ms here) would retry far sooner.
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    let server = start(vec![
        MockResponse::error(503, "maintenance").with_header("retry-after", &date),
        MockResponse::completion("after the date"),
    ])
    .await;
    // Patience beyond the date: a wait is never longer than the patience left.
    let mut patient = config(&server);
    patient.retry.patience = Duration::from_secs(10);
    let client = OpenAiClient::new(patient).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let completion = client
        .chat(&request("hi"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried after {:?}, before {date}",
        started.elapsed()
    );
    assert_eq!(completion.text, "after the date");
    assert_eq!(completion.attempts, 2);

    // A date already past: retried at once, not after the client's backoff cap.
    let server = start(vec![
        MockResponse::error(429, "slow down")
            .with_header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
        MockResponse::completion("at once"),
    ])
    .await;
    let client = OpenAiClient::new(config(&server)).unwrap_or_else(|e| panic!("{e}"));
    let completion = client
        .chat(&request("hi"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (completion.text.as_str(), completion.attempts),
        ("at once", 2)
    );
}

#[tokio::test]
async fn server_error_then_success() {
    let server = start(vec![
        MockResponse::error(500, "boom"),
        MockResponse::error(503, "busy"),
        MockResponse::completion("ok"),
    ])
    .await;
    let client = OpenAiClient::new(config(&server)).unwrap_or_else(|e| panic!("{e}"));
    let completion = client
        .chat(&request("hi"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((completion.text.as_str(), completion.attempts), ("ok", 3));
    assert_eq!(server.request_count(), 3);
}

#[tokio::test]
async fn retries_give_up_after_the_patience_with_the_last_error() {
    let server = MockServer::start_with_rule(|_| MockResponse::error(502, "bad gateway"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let client = OpenAiClient::new(config(&server)).unwrap_or_else(|e| panic!("{e}"));
    match client.chat(&request("hi")).await {
        Err(error @ LlmError::Unavailable { .. }) => {
            let LlmError::Unavailable {
                attempts,
                waited,
                ref last,
                ..
            } = error
            else {
                unreachable!()
            };
            assert!(waited >= Duration::from_millis(300), "{waited:?}");
            assert_eq!(attempts as usize, server.request_count());
            assert!(attempts >= 2, "{attempts} attempts in the patience");
            assert!(
                matches!(**last, LlmError::Http { status: 502, .. }),
                "{last:?}"
            );
            let message = error.to_string();
            assert!(
                message.contains("unreachable for") && message.contains("bad gateway"),
                "{message}"
            );
            assert!(!error.is_transient() && !error.is_permanent());
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_success_ends_the_outage_for_later_calls() {
    // Failing, then answering, then failing again: the second outage gets the full
    // patience again (it does not count from the first one).
    let server = start(vec![
        MockResponse::error(503, "busy"),
        MockResponse::completion("one"),
    ])
    .await;
    let client = OpenAiClient::new(config(&server)).unwrap_or_else(|e| panic!("{e}"));
    assert!(client.chat(&request("a")).await.is_ok());
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.push(MockResponse::error(503, "busy"));
    server.push(MockResponse::completion("two"));
    let completion = client
        .chat(&request("b"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((completion.text.as_str(), completion.attempts), ("two", 2));
}

#[tokio::test]
async fn permanent_errors_say_so() {
    for (status, hint) in [(401, "API key"), (403, "API key"), (404, "--model")] {
        let server = start(vec![MockResponse::error(status, "no")]).await;
        let client = OpenAiClient::new(config(&server)).unwrap_or_else(|e| panic!("{e}"));
        let error = client.chat(&request("hi")).await.err();
        let error = error.unwrap_or_else(|| panic!("{status} succeeded"));
        assert!(error.is_permanent(), "{status}: {error}");
        assert!(
            error.hint().is_some_and(|h| h.contains(hint)),
            "{status}: {:?}",
            error.hint()
        );
        assert_eq!(server.request_count(), 1, "{status} was retried");
    }
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = start(vec![
        MockResponse::error(400, "bad request"),
        MockResponse::completion("never"),
    ])
    .await;
    let client = OpenAiClient::new(config(&server)).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        client.chat(&request("hi")).await,
        Err(LlmError::Http {
            status: 400,
            attempts: 1,
            ..
        })
    ));
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn timeout_is_reported_after_retries() {
    let server = start(vec![
        MockResponse::completion("late").with_delay(Duration::from_secs(3)),
        MockResponse::completion("late").with_delay(Duration::from_secs(3)),
    ])
    .await;
    let mut config = config(&server);
    config.timeout = Duration::from_millis(200);
    config.retry.patience = Duration::from_millis(100);
    let client = OpenAiClient::new(config).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let result = client.chat(&request("hi")).await;
    match &result {
        Err(LlmError::Unavailable { last, attempts, .. }) => {
            assert!(*attempts >= 2, "{attempts}");
            assert!(matches!(**last, LlmError::Timeout { .. }), "{last:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn connection_refused_at_the_first_call_is_a_wrong_address() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0");
    let port = listener
        .as_ref()
        .map(|l| l.local_addr().map(|a| a.port()).unwrap_or(9))
        .unwrap_or(9);
    drop(listener);
    let config = OpenAiConfig {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        ..OpenAiConfig::default()
    };
    let client = OpenAiClient::new(config).unwrap_or_else(|e| panic!("{e}"));
    match client.chat(&request("hi")).await {
        Err(error @ LlmError::Unreachable { .. }) => {
            assert!(error.is_permanent());
            let message = error.to_string();
            assert!(
                message.contains(&format!("cannot reach http://127.0.0.1:{port}/v1"))
                    && message.contains("hint: check --base-url"),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_server_that_answered_and_then_refuses_is_waited_for() {
    let server = start(vec![MockResponse::completion("up")]).await;
    let mut config = config(&server);
    config.retry.patience = Duration::from_millis(200);
    let client = OpenAiClient::new(config).unwrap_or_else(|e| panic!("{e}"));
    assert!(client.chat(&request("a")).await.is_ok());
    drop(server);
    tokio::time::sleep(Duration::from_millis(50)).await;
    match client.chat(&request("b")).await {
        Err(LlmError::Unavailable { last, attempts, .. }) => {
            assert!(attempts >= 2, "{attempts}");
            assert!(matches!(*last, LlmError::Connect { .. }), "{last:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn malformed_json_is_a_decode_error() {
    let server = start(vec![MockResponse::raw(200, "{\"choices\": [oops")]).await;
    let client = OpenAiClient::new(config(&server)).unwrap_or_else(|e| panic!("{e}"));
    match client.chat(&request("hi")).await {
        Err(LlmError::Decode { body, .. }) => assert!(body.contains("oops")),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn empty_choices_is_an_error() {
    let server = start(vec![MockResponse::json(
        200,
        &serde_json::json!({"choices": [], "model": "m"}),
    )])
    .await;
    let client = OpenAiClient::new(config(&server)).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        client.chat(&request("hi")).await,
        Err(LlmError::EmptyReply { .. })
    ));
}

#[tokio::test]
async fn five_megabyte_reply() {
    let big = "x".repeat(5 * 1024 * 1024);
    let server = start(vec![MockResponse::completion(&big)]).await;
    let client = OpenAiClient::new(config(&server)).unwrap_or_else(|e| panic!("{e}"));
    let completion = client
        .chat(&request("hi"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(completion.text.len(), big.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limit_is_honoured() {
    let server = MockServer::start_with_rule(|_| {
        MockResponse::completion("ok").with_delay(Duration::from_millis(100))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let config = OpenAiConfig {
        concurrency: 3,
        ..config(&server)
    };
    let client = OpenAiClient::new(config).unwrap_or_else(|e| panic!("{e}"));
    let mut calls = Vec::new();
    for i in 0..12 {
        let client = client.clone();
        calls.push(tokio::spawn(async move {
            client.chat(&request(&format!("call {i}"))).await
        }));
    }
    for call in calls {
        assert!(matches!(call.await, Ok(Ok(_))));
    }
    assert_eq!(server.request_count(), 12);
    assert_eq!(server.max_in_flight(), 3);
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_key_never_appears_in_logs_or_errors() {
    // A hostile server echoes the Authorization header back in its error bodies.
    let server = MockServer::start_with_rule(|request| {
        let auth = request.header("authorization").unwrap_or("").to_string();
        MockResponse::error(
            if request.body.contains("fatal") {
                401
            } else {
                500
            },
            &format!("you sent {auth}"),
        )
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let client = OpenAiClient::new(config(&server)).unwrap_or_else(|e| panic!("{e}"));
    let mut texts = vec![format!("{client:?}"), format!("{:?}", client.config())];
    for prompt in ["retried", "fatal"] {
        let error = client
            .chat(&request(prompt))
            .await
            .err()
            .unwrap_or_else(|| panic!("expected an error"));
        texts.push(error.to_string());
        texts.push(format!("{error:?}"));
    }
    let logs =
        String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    assert!(logs.contains("retrying"), "logs were not captured: {logs}");
    texts.push(logs);
    for text in texts {
        assert!(
            !text.contains(KEY) && !text.contains("SECRET"),
            "key leaked: {text}"
        );
    }
    // The server did receive it (so the echo was real).
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("authorization") == Some(format!("Bearer {KEY}").as_str()))
    );
}

#[tokio::test]
async fn record_then_replay_without_the_network() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("runs/cassette.jsonl");
    let server = start(vec![
        MockResponse::completion("first"),
        MockResponse::completion("second"),
    ])
    .await;
    let client: Arc<dyn ChatBackend> =
        Arc::new(OpenAiClient::new(config(&server)).unwrap_or_else(|e| panic!("{e}")));
    let recorder = CassetteRecorder::create(&path, client).unwrap_or_else(|e| panic!("{e}"));
    let a = request("improve the solver, score 1.0");
    let b = request("draft a solver");
    assert_eq!(
        recorder.complete(&a).await.map(|c| c.text).ok().as_deref(),
        Some("first")
    );
    assert_eq!(
        recorder.complete(&b).await.map(|c| c.text).ok().as_deref(),
        Some("second")
    );
    drop(recorder);
    drop(server);

    let replayer =
        CassetteReplayer::open(&path, ReplayOrder::ByHash).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(replayer.len(), 2);
    let replayed = replayer
        .complete(&b)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (
            replayed.text.as_str(),
            replayed.replayed,
            replayed.usage.prompt_tokens
        ),
        ("second", true, 10)
    );
    assert_eq!(
        replayer.complete(&a).await.map(|c| c.text).ok().as_deref(),
        Some("first")
    );
    let miss = replayer
        .complete(&request("improve the solver, score 2.0"))
        .await;
    let message = miss.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("no recorded reply") && message.contains(&a.hash()[..12]),
        "{message}"
    );
    assert!(
        message.contains("score 1.0") && message.contains("score 2.0") && message.contains("hint:"),
        "{message}"
    );

    let spec =
        LlmSpec::parse(&format!("replay-seq:{}", path.display())).unwrap_or_else(|e| panic!("{e}"));
    let sequential = spec
        .backend(&OpenAiConfig::default())
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no backend"));
    let changed = request("a prompt that changed wording");
    assert_eq!(
        sequential
            .complete(&changed)
            .await
            .map(|c| c.text)
            .ok()
            .as_deref(),
        Some("first")
    );
    assert_eq!(
        sequential
            .complete(&changed)
            .await
            .map(|c| c.text)
            .ok()
            .as_deref(),
        Some("second")
    );
    assert!(matches!(
        sequential.complete(&changed).await,
        Err(LlmError::CassetteExhausted { .. })
    ));
}

#[tokio::test]
async fn a_bad_cassette_line_is_named() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, "\n{not json}\n").unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        CassetteReplayer::open(&path, ReplayOrder::ByHash),
        Err(LlmError::CassetteFormat { line: 2, .. })
    ));
}

#[tokio::test]
async fn an_unusable_reply_is_re_asked_once_and_both_calls_kept() {
    let server = start(vec![
        MockResponse::completion("I would use a faster loop."),
        MockResponse::completion("Here:\n```c\nint main(void) { return 0; }\n```"),
    ])
    .await;
    let client = OpenAiClient::new(config(&server)).unwrap_or_else(|e| panic!("{e}"));
    let languages = [Language::C];
    let context = ReplyContext {
        kind: TaskKind::Efficiency,
        languages: &languages,
        parent: None,
        variables: &[],
        allow_input_file: false,
    };
    let proposal = propose_with_reask(&client, request("write it"), |text| {
        parse_code_reply(text, false, &context)
    })
    .await;
    let proposal = proposal.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(proposal.calls.len(), 2);
    let update = proposal.parsed.unwrap_or_else(|e| panic!("{e}"));
    assert!(update.candidate.files.contains_key("main.c"));
    let follow_up = &proposal.calls[1].request;
    assert_eq!(follow_up.messages.len(), 4);
    assert_eq!(follow_up.messages[2].content, "I would use a faster loop.");
    assert!(
        follow_up.messages[3]
            .content
            .contains("no complete code block"),
        "{}",
        follow_up.messages[3].content
    );
    let second_body = server.requests()[1].json().unwrap_or_default();
    assert_eq!(second_body["messages"].as_array().map(|m| m.len()), Some(4));
}

#[tokio::test]
async fn a_reply_failing_twice_keeps_both_calls_and_the_error() {
    let server = start(vec![
        MockResponse::completion("no code"),
        MockResponse::completion("still none"),
    ])
    .await;
    let client = OpenAiClient::new(config(&server)).unwrap_or_else(|e| panic!("{e}"));
    let languages = [Language::Rust];
    let context = ReplyContext {
        kind: TaskKind::Efficiency,
        languages: &languages,
        parent: None,
        variables: &[],
        allow_input_file: false,
    };
    let proposal = propose_with_reask(&client, request("write it"), |text| {
        parse_code_reply(text, false, &context)
    })
    .await;
    let proposal = proposal.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(proposal.calls.len(), 2);
    assert!(proposal.parsed.is_err());
}
