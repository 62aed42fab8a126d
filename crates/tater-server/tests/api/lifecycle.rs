//! Start-up, restart, demo seeding and graceful shutdown.

use std::sync::Arc;

use reqwest::Method;
use serde_json::Value;
use tater_domain::Role;
use tater_server::App;
use tater_service::SystemClock;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    demo_seeding_is_idempotent,
    in_flight_requests_finish_on_shutdown
);

async fn demo_seeding_is_idempotent(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("demo-password");
    let mut counts = Vec::new();
    let mut logins = Vec::new();
    for _ in 0..2 {
        let mut cfg = config(&db, Arc::new(SystemClock));
        cfg.demo_password_file = Some(password_file.clone());
        let app = App::build(cfg).await.unwrap();
        let login = app.demo_login.clone().unwrap();
        let running = TestApp::start(app, None, tater_testkit::entra::FakeEntra::start().await);
        let res = running
            .client
            .post(running.url("/api/auth/login"))
            .json(&serde_json::json!({ "email": login.email, "password": login.password }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "the printed demo login works");
        let token = res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut n = Vec::new();
        for module in ["poam", "risks", "config-docs", "audit-log"] {
            let page: Value = running
                .client
                .get(running.url(&format!("/api/{module}?limit=500")))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            n.push(page["items"].as_array().unwrap().len());
        }
        counts.push(n);
        logins.push(login.password);
    }
    assert_eq!(
        counts[0], counts[1],
        "a second start adds nothing and audits nothing"
    );
    assert!(
        counts[0][0] >= 5 && counts[0][1] >= 5 && counts[0][2] >= 2,
        "realistic sample data: {:?}",
        counts[0]
    );
    assert_eq!(
        logins[0], logins[1],
        "the same demo password across restarts"
    );
    let mode = std::fs::metadata(&password_file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            mode.permissions().mode() & 0o777,
            0o600,
            "demo password file is owner-only"
        );
    }
}

async fn in_flight_requests_finish_on_shutdown(db: TestDb) {
    let mut app = TestApp::spawn(db).await;
    let org = app.org("Org").await;
    let key = app.member(org, "admin@example.com", Role::Admin).await;
    // Enough rows that the export streams many pages after its headers are sent.
    let actor = tater_domain::Actor::system("test", "seed", org, tater_domain::Channel::Api);
    for n in 0..1200 {
        app.service
            .create_record(&actor, &tater_domain::modules::RISKS, &sample("risks", n))
            .await
            .unwrap();
    }
    let res = app
        .req(Method::GET, "/api/risks/export?format=json", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Headers are in; the body is still streaming. Ask the server to stop now.
    let base = app.base.clone();
    let body = tokio::spawn(async move { res.text().await });
    app.stop().await;
    let text = body.await.unwrap().unwrap();
    let rows: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(rows.len(), 1200, "the in-flight export completed");
    // And the server no longer accepts connections.
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err());
}
