//! The MCP endpoint, driven by a client Tater did not write: the official MCP Python SDK, in
//! both protocol revisions (2026-07-28 stateless, 2025-11-25 with the initialize handshake).

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::{Role, Timestamp};
use tater_service::{Clock, FixedClock};
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    sessions_serve_only_their_opener_and_are_capped,
    tools_answer_what_rest_answers_in_both_revisions,
    writes_need_a_verified_identity_and_are_attributed,
    a_viewer_neither_sees_nor_calls_write_tools,
    an_organizations_tool_policy_hides_and_refuses_tools,
    files_come_back_embedded_with_their_type_and_are_audited_as_mcp,
    large_files_come_as_short_lived_links_that_end_with_their_caller,
    upsert_config_doc_creates_then_replaces_by_title
);

/// Whether the MCP Python SDK is installed (`pip install mcp`; `.ci/run` installs it). Without
/// it these tests say "skipped" rather than fail a newcomer's run.
pub async fn sdk() -> bool {
    let found = tokio::process::Command::new("python3")
        .args(["-c", "import mcp, httpx2"])
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: the MCP Python SDK is not installed (pip install mcp)");
    }
    found
}

/// Runs `python/mcp_client.py` against `/mcp` as `key`: lists the tools, then makes `calls`.
async fn mcp(app: &TestApp, key: &Key, mode: &str, client: &str, calls: Value) -> Value {
    mcp_with(app, key, mode, client, calls, &[]).await
}

/// [`mcp`] with environment variables for the client (`TATER_TEST_MAILDIR`).
pub async fn mcp_with(
    app: &TestApp,
    key: &Key,
    mode: &str,
    client: &str,
    calls: Value,
    env: &[(&str, &std::path::Path)],
) -> Value {
    mcp_via(&app.url("/mcp"), key, mode, client, calls, env).await
}

/// [`mcp_with`] at `url`: an `/mcp` endpoint, or `stdio:BINARY` for the stdio bridge.
pub async fn mcp_via(
    url: &str,
    key: &Key,
    mode: &str,
    client: &str,
    calls: Value,
    env: &[(&str, &std::path::Path)],
) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api/python/mcp_client.py"
    );
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .arg(url)
        .arg(key.header)
        .arg(&key.value)
        .arg(mode)
        .arg(client)
        .arg(calls.to_string())
        .envs(env.iter().copied())
        .output()
        .await
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the MCP client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the client prints JSON")
}

pub fn tool<'a>(listed: &'a Value, name: &str) -> Option<&'a Value> {
    listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
}

pub fn poam() -> Value {
    json!({ "title": "From an assistant", "weaknessDescription": "w", "impact": "Low",
            "scheduledCompletion": "2030-01-01", "controls": ["AC-2"] })
}

