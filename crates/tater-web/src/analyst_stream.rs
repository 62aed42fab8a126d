//! The analyst's answer as server-sent events, for the REST API and the chat page alike:
//! `text` (more of the answer), `tool` (a lookup), `action` (a proposed change), then `done`
//! with the whole exchange or `error` with the refusal. The analyst runs in a task of its own
//! and writes into a bounded channel: a slow reader slows it down instead of piling its
//! answer up in memory, and a reader that leaves stops it at its next event.

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use tater_service::{AnalystEvent, ExchangeView, Question, Service, ServiceError};

/// Events waiting for a slow reader, at most.
const EVENTS_BUFFERED: usize = 32;

/// How a refusal reads in the `error` event (REST: its problem document).
pub type ProblemOf = fn(ServiceError) -> Value;

/// Answers `question` as an event stream.
pub fn respond(service: Service, question: Question, problem: ProblemOf) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel(EVENTS_BUFFERED);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let answer = service.answer_ai_message(question, Some(tx)).await;
        let _ = done_tx.send(answer);
    });
    Sse::new(events(rx, done_rx, problem))
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn events(
    rx: tokio::sync::mpsc::Receiver<AnalystEvent>,
    done: tokio::sync::oneshot::Receiver<Result<ExchangeView, ServiceError>>,
    problem: ProblemOf,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let progress = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok(progress(e)), rx))
    });
    let end = futures::stream::once(async move {
        Ok(match done.await {
            Ok(Ok(exchange)) => named("done", serde_json::to_value(exchange).unwrap_or_default()),
            Ok(Err(e)) => named("error", problem(e)),
            Err(_) => {
                tracing::error!("the analyst's task ended without an answer");
                named(
                    "error",
                    json!({ "type": "about:blank", "title": "Internal Server Error",
                            "status": 500, "error": "INTERNAL", "detail": "internal error" }),
                )
            }
        })
    });
    progress.chain(end)
}

fn progress(e: AnalystEvent) -> Event {
    match e {
        AnalystEvent::Text(text) => named("text", json!({ "text": text })),
        AnalystEvent::Tool(tool) => named("tool", json!({ "tool": tool })),
        AnalystEvent::Proposed(action) => {
            named("action", serde_json::to_value(action).unwrap_or_default())
        }
    }
}

fn named(name: &'static str, data: Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

/// Whether a request asks for the event stream rather than one document or a page.
pub fn wants_events(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"))
}
