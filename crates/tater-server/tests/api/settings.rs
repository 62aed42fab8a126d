//! Organization settings: off by default, OrgAdmin-only changes, audited, per organization.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(remote_execution_is_off_until_an_orgadmin_turns_it_on);

async fn remote_execution_is_off_until_an_orgadmin_turns_it_on(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("settings").await;
    let boss = app.member(org, "boss@settings.test", Role::OrgAdmin).await;
    let admin = app.member(org, "admin@settings.test", Role::Admin).await;
    let viewer = app.member(org, "viewer@settings.test", Role::Viewer).await;
    let other = app.org("other").await;
    let other_boss = app.member(other, "boss@other.test", Role::OrgAdmin).await;

    assert_eq!(
        app.get("/api/settings", &viewer).await.1,
        json!({ "remoteExecution": false, "exceptionApprover": null, "aiEnabled": false })
    );
    let on = json!({ "remoteExecution": true });
    assert_eq!(
        app.send(Method::PUT, "/api/settings", &admin, &on).await.0,
        StatusCode::FORBIDDEN
    );
    for bad in [
        json!({ "remoteExecution": "yes" }),
        json!({ "remoteExecution": true, "extra": 1 }),
        json!([]),
    ] {
        assert_eq!(
            app.send(Method::PUT, "/api/settings", &boss, &bad).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    let before = app.audit_entries(org).await.len();
    let (status, v) = app.send(Method::PUT, "/api/settings", &boss, &on).await;
    assert_eq!(
        (status, v),
        (
            StatusCode::OK,
            json!({ "remoteExecution": true, "exceptionApprover": null, "aiEnabled": false })
        )
    );
    let entries = app.audit_entries(org).await;
    assert_eq!(entries.len(), before + 1);
    assert_eq!(entries[0]["entityType"], "settings");
    assert_eq!(
        entries[0]["changes"]["remoteExecution"],
        json!({ "before": false, "after": true })
    );
    // Saving the same again changes and audits nothing.
    app.send(Method::PUT, "/api/settings", &boss, &on).await;
    assert_eq!(app.audit_entries(org).await.len(), before + 1);
    assert_eq!(
        app.get("/api/settings", &viewer).await.1["remoteExecution"],
        true
    );
    assert_eq!(
        app.get("/api/settings", &other_boss).await.1,
        json!({ "remoteExecution": false, "exceptionApprover": null, "aiEnabled": false })
    );
}
