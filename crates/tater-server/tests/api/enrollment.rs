//! Enrollment cannot take over an endpoint (issue 21, finding 3): a hostname that is already
//! enrolled is re-enrolled only with the endpoint's current credential or an Admin's one-time
//! allowance; a retired endpoint stays retired; a token may name the only hosts it enrolls.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::{Role, Timestamp};
use tater_service::FixedClock;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    reenrolling_a_hostname_needs_proof_of_continuity,
    tokens_can_be_limited_to_hostnames
);

/// Enrolls `hostname` with `token`, presenting `credential` as an agent re-enrolling would.
async fn enroll_with(
    app: &TestApp,
    token: &str,
    hostname: &str,
    credential: Option<&str>,
) -> (StatusCode, Value) {
    let body = json!({ "token": token, "hostname": hostname, "os": "linux", "osVersion": "Debian 12", "arch": "x86_64", "agentVersion": "0.2.0" });
    let mut req = app.client.post(app.url("/api/agent/enroll")).json(&body);
    if let Some(c) = credential {
        req = req.header("x-api-key", c);
    }
    json_of(req.send().await.unwrap()).await
}

async fn heartbeat(app: &TestApp, credential: &str) -> StatusCode {
    app.req(
        Method::POST,
        "/api/agent/heartbeat",
        &Key::api(credential.to_owned()),
    )
    .send()
    .await
    .unwrap()
    .status()
}

async fn reenrolling_a_hostname_needs_proof_of_continuity(db: TestDb) {
    let clock = Arc::new(FixedClock::new(Timestamp::from_millis(1_800_000_000_000)));
    let app = TestApp::spawn_with(db, clock.clone()).await;
    let org = app.org("Fleet").await;
    let admin = app.member(org, "admin@fleet.test", Role::Admin).await;
    let viewer = app.member(org, "viewer@fleet.test", Role::Viewer).await;
    let t = token(&app, &admin, false).await;
    let (s, first) = enroll(&app, &t, "web-01").await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let id = first["endpointId"].as_str().unwrap().to_owned();
    let real = first["apiKey"].as_str().unwrap().to_owned();
    let (s, other) = enroll(&app, &t, "web-02").await;
    assert_eq!(s, StatusCode::CREATED);
    let other_cred = other["apiKey"].as_str().unwrap().to_owned();
    let before = app.get(&format!("/api/endpoints/{id}"), &admin).await.1;

    // Anyone else holding the token: refused, whatever the spelling or credential they show.
    for (host, cred) in [
        ("web-01", None),
        ("WEB-01", None),
        ("web-01.", None),
        ("web-01", Some(other_cred.as_str())),
        (
            "web-01",
            Some("tater_agent_00000000000000000000000000000000"),
        ),
    ] {
        let (s, p) = enroll_with(&app, &t, host, cred).await;
        assert_eq!(
            (s, p["error"].as_str()),
            (StatusCode::CONFLICT, Some("ENDPOINT_EXISTS")),
            "{host} {cred:?}: {p}"
        );
    }
    assert_eq!(
        heartbeat(&app, &real).await,
        StatusCode::NO_CONTENT,
        "the real agent still works"
    );
    let after = app.get(&format!("/api/endpoints/{id}"), &admin).await.1;
    assert_eq!(after, before, "nothing about the endpoint changed");

    // The machine itself, with its current credential: same endpoint, new credential.
    let (s, again) = enroll_with(&app, &t, "web-01", Some(&real)).await;
    assert_eq!(s, StatusCode::CREATED, "{again}");
    assert_eq!(again["endpointId"], id.as_str());
    let renewed = again["apiKey"].as_str().unwrap().to_owned();
    assert_ne!(renewed, real);
    assert_eq!(heartbeat(&app, &real).await, StatusCode::UNAUTHORIZED);
    assert_eq!(heartbeat(&app, &renewed).await, StatusCode::NO_CONTENT);
    let entry = app
        .audit_entries(org)
        .await
        .into_iter()
        .find(|e| {
            e["entityType"] == "endpoint" && e["entityId"] == id.as_str() && e["action"] == "update"
        })
        .unwrap();
    assert_eq!(entry["changes"]["reenrolledWith"]["after"], "credential");

    // A reinstalled machine: an Admin allows one re-enrolment within the hour.
    let allow = format!("/api/endpoints/{id}/allow-reenroll");
    assert_eq!(
        app.status(Method::POST, &allow, &viewer).await,
        StatusCode::FORBIDDEN
    );
    let outsider_org = app.org("Elsewhere").await;
    let outsider = app
        .member(outsider_org, "admin@elsewhere.test", Role::Admin)
        .await;
    assert_eq!(
        app.status(Method::POST, &allow, &outsider).await,
        StatusCode::NOT_FOUND
    );
    let (s, allowed) = app.call(Method::POST, &allow, &admin).await;
    assert_eq!(s, StatusCode::OK, "{allowed}");
    assert_eq!(allowed["reenrollAllowedUntil"], "2027-01-15T09:00:00.000Z");
    let entry = &app.audit_entries(org).await[0];
    assert_eq!(
        (entry["entityId"].as_str(), entry["upn"].as_str()),
        (Some(id.as_str()), Some("admin@fleet.test"))
    );
    assert!(
        entry["changes"]["reenrollAllowedUntil"].is_object(),
        "{entry}"
    );
    let (s, reinstalled) = enroll(&app, &t, "web-01").await;
    assert_eq!(s, StatusCode::CREATED, "{reinstalled}");
    assert_eq!(reinstalled["endpointId"], id.as_str());
    assert_eq!(heartbeat(&app, &renewed).await, StatusCode::UNAUTHORIZED);
    // Once: the allowance is used up.
    let (s, p) = enroll(&app, &t, "web-01").await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::CONFLICT, Some("ENDPOINT_EXISTS"))
    );
    assert_eq!(
        app.get(&format!("/api/endpoints/{id}"), &admin).await.1["reenrollAllowedUntil"],
        Value::Null
    );
    // And for an hour only.
    app.call(Method::POST, &allow, &admin).await;
    clock.advance_secs(3601);
    let (s, _) = enroll(&app, &t, "web-01").await;
    assert_eq!(s, StatusCode::CONFLICT, "the allowance expired");

    // A retired endpoint stays retired: no token, credential or allowance brings it back.
    let cred = reinstalled["apiKey"].as_str().unwrap().to_owned();
    let (s, _) = app
        .send(
            Method::POST,
            &format!("/api/endpoints/{id}/retire"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    for c in [None, Some(cred.as_str())] {
        let (s, p) = enroll_with(&app, &t, "web-01", c).await;
        assert_eq!(
            (s, p["error"].as_str()),
            (StatusCode::CONFLICT, Some("ENDPOINT_EXISTS")),
            "{p}"
        );
    }
    let (s, p) = app.call(Method::POST, &allow, &admin).await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::CONFLICT, Some("ENDPOINT_RETIRED"))
    );
    assert_eq!(
        app.get(&format!("/api/endpoints/{id}"), &admin).await.1["status"],
        "retired"
    );
    // Deleting it frees the hostname for a fresh enrolment.
    let (s, _) = app
        .call(Method::DELETE, &format!("/api/endpoints/{id}"), &admin)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, fresh) = enroll(&app, &t, "web-01").await;
    assert_eq!(s, StatusCode::CREATED);
    assert_ne!(fresh["endpointId"], id.as_str());
}

