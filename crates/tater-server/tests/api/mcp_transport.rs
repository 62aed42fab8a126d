//! `/mcp` serves stateless (2026-07-28) tool calls on a direct path of its own and everything
//! else through rmcp's transport (`tater_mcp::direct`). Two servers on one database — one
//! taking the direct path, one sending every request through rmcp — must answer every call
//! with the same status, type and bytes, and what the direct path leaves to rmcp must still be
//! answered, and refused, by rmcp.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tater_domain::Role;
use tater_server::App;
use tater_testkit::{TestDb, both_engines};

use crate::mcp::poam;
use crate::support::*;

both_engines!(
    both_paths_answer_every_call_alike,
    requests_the_direct_path_leaves_to_rmcp_are_still_served_and_refused
);

/// One HTTP answer, as the client sees it.
#[derive(Debug, PartialEq)]
struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    body: String,
}

/// A stateless request to `base`'s `/mcp`: `body` as sent, with `headers` on top of the
/// credential.
async fn post(
    app: &TestApp,
    base: &str,
    key: &Key,
    headers: &[(&str, String)],
    body: &Value,
) -> Answer {
    let mut req = app
        .client
        .post(format!("{base}/mcp"))
        .header(key.header, &key.value);
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let res = req.body(body.to_string()).send().await.unwrap();
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let mut body = res.text().await.unwrap();
    // A refusal's problem document names its own request; the rest must be the same.
    if content_type.as_deref() == Some("application/problem+json") {
        let mut problem: Value = serde_json::from_str(&body).unwrap();
        problem.as_object_mut().unwrap().remove("requestId");
        body = problem.to_string();
    }
    Answer {
        status,
        content_type,
        body,
    }
}

/// A change to the headers and body of a request.
type Vary = fn(&mut Vec<(&'static str, String)>, &mut Value);

/// The headers a 2026-07-28 client sends with a `tools/call` of `tool`.
fn call_headers(tool: &str) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".into()),
        ("accept", "application/json, text/event-stream".into()),
        ("mcp-protocol-version", "2026-07-28".into()),
        ("mcp-method", "tools/call".into()),
        ("mcp-name", tool.into()),
    ]
}

/// A `tools/call` body as a 2026-07-28 client sends it.
fn call_body(id: Value, tool: &str, arguments: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "tools/call",
        "params": {
            "name": tool,
            "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": { "name": "claude-code", "version": "2" },
            },
        },
    })
}

/// A second server on `db_url` that sends every `/mcp` request through rmcp.
async fn sdk_only(db_url: &str) -> TestApp {
    let mut cfg = config_for_url(db_url);
    cfg.mcp.sdk_only = true;
    let app = App::build(cfg).await.expect("app builds");
    TestApp::start(app, None, tater_testkit::entra::FakeEntra::start().await)
}

async fn both_paths_answer_every_call_alike(db: TestDb) {
    let url = db.url.clone();
    let app = TestApp::spawn(db).await;
    let sdk = sdk_only(&url).await;
    let org = app.org("Transport").await;
    let boss = app.member(org, "boss@transport.test", Role::OrgAdmin).await;
    let viewer = app.member(org, "viewer@transport.test", Role::Viewer).await;
    let item = app.create("poam", &boss, poam()).await;
    let id = item["id"].as_str().unwrap();
    let before = app.snapshot(org).await;

    let calls: Vec<(&Key, Value, &str, Value)> = vec![
        // Answers: one record, a page, a control of the catalog.
        (&boss, json!(1), "get_poam_item", json!({ "id": id })),
        (
            &boss,
            json!("a-string-id"),
            "list_poam_items",
            json!({ "limit": 5 }),
        ),
        (&boss, json!(3), "get_control", json!({ "id": "ac-2" })),
        // Tool errors: a record that is not there, input that does not validate, a write
        // by an API key whose identity is not verified.
        (&boss, json!(4), "get_poam_item", json!({ "id": new_id() })),
        (&boss, json!(5), "create_poam_item", json!({ "title": 7 })),
        (&boss, json!(6), "create_poam_item", poam()),
        // JSON-RPC errors: a tool that does not exist, and one a viewer may not call.
        (&boss, json!(7), "no_such_tool", json!({})),
        (&viewer, json!(8), "create_poam_item", poam()),
    ];
    for (key, rpc_id, tool, arguments) in calls {
        let headers = call_headers(tool);
        let body = call_body(rpc_id, tool, arguments);
        let direct = post(&app, &app.base, key, &headers, &body).await;
        let through_sdk = post(&app, &sdk.base, key, &headers, &body).await;
        assert_eq!(direct, through_sdk, "{tool}");
        assert_eq!(direct.content_type.as_deref(), Some("application/json"));
        let answer: Value = serde_json::from_str(&direct.body).unwrap();
        assert_eq!(answer["id"], body["id"], "{tool}: {answer}");
    }
    // Variants of one read that clients send: a charset on the content type, a progress
    // token, ids of other forms (a fractional one is no JSON-RPC id: rmcp refuses it on both).
    let variants: [(&str, Vary); 4] = [
        ("charset", |h, _| {
            h[0].1 = "application/json; charset=utf-8".into()
        }),
        ("progress token", |_, b| {
            b["params"]["_meta"]["progressToken"] = json!("p-1")
        }),
        ("string id", |_, b| b["id"] = json!("1")),
        ("fractional id", |_, b| b["id"] = json!(1.5)),
    ];
    for (name, vary) in variants {
        let mut headers = call_headers("get_poam_item");
        let mut body = call_body(json!(9), "get_poam_item", json!({ "id": id }));
        vary(&mut headers, &mut body);
        let direct = post(&app, &app.base, &boss, &headers, &body).await;
        let through_sdk = post(&app, &sdk.base, &boss, &headers, &body).await;
        assert_eq!(direct, through_sdk, "{name}");
    }
    // Nothing above changed the organization (the write was refused).
    assert_eq!(app.snapshot(org).await, before);
}

