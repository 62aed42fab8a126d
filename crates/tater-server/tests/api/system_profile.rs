//! The system profile: empty until an OrgAdmin writes it, validated, versioned, audited, and
//! per organization.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(the_system_profile_is_one_audited_record_per_organization);

async fn the_system_profile_is_one_audited_record_per_organization(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("profile").await;
    let boss = app.member(org, "boss@profile.test", Role::OrgAdmin).await;
    let admin = app.member(org, "admin@profile.test", Role::Admin).await;
    let viewer = app.member(org, "viewer@profile.test", Role::Viewer).await;
    let other = app.org("other").await;
    let other_viewer = app.member(other, "viewer@other.test", Role::Viewer).await;

    assert_eq!(
        app.get("/api/system-profile", &viewer).await.1,
        json!({ "configured": false })
    );
    let profile = json!({
        "name": "Acme Mission System", "abbreviation": "AMS", "description": "Processes CUI.",
        "confidentiality": "moderate", "integrity": "moderate", "availability": "low",
        "informationTypes": [{ "title": "Controlled Unclassified Information", "confidentiality": "moderate", "integrity": "moderate", "availability": "low" }],
        "authorizationBoundary": "Two VPCs and the office LAN.", "issoName": "Ivy Isso", "issoEmail": "isso@acme.example",
        "baseline": "nist-800-53-rev5-moderate",
    });
    assert_eq!(
        app.send(Method::PUT, "/api/system-profile", &admin, &profile)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    for (bad, field) in [
        (
            json!({ "name": "x", "confidentiality": "extreme" }),
            "confidentiality",
        ),
        (
            json!({ "name": "x", "baseline": "nist-800-53-rev5-privacy" }),
            "baseline",
        ),
        (json!({ "abbreviation": "no name" }), "name"),
        (
            json!({ "name": "x", "informationTypes": [{ "description": "no title" }] }),
            "informationTypes",
        ),
    ] {
        let (status, problem) = app
            .send(Method::PUT, "/api/system-profile", &boss, &bad)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            problem["errors"].to_string().contains(field),
            "{bad}: {problem}"
        );
    }
    let before = app.audit_entries(org).await.len();
    let (status, saved) = app
        .send(Method::PUT, "/api/system-profile", &boss, &profile)
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        (saved["configured"].as_bool(), saved["version"].as_i64()),
        (Some(true), Some(1))
    );
    assert_eq!(saved["status"], "operational", "the default status");
    // Information types carry the ids the server gave them; sent back, nothing changes.
    let mut profile = profile;
    profile["informationTypes"] = saved["informationTypes"].clone();
    let (_, again) = app
        .send(Method::PUT, "/api/system-profile", &boss, &profile)
        .await;
    assert_eq!(
        again["version"], 1,
        "an unchanged profile is not saved again"
    );
    let mut changed = profile.clone();
    changed["availability"] = json!("moderate");
    changed["version"] = json!(1);
    let (_, v2) = app
        .send(Method::PUT, "/api/system-profile", &boss, &changed)
        .await;
    assert_eq!(v2["version"], 2);
    let (status, _) = app
        .send(Method::PUT, "/api/system-profile", &boss, &changed)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "version 1 is stale now");
    let entries = app.audit_entries(org).await;
    assert_eq!(entries.len(), before + 2, "a create and an update");
    assert_eq!(entries[0]["entityType"], "system-profile");
    assert_eq!(
        entries[0]["changes"]["availability"],
        json!({ "before": "low", "after": "moderate" })
    );
    assert_eq!(
        app.get("/api/system-profile", &viewer).await.1["name"],
        "Acme Mission System"
    );
    assert_eq!(
        app.get("/api/system-profile", &other_viewer).await.1,
        json!({ "configured": false })
    );
}