async fn tokens_can_be_limited_to_hostnames(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Fleet").await;
    let admin = app.member(org, "admin@fleet.test", Role::Admin).await;
    let (s, t) = app
        .send(
            Method::POST,
            "/api/enrollment-tokens",
            &admin,
            &json!({ "label": "db servers", "hostnames": ["DB-01", "db-02.corp.example"] }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(t["hostnames"], json!(["db-01", "db-02.corp.example"]));
    let secret = t["token"].as_str().unwrap();
    let (s, p) = enroll(&app, secret, "web-01").await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("HOSTNAME_NOT_ALLOWED")),
        "{p}"
    );
    let (s, _) = enroll(&app, secret, "db-01").await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = enroll(&app, secret, "DB-02.corp.example").await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, list) = app.get("/api/enrollment-tokens", &admin).await;
    assert_eq!(
        list["items"][0]["hostnames"],
        json!(["db-01", "db-02.corp.example"])
    );
    let before = app.snapshot(org).await;
    for bad in [
        json!({ "hostnames": [] }),
        json!({ "hostnames": ["not a host!"] }),
        json!({ "hostnames": "db-01" }),
        json!({ "hostnames": vec!["h"; 501] }),
    ] {
        let (s, p) = app
            .send(Method::POST, "/api/enrollment-tokens", &admin, &bad)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {p}");
    }
    assert_eq!(
        app.snapshot(org).await,
        before,
        "refused tokens change nothing"
    );
}
