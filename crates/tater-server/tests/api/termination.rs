//! Terminating an organization (issue 19 §2): every kind of credential refused at once, the
//! export still open to its OrgAdmins during the grace period, and after it every row and
//! file deleted — unique markers searched for in the database's raw bytes (SQLite file and
//! write-ahead log) or its dump (PostgreSQL) and in the file store — with a deletion
//! certificate that `openssl` verifies against the published key.

use std::path::Path;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::mcp::raw_call;
use crate::support::*;

both_engines!(
    the_operator_sees_each_organizations_usage_and_status,
    terminating_closes_every_door_at_once,
    after_the_grace_nothing_of_it_remains_and_a_signed_certificate_says_so,
);

const DAY: i64 = 24 * 3600;

fn code(v: &Value) -> &str {
    v["error"].as_str().unwrap_or_default()
}

async fn terminating_closes_every_door_at_once(db: TestDb) {
    let clock = Arc::new(ShiftedClock::default());
    let app = TestApp::spawn_with(db, clock.clone()).await;
    let home = app.org("Operator").await;
    let root = app
        .member(home, "root@operator.test", Role::SuperAdmin)
        .await;
    let (doomed, tid) = app.entra_org("Doomed").await;
    let boss = app.person(doomed, "boss@doomed.test", Role::OrgAdmin).await;
    let web = crate::web::sign_in(&app, "boss@doomed.test").await;
    let key = app.member(doomed, "admin@doomed.test", Role::Admin).await;
    let (entra, _) = app
        .entra_member(doomed, &tid, "entra@doomed.test", Role::Admin)
        .await;
    let enrollment = token(&app, &key, false).await;
    let (s, agent) = enroll(&app, &enrollment, "host-1").await;
    assert_eq!(s, StatusCode::CREATED, "{agent}");
    let agent = Key::api(agent["apiKey"].as_str().unwrap().to_owned());
    let before = app.create("risks", &key, sample("risks", 1)).await;
    let risk = before["id"].as_str().unwrap();
    let outsider = app
        .person(home, "outsider@operator.test", Role::Viewer)
        .await;
    let invite = json!({ "email": "outsider@operator.test", "role": "viewer" });
    let (s, v) = app.send(Method::POST, "/api/members", &boss, &invite).await;
    assert!(s.is_success(), "{v}");

    // Only a SuperAdmin terminates, and not the organization it acts in.
    let path = format!("/api/organizations/{doomed}/terminate");
    assert_eq!(
        app.call(Method::POST, &path, &boss).await.0,
        StatusCode::FORBIDDEN
    );
    let own = format!("/api/organizations/{home}/terminate");
    let (s, v) = app.call(Method::POST, &own, &root).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "OWN_ORGANIZATION"),
        "{v}"
    );

    let (s, view) = app.call(Method::POST, &path, &root).await;
    assert_eq!(s, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "terminated");
    let at = view["terminatedAt"].as_str().unwrap().to_owned();
    let after = view["deleteAfter"].as_str().unwrap();
    let days = (time::OffsetDateTime::parse(after, &time::format_description::well_known::Rfc3339)
        .unwrap()
        - time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339)
            .unwrap())
    .whole_days();
    assert_eq!(days, 30, "the default grace");
    let (s, again) = app.call(Method::POST, &path, &root).await;
    assert_eq!(
        (s, code(&again)),
        (StatusCode::CONFLICT, "ALREADY_TERMINATED")
    );

    // Every credential of the organization, refused at once.
    let risk_path = format!("/api/risks/{risk}");
    for (what, cred) in [
        ("API key", &key),
        ("session token", &boss),
        ("Entra token", &entra),
    ] {
        let (s, v) = app.get(&risk_path, cred).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "ORG_TERMINATED"),
            "{what}: {v}"
        );
        let (s, v) = app
            .send(Method::POST, "/api/risks", cred, &sample("risks", 2))
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "ORG_TERMINATED"),
            "{what}: {v}"
        );
    }
    let (s, v) = app.get("/api/agent/commands", &agent).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "ORG_TERMINATED"),
        "agent: {v}"
    );
    let scan = report(
        &new_id(),
        "2026-12-01T00:00:00Z",
        &[("linux.time.sync", "Pass")],
    );
    let (s, v) = app
        .send(Method::POST, "/api/agent/scans", &agent, &scan)
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "ORG_TERMINATED"),
        "agent report: {v}"
    );
    // Not even a sign of life is taken (it opens no tenant data, so it is refused at sign-in).
    let (s, v) = app
        .send(Method::POST, "/api/agent/heartbeat", &agent, &json!({}))
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "ORG_TERMINATED"),
        "agent heartbeat: {v}"
    );
    // Its members still learn who they are, and that the organization was terminated.
    let (s, me) = app.get("/api/me", &boss).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    let membership = me["memberships"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["orgId"] == doomed.to_string()))
        .cloned()
        .unwrap_or_else(|| panic!("{me}"));
    assert_eq!(membership["terminated"], true, "{me}");
    let (s, v) = enroll(&app, &enrollment, "host-2").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "ORG_TERMINATED"),
        "enrollment: {v}"
    );
    // Nor does an invitation into it change it, accepted or declined.
    let invitation = app
        .invitations(&outsider)
        .await
        .into_iter()
        .find(|i| i["orgId"] == doomed.to_string())
        .expect("the invitation is listed");
    for answer in ["accept", "decline"] {
        let path = format!(
            "/api/invitations/{}/{answer}",
            invitation["id"].as_str().unwrap()
        );
        let (s, v) = app.call(Method::POST, &path, &outsider).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "ORG_TERMINATED"),
            "{answer}: {v}"
        );
    }
    let call = raw_call(&app, &boss, "get_posture", json!({})).await;
    let refused = match &call {
        Ok(answer) => answer["result"]["isError"] == true || answer["error"].is_object(),
        Err(status) => *status == StatusCode::FORBIDDEN,
    };
    assert!(refused, "MCP: {call:?}");
    let page = crate::web::page(&app, Some(&web), &format!("/app/risks/{risk}")).await;
    assert_eq!(
        page.status,
        StatusCode::FORBIDDEN,
        "web page: {}",
        page.body
    );
    assert!(
        !page.body.contains(risk),
        "the page shows nothing of the record"
    );

    // The OrgAdmins' way out: the full export still answers during the grace period.
    let export = app
        .req(Method::GET, "/api/export", &boss)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::OK);
    assert!(export.bytes().await.unwrap().starts_with(b"PK"));

    // Lifted during the grace: every credential answers again.
    let cancel = format!("/api/organizations/{doomed}/terminate/cancel");
    let (s, view) = app.call(Method::POST, &cancel, &root).await;
    assert_eq!(
        (s, view["status"].as_str()),
        (StatusCode::OK, Some("active")),
        "{view}"
    );
    for cred in [&key, &boss, &entra] {
        assert_eq!(app.get(&risk_path, cred).await.0, StatusCode::OK);
    }
    assert_eq!(
        app.get("/api/agent/commands", &agent).await.0,
        StatusCode::OK
    );
    let (s, v) = app.call(Method::POST, &cancel, &root).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "NOT_TERMINATED"),
        "{v}"
    );

    // Terminated again: a day before its grace ends nothing is deleted, and it stays closed.
    assert_eq!(app.call(Method::POST, &path, &root).await.0, StatusCode::OK);
    clock.advance_secs(29 * DAY);
    assert!(
        app.service
            .delete_terminated_organizations()
            .await
            .unwrap()
            .is_empty()
    );
    let (s, v) = app.get(&risk_path, &key).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "ORG_TERMINATED"),
        "{v}"
    );
    assert_eq!(
        app.call(Method::POST, &cancel, &root).await.0,
        StatusCode::OK
    );
    assert_eq!(app.get(&risk_path, &key).await.0, StatusCode::OK);
    let changes: Vec<Value> = app
        .audit_entries(doomed)
        .await
        .into_iter()
        .filter(|e| e["entityType"] == "organization" && e["action"] == "update")
        .map(|e| e["changes"]["status"]["after"]["status"].clone())
        .collect();
    // Newest first.
    let expected = ["active", "terminated", "active", "terminated"].map(|s| json!(s));
    assert_eq!(
        changes,
        expected.to_vec(),
        "each change audited in its own log"
    );
    clock.advance_secs(10 * DAY);
    assert!(
        app.service
            .delete_terminated_organizations()
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_operator_sees_each_organizations_usage_and_status(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let home = app.org("Operator").await;
    let root = app
        .member(home, "root@operator.test", Role::SuperAdmin)
        .await;
    let busy = app.org("Busy").await;
    let quiet = app.org("Quiet").await;
    let admin = app.member(busy, "admin@busy.test", Role::OrgAdmin).await;
    app.member(busy, "viewer@busy.test", Role::Viewer).await;
    app.member(quiet, "only@quiet.test", Role::OrgAdmin).await;
    for n in 1..=3 {
        app.create("risks", &admin, sample("risks", n)).await;
    }
    app.create("tasks", &admin, sample("tasks", 1)).await;
    let evidence = app.create("evidence", &admin, sample("evidence", 1)).await;
    let evidence = evidence["id"].as_str().unwrap();
    for name in ["a.txt", "same-bytes-again.txt"] {
        let (s, v) = crate::evidence_files::upload(
            &app,
            &admin,
            evidence,
            name,
            "text/plain",
            vec![b'x'; 1000],
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let enrollment = token(&app, &admin, false).await;
    assert_eq!(
        enroll(&app, &enrollment, "busy-1").await.0,
        StatusCode::CREATED
    );
    let (s, v) = app
        .call(
            Method::POST,
            &format!("/api/organizations/{quiet}/terminate"),
            &root,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    assert_eq!(
        app.get("/api/organizations/usage", &admin).await.0,
        StatusCode::FORBIDDEN,
        "an OrgAdmin sees no other organization"
    );
    let (s, usage) = app.get("/api/organizations/usage", &root).await;
    assert_eq!(s, StatusCode::OK, "{usage}");
    let of = |id: tater_domain::OrgId| {
        usage["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["organization"]["id"] == id.to_string())
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {usage}"))
    };
    let b = of(busy);
    assert_eq!(b["organization"]["status"], "active");
    assert_eq!(
        (b["members"].as_u64(), b["endpoints"].as_u64()),
        (Some(2), Some(1)),
        "{b}"
    );
    assert_eq!(b["records"]["risks"], 3);
    assert_eq!(b["records"]["tasks"], 1);
    assert!(b["recordsTotal"].as_u64().unwrap() >= 5, "{b}");
    assert_eq!(b["fileBytes"], 1000, "the same bytes twice are stored once");
    assert!(b["auditEntries"].as_u64().unwrap() >= 8, "{b}");
    assert!(b["lastActivity"].is_string(), "{b}");
    let q = of(quiet);
    assert_eq!(q["organization"]["status"], "terminated");
    assert!(q["organization"]["deleteAfter"].is_string(), "{q}");
    assert_eq!(
        (q["members"].as_u64(), q["endpoints"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(q["fileBytes"], 0);
}

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), bytes));
        }
    }
    out
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Puts `marker` in as many of an organization's tables as the API reaches: a record of
/// every module, a comment, a link, an evidence file (its bytes and name), an endpoint with
/// a scan, a SIEM destination with its queue, an enrollment token, an API key, an invitation,
/// a member — and the audit log of all of it.
async fn mark(app: &TestApp, org: tater_domain::OrgId, admin: &Key, marker: &str) {
    let mut first = None;
    for module in modules() {
        let mut body = sample(module, 1);
        let field = label_field(module);
        body[field] = json!(format!("{marker} {module}"));
        let (s, created) = app
            .send(Method::POST, &format!("/api/{module}"), admin, &body)
            .await;
        assert_eq!(s, StatusCode::CREATED, "{module}: {created}");
        first.get_or_insert_with(|| (module, created["id"].as_str().unwrap().to_owned()));
    }
    let (module, id) = first.unwrap();
    let comment = json!({ "body": format!("{marker} comment") });
    let (s, v) = app
        .send(
            Method::POST,
            &format!("/api/{module}/{id}/comments"),
            admin,
            &comment,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let evidence = app.create("evidence", admin, sample("evidence", 1)).await;
    let evidence = evidence["id"].as_str().unwrap();
    let (s, v) = crate::evidence_files::upload(
        app,
        admin,
        evidence,
        &format!("{marker}.txt"),
        "text/plain",
        format!("file bytes {marker}").into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = token(app, admin, false).await;
    let (s, agent) = enroll(app, &token, &format!("{}-host", marker.to_lowercase())).await;
    assert_eq!(s, StatusCode::CREATED, "{agent}");
    let agent = Key::api(agent["apiKey"].as_str().unwrap().to_owned());
    let scan = json!({ "scanId": new_id(), "startedAt": "2026-12-01T00:00:00Z",
        "finishedAt": "2026-12-01T00:00:00Z",
        "results": [{ "checkId": "linux.time.sync", "status": "Fail", "evidence": marker }] });
    let (s, v) = app
        .send(Method::POST, "/api/agent/scans", &agent, &scan)
        .await;
    assert!(s.is_success(), "{v}");
    let destination = json!({ "type": "webhook", "name": format!("{marker} siem"),
        "url": "http://127.0.0.1:9/hook", "secret": "a-webhook-secret-of-enough-length" });
    let (s, v) = app
        .send(Method::POST, "/api/siem-destinations", admin, &destination)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .send(
            Method::POST,
            "/api/api-keys",
            admin,
            &json!({ "name": format!("{marker} key") }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let invite =
        json!({ "email": format!("{}@invited.test", marker.to_lowercase()), "role": "viewer" });
    let (s, v) = app.send(Method::POST, "/api/members", admin, &invite).await;
    assert!(s.is_success(), "{v}");
    app.member(
        org,
        &format!("{}@member.test", marker.to_lowercase()),
        Role::Viewer,
    )
    .await;
}

async fn after_the_grace_nothing_of_it_remains_and_a_signed_certificate_says_so(db: TestDb) {
    let owner = db.owner();
    let files = tempfile::tempdir().unwrap();
    let clock = Arc::new(ShiftedClock::default());
    let store = files.path().to_path_buf();
    let app = TestApp::spawn_configured(db, |c| {
        c.clock = clock.clone();
        c.files = tater_service::files_config(
            tater_blobs::BlobStore::directory(&store).ok(),
            4 * 1024 * 1024,
            None,
        );
    })
    .await;
    let home = app.org("Operator").await;
    let root = app
        .member(home, "root@operator.test", Role::SuperAdmin)
        .await;
    let doomed = app.org("Doomed Corp").await;
    let kept = app.org("Kept Corp").await;
    let suffix = new_id().replace('-', "");
    let gone = format!("GONE{}", &suffix[..12]);
    let stays = format!("STAYS{}", &suffix[..12]);
    let doomed_admin = app
        .member(doomed, "admin@doomed.test", Role::OrgAdmin)
        .await;
    let kept_admin = app.member(kept, "admin@kept.test", Role::OrgAdmin).await;
    mark(&app, doomed, &doomed_admin, &gone).await;
    mark(&app, kept, &kept_admin, &stays).await;
    let everything = owner.everything();
    assert!(
        holds(&everything, &gone) && holds(&everything, &stays),
        "markers stored"
    );

    let certificate_path = format!("/api/organizations/{doomed}/deletion-certificate");
    let (s, v) = app.get(&certificate_path, &root).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "NOT_DELETED"), "{v}");
    let (s, v) = app
        .call(
            Method::POST,
            &format!("/api/organizations/{doomed}/terminate"),
            &root,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    clock.advance_secs(30 * DAY - 60);
    assert!(
        app.service
            .delete_terminated_organizations()
            .await
            .unwrap()
            .is_empty()
    );
    assert!(holds(&owner.everything(), &gone), "kept through the grace");

    clock.advance_secs(120);
    let deleted = app.service.delete_terminated_organizations().await.unwrap();
    assert_eq!(deleted.len(), 1);

    // Nothing of it in the database (SQLite: the file and its write-ahead log, byte for
    // byte; PostgreSQL: every table of the schema) or the file store; the other organization
    // whole.
    let everything = owner.everything();
    assert!(
        !holds(&everything, &gone),
        "a marker of the deleted organization remains"
    );
    assert!(
        holds(&everything, &stays),
        "the other organization is untouched"
    );
    let stored = files_under(files.path());
    assert!(
        stored.iter().all(|(_, bytes)| !holds(bytes, &gone)),
        "a file remains"
    );
    assert!(stored.iter().any(|(_, bytes)| holds(bytes, &stays)));
    assert!(
        !files.path().join(doomed.to_string()).exists(),
        "the organization's directory is gone too"
    );
    assert_eq!(
        app.get("/api/risks", &doomed_admin).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/api/risks", &kept_admin).await.0, StatusCode::OK);

    // The certificate: what went, signed with the key anyone can fetch, checked by openssl.
    let (s, cert) = app.get(&certificate_path, &root).await;
    assert_eq!(s, StatusCode::OK, "{cert}");
    let payload = cert["payload"].as_str().unwrap();
    let body: Value = serde_json::from_str(payload).unwrap();
    assert_eq!(body["organization"]["id"], doomed.to_string());
    assert_eq!(body["organization"]["name"], "Doomed Corp");
    assert_eq!(body["filesDeleted"], 1);
    let rows = body["rowsDeleted"].as_object().unwrap();
    eprintln!("rows deleted per table: {rows:?}");
    for table in [
        "records",
        "audit_log",
        "record_comments",
        "evidence_files",
        "endpoints",
        "scans",
        "scan_results",
        "siem_destinations",
        "siem_outbox",
        "api_keys",
        "invitations",
        "memberships",
        "enrollment_tokens",
        "users",
        "organizations",
    ] {
        assert!(
            rows.get(table).and_then(Value::as_u64).unwrap_or(0) > 0,
            "{table}: {rows:?}"
        );
    }
    let key_pem = app
        .client
        .get(app.url("/.well-known/tater-signing-key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let key = write("key.pem", key_pem.as_bytes());
    let sig = write(
        "sig.bin",
        &base64_decode(cert["signature"].as_str().unwrap()),
    );
    let verify = |message: &Path| {
        std::process::Command::new("openssl")
            .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
            .arg(&key)
            .arg("-rawin")
            .arg("-in")
            .arg(message)
            .arg("-sigfile")
            .arg(&sig)
            .output()
            .expect("openssl is installed")
    };
    let good = verify(&write("payload.json", payload.as_bytes()));
    assert!(
        good.status.success(),
        "{}{}",
        String::from_utf8_lossy(&good.stdout),
        String::from_utf8_lossy(&good.stderr)
    );
    let forged = payload.replace("Doomed Corp", "Other Corp");
    assert!(
        !verify(&write("forged.json", forged.as_bytes()))
            .status
            .success()
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}
