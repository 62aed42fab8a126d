//! Retention periods per organization (issue 19 §1): chosen within the operator's bounds
//! (`GET/PUT /api/settings/retention`), applied by the sweep — finished records of modules
//! that declare them, and audit entries, whose pruned log still verifies from a signed start
//! online and offline, while an export without that start fails.

use std::process::Command;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    periods_are_chosen_within_the_operators_bounds,
    the_sweep_applies_the_periods_and_the_pruned_log_still_verifies,
    entries_a_siem_destination_still_waits_for_are_kept,
);

const KEY: &str = "audit-key-for-retention-0123456789abcdef";
const DAY: i64 = 24 * 3600;

/// What the organization chose: the view without its periods.
fn chosen(view: &Value) -> Value {
    let mut v = view.clone();
    v.as_object_mut().map(|m| m.remove("periods"));
    v
}

fn period<'a>(view: &'a Value, key: &str) -> &'a Value {
    view["periods"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["key"] == key))
        .unwrap_or_else(|| panic!("no period {key}: {view}"))
}

async fn periods_are_chosen_within_the_operators_bounds(db: TestDb) {
    let app = TestApp::spawn_configured(db, |c| {
        c.lifecycle.retention = tater_service::RetentionBounds {
            min_days: 7,
            max_days: 400,
            audit_min_days: 180,
        };
    })
    .await;
    let org = app.org("Keeper").await;
    let boss = app.member(org, "boss@keeper.test", Role::OrgAdmin).await;
    let admin = app.member(org, "admin@keeper.test", Role::Admin).await;
    let auditor = app.member(org, "aud@keeper.test", Role::Auditor).await;
    let viewer = app.member(org, "view@keeper.test", Role::Viewer).await;
    let path = "/api/settings/retention";

    // The defaults, with the bounds: audit entries and finished records kept for ever.
    let (s, view) = app.get(path, &auditor).await;
    assert_eq!(s, StatusCode::OK, "{view}");
    assert_eq!(chosen(&view), json!({}));
    let pages = period(&view, "pageViewDays");
    assert_eq!(
        (pages["days"].clone(), pages["maxDays"].clone()),
        (json!(90), json!(90))
    );
    let audit = period(&view, "auditLogDays");
    assert_eq!(audit["days"], Value::Null);
    assert_eq!(audit["minDays"], 180);
    let tasks = period(&view, "records.tasks");
    assert_eq!(
        (tasks["days"].clone(), tasks["minDays"].clone()),
        (Value::Null, json!(7))
    );
    assert_eq!(period(&view, "deadLetterDays")["days"], 30);
    assert_eq!(app.get(path, &viewer).await.0, StatusCode::FORBIDDEN);

    // Only an OrgAdmin changes them, and only within the bounds.
    let good = json!({ "auditLogDays": 200, "pageViewDays": 30, "records": { "tasks": 60 } });
    assert_eq!(
        app.send(Method::PUT, path, &admin, &good).await.0,
        StatusCode::FORBIDDEN
    );
    let bad = json!({
        "auditLogDays": 30,
        "pageViewDays": 120,
        "aiConversationDays": 3,
        "deadLetterDays": 401,
        "records": { "risks": 30 },
    });
    let (s, problem) = app.send(Method::PUT, path, &boss, &bad).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{problem}");
    let text = problem.to_string();
    for field in [
        "auditLogDays",
        "pageViewDays",
        "aiConversationDays",
        "deadLetterDays",
        "records.risks",
    ] {
        assert!(text.contains(field), "{field} named: {problem}");
    }
    assert!(text.contains("from 180 to"), "{problem}");
    let (s, problem) = app
        .send(Method::PUT, path, &boss, &json!({ "keepForEver": true }))
        .await;
    assert!(s.is_client_error(), "{problem}");
    // Nothing was stored by the refused attempts.
    assert_eq!(chosen(&app.get(path, &auditor).await.1), json!({}));

    let (s, view) = app.send(Method::PUT, path, &boss, &good).await;
    assert_eq!(s, StatusCode::OK, "{view}");
    assert_eq!(chosen(&view), good);
    assert_eq!(period(&view, "auditLogDays")["days"], 200);
    assert_eq!(period(&view, "records.tasks")["days"], 60);
    assert_eq!(app.get(path, &auditor).await.1, view);
    let entry = app
        .audit_entries(org)
        .await
        .into_iter()
        .find(|e| e["entityType"] == "retention-policy")
        .expect("the change is audited");
    assert_eq!(entry["changes"]["auditLogDays"]["after"], 200, "{entry}");
}

