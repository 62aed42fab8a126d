//! Tater's client of Anthropic's Messages API (`POST /v1/messages`): a thin `reqwest` client,
//! since no Rust crate for it is maintained well enough.
//!
//! - `wire.rs`: the request and answer JSON, tolerant of what newer models add.
//! - `stream.rs`: server-sent events and the assembly of a streamed answer.
//!
//! The API version is pinned ([`API_VERSION`]); the key goes in `x-api-key` and nowhere else
//! (never in an error, a log line or a `Debug`). 408, 409, 429, 529 and other 5xx answers, and
//! connections that fail or time out before an answer, are retried — after `retry-after-ms` or
//! `retry-after` when the answer says, else after a capped, jittered backoff. A stream that
//! breaks off is an error, not a short answer.

mod stream;
mod wire;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use rand::Rng;
use reqwest::header::HeaderMap;

pub use stream::{Assembler, Delta, Event, MessageDelta};
pub use wire::{
    API_VERSION, Block, ErrorDetail, Message, Request, Response, Role, StopReason, Tool, Usage,
};

/// What went wrong with a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The API answered with an error (after the retries it deserved), or sent an `error`
    /// event in a stream (`status` 200 then).
    #[error("the Messages API refused the call ({status} {kind}): {message}")]
    Api {
        status: u16,
        kind: String,
        message: String,
    },
    /// No answer: the connection failed or timed out.
    #[error("the Messages API could not be reached: {0}")]
    Transport(String),
    /// A streamed answer broke off or could not be read.
    #[error("the Messages API's stream failed: {0}")]
    Stream(String),
}

/// How often and how long to wait before trying a call again.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Tries after the first.
    pub retries: u32,
    /// The first backoff; each next one doubles, up to `cap`.
    pub base: Duration,
    pub cap: Duration,
    /// The longest `retry-after` honoured (a longer one ends the retries).
    pub max_wait: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            retries: 2,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(8),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// Waits between tries; tests pass one that records instead of sleeping.
pub type Sleeper = Arc<dyn Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync>;

/// The events of a streamed call, in order.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<Event, Error>> + Send>>;

/// A client for one base URL (Anthropic's, or a proxy's).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    retry: Retry,
    sleep: Sleeper,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("url", &self.url).finish()
    }
}

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest silence within an answer (a stream sends `ping` events meanwhile).
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// An error answer's body read at most (its JSON is small).
const ERROR_BODY_MAX: usize = 64 * 1024;

impl Client {
    /// A client of `base_url` (e.g. `https://api.anthropic.com`).
    pub fn new(base_url: &str) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(Self {
            http,
            url: format!("{}/v1/messages", base_url.trim_end_matches('/')),
            retry: Retry::default(),
            sleep: Arc::new(|d| Box::pin(tokio::time::sleep(d))),
        })
    }

    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_sleeper(mut self, sleep: Sleeper) -> Self {
        self.sleep = sleep;
        self
    }

    /// One call, answered as one JSON document.
    pub async fn create(&self, key: &str, request: &Request) -> Result<Response, Error> {
        let mut request = request.clone();
        request.stream = false;
        let res = self.send(key, &request).await?;
        let body = res
            .bytes()
            .await
            .map_err(|e| Error::Transport(e.without_url().to_string()))?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::Stream(format!("the answer is not a message: {e}")))
    }

    /// One call, streamed: its events as they come.
    pub async fn stream(&self, key: &str, request: &Request) -> Result<EventStream, Error> {
        let mut request = request.clone();
        request.stream = true;
        let res = self.send(key, &request).await?;
        let events = res.bytes_stream().eventsource().map(|item| match item {
            Ok(event) => stream::parse(&event.data),
            Err(e) => Err(Error::Stream(e.to_string())),
        });
        Ok(Box::pin(events))
    }

    /// One call, streamed and assembled: `on_text` sees the answer's text as it comes; the
    /// whole message at the end.
    pub async fn create_streamed(
        &self,
        key: &str,
        request: &Request,
        mut on_text: impl FnMut(&str) + Send,
    ) -> Result<Response, Error> {
        let mut events = self.stream(key, request).await?;
        let mut assembler = Assembler::default();
        while let Some(event) = events.next().await {
            if let Some(text) = assembler.push(event?)? {
                on_text(&text);
            }
        }
        assembler.finish()
    }

    /// Sends the call, trying again where the answer (or its absence) says to.
    async fn send(&self, key: &str, request: &Request) -> Result<reqwest::Response, Error> {
        let mut attempt = 0;
        loop {
            let sent = self
                .http
                .post(&self.url)
                .header("x-api-key", key)
                .header("anthropic-version", API_VERSION)
                .json(request)
                .send()
                .await;
            let wait = match sent {
                Ok(res) if res.status().is_success() => return Ok(res),
                Ok(res) => {
                    let status = res.status().as_u16();
                    let retryable = matches!(status, 408 | 409 | 429 | 500..=599);
                    let asked = retry_after(res.headers());
                    let fits = asked.is_none_or(|w| w <= self.retry.max_wait);
                    if !(retryable && fits && attempt < self.retry.retries) {
                        return Err(api_error(status, res).await);
                    }
                    asked.unwrap_or_else(|| self.backoff(attempt))
                }
                Err(e) if (e.is_connect() || e.is_timeout()) && attempt < self.retry.retries => {
                    self.backoff(attempt)
                }
                Err(e) => return Err(Error::Transport(e.without_url().to_string())),
            };
            (self.sleep)(wait).await;
            attempt += 1;
        }
    }

    /// The `attempt`-th backoff: doubling from `base`, capped, with jitter (¾ to all of it).
    fn backoff(&self, attempt: u32) -> Duration {
        let full = self
            .retry
            .base
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.retry.cap);
        full.mul_f64(rand::rng().random_range(0.75..=1.0))
    }
}

/// How long the answer asks to wait: `retry-after-ms`, else `retry-after` in seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| number("retry-after").map(Duration::from_secs_f64))
}

/// The error an answer carries (its body read up to a bound).
async fn api_error(status: u16, res: reqwest::Response) -> Error {
    let mut body = Vec::new();
    let mut chunks = res.bytes_stream();
    while let Some(Ok(chunk)) = chunks.next().await {
        body.extend_from_slice(&chunk);
        if body.len() > ERROR_BODY_MAX {
            break;
        }
    }
    let detail = serde_json::from_slice::<wire::ErrorBody>(&body)
        .map(|b| b.error)
        .unwrap_or(ErrorDetail {
            kind: "unknown".into(),
            message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        });
    Error::Api {
        status,
        kind: detail.kind,
        message: detail.message,
    }
}
