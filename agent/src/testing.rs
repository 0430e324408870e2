//! Test support behind the `testing` feature (not in the binary): a scripted
//! OpenAI-compatible mock server.
//!
//! [`MockServer`] listens on `127.0.0.1:0` and serves `POST /v1/chat/completions` and
//! `POST /v1/embeddings` (and both without `/v1`) from a script of [`MockResponse`]s (status, headers, body, delay)
//! or from a rule (a closure from the request to a response), and records every request it
//! got. It counts requests in flight, so tests can check a client's concurrency limit.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hone_agent::testing::{MockResponse, MockServer};
//! let server = MockServer::start([MockResponse::completion("hello")]).await?;
//! let base_url = server.base_url(); // "http://127.0.0.1:PORT/v1"
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct MockResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// Wait before answering.
    pub delay: Duration,
}

impl MockResponse {
    /// A 200 chat completion with `text` and usage (10 prompt, 5 completion tokens).
    pub fn completion(text: &str) -> MockResponse {
        MockResponse::json(200, &completion_json(text, Some((10, 5))))
    }

    /// A 200 chat completion with no `usage` field.
    pub fn completion_without_usage(text: &str) -> MockResponse {
        MockResponse::json(200, &completion_json(text, None))
    }

    /// A 200 chat completion with the given usage.
    pub fn completion_with_usage(
        text: &str,
        prompt_tokens: u64,
        completion_tokens: u64,
    ) -> MockResponse {
        MockResponse::json(
            200,
            &completion_json(text, Some((prompt_tokens, completion_tokens))),
        )
    }

    /// Any JSON body.
    pub fn json(status: u16, value: &serde_json::Value) -> MockResponse {
        MockResponse::raw(status, value.to_string()).with_header("content-type", "application/json")
    }

    /// Any body, as is (for malformed replies).
    pub fn raw(status: u16, body: impl Into<Bytes>) -> MockResponse {
        MockResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// A 200 embeddings reply holding one vector.
    pub fn embedding(vector: &[f32]) -> MockResponse {
        MockResponse::json(
            200,
            &serde_json::json!({
                "object": "list",
                "model": "mock-embeddings",
                "data": [{"object": "embedding", "index": 0, "embedding": vector}],
                "usage": {"prompt_tokens": 8, "total_tokens": 8},
            }),
        )
    }

    /// An OpenAI-style error body.
    pub fn error(status: u16, message: &str) -> MockResponse {
        MockResponse::json(
            status,
            &serde_json::json!({"error": {"message": message, "type": "mock_error"}}),
        )
    }

    pub fn with_header(mut self, name: &str, value: &str) -> MockResponse {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn with_delay(mut self, delay: Duration) -> MockResponse {
        self.delay = delay;
        self
    }
}

/// The JSON of a chat completion whose single choice says `text`.
pub fn completion_json(text: &str, usage: Option<(u64, u64)>) -> serde_json::Value {
    let mut value = serde_json::json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "model": "mock-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    });
    if let (Some((p, c)), Some(map)) = (usage, value.as_object_mut()) {
        map.insert(
            "usage".into(),
            serde_json::json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}),
        );
    }
    value
}

/// A deterministic stand-in for an embedding model: token counts hashed into `dimensions`
/// buckets (tokens as the shingle similarity cuts them), so texts that share most tokens
/// have a cosine near 1.
pub fn bag_of_tokens_embedding(text: &str, dimensions: usize) -> Vec<f32> {
    let mut vector = vec![0f32; dimensions.max(1)];
    for token in crate::novelty::tokens(text) {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &byte in token.as_bytes() {
            hash ^= byte as u64;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let bucket = (hash % vector.len() as u64) as usize;
        vector[bucket] += 1.0;
    }
    vector
}

/// A request the server received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// Whether it asks for embeddings (`/v1/embeddings` or `/embeddings`).
    pub fn is_embeddings(&self) -> bool {
        self.path == "/v1/embeddings" || self.path == "/embeddings"
    }

    /// The `input` of an embeddings request, if any.
    pub fn embeddings_input(&self) -> Option<String> {
        self.json()?.get("input")?.as_str().map(str::to_string)
    }

    /// The content of the last `user` message of a chat request, if any.
    pub fn last_user_message(&self) -> Option<String> {
        let json = self.json()?;
        json.get("messages")?
            .as_array()?
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(|r| r.as_str()) == Some("user"))?
            .get("content")?
            .as_str()
            .map(str::to_string)
    }
}

type Rule = Arc<dyn Fn(&RecordedRequest) -> MockResponse + Send + Sync>;

struct State {
    script: Mutex<VecDeque<MockResponse>>,
    rule: Option<Rule>,
    requests: Mutex<Vec<RecordedRequest>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// The scripted server. Stops when dropped.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl MockServer {
    /// Serves the script in order; once it is exhausted, answers 500 "mock script exhausted".
    pub async fn start(
        script: impl IntoIterator<Item = MockResponse>,
    ) -> std::io::Result<MockServer> {
        MockServer::launch(script.into_iter().collect(), None).await
    }

    /// Answers every request with `rule(request)`.
    pub async fn start_with_rule(
        rule: impl Fn(&RecordedRequest) -> MockResponse + Send + Sync + 'static,
    ) -> std::io::Result<MockServer> {
        MockServer::launch(VecDeque::new(), Some(Arc::new(rule))).await
    }

    async fn launch(
        script: VecDeque<MockResponse>,
        rule: Option<Rule>,
    ) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            script: Mutex::new(script),
            rule,
            requests: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let accept_state = state.clone();
        let accept = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = accept_state.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request| handle(state.clone(), request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(MockServer {
            addr,
            state,
            accept,
        })
    }

    /// `http://127.0.0.1:PORT/v1`, to use as a client's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Appends a response to the script.
    pub fn push(&self, response: MockResponse) {
        lock(&self.state.script).push_back(response);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    pub fn request_count(&self) -> usize {
        lock(&self.state.requests).len()
    }

    /// The most requests that were being answered at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct InFlight(Arc<State>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let current = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(current, Ordering::SeqCst);
    let _guard = InFlight(state.clone());
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let headers = request
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = match request.into_body().collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let recorded = RecordedRequest {
        method,
        path,
        headers,
        body,
    };
    lock(&state.requests).push(recorded.clone());
    let response = if !(recorded.path == "/v1/chat/completions"
        || recorded.path == "/chat/completions"
        || recorded.is_embeddings())
    {
        MockResponse::error(404, &format!("no route {}", recorded.path))
    } else if let Some(scripted) = lock(&state.script).pop_front() {
        scripted
    } else if let Some(rule) = &state.rule {
        rule(&recorded)
    } else {
        MockResponse::error(500, "mock script exhausted")
    };
    if !response.delay.is_zero() {
        tokio::time::sleep(response.delay).await;
    }
    let mut built = Response::new(Full::new(response.body));
    *built.status_mut() =
        StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &response.headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(value),
        ) {
            built.headers_mut().append(name, value);
        }
    }
    Ok(built)
}
