//! No silent writes (issue 13 §5): a write through MCP with an API key needs its owner's
//! identity verified by a code emailed through a real SMTP server (aiosmtpd, on loopback),
//! read by the official MCP Python SDK client on one side and by this suite on the other.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::{OrgId, Role, Timestamp};
use tater_service::{FixedClock, MailConfig};
use tater_testkit::smtp::MailSink;
use tater_testkit::{TestDb, both_engines};

use crate::mcp::{mcp_via, mcp_with, poam, raw_call, sdk};
use crate::support::*;

both_engines!(
    an_api_key_verified_by_emailed_code_writes_and_is_attributed,
    codes_resist_guessing_expiry_reuse_and_other_keys,
    a_verification_ends_with_revocation_password_change_and_sign_out,
    without_smtp_the_tool_says_so_and_writes_stay_blocked,
    the_stdio_bridge_serves_the_same_client_in_both_revisions
);

fn mail(sink: &MailSink) -> MailConfig {
    MailConfig {
        smtp_url: sink.url(),
        from: "Tater <tater@verify.test>".into(),
    }
}

/// A server that emails through a fresh sink, when the sink and the MCP Python SDK are both
/// installed (each says "skipped" otherwise).
async fn with_mail_and_sdk(db: TestDb) -> Option<(MailSink, TestApp)> {
    let sink = MailSink::start()?;
    if !sdk().await {
        return None;
    }
    let m = mail(&sink);
    let app = TestApp::spawn_configured(db, move |c| c.verification.mail = Some(m)).await;
    Some((sink, app))
}

/// A server that emails through `sink`, on `clock`.
async fn spawn(db: TestDb, sink: &MailSink, clock: Arc<FixedClock>) -> TestApp {
    let mail = mail(sink);
    TestApp::spawn_configured(db, move |c| {
        c.verification.mail = Some(mail);
        c.clock = clock;
    })
    .await
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(Timestamp::from_millis(
        time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
    )))
}

/// The records of `org` and every audit entry that is not about verifying an identity: what
/// an attack must leave as it was (the verification attempts themselves are audited).
async fn records_and_changes(app: &TestApp, org: OrgId) -> Value {
    let mut snap = app.snapshot(org).await;
    snap.as_object_mut().unwrap().remove("auditSeq");
    let boss = app.api_key_of("boss@verify.test", Some(org)).await;
    let (_, log) = app.get("/api/audit-log?limit=500", &boss).await;
    let changes: Vec<Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["entityType"] != "identity-verification" && e["entityType"] != "api-key")
        .map(|e| e["id"].clone())
        .collect();
    snap["changes"] = Value::Array(changes);
    snap
}

/// What a tool call answered: its structured content (tool errors included).
async fn call(app: &TestApp, key: &Key, tool: &str, args: Value) -> Value {
    let answer = raw_call(app, key, tool, args).await.expect("HTTP 200");
    assert!(answer["error"].is_null(), "{tool}: {answer}");
    answer["result"]["structuredContent"].clone()
}

