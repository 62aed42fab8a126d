//! The compliance engine end to end against the real server: enroll endpoints, report scans,
//! and see posture and trend change exactly as computed by hand; acceptances turn Fail into
//! Override until they expire; bad reports store nothing.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::{Role, Timestamp};
use tater_service::FixedClock;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    posture_follows_scans_and_acceptances,
    ingestion_is_idempotent_and_rejects_bad_reports,
    agents_can_only_report
);

const START: &str = "2026-11-29T10:00:00Z";

async fn setup(db: TestDb) -> (TestApp, tater_domain::OrgId, Key, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(Timestamp::parse(START).unwrap()));
    let app = TestApp::spawn_with(db, clock.clone()).await;
    let org = app.org("Org").await;
    let admin = app.member(org, "admin@example.com", Role::OrgAdmin).await;
    (app, org, admin, clock)
}

async fn posture(app: &TestApp, key: &Key) -> Value {
    let (s, p) = app.get("/api/posture", key).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    p
}

async fn posture_follows_scans_and_acceptances(db: TestDb) {
    let (app, _org, admin, clock) = setup(db).await;
    let t = token(&app, &admin, false).await;
    let (s, web) = enroll(&app, &t, "WEB-01").await;
    assert_eq!(s, StatusCode::CREATED, "{web}");
    let (_, db_host) = enroll(&app, &t, "db-01").await;
    let web_key = Key::api(web["apiKey"].as_str().unwrap().to_owned());
    let db_key = Key::api(db_host["apiKey"].as_str().unwrap().to_owned());
    assert!(web_key.value.starts_with("tater_agent_"));
    let empty = posture(&app, &admin).await;
    assert_eq!(
        (empty["score"].clone(), empty["endpoints"]["active"].clone()),
        (Value::Null, json!(2))
    );

    // web-01: root login (High) fails; UID 0 (Critical) and auditd (High) pass; time sync is
    // skipped and /tmp not applicable.  Score 100 × (4 + 3) / (4 + 3 + 3) = 70.0.
    let web_scan = report(
        &new_id(),
        "2026-11-29T09:00:00Z",
        &[
            ("linux.ssh.root-login", "Fail"),
            ("linux.accounts.uid0", "Pass"),
            ("linux.auditd.active", "Pass"),
            ("linux.time.sync", "Skip"),
            ("linux.mounts.tmp-noexec", "Not Applicable"),
        ],
    );
    let (s, stored) = app
        .send(Method::POST, "/api/agent/scans", &web_key, &web_scan)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{stored}");
    // db-01: root login passes (High 3); empty passwords (Critical 4) fail; firewall (High 3)
    // needs manual review; ASLR (Medium 2) errored.  Score 100 × 3 / 12 = 25.0.
    let db_scan = report(
        &new_id(),
        "2026-11-29T09:30:00Z",
        &[
            ("linux.ssh.root-login", "Pass"),
            ("linux.accounts.empty-passwords", "Fail"),
            ("linux.firewall.active", "Manual Review"),
            ("linux.sysctl.aslr", "Error"),
        ],
    );
    assert_eq!(
        app.send(Method::POST, "/api/agent/scans", &db_key, &db_scan)
            .await
            .0,
        StatusCode::CREATED
    );

    // Overall: resolved 4 + 3 + 3 = 10 of 10 + 12 = 22 → 45.5.
    let p = posture(&app, &admin).await;
    assert_eq!(p["score"], 45.5);
    assert_eq!(
        p["totals"],
        json!({ "pass": 3, "fail": 2, "manualReview": 1, "notApplicable": 1, "override": 0, "skip": 1, "error": 1 })
    );
    let by_host = |p: &Value, h: &str| {
        p["byEndpoint"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["hostname"] == h)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_host(&p, "web-01")["score"],
        70.0,
        "hostnames are lower-cased"
    );
    assert_eq!(by_host(&p, "db-01")["score"], 25.0);
    // Both rows fit the first page; /api/posture/endpoints pages them by hostname.
    assert_eq!(p["byEndpointNextCursor"], Value::Null);
    let (s, first) = app.get("/api/posture/endpoints?limit=1", &admin).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["items"], json!([by_host(&p, "db-01")]));
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    let (_, second) = app
        .get(
            &format!("/api/posture/endpoints?limit=1&cursor={cursor}"),
            &admin,
        )
        .await;
    assert_eq!(second["items"], json!([by_host(&p, "web-01")]));
    assert_eq!(second["nextCursor"], Value::Null);
    for bad in ["limit=0", "limit=501", "cursor=", "page=2"] {
        let (s, v) = app
            .get(&format!("/api/posture/endpoints?{bad}"), &admin)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    // Family AC: root login (web Fail 3, db Pass 3), UID 0 (web Pass 4), empty passwords (db Fail 4) → 7 / 14.
    let ac = p["byFamily"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["family"] == "ac")
        .unwrap()
        .clone();
    assert_eq!(
        (ac["score"].clone(), ac["totals"]["fail"].clone()),
        (json!(50.0), json!(2))
    );
    // Failing controls: Critical first (ac-2, ia-5 from empty passwords), then High (root login).
    let failing: Vec<&str> = p["failing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["control"].as_str().unwrap())
        .collect();
    assert_eq!(failing, vec!["ac-2", "ia-5", "ac-17", "ac-6.2", "ia-2"]);
    assert_eq!(p["failing"][0]["severity"], "Critical");
    // Every control these checks map to is in HIGH, so HIGH's posture is the whole posture.
    let high = p["byFramework"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "nist-800-53-rev5-high")
        .unwrap()
        .clone();
    assert_eq!(high["score"], 45.5);

    // web-01 fixes root login: web 10/10, overall (10 + 3) / 22 = 59.1.
    let rescan = report(
        &new_id(),
        "2026-11-29T09:50:00Z",
        &[
            ("linux.ssh.root-login", "Pass"),
            ("linux.accounts.uid0", "Pass"),
            ("linux.auditd.active", "Pass"),
            ("linux.time.sync", "Skip"),
            ("linux.mounts.tmp-noexec", "Not Applicable"),
        ],
    );
    assert_eq!(
        app.send(Method::POST, "/api/agent/scans", &web_key, &rescan)
            .await
            .0,
        StatusCode::CREATED
    );
    let p = posture(&app, &admin).await;
    assert_eq!(p["score"], 59.1);
    assert_eq!(by_host(&p, "web-01")["score"], 100.0);
    let (_, trend) = app.get("/api/posture/trend", &admin).await;
    let points = trend["points"].as_array().unwrap();
    assert_eq!(points.len(), 3, "one point per scan");
    assert_eq!(
        points[0]["counts"],
        json!({ "pass": 2, "fail": 1, "manualReview": 0, "skip": 1, "error": 0, "notApplicable": 1 }),
        "raw counts at scan time"
    );
    assert_eq!(trend["latest"]["score"], 59.1);

    // An organization-wide acceptance of IA-5 turns db-01's failed empty-password check into
    // Override: (13 + 4) / 22 = 77.3.
    let (s, acc) = app.send(Method::POST, "/api/risk-acceptances", &admin, &json!({
        "control": "IA-5", "justification": "Legacy service account; rotating in Q1.", "expires": "2026-12-09",
    })).await;
    assert_eq!(s, StatusCode::CREATED, "{acc}");
    assert_eq!(acc["status"], "Active");
    let p = posture(&app, &admin).await;
    assert_eq!(p["score"], 77.3);
    assert_eq!(
        (p["totals"]["fail"].clone(), p["totals"]["override"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(by_host(&p, "db-01")["score"], 58.3, "(3 + 4) / 12");
    assert!(p["failing"].as_array().unwrap().is_empty());
    let (_, trend) = app.get("/api/posture/trend", &admin).await;
    assert_eq!(trend["latest"]["totals"]["override"], 1);
    assert_eq!(
        trend["points"][1]["counts"]["fail"], 1,
        "points keep the raw counts"
    );

    // It expires: the failure is back, and both endpoints are now stale (no contact for 11 days).
    clock.advance_secs(11 * 86_400);
    let (_, acc_now) = app
        .get(
            &format!("/api/risk-acceptances/{}", acc["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(acc_now["status"], "Expired");
    let p = posture(&app, &admin).await;
    assert_eq!(p["score"], 59.1);
    assert_eq!(p["endpoints"]["stale"], 2);
    assert!(by_host(&p, "db-01")["stale"].as_bool().unwrap());

    // Scoped to one endpoint: only that endpoint's result is accepted.
    let db_id = db_host["endpointId"].as_str().unwrap();
    let web_id = web["endpointId"].as_str().unwrap();
    for endpoint in [web_id, db_id] {
        let (s, _) = app.send(Method::POST, "/api/risk-acceptances", &admin, &json!({
            "control": "ia-5", "endpoint": endpoint, "justification": "scoped", "expires": "2026-12-31",
        })).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let p = posture(&app, &admin).await;
    assert_eq!(p["score"], 77.3);
    assert_eq!(by_host(&p, "web-01")["totals"]["override"], 0);

    // A POAM item from the failing control, linked both ways.
    let (s, item) = app
        .send(
            Method::POST,
            "/api/poam/from-control",
            &admin,
            &json!({ "control": "AC-2" }),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "ac-2 has no failed results now (accepted on db-01): {item}"
    );
    let (_, _) = app
        .send(
            Method::POST,
            "/api/agent/scans",
            &web_key,
            &report(
                &new_id(),
                "2026-12-10T09:00:00Z",
                &[("linux.ssh.root-login", "Fail")],
            ),
        )
        .await;
    let (s, item) = app
        .send(
            Method::POST,
            "/api/poam/from-control",
            &admin,
            &json!({ "control": "AC-6(2)", "scheduledCompletion": "2027-01-31" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{item}");
    assert_eq!(
        (
            item["source"].as_str(),
            item["impact"].as_str(),
            item["asset"].as_str()
        ),
        (Some("Scan"), Some("High"), Some("web-01"))
    );
    assert_eq!(item["controls"], json!(["ac-6.2"]));
    assert!(
        item["weaknessDescription"]
            .as_str()
            .unwrap()
            .contains("linux.ssh.root-login: Fail"),
        "evidence included"
    );
    let (_, control) = app.get("/api/controls/ac-6.2", &admin).await;
    assert_eq!(control["poams"][0]["id"], item["id"]);

    // A task to fix it, on request: the same failures, linked to the control.
    let (s, task) = app
        .send(
            Method::POST,
            "/api/tasks/from-control",
            &admin,
            &json!({ "control": "AC-6(2)", "assignee": "Ops@Example.com", "dueDate": "2026-12-20" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{task}");
    assert_eq!(task["source"], "Failing control");
    assert_eq!(task["priority"], "High");
    assert_eq!(task["assignee"], "ops@example.com");
    assert_eq!(task["controls"], json!(["ac-6.2"]));
    assert!(task["title"].as_str().unwrap().starts_with("Fix AC-6(2) "));
    assert!(task["description"].as_str().unwrap().contains("web-01"));
    let (_, linked) = app.get("/api/controls/ac-6.2/links", &admin).await;
    assert!(
        linked["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["to"]["id"] == task["id"]),
        "{linked}"
    );
    let (s, p) = app
        .send(
            Method::POST,
            "/api/tasks/from-control",
            &admin,
            &json!({ "control": "AC-2" }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "nothing fails: {p}");
    assert_eq!(p["errors"][0]["field"], "control");
}

async fn ingestion_is_idempotent_and_rejects_bad_reports(db: TestDb) {
    let (app, org, admin, _) = setup(db).await;
    let t = token(&app, &admin, true).await;
    let (_, host) = enroll(&app, &t, "app-01").await;
    let (s, p) = enroll(&app, &t, "app-02").await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("UNAUTHORIZED")),
        "single-use token"
    );
    let agent = Key::api(host["apiKey"].as_str().unwrap().to_owned());
    let id = new_id();
    let scan = report(
        &id,
        "2026-11-29T09:00:00Z",
        &[
            ("linux.ssh.root-login", "Pass"),
            ("linux.time.sync", "Fail"),
        ],
    );
    let (s, stored) = app
        .send(Method::POST, "/api/agent/scans", &agent, &scan)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["scanId"], id.as_str());
    let before = app.snapshot(org).await;
    let (s, again) = app
        .send(Method::POST, "/api/agent/scans", &agent, &scan)
        .await;
    assert_eq!(
        (s, again["scanId"].as_str(), &again["id"]),
        (StatusCode::OK, Some(id.as_str()), &stored["id"]),
        "a retry is answered, not stored twice"
    );
    assert_eq!(
        app.snapshot(org).await,
        before,
        "no second audit entry either"
    );
    let (_, trend) = app.get("/api/posture/trend", &admin).await;
    assert_eq!(trend["points"].as_array().unwrap().len(), 1);

    // The same report sent several times at once (an agent retrying a request still
    // running): one stores it, the others are answered as its retries, none fails.
    let twin = report(
        &new_id(),
        "2026-11-29T09:30:00Z",
        &[("linux.ssh.root-login", "Fail")],
    );
    let sends = (0..6).map(|_| app.send(Method::POST, "/api/agent/scans", &agent, &twin));
    let answers = futures::future::join_all(sends).await;
    let created = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    for (s, a) in &answers {
        assert!(
            matches!(*s, StatusCode::CREATED | StatusCode::OK),
            "{s}: {a}"
        );
        assert_eq!(a["id"], answers[0].1["id"], "one stored scan");
    }
    assert_eq!(created, 1, "stored once: {answers:?}");
    let (_, log) = app.get("/api/audit-log?entityType=scan", &admin).await;
    assert_eq!(
        log["items"].as_array().unwrap().len(),
        2,
        "one entry each: {log}"
    );
    let before = app.snapshot(org).await;

    let big = "x".repeat(16 * 1024 + 1);
    let bad: Vec<(Value, &str)> = vec![
        (
            report(
                &new_id(),
                "2026-11-29T09:00:00Z",
                &[("linux.no-such-check", "Pass")],
            ),
            "results[0].checkId",
        ),
        (
            report(
                &new_id(),
                "2026-11-29T09:00:00Z",
                &[("linux.ssh.root-login", "Passed")],
            ),
            "results[0].status",
        ),
        (
            report(
                &new_id(),
                "2026-11-29T09:00:00Z",
                &[
                    ("linux.ssh.root-login", "Pass"),
                    ("linux.ssh.root-login", "Fail"),
                ],
            ),
            "results[1].checkId",
        ),
        (
            json!({ "scanId": new_id(), "startedAt": "2026-11-29T09:00:00Z", "finishedAt": "2026-11-29T09:00:00Z", "results": [{ "checkId": "linux.time.sync", "status": "Pass", "evidence": big }] }),
            "results[0].evidence",
        ),
        (
            json!({ "scanId": new_id(), "startedAt": "2026-11-29T09:00:00Z", "finishedAt": "2026-11-29T09:00:00Z", "results": [{ "checkId": "linux.time.sync", "status": "Pass", "severity": "Urgent" }] }),
            "results[0].severity",
        ),
        (
            json!({ "scanId": new_id(), "startedAt": "2026-11-29T09:00:00Z", "finishedAt": "2026-11-29T09:00:00Z", "results": [{ "checkId": "linux.time.sync", "status": "Pass", "extra": 1 }] }),
            "results[0].extra",
        ),
        (
            json!({ "scanId": "not-a-uuid", "startedAt": "2026-11-29T09:00:00Z", "finishedAt": "2026-11-29T09:00:00Z", "results": [] }),
            "scanId",
        ),
        (
            json!({ "scanId": new_id(), "startedAt": "2026-11-29T09:00:00Z", "finishedAt": "2026-11-29T08:00:00Z", "results": [] }),
            "finishedAt",
        ),
        (
            json!({ "scanId": new_id(), "startedAt": "2026-11-29T09:00:00Z", "finishedAt": "2030-01-01T00:00:00Z", "results": [] }),
            "finishedAt",
        ),
        (
            json!({ "scanId": new_id(), "startedAt": "yesterday", "finishedAt": "2026-11-29T09:00:00Z", "results": [] }),
            "startedAt",
        ),
        (
            json!({ "scanId": new_id(), "startedAt": "2026-11-29T09:00:00Z", "finishedAt": "2026-11-29T09:00:00Z" }),
            "results",
        ),
        (
            json!({ "scanId": new_id(), "startedAt": "2026-11-29T09:00:00Z", "finishedAt": "2026-11-29T09:00:00Z", "results": [], "endpointId": "x" }),
            "endpointId",
        ),
    ];
    for (body, field) in bad {
        let (s, p) = app
            .send(Method::POST, "/api/agent/scans", &agent, &body)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{field}: {p}");
        assert!(
            p["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{field}: {p}"
        );
    }
    // A valid part next to an invalid one stores nothing.
    let mixed = report(
        &new_id(),
        "2026-11-29T09:00:00Z",
        &[("linux.ssh.root-login", "Pass"), ("linux.nope", "Fail")],
    );
    assert_eq!(
        app.send(Method::POST, "/api/agent/scans", &agent, &mixed)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let res = app
        .req(Method::POST, "/api/agent/scans", &agent)
        .header("content-type", "application/json")
        .body("{\"scanId\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.snapshot(org).await,
        before,
        "nothing stored, nothing audited"
    );
    let (_, trend) = app.get("/api/posture/trend", &admin).await;
    assert_eq!(
        trend["points"].as_array().unwrap().len(),
        2,
        "the first scan and the one sent at once"
    );

    // The scan can be read back, with its results and evidence.
    let (s, read) = app
        .get(
            &format!("/api/scans/{}", stored["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(read["results"].as_array().unwrap().len(), 2);
    assert_eq!(read["results"][0]["evidence"], "linux.ssh.root-login: Pass");
}

async fn agents_can_only_report(db: TestDb) {
    let (app, org, admin, _) = setup(db).await;
    let other = app.org("Other").await;
    let t = token(&app, &admin, false).await;
    let (_, host) = enroll(&app, &t, "kiosk-01").await;
    let agent = Key::api(host["apiKey"].as_str().unwrap().to_owned());
    let endpoint_id = host["endpointId"].as_str().unwrap().to_owned();
    // Agents read the check catalog and report; nothing else.
    assert_eq!(app.get("/api/checks", &agent).await.0, StatusCode::OK);
    for path in [
        "/api/poam",
        "/api/posture",
        "/api/endpoints",
        "/api/audit-log",
        "/api/members",
    ] {
        let (s, p) = app.get(path, &agent).await;
        assert_eq!(
            (s, p["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("FORBIDDEN")),
            "{path}"
        );
    }
    assert_eq!(
        app.get("/api/me", &agent).await.0,
        StatusCode::UNAUTHORIZED,
        "agent credentials are not accounts"
    );
    let (s, _) = app
        .send(Method::POST, "/api/poam", &agent, &sample("poam", 1))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // People cannot report scans, whatever their role.
    let scan = report(
        &new_id(),
        "2026-11-29T09:00:00Z",
        &[("linux.time.sync", "Pass")],
    );
    let (s, _) = app
        .send(Method::POST, "/api/agent/scans", &admin, &scan)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // An agent cannot name another organization.
    let res = app
        .req(Method::POST, "/api/agent/scans", &agent)
        .header("x-organization-id", other.to_string())
        .json(&scan)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Audit: enrollment and reports are attributed to the endpoint, via agent.
    assert_eq!(
        app.send(Method::POST, "/api/agent/scans", &agent, &scan)
            .await
            .0,
        StatusCode::CREATED
    );
    let log = app.audit_entries(org).await;
    let mine: Vec<&Value> = log
        .iter()
        .filter(|e| e["userId"] == format!("endpoint:{endpoint_id}"))
        .collect();
    let kinds: Vec<(&str, &str)> = mine
        .iter()
        .map(|e| {
            (
                e["entityType"].as_str().unwrap(),
                e["via"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds, vec![("scan", "agent"), ("endpoint", "agent")]);
    assert_eq!(mine[0]["upn"], "kiosk-01");
    // Retiring the endpoint stops its credential at once; another org never sees it.
    let other_admin = app.member(other, "o@example.com", Role::Admin).await;
    assert_eq!(
        app.get(&format!("/api/endpoints/{endpoint_id}"), &other_admin)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (s, retired) = app
        .send(
            Method::POST,
            &format!("/api/endpoints/{endpoint_id}/retire"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(
        (s, retired["status"].as_str()),
        (StatusCode::OK, Some("retired"))
    );
    assert_eq!(
        app.get("/api/checks", &agent).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Bad enrollment input is refused before the token is even looked at.
    let (s, p) = enroll(&app, &t, "not a hostname!").await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("hostname"))
    );
    let (s, _) = enroll(
        &app,
        "tater_enroll_00000000000000000000000000000000",
        "ok-host",
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
