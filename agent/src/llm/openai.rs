//! The OpenAI-compatible chat-completions client (OpenAI, vLLM, Ollama, llama.cpp, LiteLLM).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::{
    BoxFuture, ChatBackend, ChatRequest, Completion, LlmError, PriceTable, Usage, excerpt,
};

/// An API key. Its `Debug` and `Display` print `***`, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// The secret itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How long to wait for a model that fails for a while (HTTP 429 and 5xx, timeouts,
/// connection errors), and how often to try it meanwhile.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// How long the model may stay unreachable: a call retries until this much time has
    /// passed since the outage began (the first of the client's calls to fail since its
    /// last success), then fails with [`LlmError::Unavailable`].
    pub patience: Duration,
    /// Backoff before the first retry; doubled each retry, with jitter in [b/2, b].
    pub initial_backoff: Duration,
    /// Cap on the exponential backoff.
    pub max_backoff: Duration,
    /// Cap on a server's `Retry-After` (delay-seconds or an HTTP-date) honoured as is.
    pub max_retry_after: Duration,
    /// Seed of the backoff's jitter (a run passes its own seed).
    pub jitter_seed: u64,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            patience: Duration::from_secs(600),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
            jitter_seed: 0,
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based), ignoring `Retry-After`.
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(30));
        let full = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        full.mul_f64(rng.random_range(0.5..=1.0))
    }
}

/// How to reach an OpenAI-compatible server. The binary fills it from `--base-url` /
/// `OPENAI_BASE_URL` and `OPENAI_API_KEY` (or a named variable); the library reads no env.
#[derive(Clone, Debug)]
pub struct OpenAiConfig {
    /// Base URL up to and excluding `/chat/completions`, e.g. `https://api.openai.com/v1`
    /// or `http://localhost:11434/v1`.
    pub base_url: String,
    /// `None` for local servers that need no key.
    pub api_key: Option<ApiKey>,
    /// Timeout of one HTTP attempt (connect + reply).
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Requests in flight at once, across all tasks sharing this client.
    pub concurrency: usize,
    pub prices: PriceTable,
}

impl Default for OpenAiConfig {
    fn default() -> OpenAiConfig {
        OpenAiConfig {
            base_url: "https://api.openai.com/v1".into(),
            api_key: None,
            timeout: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            concurrency: 8,
            prices: PriceTable::defaults(),
        }
    }
}

/// An OpenAI-compatible chat client. Cheap to clone; clones share the connection pool and
/// the concurrency limit.
#[derive(Clone)]
pub struct OpenAiClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// The base URL, without a trailing `/`.
    base: String,
    url: String,
    config: OpenAiConfig,
    permits: Semaphore,
    /// When the current outage began: the first failure since the last success.
    outage_since: Mutex<Option<Instant>>,
    /// Whether the server ever answered this client (a refused connection before that is
    /// a wrong address, not an outage).
    answered: AtomicBool,
    jitter: Mutex<ChaCha8Rng>,
}

impl fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("url", &self.inner.url)
            .field("api_key", &self.inner.config.api_key)
            .finish()
    }
}

/// What one HTTP attempt ended with.
enum Attempt<T> {
    Done(T),
    Retry {
        error: LlmError,
        retry_after: Option<Duration>,
    },
    Fail(LlmError),
}