fn code_of(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

async fn an_api_key_verified_by_emailed_code_writes_and_is_attributed(db: TestDb) {
    let Some((sink, app)) = with_mail_and_sdk(db).await else {
        return;
    };
    let org = app.org("Verify").await;
    app.member(org, "boss@verify.test", Role::OrgAdmin).await;
    let key = app.member(org, "keyholder@verify.test", Role::Admin).await;
    let acceptance = json!({ "control": "AC-2", "justification": "compensating control in place",
                             "expires": in_days(30) });
    let calls = json!([
        ["create_risk_acceptance", acceptance],
        ["request_identity_verification", {}],
        ["verify_identity", { "code": "$EMAILED_CODE" }],
        ["create_risk_acceptance", acceptance],
    ]);
    let maildir = sink.maildir();
    let out = mcp_with(
        &app,
        &key,
        "auto",
        "claude-code",
        calls,
        &[("TATER_TEST_MAILDIR", maildir.as_path())],
    )
    .await;
    let c = out["calls"].as_array().unwrap();
    // Unverified: refused, with the next step named.
    assert_eq!(c[0]["isError"], true, "{}", c[0]);
    assert_eq!(code_of(&c[0]["structured"]), "IDENTITY_UNVERIFIED");
    assert!(
        c[0]["structured"]["error"]["nextStep"]
            .as_str()
            .unwrap()
            .contains("request_identity_verification")
    );
    // The code went to the key owner's address, and only there.
    assert_eq!(c[1]["isError"], false, "{}", c[1]);
    assert_eq!(c[1]["structured"]["sentTo"], "k…@verify.test");
    let mails = sink.messages();
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].to.contains("keyholder@verify.test"),
        "{:?}",
        mails[0]
    );
    let code = sink.last_code_for("keyholder@verify.test").unwrap();
    // Verified, then the write goes through, audited as Claude's.
    assert_eq!(c[2]["isError"], false, "{}", c[2]);
    assert!(c[2]["structured"]["verifiedUntil"].is_string());
    assert_eq!(c[3]["isError"], false, "{}", c[3]);
    let id = c[3]["structured"]["id"].as_str().unwrap();
    let boss = app.api_key_of("boss@verify.test", Some(org)).await;
    let (_, log) = app.get("/api/audit-log?limit=500", &boss).await;
    let entries = log["items"].as_array().unwrap();
    let created = entries
        .iter()
        .find(|e| e["entityId"] == id)
        .expect("the write is audited");
    assert_eq!(created["via"], "claude");
    assert_eq!(created["upn"], "keyholder@verify.test");
    // The client's own name and version, beside the canonical fields.
    assert_eq!(
        created["changes"]["_client"]["name"], "claude-code",
        "{created}"
    );
    assert_eq!(created["changes"]["_client"]["version"], "1.0");
    // The request and the success are audited, and no entry holds the code.
    let steps: Vec<&str> = entries
        .iter()
        .filter(|e| e["entityType"] == "identity-verification")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["update", "create"], "newest first");
    assert!(
        !log.to_string().contains(&code),
        "the code is in the audit log"
    );
    // The same key, verified, writes from another client over 2025-11-25, audited as `mcp`.
    let out = mcp_with(
        &app,
        &key,
        "legacy",
        "vscode-copilot",
        json!([["create_poam_item", poam()]]),
        &[],
    )
    .await;
    let call = &out["calls"][0];
    assert_eq!(call["isError"], false, "{call}");
    let (_, log) = app.get("/api/audit-log?entityType=poam", &boss).await;
    assert_eq!(log["items"][0]["via"], "mcp");
}

async fn codes_resist_guessing_expiry_reuse_and_other_keys(db: TestDb) {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let clock = clock();
    let app = spawn(db, &sink, clock.clone()).await;
    let org = app.org("Attacks").await;
    app.member(org, "boss@verify.test", Role::OrgAdmin).await;
    let a = app.member(org, "a@verify.test", Role::Admin).await;
    let b = app.member(org, "b@verify.test", Role::Admin).await;
    let before = records_and_changes(&app, org).await;
    let unverified = |v: &Value| code_of(v) == "IDENTITY_UNVERIFIED";

    // Wrong code five times: the code is spent, and the right one no longer works (locked).
    call(&app, &a, "request_identity_verification", json!({})).await;

    let right = sink.last_code_for("a@verify.test").unwrap();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for left in (0..5).rev() {
        let v = call(&app, &a, "verify_identity", json!({ "code": wrong })).await;
        assert_eq!(code_of(&v), "VALIDATION_FAILED", "{v}");
        assert!(
            v.to_string().contains(&format!("{left} tries left")) || left == 0,
            "{v}"
        );
    }
    let v = call(&app, &a, "verify_identity", json!({ "code": right })).await;
    assert_eq!(
        code_of(&v),
        "NO_ACTIVE_CODE",
        "the sixth try, right code: {v}"
    );
    assert!(unverified(
        &call(&app, &a, "create_poam_item", poam()).await
    ));

    // A code past its ten minutes.
    call(&app, &a, "request_identity_verification", json!({})).await;
    let stale = sink.last_code_for("a@verify.test").unwrap();
    clock.advance_secs(11 * 60);
    let v = call(&app, &a, "verify_identity", json!({ "code": stale })).await;
    assert_eq!(code_of(&v), "NO_ACTIVE_CODE", "expired: {v}");

    // Another key's code verifies nothing but that key.
    call(&app, &a, "request_identity_verification", json!({})).await;
    call(&app, &b, "request_identity_verification", json!({})).await;
    let bs = sink.last_code_for("b@verify.test").unwrap();
    let v = call(&app, &a, "verify_identity", json!({ "code": bs })).await;
    assert_eq!(code_of(&v), "VALIDATION_FAILED", "b's code for a: {v}");
    assert!(unverified(
        &call(&app, &a, "create_poam_item", poam()).await
    ));

    // At most three codes per key in fifteen minutes.
    let v = call(&app, &a, "request_identity_verification", json!({})).await;
    assert_eq!(code_of(&v), "TOO_MANY_CODES", "{v}");
    let (status, problem) = app
        .send(Method::POST, "/api/me/verification-codes", &a, &json!({}))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{problem}");

    // Nothing changed but the audited attempts; no code was ever logged.
    assert_eq!(records_and_changes(&app, org).await, before);
    let boss = app.api_key_of("boss@verify.test", Some(org)).await;
    let (_, log) = app.get("/api/audit-log?limit=500", &boss).await;
    for c in [&right, &stale, &bs] {
        assert!(
            !log.to_string().contains(c.as_str()),
            "a code in the audit log"
        );
    }
    let failures = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["entityType"] == "identity-verification" && e["action"] == "update")
        .count();
    assert_eq!(
        failures, 8,
        "five wrong, one locked, one expired, one foreign"
    );

    // A's third code still works (the foreign try cost it one of five), then the write does.
    let a3 = sink.last_code_for("a@verify.test").unwrap();
    let v = call(&app, &a, "verify_identity", json!({ "code": a3 })).await;
    assert!(v["verifiedUntil"].is_string(), "{v}");
    let v = call(&app, &a, "verify_identity", json!({ "code": a3 })).await;
    assert_eq!(code_of(&v), "NO_ACTIVE_CODE", "a code is used once: {v}");
    let created = call(&app, &a, "create_poam_item", poam()).await;
    assert!(created["id"].is_string(), "{created}");

    // Minting keys buys no more guesses: at most 10 codes per person a day over all keys.
    let mut sent = 3;
    loop {
        let extra = app.api_key_of("a@verify.test", Some(org)).await;
        let v = call(&app, &extra, "request_identity_verification", json!({})).await;
        if code_of(&v) == "TOO_MANY_CODES" {
            assert!(v.to_string().contains("per person"), "{v}");
            break;
        }
        assert!(v["sentTo"].is_string(), "{v}");
        sent += 1;
        assert!(sent <= 10, "more than 10 codes in a day");
    }
    assert_eq!(sent, 10);

    // Codes are deleted a day after they expired (not before: the limits count them).
    let forget = || async { app.service.forget_expired_web_data().await.unwrap() };
    assert_eq!(forget().await.identity_codes, 0);
    clock.advance_secs(2 * 86_400);
    assert_eq!(forget().await.identity_codes, 11, "a's ten and b's one");
    assert_eq!(forget().await.identity_codes, 0);
}

