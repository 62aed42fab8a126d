//! The client against the Messages API stand-in (`tater_testkit::anthropic`): what it sends,
//! how it reads answers and streams, when it tries again and how long it waits (recorded, not
//! slept), and what it makes of broken streams.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a panic is a failed assertion

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tater_anthropic::{
    API_VERSION, Block, Client, Error, Message, Request, Retry, StopReason, Tool,
};
use tater_testkit::anthropic::{FakeAnthropic, Reply};

const KEY: &str = "sk-ant-test-key-0123456789abcdef";

/// A client of `fake` whose waits are recorded instead of slept.
fn recording(fake: &FakeAnthropic) -> (Client, Arc<Mutex<Vec<Duration>>>) {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let recorded = waits.clone();
    let client = Client::new(&fake.base_url)
        .unwrap()
        .with_sleeper(Arc::new(move |d| {
            recorded.lock().unwrap().push(d);
            Box::pin(async {})
        }));
    (client, waits)
}

fn request() -> Request {
    Request {
        model: "claude-fake".into(),
        max_tokens: 512,
        system: Some("You are a compliance analyst.".into()),
        messages: vec![Message::user("Which controls fail?")],
        tools: vec![Tool {
            name: "get_posture".into(),
            description: "The posture".into(),
            input_schema: json!({ "type": "object", "properties": {} }),
        }],
        stream: false,
    }
}

#[tokio::test]
async fn a_call_sends_the_pinned_version_the_key_and_no_sampling_parameters() {
    let fake = FakeAnthropic::start().await;
    fake.reply([Reply::message(
        json!([
            { "type": "text", "text": "Let me look." },
            { "type": "thinking_v9", "data": "a block kind newer than this client" },
            { "type": "tool_use", "id": "toolu_1", "name": "get_posture", "input": {} }
        ]),
        "tool_use",
    )]);
    let (client, _) = recording(&fake);
    let answer = client.create(KEY, &request()).await.unwrap();
    assert_eq!(answer.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(answer.text(), "Let me look.");
    assert_eq!(
        answer.tool_uses(),
        vec![("toolu_1", "get_posture", &json!({}))]
    );
    assert_eq!(answer.usage.output_tokens, 7);
    // The block it does not know is kept out of the next turn.
    assert_eq!(answer.as_turn().content.len(), 2);
    assert!(answer.content.contains(&Block::Unknown));

    let sent = &fake.received()[0];
    assert_eq!(sent.headers["x-api-key"], KEY);
    assert_eq!(sent.headers["anthropic-version"], API_VERSION);
    assert!(sent.headers.get("authorization").is_none());
    for sampling in ["temperature", "top_p", "top_k"] {
        assert!(sent.body.get(sampling).is_none(), "{sampling} sent");
    }
    assert!(sent.body.get("stream").is_none());
    assert_eq!(sent.body["tools"][0]["name"], "get_posture");
    assert_eq!(
        sent.body["messages"][0]["content"][0]["text"],
        "Which controls fail?"
    );
}

#[tokio::test]
async fn busy_answers_are_retried_after_the_wait_they_ask_for() {
    let fake = FakeAnthropic::start().await;
    fake.reply([
        Reply::error(429, "rate_limit_error", vec![("retry-after", "3".into())]),
        Reply::error(
            529,
            "overloaded_error",
            vec![("retry-after-ms", "1500".into())],
        ),
        Reply::text("fine now"),
    ]);
    let (client, waits) = recording(&fake);
    let answer = client.create(KEY, &request()).await.unwrap();
    assert_eq!(answer.text(), "fine now");
    assert_eq!(fake.received().len(), 3);
    assert_eq!(
        *waits.lock().unwrap(),
        [Duration::from_secs(3), Duration::from_millis(1500)]
    );

    // Without a wait named: a jittered backoff, doubling, capped; then the error itself.
    let fake = FakeAnthropic::start().await;
    fake.reply([
        Reply::error(500, "api_error", Vec::new()),
        Reply::error(503, "api_error", Vec::new()),
        Reply::error(529, "overloaded_error", Vec::new()),
    ]);
    let (client, waits) = recording(&fake);
    let err = client.create(KEY, &request()).await.unwrap_err();
    assert_eq!(
        err,
        Error::Api {
            status: 529,
            kind: "overloaded_error".into(),
            message: "fake overloaded_error".into()
        }
    );
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 2, "two retries, then the answer");
    assert!(waits[0] >= Duration::from_millis(375) && waits[0] <= Duration::from_millis(500));
    assert!(waits[1] >= Duration::from_millis(750) && waits[1] <= Duration::from_secs(1));
    assert!(!err.to_string().contains(KEY));
}

