//! A stand-in for Anthropic's Messages API on loopback, speaking its wire protocol: JSON
//! answers, server-sent event streams, error answers with `retry-after`, and the broken
//! streams a real network produces. Tests script its replies in order and read back every
//! request it was sent (headers and body), so they can assert what left the server.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

/// One scripted reply.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A JSON answer with this status and these extra headers.
    Json {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Value,
    },
    /// A server-sent event stream: each `(event, data)` as sent. A stream without
    /// `message_stop` at the end is one the connection dropped.
    Events(Vec<(String, String)>),
}

impl Reply {
    /// A whole message answering with `text`.
    pub fn text(text: &str) -> Self {
        Self::message(json!([{ "type": "text", "text": text }]), "end_turn")
    }

    /// A message asking for one tool call.
    pub fn tool_use(id: &str, name: &str, input: Value) -> Self {
        Self::message(
            json!([{ "type": "tool_use", "id": id, "name": name, "input": input }]),
            "tool_use",
        )
    }

    /// A message with these content blocks and stop reason.
    pub fn message(content: Value, stop_reason: &str) -> Self {
        Self::Json {
            status: 200,
            headers: Vec::new(),
            body: json!({
                "id": "msg_fake", "type": "message", "role": "assistant", "model": "claude-fake",
                "content": content, "stop_reason": stop_reason, "stop_sequence": null,
                "usage": { "input_tokens": 12, "output_tokens": 7 }
            }),
        }
    }

