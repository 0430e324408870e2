//! The embeddings client and its cassettes, against the local mock server.

use std::time::Duration;

use hone_agent::llm::{
    ApiKey, CassetteEmbeddingReplayer, CassetteReplayer, EmbeddingRequest, LlmError, LlmSpec,
    OpenAiConfig, OpenAiEmbeddings, PriceTable, ReplayOrder, RetryPolicy,
};
use hone_agent::testing::{MockResponse, MockServer};

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

fn request(text: &str) -> EmbeddingRequest {
    EmbeddingRequest {
        model: "embed-small".into(),
        input: text.into(),
    }
}

async fn start(script: Vec<MockResponse>) -> MockServer {
    MockServer::start(script)
        .await
        .unwrap_or_else(|e| panic!("mock server: {e}"))
}

fn client(server: &MockServer) -> OpenAiEmbeddings {
    OpenAiEmbeddings::new(config(server)).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn an_embedding_is_read_after_retries_of_transient_failures() {
    let server = start(vec![
        MockResponse::error(503, "warming up"),
        MockResponse::error(429, "slow down"),
        MockResponse::embedding(&[0.5, -0.25, 1.0]),
    ])
    .await;
    let vector = client(&server).embedding(&request("int main() {}")).await;
    assert_eq!(vector.ok(), Some(vec![0.5, -0.25, 1.0]));
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.path == "/v1/embeddings"));
    let body = requests[2].json().unwrap_or_default();
    assert_eq!(body["model"], "embed-small");
    assert_eq!(body["input"], "int main() {}");
    assert_eq!(
        requests[2].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[tokio::test]
async fn errors_name_the_endpoint_and_never_the_key() {
    for (response, needle, permanent) in [
        (
            MockResponse::error(404, "model not found"),
            "HTTP 404",
            true,
        ),
        (
            MockResponse::raw(200, format!("<html>{KEY}</html>")),
            "not an embeddings list",
            true,
        ),
        (
            MockResponse::json(200, &serde_json::json!({"data": []})),
            "`data` is empty",
            true,
        ),
        (
            MockResponse::embedding(&[0.0, 0.0]),
            "the embedding is all zeros",
            true,
        ),
    ] {
        let server = start(vec![response]).await;
        let error = client(&server)
            .embedding(&request("x"))
            .await
            .err()
            .unwrap_or_else(|| panic!("{needle}: no error"));
        let message = error.to_string();
        let endpoint = format!("embeddings endpoint {}/embeddings", server.base_url());
        assert!(message.contains(&endpoint), "{message}");
        assert!(message.contains(needle), "{message}");
        assert!(!message.contains(KEY), "{message}");
        assert_eq!(error.is_permanent(), permanent, "{message}");
        assert!(error.hint().is_some_and(|h| h.contains("--embeddings-url")));
    }
}

#[tokio::test]
async fn an_endpoint_down_past_the_patience_is_unavailable_naming_it() {
    let server = MockServer::start_with_rule(|_| MockResponse::error(500, "embedder crashed"))
        .await
        .unwrap_or_else(|e| panic!("mock server: {e}"));
    let error = client(&server).embedding(&request("x")).await.err();
    let Some(error @ LlmError::Unavailable { .. }) = error else {
        panic!("not unavailable: {error:?}");
    };
    let message = error.to_string();
    assert!(
        message.contains("/v1/embeddings") && message.contains("HTTP 500"),
        "{message}"
    );
}

#[tokio::test]
async fn embeddings_are_recorded_beside_chat_exchanges_and_replayed_from_them() {
    let server = start(vec![
        MockResponse::embedding(&[1.0, 2.0]),
        MockResponse::completion("hello"),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cassette = dir.path().join("c.jsonl");
    let spec = LlmSpec::Record(cassette.clone());
    let embeddings = spec
        .embedding_backend(&config(&server))
        .unwrap_or_else(|e| panic!("{e}"));
    let chat = spec
        .backend(&config(&server))
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no chat backend"));
    let vector = embeddings.embed(&request("a")).await.ok();
    assert_eq!(vector, Some(vec![1.0, 2.0]));
    // A cached embedding is written too, so the cassette alone replays the run.
    embeddings
        .cached(&request("b"), &[3.0, 4.0])
        .unwrap_or_else(|e| panic!("{e}"));
    let chat_request =
        hone_agent::llm::ChatRequest::new("m", vec![hone_agent::llm::ChatMessage::user("hi")]);
    assert!(chat.complete(&chat_request).await.is_ok());
    drop(server);

    let replayer = CassetteEmbeddingReplayer::open(&cassette).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(replayer.len(), 2);
    assert_eq!(replayer.lookup(&request("a")).ok(), Some(vec![1.0, 2.0]));
    assert_eq!(replayer.lookup(&request("b")).ok(), Some(vec![3.0, 4.0]));
    let miss = replayer.lookup(&request("c")).err().map(|e| e.to_string());
    assert!(
        miss.as_deref()
            .is_some_and(|m| m.contains("no recorded embedding") && m.contains("embed-small")),
        "{miss:?}"
    );
    // The chat replayer skips the embedding lines.
    let chats = CassetteReplayer::open(&cassette, ReplayOrder::Sequential)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(chats.len(), 1);
    let replayed = chats.lookup(&chat_request).map(|c| c.text).ok();
    assert_eq!(replayed.as_deref(), Some("hello"));
}