#[tokio::test]
async fn refusals_that_a_retry_cannot_change_are_not_retried() {
    let fake = FakeAnthropic::start().await;
    fake.reply([
        Reply::error(400, "invalid_request_error", Vec::new()),
        Reply::error(
            429,
            "rate_limit_error",
            vec![("retry-after", "3600".into())],
        ),
    ]);
    let (client, waits) = recording(&fake);
    let bad = client.create(KEY, &request()).await.unwrap_err();
    assert!(matches!(bad, Error::Api { status: 400, .. }), "{bad}");
    // A wait longer than the client will honour ends the tries at once.
    let long = client.create(KEY, &request()).await.unwrap_err();
    assert!(matches!(long, Error::Api { status: 429, .. }), "{long}");
    assert!(waits.lock().unwrap().is_empty());
    assert_eq!(fake.received().len(), 2);

    // Nobody listening: a transport error after the retries, never the key.
    let gone = Client::new("http://127.0.0.1:9")
        .unwrap()
        .with_retry(Retry {
            retries: 1,
            ..Default::default()
        })
        .with_sleeper(Arc::new(|_| Box::pin(async {})));
    let err = gone.create(KEY, &request()).await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err}");
    assert!(!format!("{err:?}").contains(KEY));
}

#[tokio::test]
async fn a_stream_is_assembled_as_it_comes_whatever_new_events_it_holds() {
    let fake = FakeAnthropic::start().await;
    fake.reply([
        Reply::streamed_text(&["Two con", "trols ", "fail."]),
        Reply::streamed_tool_use("toolu_7", "get_control", &["{\"id\": ", "\"ac-2\"}"]),
    ]);
    let (client, _) = recording(&fake);
    let mut pieces = Vec::new();
    let answer = client
        .create_streamed(KEY, &request(), |t| pieces.push(t.to_owned()))
        .await
        .unwrap();
    assert_eq!(pieces, ["Two con", "trols ", "fail."]);
    assert_eq!(answer.text(), "Two controls fail.");
    assert_eq!(answer.stop_reason, Some(StopReason::EndTurn));
    assert_eq!(answer.usage.output_tokens, 9);
    assert_eq!(fake.received()[0].body["stream"], true);

    let call = client
        .create_streamed(KEY, &request(), |_| {})
        .await
        .unwrap();
    assert_eq!(call.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(
        call.tool_uses(),
        vec![("toolu_7", "get_control", &json!({ "id": "ac-2" }))]
    );
}

#[tokio::test]
async fn a_broken_stream_is_an_error_not_a_shorter_answer() {
    let fake = FakeAnthropic::start().await;
    fake.reply([
        // The connection drops after two text pieces.
        Reply::streamed_text(&["Half ", "an ", "answer"]).cut_after(6),
        // An event that is not JSON.
        Reply::streamed_text(&["fine"]).garbled_at(4),
        // The API reports an error inside the stream.
        Reply::Events(vec![(
            "error".into(),
            json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } })
                .to_string(),
        )]),
    ]);
    let (client, _) = recording(&fake);
    let dropped = client
        .create_streamed(KEY, &request(), |_| {})
        .await
        .unwrap_err();
    assert_eq!(
        dropped,
        Error::Stream("the stream ended before message_stop".into())
    );
    let garbled = client
        .create_streamed(KEY, &request(), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(garbled, Error::Stream(ref m) if m.contains("not valid")),
        "{garbled}"
    );
    let reported = client
        .create_streamed(KEY, &request(), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(reported, Error::Api { ref kind, .. } if kind == "overloaded_error"),
        "{reported}"
    );
}