async fn tools_answer_what_rest_answers_in_both_revisions(db: TestDb) {
    if !sdk().await {
        return;
    }
    let clock = Arc::new(FixedClock::new(Timestamp::from_millis(1_800_000_000_000)));
    let app = TestApp::spawn_with(db, clock).await;
    let org = app.org("MCP").await;
    let boss = app.member(org, "boss@mcp.test", Role::OrgAdmin).await;
    app.create("poam", &boss, poam()).await;
    for (mode, protocol) in [("auto", "2026-07-28"), ("legacy", "2025-11-25")] {
        let calls = json!([["get_posture", {}], ["list_poam_items", { "limit": 5 }],
                           ["get_control", { "id": "ac-2" }]]);
        let out = mcp(&app, &boss, mode, "test-client", calls).await;
        assert_eq!(out["protocol"], protocol);
        let tools = out["tools"].as_array().unwrap();
        // Every use case an OrgAdmin may call, files included (SPEC I1 asks for 75); only
        // the cross-organization ones are a SuperAdmin's alone, and an auditor token's
        // reads are nobody's tools.
        let member_callable = tater_service::use_cases::registry()
            .iter()
            .filter(|c| c.is_tool() && !c.name.starts_with("cross_org_"))
            .count();
        assert_eq!(tools.len(), member_callable, "{} tools", tools.len());
        assert!(tools.len() >= 100, "{} tools", tools.len());
        // Hundreds of tools with their schemas come in pages the SDK reads one by one (it
        // refuses a message over 1 MiB), each tool exactly once.
        assert!(out["pages"].as_u64().unwrap() > 1, "{}", out["pages"]);
        let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), tools.len(), "no tool listed twice");
        eprintln!(
            "tools/list: {} tools in {} pages",
            tools.len(),
            out["pages"]
        );
        for seed in [
            "create_risk_acceptance",
            "execute_script",
            "trigger_remediation",
            "upsert_config_doc",
        ] {
            assert!(tool(&out, seed).is_some(), "{seed} missing");
        }
        for t in tools {
            let name = t["name"].as_str().unwrap();
            assert_eq!(t["inputSchema"]["type"], "object", "{name}");
            assert_eq!(
                t["outputSchema"]["type"], "object",
                "{name} has no object output schema"
            );
            assert!(
                !t["description"].as_str().unwrap_or("").is_empty(),
                "{name}"
            );
            let case = tater_service::use_cases::registry()
                .iter()
                .find(|c| c.tool == name)
                .unwrap();
            assert_eq!(t["readOnly"], case.hints.read_only, "{name}");
            assert_eq!(t["destructive"], case.hints.destructive, "{name}");
        }
        assert_eq!(tool(&out, "execute_script").unwrap()["destructive"], true);
        // The same answers as REST (the client also checked each against its output schema).
        let rest = [
            app.get("/api/posture", &boss).await.1,
            app.get("/api/poam?limit=5", &boss).await.1,
            app.get("/api/controls/ac-2", &boss).await.1,
        ];
        for (call, rest) in out["calls"].as_array().unwrap().iter().zip(rest) {
            assert_eq!(call["isError"], false, "{call}");
            assert_eq!(call["structured"], rest, "{}", call["tool"]);
            // And the same JSON as text, for clients that read only text.
            let text: Value = serde_json::from_str(call["text"][0].as_str().unwrap()).unwrap();
            assert_eq!(text, rest);
        }
    }
}