async fn requests_the_direct_path_leaves_to_rmcp_are_still_served_and_refused(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Leftovers").await;
    let boss = app.member(org, "boss@leftovers.test", Role::OrgAdmin).await;
    let item = app.create("poam", &boss, poam()).await;
    let id = item["id"].as_str().unwrap();
    let base = app.base.clone();
    let body = call_body(json!(1), "get_poam_item", json!({ "id": id }));
    let plain = post(&app, &base, &boss, &call_headers("get_poam_item"), &body).await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.body);

    // The tool named in SEP-2243's Base64 form: rmcp decodes it and answers the same.
    let encoded = format!(
        "=?base64?{}?=",
        base64::engine::general_purpose::STANDARD.encode("get_poam_item")
    );
    let mut headers = call_headers("get_poam_item");
    headers[4].1 = encoded;
    assert_eq!(post(&app, &base, &boss, &headers, &body).await, plain);

    // A field the direct path does not know (rmcp ignores it): the same answer.
    let mut extra = body.clone();
    extra["extension"] = json!(true);
    let headers = call_headers("get_poam_item");
    assert_eq!(post(&app, &base, &boss, &headers, &extra).await, plain);

    // Headers that contradict the body are rmcp's to refuse, as before, with the JSON-RPC
    // error MCP clients read (not rewritten into a problem document).
    let headers = call_headers("list_poam_items");
    let refused = post(&app, &base, &boss, &headers, &body).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(refused.content_type.as_deref(), Some("application/json"));
    let error: Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(error["error"]["code"], -32020, "{error}");
    assert_eq!(error["id"], 1, "{error}");
    // A revision the server does not speak: the error says so, for the client to choose.
    let mut headers = call_headers("get_poam_item");
    headers[2].1 = "2099-01-01".into();
    let mut future = body.clone();
    future["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let refused = post(&app, &base, &boss, &headers, &future).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    let error: Value = serde_json::from_str(&refused.body).unwrap();
    assert!(error["error"]["code"].is_i64(), "{error}");
    assert!(refused.body.contains("2026-07-28"), "{error}");
    // The revision named in the header alone (a session-style request, no `_meta`): rmcp's
    // one-line reason becomes the problem's detail, not a generic "could not be processed".
    let headers = vec![
        ("content-type", "application/json".to_owned()),
        ("accept", "application/json, text/event-stream".to_owned()),
        ("mcp-protocol-version", "2099-01-01".to_owned()),
    ];
    let listing = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {} });
    let refused = post(&app, &base, &boss, &headers, &listing).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(
        refused.content_type.as_deref(),
        Some("application/problem+json")
    );
    let problem: Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(problem["error"], "BAD_REQUEST", "{problem}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    // rmcp's reason, without the status name the title already gives.
    assert!(
        detail.starts_with("Unsupported MCP-Protocol-Version: 2099-01-01"),
        "{problem}"
    );

    // No Accept for event streams, a browser's foreign Origin, a Host not allowed.
    let mut headers = call_headers("get_poam_item");
    headers[1].1 = "application/json".into();
    let res = post(&app, &base, &boss, &headers, &body).await;
    assert_eq!(res.status, StatusCode::NOT_ACCEPTABLE);
    assert!(res.body.contains("NOT_ACCEPTABLE"), "{}", res.body);
    let mut headers = call_headers("get_poam_item");
    headers.push(("origin", "https://evil.example".into()));
    let res = post(&app, &base, &boss, &headers, &body).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.body.contains("FORBIDDEN"), "{}", res.body);
    let mut headers = call_headers("get_poam_item");
    headers.push(("host", "evil.example".into()));
    let res = post(&app, &base, &boss, &headers, &body).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // The endpoint is `/mcp` exactly.
    let headers = call_headers("get_poam_item");
    let res = post(&app, &format!("{base}/mcp"), &boss, &headers, &body).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // `_meta` without the client's capabilities: rmcp's malformed-request answer.
    let mut bare = body.clone();
    bare["params"]["_meta"]
        .as_object_mut()
        .unwrap()
        .remove("io.modelcontextprotocol/clientCapabilities");
    let headers = call_headers("get_poam_item");
    let res = post(&app, &base, &boss, &headers, &bare).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
}
