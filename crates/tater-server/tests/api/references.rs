//! What a record or report names must be the caller's own, and saying "taken" must not reveal
//! what another endpoint did (issue 21, finding 8).

use reqwest::{Method, StatusCode};
use serde_json::json;
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    a_risk_acceptance_names_an_endpoint_of_its_own_organization,
    scan_ids_are_unique_per_endpoint
);

async fn a_risk_acceptance_names_an_endpoint_of_its_own_organization(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Mine").await;
    let other = app.org("Theirs").await;
    let admin = app.member(org, "admin@mine.test", Role::Admin).await;
    let their_admin = app.member(other, "admin@theirs.test", Role::Admin).await;
    let (_, mine) = enroll(&app, &token(&app, &admin, false).await, "web-01").await;
    let (_, theirs) = enroll(&app, &token(&app, &their_admin, false).await, "web-01").await;
    let body = |endpoint: &str| json!({ "control": "AC-2", "endpoint": endpoint, "justification": "vendor fix pending", "expires": in_days(30) });
    let before = app.snapshot(org).await;
    for bad in [
        theirs["endpointId"].as_str().unwrap().to_owned(),
        new_id(),
        "web-01".to_owned(),
    ] {
        let (s, p) = app
            .send(Method::POST, "/api/risk-acceptances", &admin, &body(&bad))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {p}");
        assert_eq!(p["errors"][0]["field"], "endpoint", "{p}");
    }
    assert_eq!(app.snapshot(org).await, before, "nothing stored");
    let own = mine["endpointId"].as_str().unwrap();
    let created = app.create("risk-acceptances", &admin, body(own)).await;
    assert_eq!(created["endpoint"], own);
    // Nor can an update point it elsewhere.
    let path = format!("/api/risk-acceptances/{}", created["id"].as_str().unwrap());
    let (s, p) = app
        .send(
            Method::PUT,
            &path,
            &admin,
            &body(theirs["endpointId"].as_str().unwrap()),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    let (_, listed) = app
        .get(&format!("/api/risk-acceptances?endpoint={own}"), &admin)
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let (s, _) = app
        .get("/api/risk-acceptances?endpoint=not-an-id", &admin)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Organization-wide (no endpoint) still works.
    let wide = json!({ "control": "AC-2", "justification": "all", "expires": in_days(30) });
    app.create("risk-acceptances", &admin, wide).await;
}

async fn scan_ids_are_unique_per_endpoint(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Fleet").await;
    let other = app.org("Other").await;
    let admin = app.member(org, "admin@fleet.test", Role::Admin).await;
    let other_admin = app.member(other, "admin@other.test", Role::Admin).await;
    let t = token(&app, &admin, false).await;
    let agent = |v: &serde_json::Value| Key::api(v["apiKey"].as_str().unwrap().to_owned());
    let a = agent(&enroll(&app, &t, "a-01").await.1);
    let b = agent(&enroll(&app, &t, "b-01").await.1);
    let c = agent(
        &enroll(&app, &token(&app, &other_admin, false).await, "c-01")
            .await
            .1,
    );
    let id = new_id();
    let scan = report(&id, "2026-11-29T09:00:00Z", &[("linux.time.sync", "Pass")]);
    let send = |k: &Key| {
        let (k, scan) = (k.clone(), scan.clone());
        let app = &app;
        async move { app.send(Method::POST, "/api/agent/scans", &k, &scan).await }
    };
    let (s, first) = send(&a).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    // Another endpoint using the same id: its own scan, not a 409 saying the id is taken.
    let (s, second) = send(&b).await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    assert_ne!(second["id"], first["id"]);
    assert_eq!(second["scanId"], id.as_str());
    let (s, third) = send(&c).await;
    assert_eq!(s, StatusCode::CREATED, "{third}");
    // Each endpoint's retry is still a retry.
    for (k, stored) in [(&a, &first), (&b, &second)] {
        let (s, again) = send(k).await;
        assert_eq!((s, &again["id"]), (StatusCode::OK, &stored["id"]));
    }
    let (_, scans) = app
        .get("/api/scan-results?check=linux.time.sync", &admin)
        .await;
    assert_eq!(
        scans["items"].as_array().unwrap().len(),
        2,
        "one result per endpoint"
    );
}