async fn writes_need_a_verified_identity_and_are_attributed(db: TestDb) {
    if !sdk().await {
        return;
    }
    let app = TestApp::spawn(db).await;
    let org = app.org("Writes").await;
    let key = app.member(org, "keyholder@mcp.test", Role::Admin).await;
    // An API key's owner has not verified who they are: the write is refused, nothing changes.
    let before = app.snapshot(org).await;
    let out = mcp(
        &app,
        &key,
        "auto",
        "claude-code",
        json!([["create_poam_item", poam()]]),
    )
    .await;
    let call = &out["calls"][0];
    assert_eq!(call["isError"], true, "{call}");
    assert_eq!(call["structured"]["error"]["code"], "IDENTITY_UNVERIFIED");
    assert_eq!(
        app.snapshot(org).await,
        before,
        "an unverified write changed something"
    );

    // A signed-in person's session counts as verified; the change is audited by channel.
    let person = app.person(org, "person@mcp.test", Role::Admin).await;
    for (mode, client, via) in [
        ("legacy", "Claude-Desktop", "claude"),
        ("auto", "some-ide", "mcp"),
    ] {
        let out = mcp(
            &app,
            &person,
            mode,
            client,
            json!([["create_poam_item", poam()]]),
        )
        .await;
        let call = &out["calls"][0];
        assert_eq!(call["isError"], false, "{call}");
        let id = call["structured"]["id"].as_str().unwrap().to_owned();
        let (_, log) = app.get("/api/audit-log?entityType=poam", &person).await;
        let entry = log["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["entityId"] == id.as_str())
            .unwrap_or_else(|| panic!("no audit entry for {id}"));
        assert_eq!(entry["via"], via, "{client}");
        assert_eq!(entry["upn"], "person@mcp.test");
    }
}

async fn a_viewer_neither_sees_nor_calls_write_tools(db: TestDb) {
    if !sdk().await {
        return;
    }
    let app = TestApp::spawn(db).await;
    let org = app.org("Viewers").await;
    let viewer = app.person(org, "viewer@mcp.test", Role::Viewer).await;
    let before = app.snapshot(org).await;
    let calls = json!([["create_poam_item", poam()], ["list_api_keys", {}]]);
    let out = mcp(&app, &viewer, "auto", "claude-code", calls).await;
    // Through MCP a viewer changes nothing: the only non-read tools it sees are the identity
    // step (asking for and entering an emailed code).
    for t in out["tools"].as_array().unwrap() {
        let case = tater_service::use_cases::registry()
            .iter()
            .find(|c| c.tool == t["name"].as_str().unwrap())
            .unwrap();
        assert!(
            t["readOnly"] == true || case.identity_step,
            "a viewer sees {}",
            t["name"]
        );
    }
    // Calling a tool one may not see is the same as calling one that does not exist.
    for call in out["calls"].as_array().unwrap() {
        assert_eq!(call["protocolError"], -32602, "{call}");
    }
    // Every write tool, called directly, as a viewer and as an auditor.
    let auditor = app.person(org, "auditor@mcp.test", Role::Auditor).await;
    let writes = tater_service::use_cases::registry()
        .iter()
        .filter(|c| c.invoke.is_some() && !c.hints.read_only && !c.identity_step);
    let mut called = 0;
    for case in writes {
        for who in [&viewer, &auditor] {
            let answer = raw_call(&app, who, &case.tool, json!({ "id": "x" }))
                .await
                .expect("HTTP 200");
            assert_eq!(answer["error"]["code"], -32602, "{}: {answer}", case.tool);
            called += 1;
        }
    }
    assert!(called > 60, "{called} calls");
    let mut after = app.snapshot(org).await;
    // The auditor's account joined the organization (one audited membership), nothing else.
    after["auditSeq"] = before["auditSeq"].clone();
    assert_eq!(after, before);
    // Without a credential: 401 naming where to learn how to sign in.
    let res = app
        .client
        .post(app.url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("/.well-known/oauth-protected-resource"),
        "{challenge}"
    );
    let (status, meta) = json_of(
        app.client
            .get(app.url("/.well-known/oauth-protected-resource"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        meta["resource"].as_str().unwrap().ends_with("/mcp"),
        "{meta}"
    );
    // With Entra ID configured, its authorization server (the JWKS's authority) is named.
    let issuer = meta["authorization_servers"][0].as_str().unwrap();
    assert!(issuer.ends_with("/common/v2.0"), "{meta}");
}

/// Opens a 2025-11-25 session by hand (raw JSON-RPC `initialize`) and answers its id.
async fn open_session(app: &TestApp, key: &Key) -> String {
    let res = app
        .client
        .post(app.url("/mcp"))
        .header(key.header, &key.value)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(
            json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": { "name": "raw", "version": "1" } } })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.headers()["mcp-session-id"].to_str().unwrap().to_owned()
}

/// A request on session `id` as `key`: its status.
async fn on_session(app: &TestApp, key: &Key, id: &str) -> StatusCode {
    app.client
        .post(app.url("/mcp"))
        .header(key.header, &key.value)
        .header("mcp-session-id", id)
        .header("mcp-protocol-version", "2025-11-25")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }).to_string())
        .send()
        .await
        .unwrap()
        .status()
}

async fn sessions_serve_only_their_opener_and_are_capped(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let a = app.org("A").await;
    let b = app.org("B").await;
    let alice = app.member(a, "alice@a.test", Role::Admin).await;
    let mallory = app.member(b, "mallory@b.test", Role::OrgAdmin).await;
    let id = open_session(&app, &alice).await;
    assert_eq!(on_session(&app, &alice, &id).await, StatusCode::OK);
    // Someone else holding the id finds no such session, and cannot close it.
    assert_eq!(on_session(&app, &mallory, &id).await, StatusCode::NOT_FOUND);
    let closed = app
        .client
        .delete(app.url("/mcp"))
        .header(mallory.header, &mallory.value)
        .header("mcp-session-id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), StatusCode::NOT_FOUND);
    assert_eq!(on_session(&app, &alice, &id).await, StatusCode::OK);
    // One account keeps a bounded number of sessions: opening more closes the oldest.
    for _ in 0..tater_mcp::SESSIONS_PER_PRINCIPAL {
        open_session(&app, &alice).await;
    }
    assert_eq!(on_session(&app, &alice, &id).await, StatusCode::NOT_FOUND);
    // A request naming a host the server was not configured for is refused (DNS rebinding).
    let rebound = app
        .client
        .post(app.url("/mcp"))
        .header("host", "attacker.example")
        .header(alice.header, &alice.value)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(
            json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": { "name": "raw", "version": "1" } } })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), StatusCode::FORBIDDEN);
}

/// One `tools/call` as a 2026-07-28 client sends it, by hand (stateless: no session): the
/// JSON-RPC answer, or the HTTP status when the request is refused before MCP sees it.
pub async fn raw_call(
    app: &TestApp,
    key: &Key,
    tool: &str,
    arguments: Value,
) -> Result<Value, StatusCode> {
    raw_call_in(app, key, None, tool, arguments).await
}

/// [`raw_call`] naming the organization to act in (`x-organization-id`).
pub async fn raw_call_in(
    app: &TestApp,
    key: &Key,
    org: Option<&str>,
    tool: &str,
    arguments: Value,
) -> Result<Value, StatusCode> {
    let params = json!({ "name": tool, "arguments": arguments });
    raw_rpc(app, key, org, "tools/call", Some(tool), params).await
}

/// The names `tools/list` shows `key`, as a 2026-07-28 client sees them, every page.
pub async fn raw_tool_names(app: &TestApp, key: &Key) -> Vec<String> {
    let mut names = Vec::new();
    let mut params = json!({});
    loop {
        let answer = raw_rpc(app, key, None, "tools/list", None, params)
            .await
            .expect("HTTP 200");
        let page = answer["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"));
        names.extend(page.iter().map(|t| t["name"].as_str().unwrap().to_owned()));
        match answer["result"]["nextCursor"].as_str() {
            Some(next) => params = json!({ "cursor": next }),
            None => return names,
        }
    }
}

/// One stateless 2026-07-28 request: the JSON-RPC answer, or the HTTP status when the
/// request is refused before MCP sees it.
async fn raw_rpc(
    app: &TestApp,
    key: &Key,
    org: Option<&str>,
    method: &str,
    name: Option<&str>,
    mut params: Value,
) -> Result<Value, StatusCode> {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "raw-test", "version": "1" },
    });
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let mut req = app
        .client
        .post(app.url("/mcp"))
        .header(key.header, &key.value)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    if let Some(name) = name {
        req = req.header("mcp-name", name);
    }
    if let Some(org) = org {
        req = req.header("x-organization-id", org);
    }
    let res = req.body(body.to_string()).send().await.unwrap();
    if !res.status().is_success() {
        return Err(res.status());
    }
    Ok(res.json().await.unwrap())
}