async fn a_verification_ends_with_revocation_password_change_and_sign_out(db: TestDb) {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let clock = clock();
    let app = spawn(db, &sink, clock.clone()).await;
    let org = app.org("Endings").await;
    let boss = app.person(org, "boss@verify.test", Role::OrgAdmin).await;
    app.person(org, "p@verify.test", Role::Admin).await;
    let verify = |key: Key| {
        let app = &app;
        let sink = &sink;
        async move {
            call(app, &key, "request_identity_verification", json!({})).await;
            let code = sink.last_code_for("p@verify.test").unwrap();
            let v = call(app, &key, "verify_identity", json!({ "code": code })).await;
            assert!(v["verifiedUntil"].is_string(), "{v}");
            key
        }
    };
    let writes = |key: Key| {
        let app = &app;
        async move { call(app, &key, "create_poam_item", poam()).await["id"].is_string() }
    };

    // A code sent before signing out everywhere is void after it.
    let early_key = app.api_key_of("p@verify.test", Some(org)).await;
    call(&app, &early_key, "request_identity_verification", json!({})).await;
    let early = sink.last_code_for("p@verify.test").unwrap();
    clock.advance_secs(1);
    let (status, _) = app
        .send(Method::POST, "/api/auth/logout-all", &early_key, &json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let v = call(
        &app,
        &early_key,
        "verify_identity",
        json!({ "code": early }),
    )
    .await;
    assert_eq!(code_of(&v), "NO_ACTIVE_CODE", "{v}");
    clock.advance_secs(1);
    let person = app.login("p@verify.test").await;

    // Signing out everywhere ends it.
    let key = verify(app.api_key_of("p@verify.test", Some(org)).await).await;
    assert!(writes(key.clone()).await);
    clock.advance_secs(1);
    let (status, _) = app
        .send(Method::POST, "/api/auth/logout-all", &person, &json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!writes(key.clone()).await, "after sign out everywhere");

    // Changing the password ends it.
    clock.advance_secs(1);
    let key = verify(key).await;
    clock.advance_secs(1);
    let fresh = app.login("p@verify.test").await;
    let (status, _) = app
        .send(
            Method::POST,
            "/api/auth/password",
            &fresh,
            &json!({ "currentPassword": TEST_PASSWORD, "newPassword": "another long test password" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!writes(key.clone()).await, "after a password change");

    // Revoking the key ends it; the owner's next key starts unverified, and the old code
    // verifies nothing.
    clock.advance_secs(1);
    let key = verify(key).await;
    let old_code = sink.last_code_for("p@verify.test").unwrap();
    let (_, keys) = app.get("/api/api-keys", &boss).await;
    let listed = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["email"] == "p@verify.test" && k["status"] == "active")
        .unwrap()
        .clone();
    assert!(listed["verifiedUntil"].is_string(), "{listed}");
    let path = format!("/api/api-keys/{}", listed["id"].as_str().unwrap());
    assert_eq!(
        app.status(Method::DELETE, &path, &boss).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        raw_call(&app, &key, "create_poam_item", poam()).await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    let next = app.api_key_of("p@verify.test", Some(org)).await;
    assert!(!writes(next.clone()).await, "a new key starts unverified");
    let v = call(&app, &next, "verify_identity", json!({ "code": old_code })).await;
    assert_eq!(code_of(&v), "NO_ACTIVE_CODE", "{v}");

    // And the window closes by itself (12 hours by default).
    clock.advance_secs(1);
    let next = verify(next).await;
    assert!(writes(next.clone()).await);
    clock.advance_secs(12 * 3600 + 1);
    assert!(!writes(next).await, "past the window");
}

async fn without_smtp_the_tool_says_so_and_writes_stay_blocked(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("No mail").await;
    let key = app.member(org, "k@verify.test", Role::Admin).await;
    let v = call(&app, &key, "request_identity_verification", json!({})).await;
    assert_eq!(code_of(&v), "EMAIL_NOT_CONFIGURED", "{v}");
    let v = call(&app, &key, "create_poam_item", poam()).await;
    assert_eq!(code_of(&v), "IDENTITY_UNVERIFIED", "{v}");
    // A session needs no code.
    let person = app.person(org, "p@verify.test", Role::Admin).await;
    let v = call(&app, &person, "request_identity_verification", json!({})).await;
    assert_eq!(code_of(&v), "ALREADY_VERIFIED", "{v}");
}

/// `tater mcp --server URL`, launched by the official SDK's stdio client as a desktop client
/// would: the same tools, the same answers, the same identity step, attributed to the real
/// client.
async fn the_stdio_bridge_serves_the_same_client_in_both_revisions(db: TestDb) {
    let Some((sink, app)) = with_mail_and_sdk(db).await else {
        return;
    };
    let org = app.org("Bridge").await;
    app.member(org, "boss@verify.test", Role::OrgAdmin).await;
    let key = app.member(org, "bridged@verify.test", Role::Admin).await;
    let binary = format!("stdio:{}", env!("CARGO_BIN_EXE_tater"));
    let server = app.url("");
    let maildir = sink.maildir();
    let env = [
        ("TATER_SERVER", std::path::Path::new(&server)),
        ("TATER_TEST_MAILDIR", maildir.as_path()),
    ];
    let (_, mut rest_posture) = app.get("/api/posture", &key).await;
    rest_posture["generatedAt"] = Value::Null;
    for (mode, protocol) in [("auto", "2026-07-28"), ("legacy", "2025-11-25")] {
        let calls = json!([
            ["get_posture", {}],
            ["create_poam_item", poam()],
            ["request_identity_verification", {}],
            ["verify_identity", { "code": "$EMAILED_CODE" }],
            ["create_poam_item", poam()],
        ]);
        let out = mcp_via(&binary, &key, mode, "Claude Desktop", calls, &env).await;
        assert_eq!(out["protocol"], protocol);
        let c = out["calls"].as_array().unwrap();
        let mut posture = c[0]["structured"].clone();
        posture["generatedAt"] = Value::Null;
        assert_eq!(posture, rest_posture, "{mode}");
        assert_eq!(
            code_of(&c[1]["structured"]),
            "IDENTITY_UNVERIFIED",
            "{mode}: {}",
            c[1]
        );
        assert_eq!(c[3]["isError"], false, "{mode}: {}", c[3]);
        assert_eq!(c[4]["isError"], false, "{mode}: {}", c[4]);
        let id = c[4]["structured"]["id"].as_str().unwrap();
        let (_, log) = app.get("/api/audit-log?entityType=poam", &key).await;
        let entry = log["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["entityId"] == id)
            .unwrap();
        assert_eq!(entry["via"], "claude", "{mode}");
        assert_eq!(entry["changes"]["_client"]["name"], "Claude Desktop");
        // Signing out everywhere ends the verification, so the next revision walks the
        // whole path again.
        if mode == "auto" {
            let (status, _) = app
                .send(Method::POST, "/api/auth/logout-all", &key, &json!({}))
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
    }
}