/// A server that signs its audit log, on a clock the test moves.
async fn signed_app(db: TestDb, clock: Arc<ShiftedClock>) -> TestApp {
    let keys = tater_audit::AuditKeys::new(Some(KEY), &[]).unwrap();
    TestApp::spawn_configured(db, |c| {
        c.clock = clock;
        c.audit = tater_store::AuditSettings {
            keys,
            checkpoint_every: 5,
        };
        c.lifecycle.retention.audit_min_days = 1;
    })
    .await
}

async fn the_sweep_applies_the_periods_and_the_pruned_log_still_verifies(db: TestDb) {
    let clock = Arc::new(ShiftedClock::default());
    let app = signed_app(db, clock.clone()).await;
    let org = app.org("Pruned").await;
    let boss = app.member(org, "boss@pruned.test", Role::OrgAdmin).await;
    let admin = app.member(org, "admin@pruned.test", Role::Admin).await;
    let auditor = app.member(org, "aud@pruned.test", Role::Auditor).await;
    let open = app
        .create("tasks", &admin, json!({ "title": "still to do" }))
        .await;
    let done = app
        .create("tasks", &admin, json!({ "title": "finished" }))
        .await;
    let done_id = done["id"].as_str().unwrap();
    let (s, moved) = app
        .send(
            Method::POST,
            &format!("/api/tasks/{done_id}/transitions"),
            &boss,
            &json!({ "to": "Done", "comment": "delivered" }),
        )
        .await;
    assert!(s.is_success(), "{moved}");
    for i in 0..6 {
        app.create("risks", &admin, json!({ "title": format!("old {i}") }))
            .await;
    }
    // A page view in the web application (kept 2 days by the policy below, not 90).
    app.person(org, "ann@pruned.test", Role::Viewer).await;
    let web = crate::web::sign_in(&app, "ann@pruned.test").await;
    let csrf = crate::web::csrf_of(&crate::web::page(&app, Some(&web), "/app").await.body);
    let sent = crate::web::send_beacon(&app, &web, "/app/controls", csrf, vec![]).await;
    assert_eq!(sent, StatusCode::NO_CONTENT);
    let old_head = audit_head(&app, &auditor).await;
    let policy = json!({ "auditLogDays": 2, "pageViewDays": 2, "records": { "tasks": 10 } });
    let (s, v) = app
        .send(Method::PUT, "/api/settings/retention", &boss, &policy)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Nothing is old enough yet.
    assert_eq!(
        app.service.sweep_retention().await.unwrap(),
        Default::default()
    );

    // Three days on: every entry of the first day goes, the finished task (10 days) stays.
    clock.advance_secs(3 * DAY);
    app.create("risks", &admin, json!({ "title": "new" })).await;
    let swept = app.service.sweep_retention().await.unwrap();
    assert_eq!((swept.records, swept.page_views), (0, 1));
    assert_eq!(swept.audit_entries as i64, old_head + 1, "{swept:?}");
    let (s, report) = app.get("/api/audit-log/verify", &auditor).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["historyStartsAt"], old_head + 2, "{report}");
    assert!(report["prunedAt"].is_string(), "{report}");
    assert_eq!(report["signaturesChecked"], true);
    let (_, listed) = app.get("/api/audit-log?limit=100", &auditor).await;
    let items = listed["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .all(|e| e["seq"].as_i64().unwrap() > old_head + 1),
        "{listed}"
    );
    let sweep = items
        .iter()
        .find(|e| e["entityType"] == "retention")
        .expect("the sweep is audited");
    assert_eq!(sweep["via"], "cron");
    let after = &sweep["changes"]["deleted"]["after"];
    assert_eq!(after["auditEntries"], old_head + 1, "{sweep}");
    assert_eq!(after["pageViews"], 1, "{sweep}");

    // The export carries the signed start and verifies offline; without it, it does not.
    let export = export_text(&app, &auditor).await;
    assert!(
        export.lines().nth(1).unwrap().starts_with("{\"start\":"),
        "{export}"
    );
    let (code, offline) = verify_file(&export);
    assert_eq!(code, 0, "{offline}");
    assert_eq!(offline["historyStartsAt"], old_head + 2);
    let cut: String = export
        .lines()
        .filter(|l| !l.starts_with("{\"start\":"))
        .map(|l| format!("{l}\n"))
        .collect();
    let (code, broken) = verify_file(&cut);
    assert_ne!(code, 0, "{broken}");
    assert_eq!(broken["ok"], false);
    // A start whose position was moved is caught by its signature.
    let moved = export.replacen(
        &format!("\"seq\":{}", old_head + 1),
        &format!("\"seq\":{}", old_head),
        1,
    );
    assert_ne!(verify_file(&moved).0, 0);

    // Eleven days on, the finished task goes (audited as a deletion); the open one stays.
    clock.advance_secs(8 * DAY);
    let swept = app.service.sweep_retention().await.unwrap();
    assert_eq!(swept.records, 1, "{swept:?}");
    assert_eq!(
        app.get(&format!("/api/tasks/{done_id}"), &admin).await.0,
        StatusCode::NOT_FOUND
    );
    let open_id = open["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/tasks/{open_id}"), &admin).await.0,
        StatusCode::OK
    );
    let (_, report) = app.get("/api/audit-log/verify", &auditor).await;
    assert_eq!(report["ok"], true, "{report}");
    let gone = app
        .audit_entries(org)
        .await
        .into_iter()
        .find(|e| e["entityType"] == "task" && e["action"] == "delete")
        .expect("the task's deletion is audited");
    assert_eq!(gone["entityId"], done_id);
    assert_eq!(gone["via"], "cron");
}