impl OpenAiClient {
    pub fn new(config: OpenAiConfig) -> Result<OpenAiClient, LlmError> {
        let base = config.base_url.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(LlmError::Config(format!(
                "base URL `{base}` must start with http:// or https:// (e.g. http://localhost:11434/v1)"
            )));
        }
        if config.concurrency == 0 {
            return Err(LlmError::Config("concurrency must be at least 1".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| LlmError::Config(format!("cannot build the HTTP client: {e}")))?;
        let url = format!("{base}/chat/completions");
        let base = base.to_string();
        let permits = Semaphore::new(config.concurrency);
        let jitter = Mutex::new(ChaCha8Rng::seed_from_u64(config.retry.jitter_seed));
        Ok(OpenAiClient {
            inner: Arc::new(Inner {
                http,
                base,
                url,
                config,
                permits,
                outage_since: Mutex::new(None),
                answered: AtomicBool::new(false),
                jitter,
            }),
        })
    }

    pub fn config(&self) -> &OpenAiConfig {
        &self.inner.config
    }

    /// Sends one request, retrying transient failures per the [`RetryPolicy`]: until the
    /// model answers, or has been unreachable for the policy's patience.
    pub async fn chat(&self, request: &ChatRequest) -> Result<Completion, LlmError> {
        let started = Instant::now();
        let url = &self.inner.url;
        let decode = |body: &str| self.decode(request, body);
        let (mut completion, attempts) = self.post(url, &request.model, request, decode).await?;
        completion.attempts = attempts;
        completion.latency_ms = started.elapsed().as_millis() as u64;
        Ok(completion)
    }

    /// `base URL + path` (`path` starting with `/`), e.g. the `/embeddings` endpoint.
    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.inner.base)
    }

    /// POSTs `body` as JSON to `url` for `model` and decodes a 2xx reply with `decode`,
    /// retrying transient failures per the [`RetryPolicy`] (the client's outage clock and
    /// concurrency limit are shared by every endpoint). Returns the value and the attempts.
    pub(crate) async fn post<B, T>(
        &self,
        url: &str,
        model: &str,
        body: &B,
        decode: impl Fn(&str) -> Result<T, LlmError>,
    ) -> Result<(T, u32), LlmError>
    where
        B: serde::Serialize + ?Sized,
    {
        let policy = &self.inner.config.retry;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let outcome = {
                let _permit = self
                    .inner
                    .permits
                    .acquire()
                    .await
                    .map_err(|_| LlmError::Config("client closed".into()))?;
                self.attempt(url, model, body, &decode, attempts).await
            };
            match outcome {
                Attempt::Done(value) => {
                    self.inner.answered.store(true, Ordering::SeqCst);
                    *lock(&self.inner.outage_since) = None;
                    return Ok((value, attempts));
                }
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry { error, retry_after } => {
                    let since = *lock(&self.inner.outage_since).get_or_insert_with(Instant::now);
                    let waited = since.elapsed();
                    let Some(left) = policy.patience.checked_sub(waited).filter(|l| !l.is_zero())
                    else {
                        return Err(LlmError::Unavailable {
                            model: model.to_string(),
                            waited,
                            attempts,
                            last: Box::new(error),
                        });
                    };
                    let wait = match retry_after {
                        Some(after) => after.min(policy.max_retry_after),
                        None => policy.backoff(attempts - 1, &mut *lock(&self.inner.jitter)),
                    }
                    .min(left);
                    tracing::warn!(model = %model, %url, attempt = attempts, wait_ms = wait.as_millis() as u64, unreachable_ms = waited.as_millis() as u64, error = %error, "model call failed; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn attempt<B, T>(
        &self,
        url: &str,
        model: &str,
        body: &B,
        decode: &impl Fn(&str) -> Result<T, LlmError>,
        attempts: u32,
    ) -> Attempt<T>
    where
        B: serde::Serialize + ?Sized,
    {
        let config = &self.inner.config;
        let model = model.to_string();
        let mut builder = self.inner.http.post(url).json(body);
        if let Some(key) = &config.api_key {
            builder = builder.bearer_auth(key.expose());
        }
        tracing::debug!(model = %model, attempt = attempts, url = %url, "model call");
        let response = match builder.send().await {
            Ok(response) => response,
            Err(e) if self.is_wrong_address(&e) => {
                return Attempt::Fail(LlmError::Unreachable {
                    model,
                    url: url.to_string(),
                    message: self.scrub(&error_chain(&e)),
                });
            }
            Err(e) => {
                return Attempt::Retry {
                    error: self.transport_error(&model, &e, attempts),
                    retry_after: None,
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => {
                return Attempt::Retry {
                    error: self.transport_error(&model, &e, attempts),
                    retry_after: None,
                };
            }
        };
        let body = String::from_utf8_lossy(&body);
        if !(200..300).contains(&status) {
            let error = LlmError::Http {
                model,
                status,
                body: self.scrub(&excerpt(&body, 400)),
                attempts,
            };
            return if error.is_transient() {
                Attempt::Retry { error, retry_after }
            } else {
                Attempt::Fail(error)
            };
        }
        match decode(&body) {
            Ok(value) => Attempt::Done(value),
            Err(error) => Attempt::Fail(error),
        }
    }

    fn decode(&self, request: &ChatRequest, body: &str) -> Result<Completion, LlmError> {
        let model = request.model.clone();
        let wire: WireResponse = serde_json::from_str(body).map_err(|e| LlmError::Decode {
            model: model.clone(),
            message: e.to_string(),
            body: self.scrub(&excerpt(body, 200)),
        })?;
        let choice = wire
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| LlmError::EmptyReply {
                model: model.clone(),
            })?;
        let text = choice
            .message
            .and_then(|m| m.content)
            .ok_or_else(|| LlmError::EmptyReply {
                model: model.clone(),
            })?;
        let usage = match wire.usage {
            Some(WireUsage {
                prompt_tokens: Some(p),
                completion_tokens: Some(c),
            }) => Usage {
                prompt_tokens: p,
                completion_tokens: c,
                estimated: false,
            },
            _ => Usage::estimate(request, &text),
        };
        let answered_by = wire.model.filter(|m| !m.is_empty()).unwrap_or(model);
        let (cost_usd, priced) = self.inner.config.prices.cost(&answered_by, &usage);
        Ok(Completion {
            text,
            model: answered_by,
            usage,
            cost_usd,
            priced,
            finish_reason: choice.finish_reason,
            replayed: false,
            attempts: 0,
            latency_ms: 0,
        })
    }

    /// Removes the API key from text that came from the server or the transport.
    pub(crate) fn scrubbed(&self, text: &str) -> String {
        self.scrub(text)
    }

    fn transport_error(&self, model: &str, error: &reqwest::Error, attempts: u32) -> LlmError {
        if error.is_timeout() {
            LlmError::Timeout {
                model: model.to_string(),
                timeout: self.inner.config.timeout,
                attempts,
            }
        } else {
            LlmError::Connect {
                model: model.to_string(),
                message: self.scrub(&error_chain(error)),
                attempts,
            }
        }
    }

    /// Whether a transport error says the address is wrong rather than the server down: a
    /// host name that does not resolve, or a refused connection before the server ever
    /// answered this client.
    fn is_wrong_address(&self, error: &reqwest::Error) -> bool {
        if error.is_timeout() {
            return false;
        }
        let chain = error_chain(error);
        if chain.contains("dns error") || chain.contains("failed to lookup address") {
            return true;
        }
        let refused = std::iter::successors(
            std::error::Error::source(error),
            |e: &&(dyn std::error::Error + 'static)| e.source(),
        )
        .any(|e| {
            e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        });
        refused && !self.inner.answered.load(Ordering::SeqCst)
    }

    /// Removes the API key from text that came from the server or the transport.
    fn scrub(&self, text: &str) -> String {
        match &self.inner.config.api_key {
            Some(key) if !key.expose().is_empty() => text.replace(key.expose(), "[redacted]"),
            _ => text.to_string(),
        }
    }
}

/// An error and its sources, joined by `: `.
fn error_chain(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ChatBackend for OpenAiClient {
    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<Completion, LlmError>> {
        Box::pin(self.chat(request))
    }
}

/// A `Retry-After` header's wait: delay-seconds (`120`, or `1.5` as some servers send), or
/// an HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`, or the obsolete RFC 850 and asctime
/// forms) counted from `now`; a date already past means no wait. `None` if unreadable.
pub(crate) fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds >= 0.0)
            .then(|| Duration::try_from_secs_f64(seconds).ok())
            .flatten();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_cap() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for retry in 0..10 {
            let full =
                Duration::from_millis(100 * 2u64.pow(retry)).min(Duration::from_millis(1000));
            let wait = policy.backoff(retry, &mut rng);
            assert!(wait >= full / 2 && wait <= full, "{retry}: {wait:?}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_470); // 07:27:50 GMT
        let read = |v: &str| parse_retry_after(v, now);
        assert_eq!(read("120"), Some(Duration::from_secs(120)));
        assert_eq!(read(" 1.5 "), Some(Duration::from_millis(1500)));
        assert_eq!(read("0"), Some(Duration::ZERO));
        // The three HTTP-date forms of the same instant, ten seconds from now.
        for date in [
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2015",
        ] {
            assert_eq!(read(date), Some(Duration::from_secs(10)), "{date}");
        }
        assert_eq!(
            read("Wed, 21 Oct 2015 07:27:00 GMT"),
            Some(Duration::ZERO),
            "a date already past: retry now"
        );
        for bad in [
            "-1",
            "soon",
            "",
            "NaN",
            "inf",
            "1e30",
            "Wed, 32 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(read(bad), None, "{bad}");
        }
    }

    #[test]
    fn key_is_hidden_in_debug() {
        let config = OpenAiConfig {
            api_key: Some(ApiKey::new("sk-secret-123")),
            ..OpenAiConfig::default()
        };
        assert!(!format!("{config:?}").contains("sk-secret"));
        let client = OpenAiClient::new(config);
        assert!(!format!("{client:?}").contains("sk-secret"));
    }

    #[test]
    fn rejects_bad_base_url() {
        let config = OpenAiConfig {
            base_url: "localhost:8000".into(),
            ..OpenAiConfig::default()
        };
        assert!(matches!(
            OpenAiClient::new(config),
            Err(LlmError::Config(_))
        ));
    }
}