    /// An error answer as the API sends it (`{"type":"error","error":{…}}`).
    pub fn error(status: u16, kind: &str, headers: Vec<(&'static str, String)>) -> Self {
        Self::Json {
            status,
            headers,
            body: json!({ "type": "error", "error": { "type": kind, "message": format!("fake {kind}") } }),
        }
    }

    /// A streamed answer of these text pieces, with a ping and an event of a kind newer
    /// than this client among them.
    pub fn streamed_text(pieces: &[&str]) -> Self {
        let noise = vec![
            event("ping", json!({ "type": "ping" })),
            event(
                "future_event",
                json!({ "type": "future_event", "detail": "unknown to the client" }),
            ),
        ];
        let deltas = pieces
            .iter()
            .map(|p| json!({ "type": "text_delta", "text": p }))
            .collect();
        Self::Events(one_block(
            json!({ "type": "text", "text": "" }),
            noise,
            deltas,
            "end_turn",
        ))
    }

    /// A streamed tool call whose input arrives in pieces of JSON text.
    pub fn streamed_tool_use(id: &str, name: &str, input_pieces: &[&str]) -> Self {
        let deltas = input_pieces
            .iter()
            .map(|p| json!({ "type": "input_json_delta", "partial_json": p }))
            .collect();
        Self::Events(one_block(
            json!({ "type": "tool_use", "id": id, "name": name, "input": {} }),
            Vec::new(),
            deltas,
            "tool_use",
        ))
    }

    /// This stream cut off after its first `keep` events (the connection dropped).
    pub fn cut_after(self, keep: usize) -> Self {
        match self {
            Self::Events(mut events) => {
                events.truncate(keep);
                Self::Events(events)
            }
            other => other,
        }
    }

    /// This stream with its `at`-th event's data replaced by text that is not JSON.
    pub fn garbled_at(self, at: usize) -> Self {
        match self {
            Self::Events(mut events) => {
                if let Some(e) = events.get_mut(at) {
                    e.1 = "{not json".into();
                }
                Self::Events(events)
            }
            other => other,
        }
    }
}

fn event(name: &str, data: Value) -> (String, String) {
    (name.to_owned(), data.to_string())
}

/// A whole stream of one content block: `message_start`, the block's start, `noise` (events
/// the client must skip), its `deltas`, and the end with `reason`.
fn one_block(
    block: Value,
    noise: Vec<(String, String)>,
    deltas: Vec<Value>,
    reason: &str,
) -> Vec<(String, String)> {
    let mut events = vec![
        event(
            "message_start",
            json!({ "type": "message_start", "message": {
                "id": "msg_fake", "type": "message", "role": "assistant", "model": "claude-fake",
                "content": [], "stop_reason": null, "usage": { "input_tokens": 12, "output_tokens": 1 } } }),
        ),
        event(
            "content_block_start",
            json!({ "type": "content_block_start", "index": 0, "content_block": block }),
        ),
    ];
    events.extend(noise);
    events.extend(deltas.into_iter().map(|delta| {
        event(
            "content_block_delta",
            json!({ "type": "content_block_delta", "index": 0, "delta": delta }),
        )
    }));
    events.extend(stop(0, reason));
    events
}

/// A whole message as the stream that carries it (what the API sends when a request asks
/// to stream): each block started, its text or its input's JSON as one delta, stopped.
fn streamed(message: &Value) -> Vec<(String, String)> {
    let mut start = message.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    let mut events = vec![event(
        "message_start",
        json!({ "type": "message_start", "message": start }),
    )];
    let blocks = message["content"].as_array().cloned().unwrap_or_default();
    for (index, block) in blocks.iter().enumerate() {
        let (empty, delta) = match block["type"].as_str() {
            Some("tool_use") => {
                let mut empty = block.clone();
                empty["input"] = json!({});
                let delta = json!({ "type": "input_json_delta", "partial_json": block["input"].to_string() });
                (empty, delta)
            }
            _ => (
                json!({ "type": "text", "text": "" }),
                json!({ "type": "text_delta", "text": block["text"].as_str().unwrap_or("") }),
            ),
        };
        events.push(event(
            "content_block_start",
            json!({ "type": "content_block_start", "index": index, "content_block": empty }),
        ));
        events.push(event(
            "content_block_delta",
            json!({ "type": "content_block_delta", "index": index, "delta": delta }),
        ));
        events.push(event(
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": index }),
        ));
    }
    events.push(event(
        "message_delta",
        json!({ "type": "message_delta", "delta": { "stop_reason": message["stop_reason"] }, "usage": { "output_tokens": 9 } }),
    ));
    events.push(event("message_stop", json!({ "type": "message_stop" })));
    events
}

/// The end of a stream: the block's stop, the stop reason, `message_stop`.
fn stop(index: usize, reason: &str) -> Vec<(String, String)> {
    vec![
        event(
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": index }),
        ),
        event(
            "message_delta",
            json!({ "type": "message_delta", "delta": { "stop_reason": reason }, "usage": { "output_tokens": 9 } }),
        ),
        event("message_stop", json!({ "type": "message_stop" })),
    ]
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    replies: Mutex<VecDeque<Reply>>,
    received: Mutex<Vec<Received>>,
}

/// The running fake; its base URL is what the client is given.
pub struct FakeAnthropic {
    pub base_url: String,
    shared: Arc<Shared>,
}

impl FakeAnthropic {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let router = axum::Router::new()
            .route("/v1/messages", post(messages))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            base_url: format!("http://{addr}"),
            shared,
        }
    }

    /// Queues replies, given in the order requests will get them.
    pub fn reply(&self, replies: impl IntoIterator<Item = Reply>) {
        if let Ok(mut queue) = self.shared.replies.lock() {
            queue.extend(replies);
        }
    }

    /// Every request so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

async fn messages(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let streams = body["stream"] == true;
    if let Ok(mut received) = shared.received.lock() {
        received.push(Received { headers, body });
    }
    let next = shared.replies.lock().ok().and_then(|mut q| q.pop_front());
    let mut reply = next.unwrap_or_else(|| Reply::error(500, "api_error", Vec::new()));
    // A request that asks for a stream gets a scripted message as the stream carrying it.
    if let Reply::Json {
        status: 200,
        body: message,
        ..
    } = &reply
        && streams
    {
        reply = Reply::Events(streamed(message));
    }
    let mut builder = Response::builder();
    let body = match reply {
        Reply::Json {
            status,
            headers,
            body,
        } => {
            builder = builder
                .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                .header("content-type", "application/json");
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            body.to_string()
        }
        Reply::Events(events) => {
            builder = builder.header("content-type", "text/event-stream");
            events
                .iter()
                .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
                .collect()
        }
    };
    builder
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