async fn entries_a_siem_destination_still_waits_for_are_kept(db: TestDb) {
    let clock = Arc::new(ShiftedClock::default());
    let app = signed_app(db, clock.clone()).await;
    let org = app.org("Forwarded").await;
    let boss = app.member(org, "boss@forwarded.test", Role::OrgAdmin).await;
    let auditor = app.member(org, "aud@forwarded.test", Role::Auditor).await;
    let policy = json!({ "auditLogDays": 1 });
    let (s, v) = app
        .send(Method::PUT, "/api/settings/retention", &boss, &policy)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // A destination nobody answers at: every entry from its creation on waits for it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let destination = json!({
        "type": "webhook",
        "name": "Unreachable SOC",
        "url": format!("http://127.0.0.1:{port}/hook"),
        "secret": "a-webhook-secret-of-enough-length-0123456789",
    });
    let (s, d) = app
        .send(Method::POST, "/api/siem-destinations", &boss, &destination)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let (_, listed) = app.get("/api/audit-log?limit=100", &auditor).await;
    let waiting = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["entityType"] == "siem-destination")
        .filter_map(|e| e["seq"].as_i64())
        .min()
        .expect("the destination's creation is audited");

    clock.advance_secs(3 * DAY);
    let swept = app.service.sweep_retention().await.unwrap();
    assert_eq!(swept.audit_entries as i64, waiting - 1, "{swept:?}");
    let (_, report) = app.get("/api/audit-log/verify", &auditor).await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["historyStartsAt"], waiting, "{report}");
}

async fn audit_head(app: &TestApp, auditor: &Key) -> i64 {
    let (_, listed) = app.get("/api/audit-log?limit=1", auditor).await;
    listed["items"][0]["seq"].as_i64().unwrap()
}

async fn export_text(app: &TestApp, key: &Key) -> String {
    let res = app
        .req(Method::GET, "/api/audit-log/export", key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

/// `tater audit verify --key KEY` on `text`: its exit code and JSON report.
fn verify_file(text: &str) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tater"))
        .args(["audit", "verify", "--json", "--key", KEY, "--file"])
        .arg(&path)
        .env_remove("AUDIT_VERIFY_KEYS")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("JSON report: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), report)
}