async fn an_organizations_tool_policy_hides_and_refuses_tools(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Policy").await;
    let boss = app.person(org, "boss@policy.test", Role::OrgAdmin).await;
    let admin = app.person(org, "admin@policy.test", Role::Admin).await;
    let viewer = app.person(org, "viewer@policy.test", Role::Viewer).await;
    let (status, policy) = app.get("/api/settings/mcp", &boss).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(policy["mode"], "permissive");
    assert!(
        raw_tool_names(&app, &admin)
            .await
            .contains(&"create_poam_item".to_owned())
    );
    // Only OrgAdmins set it, and only with tool names.
    let disable = json!({ "disabledTools": ["create_poam_item", "export_organization_data"] });
    let (status, _) = app
        .send(Method::PUT, "/api/settings/mcp", &admin, &disable)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let bad = json!({ "disabledTools": ["drop_everything"] });
    let (status, problem) = app
        .send(Method::PUT, "/api/settings/mcp", &boss, &bad)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "disabledTools[0]");

    // A disabled tool is gone from the list and refused when called directly.
    let (status, _) = app
        .send(Method::PUT, "/api/settings/mcp", &boss, &disable)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, log) = app.get("/api/audit-log?entityType=mcp-policy", &boss).await;
    assert_eq!(log["items"].as_array().unwrap().len(), 1, "{log}");
    let before = app.snapshot(org).await;
    assert!(
        !raw_tool_names(&app, &admin)
            .await
            .contains(&"create_poam_item".to_owned())
    );
    // File tools too.
    assert!(
        !raw_tool_names(&app, &boss)
            .await
            .contains(&"export_organization_data".to_owned())
    );
    let answer = raw_call(&app, &boss, "export_organization_data", json!({}))
        .await
        .unwrap();
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    let answer = raw_call(&app, &admin, "create_poam_item", poam())
        .await
        .unwrap();
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    assert_eq!(app.snapshot(org).await, before);

    // Strict: each role sees only its allowlist (and the identity step, always).
    let strict = json!({ "mode": "strict", "roleAllowlists": {
        "viewer": ["list_poam_items", "get_posture"], "orgadmin": ["get_mcp_policy", "set_mcp_policy"] },
        "disabledTools": ["get_posture"] });
    let (status, _) = app
        .send(Method::PUT, "/api/settings/mcp", &boss, &strict)
        .await;
    assert_eq!(status, StatusCode::OK);
    let step = ["request_identity_verification", "verify_identity"];
    let mut seen = raw_tool_names(&app, &viewer).await;
    seen.retain(|t| !step.contains(&t.as_str()));
    assert_eq!(seen, ["list_poam_items"]);
    let mut seen = raw_tool_names(&app, &admin).await;
    seen.retain(|t| !step.contains(&t.as_str()));
    assert!(seen.is_empty(), "{seen:?}");
    // A cursor naming a tool this caller is not shown (or none at all) starts nothing.
    for cursor in ["get_posture", "no_such_tool"] {
        let params = json!({ "cursor": cursor });
        let answer = raw_rpc(&app, &viewer, None, "tools/list", None, params)
            .await
            .unwrap();
        assert_eq!(answer["error"]["code"], -32602, "{cursor}: {answer}");
        assert_eq!(answer["error"]["data"]["code"], "BAD_CURSOR", "{answer}");
    }
    for (who, tool) in [(&viewer, "get_posture"), (&admin, "list_poam_items")] {
        let answer = raw_call(&app, who, tool, json!({})).await.unwrap();
        assert_eq!(answer["error"]["code"], -32602, "{tool}: {answer}");
    }
    let answer = raw_call(&app, &viewer, "list_poam_items", json!({}))
        .await
        .unwrap();
    assert!(
        answer["result"]["structuredContent"]["items"].is_array(),
        "{answer}"
    );
    // The OrgAdmin can still change it back through MCP.
    let answer = raw_call(&app, &boss, "set_mcp_policy", json!({}))
        .await
        .unwrap();
    assert_eq!(
        answer["result"]["structuredContent"]["mode"], "permissive",
        "{answer}"
    );
    assert!(
        raw_tool_names(&app, &admin)
            .await
            .contains(&"create_poam_item".to_owned())
    );
}

