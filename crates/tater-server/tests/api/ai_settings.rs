//! The AI features' switch and keys (issue 16 §1): off for every organization until an
//! OrgAdmin turns them on (audited); the organization's own Anthropic API key is stored sealed
//! and bound to it, and no answer, audit entry or database page holds it in clear; the
//! server's key serves others only where the operator says so.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    ai_is_off_until_turned_on_and_the_key_is_never_shown_or_stored_in_clear,
    the_servers_key_serves_only_where_the_operator_offers_it
);

/// A key no other text in the system could contain.
const KEY: &str = "sk-ant-api03-UNIQUEMARKER7f3a9c-ZZZZ-abcdefghijklmnop-WXYZ";

async fn ai_is_off_until_turned_on_and_the_key_is_never_shown_or_stored_in_clear(db: TestDb) {
    let owner = db.owner();
    let app = TestApp::spawn(db).await;
    let org = app.org("Analysts").await;
    let other = app.org("Others").await;
    let boss = app.member(org, "boss@ai.test", Role::OrgAdmin).await;
    let admin = app.member(org, "admin@ai.test", Role::Admin).await;
    let theirs = app.member(other, "boss@others.test", Role::OrgAdmin).await;

    // Off, with no key, until an OrgAdmin acts.
    let (_, settings) = app.get("/api/settings", &boss).await;
    assert_eq!(settings["aiEnabled"], false, "{settings}");
    let (s, ai) = app.get("/api/settings/ai", &boss).await;
    assert_eq!(s, StatusCode::OK, "{ai}");
    assert_eq!(
        (
            &ai["aiEnabled"],
            &ai["keySource"],
            &ai["model"],
            &ai["modelChosen"]
        ),
        (
            &json!(false),
            &json!("none"),
            &json!(tater_service::DEFAULT_ANTHROPIC_MODEL),
            &json!(false)
        )
    );

    // Only an OrgAdmin sets it; a bad key or model is said at its field and saves nothing.
    let body = json!({ "apiKey": KEY, "model": "claude-haiku-5-5" });
    for who in [&admin] {
        let (s, _) = app.send(Method::PUT, "/api/settings/ai", who, &body).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(
            app.get("/api/settings/ai", who).await.0,
            StatusCode::FORBIDDEN
        );
    }
    for (bad, field) in [
        (json!({ "apiKey": "short" }), "apiKey"),
        (
            json!({ "apiKey": "sk-ant has spaces in it, sadly" }),
            "apiKey",
        ),
        (json!({ "model": "claude sonnet" }), "model"),
        (json!({ "apiKey": KEY, "extra": 1 }), "extra"),
    ] {
        let (s, problem) = app.send(Method::PUT, "/api/settings/ai", &boss, &bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {problem}");
        assert!(problem.to_string().contains(field), "{bad}: {problem}");
    }
    let (s, set) = app
        .send(Method::PUT, "/api/settings/ai", &boss, &body)
        .await;
    assert_eq!(s, StatusCode::OK, "{set}");
    assert_eq!(
        (
            &set["keySource"],
            &set["keyLast4"],
            &set["model"],
            &set["modelChosen"]
        ),
        (
            &json!("organization"),
            &json!("WXYZ"),
            &json!("claude-haiku-5-5"),
            &json!(true)
        )
    );
    assert!(set["keySetAt"].is_string());
    // The model alone changes; the key stays.
    let (_, model_only) = app
        .send(
            Method::PUT,
            "/api/settings/ai",
            &boss,
            &json!({ "model": "claude-opus-5-5" }),
        )
        .await;
    assert_eq!(
        (&model_only["keyLast4"], &model_only["model"]),
        (&json!("WXYZ"), &json!("claude-opus-5-5"))
    );
    // Another organization's settings know nothing of it.
    let (_, elsewhere) = app.get("/api/settings/ai", &theirs).await;
    assert_eq!(elsewhere["keySource"], "none");

    // Turned on through the settings document, audited; the other switches stay.
    let (s, on) = app
        .send(
            Method::PUT,
            "/api/settings",
            &boss,
            &json!({ "remoteExecution": false, "aiEnabled": true }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{on}");
    assert_eq!(on["aiEnabled"], true);
    let (_, kept) = app
        .send(
            Method::PUT,
            "/api/settings",
            &boss,
            &json!({ "remoteExecution": false }),
        )
        .await;
    assert_eq!(kept["aiEnabled"], true, "left out: unchanged");
    assert_eq!(
        app.get("/api/settings/ai", &boss).await.1["aiEnabled"],
        true
    );

    // The key is in no answer, no audit entry, and nowhere in the database in clear.
    let entries = app.audit_entries(org).await;
    let ai_entries: Vec<_> = entries
        .iter()
        .filter(|e| e["entityType"] == "ai-settings")
        .collect();
    assert_eq!(ai_entries.len(), 2, "{ai_entries:?}");
    assert_eq!(ai_entries[1]["changes"]["apiKey"]["after"], "set (…WXYZ)");
    let settings_entry = entries
        .iter()
        .find(|e| e["entityType"] == "settings")
        .unwrap();
    assert_eq!(settings_entry["changes"]["aiEnabled"]["after"], true);
    let (_, log) = app.get("/api/audit-log?limit=500", &boss).await;
    let (_, via_mcp) = app.get("/api/settings/ai", &boss).await;
    for text in [
        set.to_string(),
        model_only.to_string(),
        via_mcp.to_string(),
        log.to_string(),
        format!("{entries:?}"),
    ] {
        assert!(!text.contains("UNIQUEMARKER"), "the key leaked: {text}");
    }
    let stored = owner.everything();
    let holds = |text: &[u8]| stored.windows(text.len()).any(|w| w == text);
    assert!(holds(b"Analysts"), "the dump reads the data");
    assert!(holds(b"WXYZ"), "its last four characters are kept in clear");
    assert!(
        !holds(b"UNIQUEMARKER"),
        "the key is in the database in clear"
    );

    // Forgotten on request, audited; the switch is a separate matter.
    let (s, gone) = app
        .send(Method::DELETE, "/api/settings/ai", &boss, &json!(null))
        .await;
    assert_eq!(s, StatusCode::OK, "{gone}");
    assert_eq!(
        (&gone["keySource"], &gone["keyLast4"], &gone["modelChosen"]),
        (&json!("none"), &json!(null), &json!(false))
    );
    assert_eq!(gone["aiEnabled"], true);
    let deleted = app.audit_entries(org).await;
    assert_eq!(deleted[0]["action"], "delete");
    assert_eq!(deleted[0]["entityType"], "ai-settings");
}

async fn the_servers_key_serves_only_where_the_operator_offers_it(db: TestDb) {
    let offered = |for_all: bool| tater_service::AiConfig {
        server_key: Some("sk-ant-operator-key-0000000000".into()),
        server_key_for_all: for_all,
        ..Default::default()
    };
    let app = TestApp::spawn_configured(db, |c| c.ai = offered(true)).await;
    let org = app.org("Served").await;
    let boss = app.member(org, "boss@served.test", Role::OrgAdmin).await;
    let (_, ai) = app.get("/api/settings/ai", &boss).await;
    assert_eq!(ai["keySource"], "server", "{ai}");
    assert!(!ai.to_string().contains("operator-key"));
    // Its own key takes precedence.
    let (_, own) = app
        .send(
            Method::PUT,
            "/api/settings/ai",
            &boss,
            &json!({ "apiKey": KEY }),
        )
        .await;
    assert_eq!(own["keySource"], "organization");
    drop(app);

    // Not offered to all: an organization without its own has none.
    let app = TestApp::spawn_configured(TestDb::sqlite(), |c| c.ai = offered(false)).await;
    let org = app.org("Unserved").await;
    let boss = app.member(org, "boss@unserved.test", Role::OrgAdmin).await;
    assert_eq!(
        app.get("/api/settings/ai", &boss).await.1["keySource"],
        "none"
    );
}
