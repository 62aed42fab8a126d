//! SPEC L1/L3: every create, update and delete writes exactly one entry with the right fields;
//! a failed write writes none; the log filters and pages.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::Role;
use tater_service::AdminOrgRef;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    every_write_has_exactly_one_entry,
    failed_writes_leave_no_entry,
    identity_changes_are_audited,
    log_filters_and_pages
);

fn is_iso_millis(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z'
        && s.chars()
            .enumerate()
            .all(|(i, c)| [4, 7, 10, 13, 16, 19, 23].contains(&i) || c.is_ascii_digit())
}

async fn new_entries(app: &TestApp, org: tater_domain::OrgId, before: usize) -> Vec<Value> {
    let all = app.audit_entries(org).await;
    all[..all.len() - before].to_vec()
}

async fn every_write_has_exactly_one_entry(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Org").await;
    let key = app.member(org, "writer@example.com", Role::Admin).await;
    let (_, me) = app.get("/api/me", &key).await;
    let user_id = me["user"]["id"].as_str().unwrap().to_owned();
    let started = app.service.now();
    for def in tater_domain::modules::ALL {
        let module = def.name;
        let check = |e: &Value, action: &str, id: &str| {
            assert_eq!(e["action"], action, "{module}");
            assert_eq!(e["tenantId"], org.to_string());
            assert_eq!(e["entityType"], def.entity_type);
            assert_eq!(e["entityId"], id);
            assert_eq!(e["userId"], user_id);
            assert_eq!(e["upn"], "writer@example.com");
            assert_eq!(e["oid"], Value::Null);
            assert_eq!(e["via"], "api");
            assert!(
                e["id"]
                    .as_str()
                    .unwrap()
                    .parse::<tater_domain::AuditId>()
                    .is_ok()
            );
            let ts = e["timestamp"].as_str().unwrap();
            assert!(is_iso_millis(ts), "timestamp {ts}");
            assert!(tater_domain::Timestamp::parse(ts).unwrap() >= started);
        };

        let n = app.audit_entries(org).await.len();
        let created = app.create(module, &key, sample(module, 1)).await;
        let id = created["id"].as_str().unwrap();
        let mut fresh = new_entries(&app, org, n).await;
        // A declared effect of recording (a finding's corrective-action task) writes the
        // record it makes and the link to it, each with its own entry, by the same person.
        let effects = if def.on_create.is_some() { 2 } else { 0 };
        assert_eq!(fresh.len(), 1 + effects, "{module} create");
        fresh.retain(|e| e["entityType"] == def.entity_type);
        assert_eq!(fresh.len(), 1, "{module} create");
        check(&fresh[0], "create", id);
        let label = label_field(module);
        assert_eq!(
            fresh[0]["changes"][label],
            json!({ "after": created[label] })
        );

        let n = app.audit_entries(org).await.len();
        let (s, _) = app
            .send(
                Method::PUT,
                &format!("/api/{module}/{id}"),
                &key,
                &changed(module, 1),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let fresh = new_entries(&app, org, n).await;
        assert_eq!(fresh.len(), 1, "{module} update");
        check(&fresh[0], "update", id);
        assert_eq!(
            fresh[0]["changes"],
            json!({ label: { "before": created[label], "after": "Changed 1" } }),
            "only the changed field"
        );

        // An update that changes nothing is not a change.
        let n = app.audit_entries(org).await.len();
        let (s, _) = app
            .send(
                Method::PUT,
                &format!("/api/{module}/{id}"),
                &key,
                &changed(module, 1),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            app.audit_entries(org).await.len(),
            n,
            "{module} no-op update"
        );

        let n = app.audit_entries(org).await.len();
        let s = app
            .req(Method::DELETE, &format!("/api/{module}/{id}"), &key)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(s, StatusCode::NO_CONTENT);
        let fresh = new_entries(&app, org, n).await;
        assert_eq!(fresh.len(), 1, "{module} delete");
        check(&fresh[0], "delete", id);
        assert_eq!(fresh[0]["changes"][label], json!({ "before": "Changed 1" }));
    }
}

async fn failed_writes_leave_no_entry(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Org").await;
    let admin = app.member(org, "admin@example.com", Role::Admin).await;
    let viewer = app.member(org, "viewer@example.com", Role::Viewer).await;
    for module in modules() {
        let rec = app.create(module, &admin, sample(module, 1)).await;
        let path = format!("/api/{module}/{}", rec["id"].as_str().unwrap());
        let before = app.snapshot(org).await;
        let attempts: Vec<(Method, String, &Key, Value, StatusCode)> = vec![
            (
                Method::POST,
                format!("/api/{module}"),
                &admin,
                json!({ "title": "" }),
                StatusCode::BAD_REQUEST,
            ),
            (
                Method::POST,
                format!("/api/{module}"),
                &viewer,
                sample(module, 2),
                StatusCode::FORBIDDEN,
            ),
            (
                Method::PUT,
                path.clone(),
                &admin,
                json!({ "title": 5 }),
                StatusCode::BAD_REQUEST,
            ),
            (
                Method::PUT,
                path.clone(),
                &viewer,
                changed(module, 2),
                StatusCode::FORBIDDEN,
            ),
            (
                Method::PUT,
                format!("/api/{module}/{}", tater_domain::RecordId::generate()),
                &admin,
                changed(module, 2),
                StatusCode::NOT_FOUND,
            ),
            (
                Method::PUT,
                path.clone(),
                &admin,
                {
                    let mut b = changed(module, 3);
                    b["version"] = json!(99);
                    b
                },
                StatusCode::CONFLICT,
            ),
            (
                Method::DELETE,
                path.clone(),
                &viewer,
                Value::Null,
                StatusCode::FORBIDDEN,
            ),
        ];
        for (method, url, key, body, expect) in attempts {
            let mut req = app.req(method.clone(), &url, key);
            if !body.is_null() {
                req = req.json(&body);
            }
            let status = req.send().await.unwrap().status();
            assert_eq!(status, expect, "{method} {url}");
        }
        assert_eq!(
            app.snapshot(org).await,
            before,
            "{module}: failed writes changed nothing and audited nothing"
        );
    }
}

async fn identity_changes_are_audited(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Org").await;
    // A new organization is audited, then each starter data label it gets.
    let (labels, entries): (Vec<Value>, Vec<Value>) = app
        .audit_entries(org)
        .await
        .into_iter()
        .partition(|e| e["entityType"] == "data-label");
    assert_eq!(labels.len(), 4);
    assert!(labels.iter().all(|e| e["userId"] == "system:org-setup"));
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (
            entries[0]["entityType"].clone(),
            entries[0]["action"].clone()
        ),
        (json!("organization"), json!("create"))
    );
    assert_eq!(entries[0]["userId"], "system:test");
    assert_eq!(entries[0]["upn"], "test-suite");

    let org_ref = org.to_string();
    app.service
        .admin_create_user(
            &operator(),
            AdminOrgRef(&org_ref),
            "pw@example.com",
            Role::Viewer,
            Some("correct horse battery"),
            None,
        )
        .await
        .unwrap();
    let entries = app.audit_entries(org).await;
    let kinds: Vec<(String, String)> = entries[..2]
        .iter()
        .map(|e| {
            (
                e["entityType"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("membership".into(), "create".into()),
            ("user".into(), "create".into())
        ]
    );
    let user_entry = &entries[1];
    assert_eq!(user_entry["changes"]["passwordHash"]["after"], "[redacted]");
    assert!(
        !user_entry.to_string().contains("argon2"),
        "no hash in the log"
    );

    app.service
        .admin_create_user(
            &operator(),
            AdminOrgRef(&org_ref),
            "pw@example.com",
            Role::Admin,
            None,
            None,
        )
        .await
        .unwrap();
    let latest = &app.audit_entries(org).await[0];
    assert_eq!(
        (latest["entityType"].clone(), latest["action"].clone()),
        (json!("membership"), json!("update"))
    );
    assert_eq!(
        latest["changes"]["role"],
        json!({ "before": "viewer", "after": "admin" })
    );

    let key = app
        .service
        .admin_create_api_key(
            &operator(),
            "pw@example.com",
            Some(AdminOrgRef(&org_ref)),
            "ci",
            None,
            None,
        )
        .await
        .unwrap();
    let latest = &app.audit_entries(org).await[0];
    assert_eq!(latest["entityType"], "api-key");
    assert_eq!(latest["entityId"], key.record.id.to_string());
    let text = latest.to_string();
    assert!(
        !text.contains(&key.key) && !text.contains(&key.record.key_hash),
        "the key never reaches the log"
    );

    app.service
        .admin_set_password(&operator(), "pw@example.com", "another long password")
        .await
        .unwrap();
    let latest = &app.audit_entries(org).await[0];
    assert_eq!(
        (latest["entityType"].clone(), latest["action"].clone()),
        (json!("user"), json!("update"))
    );
    assert_eq!(
        latest["changes"]["passwordHash"],
        json!({ "before": "[redacted]", "after": "[redacted]" })
    );
}

async fn log_filters_and_pages(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Org").await;
    let admin = app.member(org, "admin@example.com", Role::Admin).await;
    let auditor = app.member(org, "auditor@example.com", Role::Auditor).await;
    let (_, me) = app.get("/api/me", &admin).await;
    let admin_id = me["user"]["id"].as_str().unwrap().to_owned();
    let poam = app.create("poam", &admin, sample("poam", 1)).await;
    let poam_id = poam["id"].as_str().unwrap();
    app.send(
        Method::PUT,
        &format!("/api/poam/{poam_id}"),
        &admin,
        &changed("poam", 1),
    )
    .await;
    app.create("risks", &admin, sample("risks", 1)).await;

    let q = |query: &str| {
        let app = &app;
        let auditor = &auditor;
        let url = format!("/api/audit-log?{query}");
        async move {
            let (s, body) = app.get(&url, auditor).await;
            assert_eq!(s, StatusCode::OK, "{url}: {body}");
            body["items"].as_array().unwrap().clone()
        }
    };
    assert_eq!(q("entityType=poam").await.len(), 2);
    assert_eq!(
        q(&format!("entityId={poam_id}&action=update")).await.len(),
        1
    );
    assert_eq!(q(&format!("userId={admin_id}")).await.len(), 3);
    assert_eq!(q("via=api&entityType=risk").await.len(), 1);
    assert_eq!(q("via=web").await.len(), 0);
    assert!(q("from=2000-01-01&to=2100-01-01").await.len() >= 3);
    assert_eq!(q("to=2000-01-01").await.len(), 0);

    let everything = q("limit=500").await;
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, body) = app
            .get(&format!("/api/audit-log?limit=2{cursor}"), &auditor)
            .await;
        paged.extend(body["items"].as_array().unwrap().iter().cloned());
        match body["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(paged, everything, "pages join up to the whole log");

    for bad in [
        "via=email",
        "action=approve",
        "from=yesterday",
        "limit=0",
        "limit=501",
        "cursor=x",
        "colour=red",
        "via=api&via=web",
    ] {
        let (s, body) = app.get(&format!("/api/audit-log?{bad}"), &auditor).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"], "VALIDATION_FAILED", "{bad}");
    }
}