async fn files_come_back_embedded_with_their_type_and_are_audited_as_mcp(db: TestDb) {
    if !sdk().await {
        return;
    }
    let app = TestApp::spawn(db).await;
    let org = app.org("Files").await;
    let boss = app.person(org, "boss@files.test", Role::OrgAdmin).await;
    app.create("poam", &boss, poam()).await;
    let calls = json!([
        ["export_poam_items", { "format": "csv" }],
        ["export_ssp", { "format": "docx" }],
        ["export_organization_data", {}],
        ["export_poam_items", { "format": "xml" }],
    ]);
    let out = mcp(&app, &boss, "auto", "claude-desktop", calls).await;
    let c = out["calls"].as_array().unwrap();
    // Text comes back as text, the same bytes REST serves.
    assert_eq!(c[0]["isError"], false, "{}", c[0]);
    let csv = &c[0]["resources"][0];
    assert!(
        csv["mimeType"].as_str().unwrap().starts_with("text/csv"),
        "{csv}"
    );
    let rest = app
        .req(Method::GET, "/api/poam/export?format=csv", &boss)
        .send()
        .await
        .unwrap();
    assert_eq!(csv["text"].as_str().unwrap(), rest.text().await.unwrap());
    assert_eq!(c[0]["structured"]["file"]["embedded"], true);
    assert!(
        c[0]["structured"]["file"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("/api/poam/export?format=csv")
    );
    // A file past the embedding cap comes as a download link that needs no credential: the
    // Word SSP (the whole SP 800-53 catalog) is larger than 512 KiB.
    let docx = &c[1];
    assert_eq!(docx["structured"]["file"]["embedded"], false, "{docx}");
    let link = docx["resources"][0]["link"].as_str().unwrap();
    assert_eq!(docx["structured"]["file"]["uri"], link, "{docx}");
    let fetched = app.client.get(link).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    let bytes = fetched.bytes().await.unwrap();
    assert!(bytes.len() > tater_mcp::EMBED_MAX_BYTES && bytes.starts_with(b"PK"));
    // Binary files within the cap come as base64 with their type: the organization's zip.
    let zip = &c[2]["resources"][0];
    assert_eq!(zip["mimeType"], "application/zip");
    assert!(base64_decode(zip["blob"].as_str().unwrap()).starts_with(b"PK"));
    // A refusal is the REST problem's code as a tool error.
    assert_eq!(c[3]["isError"], true);
    assert_eq!(
        c[3]["structured"]["error"]["code"], "VALIDATION_FAILED",
        "{}",
        c[3]
    );
    // The audited export says it came through Claude, and which client.
    let (_, log) = app
        .get("/api/audit-log?entityType=data-export", &boss)
        .await;
    let entry = &log["items"][0];
    assert_eq!(entry["via"], "claude", "{log}");
    assert_eq!(
        entry["changes"]["_client"]["name"], "claude-desktop",
        "{entry}"
    );
}

/// A file too large to embed comes as a link that works without a credential, for a few
/// minutes, for its one file, and only while its caller could still fetch the file.
async fn large_files_come_as_short_lived_links_that_end_with_their_caller(db: TestDb) {
    let clock = Arc::new(ShiftedClock::default());
    let app = TestApp::spawn_with(db, clock.clone()).await;
    let org = app.org("Links").await;
    let boss = app.person(org, "boss@links.test", Role::OrgAdmin).await;
    let key = app.api_key_of("boss@links.test", Some(org)).await;
    let link = || async {
        let answer = raw_call(&app, &key, "export_ssp", json!({ "format": "docx" }))
            .await
            .unwrap();
        let file = &answer["result"]["structuredContent"]["file"];
        assert_eq!(file["embedded"], false, "{answer}");
        let expires = Timestamp::parse(file["expiresAt"].as_str().unwrap()).unwrap();
        let uri = file["uri"].as_str().unwrap().to_owned();
        assert!(uri.starts_with(&app.url("/api/downloads?token=")), "{uri}");
        (uri, expires)
    };
    let fetch = |uri: String| {
        let client = app.client.clone();
        async move { client.get(uri).send().await.unwrap() }
    };
    let (first, expires) = link().await;
    let ttl = expires.millis() - clock.now().millis();
    assert!(
        ttl > 0 && ttl <= tater_service::LINK_TTL_SECS * 1000,
        "{ttl}"
    );
    // No credential: the link is one. The file is the Word SSP, served as an attachment.
    let res = fetch(first.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.len() > tater_mcp::EMBED_MAX_BYTES && bytes.starts_with(b"PK"));

    // A changed token, no token, and credentials of the wrong kind are all refused alike.
    let mut forged = first.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(fetch(forged).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        fetch(app.url("/api/downloads")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let session_as_link = app.url(&format!("/api/downloads?token={}", boss.value));
    assert_eq!(
        fetch(session_as_link).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let token = first.split("token=").nth(1).unwrap();
    let link_as_session = app
        .client
        .get(app.url("/api/ssp?format=docx"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(link_as_session.status(), StatusCode::UNAUTHORIZED);

    // Past its few minutes, the link is dead.
    clock.advance_secs(tater_service::LINK_TTL_SECS + 1);
    assert_eq!(fetch(first).await.status(), StatusCode::UNAUTHORIZED);

    // Revoking the key ends the links it made, however fresh.
    let (second, _) = link().await;
    assert_eq!(fetch(second.clone()).await.status(), StatusCode::OK);
    let (_, keys) = app.get("/api/api-keys", &boss).await;
    let id = keys["items"][0]["id"].as_str().unwrap();
    let revoked = app
        .status(Method::DELETE, &format!("/api/api-keys/{id}"), &boss)
        .await;
    assert!(revoked.is_success(), "{revoked}");
    assert_eq!(fetch(second).await.status(), StatusCode::UNAUTHORIZED);

    // A session's link ends when its person signs out everywhere.
    let own = app.login("boss@links.test").await;
    let answer = raw_call(&app, &own, "export_ssp", json!({ "format": "docx" }))
        .await
        .unwrap();
    let third = answer["result"]["structuredContent"]["file"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(fetch(third.clone()).await.status(), StatusCode::OK);
    clock.advance_secs(1);
    let out = app.status(Method::POST, "/api/auth/logout-all", &own).await;
    assert!(out.is_success(), "{out}");
    assert_eq!(fetch(third).await.status(), StatusCode::UNAUTHORIZED);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

async fn upsert_config_doc_creates_then_replaces_by_title(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Docs").await;
    let admin = app.person(org, "admin@docs.test", Role::Admin).await;
    // A document whose body mentions the title is not the one titled so.
    app.create(
        "config-docs",
        &admin,
        json!({ "title": "Other", "body": "see SSH baseline" }),
    )
    .await;
    let doc = |body: &str| json!({ "title": "SSH baseline", "body": body, "tags": ["ssh"] });
    let first = raw_call(&app, &admin, "upsert_config_doc", doc("v1"))
        .await
        .unwrap();
    let first = &first["result"]["structuredContent"];
    assert_eq!(first["version"], 1, "{first}");
    let (status, second) = app
        .send(Method::PUT, "/api/config-docs", &admin, &doc("v2"))
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["version"], 2);
    assert_eq!(second["body"], "v2");
    let (_, all) = app.get("/api/config-docs", &admin).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let (status, problem) = app
        .send(
            Method::PUT,
            "/api/config-docs",
            &admin,
            &json!({ "body": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
}

/// With the default log filter, a tool call is one line, the request's own: its request id,
/// tool, channel, organization and client together, and none of rmcp's per-call chatter (three
/// lines a call at `info`, one with the client's whole capabilities).
#[tokio::test]
async fn a_tool_call_is_one_log_line_naming_the_tool_and_channel() {
    let data = tempfile::tempdir().unwrap();
    let (org, keys) =
        crate::process::org_with_keys(data.path(), "Logged", &[("a@log.test", "admin")]);
    let key = &keys[0];
    let log = data.path().join("server.log");
    let server = crate::process::ServerProcess::start_logging_to(data.path(), &[], &log);
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": "get_posture", "arguments": {},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": { "name": "Claude Code", "version": "2.1" },
            },
        },
    });
    let res = reqwest::Client::new()
        .post(format!("{}/mcp", server.base))
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "get_posture")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
    // Stopped, not killed: the server writes its log lines from a queue.
    server.stop();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(&id)).collect();
    assert_eq!(lines.len(), 1, "one line for the call:\n{text}");
    for part in [
        "path=/mcp",
        "tool=get_posture",
        "via=claude",
        &format!("org={org}"),
        "client=\"Claude Code\"",
        // A stateless call as the SDKs send it is answered on the direct path.
        "mcp=direct",
        "status=200",
    ] {
        assert!(lines[0].contains(part), "{part} in {}", lines[0]);
    }
    assert!(!text.contains("rmcp"), "rmcp's per-call lines:\n{text}");
    assert!(!text.contains(key.as_str()), "the key in the log:\n{text}");
}
