//! Bad input gets a clear 4xx problem and changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::Role;
use tater_domain::module::FieldKind;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    bad_bodies_are_refused_and_change_nothing,
    bad_queries_and_ids_are_refused
);

/// Sends `body` raw with a JSON content type and returns status and problem.
async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &Key,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let res = app
        .req(method, path, key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_client_error() || res.status().is_success(),
        "{path}: {}",
        res.status()
    );
    if res.status().is_client_error() {
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert_eq!(ct, "application/problem+json", "{path}");
    }
    json_of(res).await
}

fn long(n: usize) -> String {
    "x".repeat(n)
}

async fn bad_bodies_are_refused_and_change_nothing(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Org").await;
    let key = app.member(org, "admin@example.com", Role::Admin).await;
    // One record of every module, to PUT bad bodies onto.
    let mut records = std::collections::HashMap::new();
    for module in modules() {
        records.insert(module, app.create(module, &key, sample(module, 1)).await);
    }
    let before = app.snapshot(org).await;

    let poam_ok = sample("poam", 2);
    let with = |base: &Value, k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    // (module, body, expected code, field named in the errors)
    let mut cases: Vec<(&str, Value, &str, &str)> = vec![
        ("poam", json!([]), "VALIDATION_FAILED", ""),
        ("poam", json!("title"), "VALIDATION_FAILED", ""),
        ("poam", json!(null), "VALIDATION_FAILED", ""),
        (
            "poam",
            with(&poam_ok, "title", json!(123)),
            "VALIDATION_FAILED",
            "title",
        ),
        (
            "poam",
            with(&poam_ok, "controls", json!("AC-2")),
            "VALIDATION_FAILED",
            "controls",
        ),
        (
            "poam",
            with(&poam_ok, "controls", json!(["AC-2; DROP TABLE records"])),
            "VALIDATION_FAILED",
            "controls",
        ),
        (
            "poam",
            with(&poam_ok, "hacker", json!(true)),
            "VALIDATION_FAILED",
            "hacker",
        ),
        (
            "poam",
            with(&poam_ok, "tenantId", json!(org.to_string())),
            "VALIDATION_FAILED",
            "tenantId",
        ),
        (
            "poam",
            with(&poam_ok, "impact", json!("Critical")),
            "VALIDATION_FAILED",
            "impact",
        ),
        (
            "poam",
            with(&poam_ok, "status", json!("open")),
            "VALIDATION_FAILED",
            "status",
        ),
        (
            "poam",
            with(&poam_ok, "scheduledCompletion", json!("2026-02-30")),
            "VALIDATION_FAILED",
            "scheduledCompletion",
        ),
        (
            "poam",
            with(&poam_ok, "title", json!("a\u{0}b")),
            "VALIDATION_FAILED",
            "title",
        ),
        (
            "poam",
            with(&poam_ok, "title", json!("two\nlines")),
            "VALIDATION_FAILED",
            "title",
        ),
        (
            "poam",
            with(&poam_ok, "status", json!("False Positive")),
            "VALIDATION_FAILED",
            "justification",
        ),
        (
            "poam",
            with(
                &poam_ok,
                "milestones",
                json!([{ "description": "m", "owner": "x" }]),
            ),
            "VALIDATION_FAILED",
            "milestones[0].owner",
        ),
        (
            "poam",
            with(&poam_ok, "milestones", json!([{ "status": "Open" }])),
            "VALIDATION_FAILED",
            "milestones[0].description",
        ),
        (
            "poam",
            with(
                &poam_ok,
                "milestones",
                Value::Array(vec![json!({ "description": "m" }); 101]),
            ),
            "VALIDATION_FAILED",
            "milestones",
        ),
        (
            "risks",
            json!({ "title": "r", "likelihood": 6 }),
            "VALIDATION_FAILED",
            "likelihood",
        ),
        (
            "risks",
            json!({ "title": "r", "likelihood": 0 }),
            "VALIDATION_FAILED",
            "likelihood",
        ),
        (
            "risks",
            json!({ "title": "r", "impact": 2.5 }),
            "VALIDATION_FAILED",
            "impact",
        ),
        (
            "risks",
            json!({ "title": "r", "impact": "3" }),
            "VALIDATION_FAILED",
            "impact",
        ),
        (
            "risks",
            json!({ "title": "r", "sle": -1 }),
            "VALIDATION_FAILED",
            "sle",
        ),
        (
            "risks",
            json!({ "title": "r", "aro": 1e9 }),
            "VALIDATION_FAILED",
            "aro",
        ),
        (
            "risks",
            json!({ "title": "r", "category": "Cyber" }),
            "VALIDATION_FAILED",
            "category",
        ),
        (
            "config-docs",
            json!({ "title": "d", "tags": [long(65)] }),
            "VALIDATION_FAILED",
            "tags",
        ),
        (
            "config-docs",
            json!({ "title": "d", "tags": [1] }),
            "VALIDATION_FAILED",
            "tags",
        ),
        (
            "risk-acceptances",
            json!({ "control": "AC-99x", "justification": "j", "expires": in_days(5) }),
            "VALIDATION_FAILED",
            "control",
        ),
        (
            "risk-acceptances",
            json!({ "control": "AC-2", "justification": "j", "expires": in_days(400) }),
            "VALIDATION_FAILED",
            "expires",
        ),
        (
            "risk-acceptances",
            json!({ "control": "AC-2", "expires": in_days(5) }),
            "VALIDATION_FAILED",
            "justification",
        ),
        (
            "risk-acceptances",
            json!({ "control": "AC-2", "justification": "j", "expires": in_days(5), "status": "Active", "endpoint": "web-01" }),
            "VALIDATION_FAILED",
            "endpoint",
        ),
        (
            "risk-acceptances",
            json!({ "control": "AC-2", "justification": "j", "expires": in_days(5), "revokedOn": in_days(0) }),
            "VALIDATION_FAILED",
            "revocationReason",
        ),
    ];
    // 10,000-character strings in every one-line text field of every module, and things
    // that are not addresses in every e-mail field.
    for def in tater_domain::modules::ALL {
        for f in def.fields {
            let bad = match f.kind {
                FieldKind::Text { .. } => vec![json!(long(10_000))],
                FieldKind::Email => vec![json!("no-at-sign"), json!("a@"), json!(long(300))],
                _ => continue,
            };
            for value in bad {
                let body = with(&sample(def.name, 3), f.name, value);
                cases.push((def.name, body, "VALIDATION_FAILED", f.name));
            }
        }
    }
    for (module, body, code, field) in &cases {
        for (method, path) in [
            (Method::POST, format!("/api/{module}")),
            (
                Method::PUT,
                format!("/api/{module}/{}", records[module]["id"].as_str().unwrap()),
            ),
        ] {
            let (s, p) = raw(
                &app,
                method.clone(),
                &path,
                &key,
                serde_json::to_vec(body).unwrap(),
            )
            .await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{method} {path} {body}: {p}");
            assert_eq!(p["error"], *code, "{body}");
            if !field.is_empty() {
                let fields: Vec<&str> = p["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["field"].as_str().unwrap())
                    .collect();
                assert!(
                    fields.contains(field),
                    "{body}: expected an error on {field}, got {fields:?}"
                );
            }
            assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
    }

    let syntax: Vec<Vec<u8>> = vec![
        b"{\"title\": ".to_vec(),
        b"{title: 'x'}".to_vec(),
        b"".to_vec(),
        vec![b'{', 0xff, b'}'],
        "[".repeat(10_000).into_bytes(),
        b"{\"title\": \"x\", \"aro\": 1e400}".to_vec(),
    ];
    for body in syntax {
        let (s, p) = raw(&app, Method::POST, "/api/risks", &key, body).await;
        assert_eq!(
            (s, p["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("MALFORMED_JSON")),
            "{p}"
        );
    }

    // Over the 1 MiB limit: refused before parsing.
    let huge = serde_json::to_vec(&json!({ "title": "big", "body": long(1024 * 1024) })).unwrap();
    let (s, p) = raw(&app, Method::POST, "/api/config-docs", &key, huge).await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("PAYLOAD_TOO_LARGE"))
    );

    let res = app
        .req(Method::POST, "/api/poam", &key)
        .header("content-type", "text/plain")
        .body("title=x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = app
        .req(Method::POST, "/api/poam", &key)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "no content type"
    );

    assert_eq!(
        app.snapshot(org).await,
        before,
        "nothing changed, nothing audited"
    );
}

async fn bad_queries_and_ids_are_refused(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Org").await;
    let key = app.member(org, "admin@example.com", Role::Admin).await;
    app.create("poam", &key, sample("poam", 1)).await;
    app.create("poam", &key, sample("poam", 2)).await;
    let before = app.snapshot(org).await;
    let cases = [
        ("/api/poam?q=%FF", "INVALID_QUERY"),
        ("/api/poam?status=%C3%28", "INVALID_QUERY"),
        ("/api/poam?q=ok&%FE=1", "INVALID_QUERY"),
        ("/api/poam/export?format=csv&q=%80", "INVALID_QUERY"),
        ("/api/poam?status=Nope", "VALIDATION_FAILED"),
        ("/api/poam?limit=501", "VALIDATION_FAILED"),
        ("/api/poam?limit=-1", "VALIDATION_FAILED"),
        ("/api/poam?limit=ten", "VALIDATION_FAILED"),
        ("/api/poam?sort=weaknessDescription", "VALIDATION_FAILED"),
        ("/api/poam?sort=data-%3E%3E'title'", "VALIDATION_FAILED"),
        ("/api/poam?cursor=garbage", "VALIDATION_FAILED"),
        ("/api/poam?overdue=maybe", "VALIDATION_FAILED"),
        (
            "/api/poam?scheduledCompletion.gte=tomorrow",
            "VALIDATION_FAILED",
        ),
        ("/api/poam?tenant_id=x", "VALIDATION_FAILED"),
        (
            "/api/poam?status=Open&status=Completed",
            "VALIDATION_FAILED",
        ),
        ("/api/risks?likelihood.gte=NaN", "VALIDATION_FAILED"),
        ("/api/poam/export?format=xlsx", "VALIDATION_FAILED"),
        ("/api/risks/heat-map?kind=both", "VALIDATION_FAILED"),
    ];
    for (path, code) in cases {
        let (s, p) = app.get(path, &key).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {p}");
        assert_eq!(p["error"], code, "{path}");
    }
    let long_q = format!("/api/poam?q={}", "a".repeat(201));
    assert_eq!(app.get(&long_q, &key).await.0, StatusCode::BAD_REQUEST);
    // A cursor from another sort order is refused rather than misread.
    let (_, page) = app.get("/api/poam?limit=1&sort=title", &key).await;
    let cursor = page["nextCursor"]
        .as_str()
        .expect("two records, one per page");
    let (s, p) = app
        .get(
            &format!("/api/poam?limit=1&sort=-createdAt&cursor={cursor}"),
            &key,
        )
        .await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("cursor"))
    );
    for path in [
        "/api/poam/not-a-uuid",
        "/api/poam/%FF",
        "/api/poam/01234567-89ab-cdef-0123-456789abcdef",
    ] {
        let (s, p) = app.get(path, &key).await;
        assert_eq!(
            (s, p["error"].as_str()),
            (StatusCode::NOT_FOUND, Some("NOT_FOUND")),
            "{path}"
        );
        let s = app
            .req(Method::DELETE, path, &key)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(s, StatusCode::NOT_FOUND, "DELETE {path}");
    }
    assert_eq!(app.snapshot(org).await, before);
}
