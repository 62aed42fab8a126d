//! Audits and their findings: a finding opens its corrective-action task as it is recorded,
//! a POA&M item when it is taken into the POA&M — each linked to it, made by the same
//! person in the same write, and audited.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    a_finding_opens_its_corrective_task_and_its_poam_item,
    an_audit_moves_phase_by_phase_and_stays_as_completed,
    a_snapshot_freezes_the_scope_and_its_package_carries_the_hashes,
    an_auditor_token_reads_only_its_audit_until_revoked_or_expired,
);

/// The records linked to `module/id`, as `(module, id)`.
async fn linked(app: &TestApp, key: &Key, module: &str, id: &str) -> Vec<(String, String)> {
    let (status, links) = app.get(&format!("/api/{module}/{id}/links"), key).await;
    assert_eq!(status, StatusCode::OK, "{links}");
    links["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let s = |v: &Value| v.as_str().unwrap().to_owned();
            (s(&l["to"]["module"]), s(&l["to"]["id"]))
        })
        .collect()
}

async fn move_finding(app: &TestApp, key: &Key, id: &str, body: Value) -> (StatusCode, Value) {
    app.send(
        Method::POST,
        &format!("/api/findings/{id}/transitions"),
        key,
        &body,
    )
    .await
}

async fn move_audit(app: &TestApp, key: &Key, id: &str, to: &str) -> (StatusCode, Value) {
    let body = json!({ "to": to, "comment": "per plan" });
    app.send(
        Method::POST,
        &format!("/api/audits/{id}/transitions"),
        key,
        &body,
    )
    .await
}

async fn a_finding_opens_its_corrective_task_and_its_poam_item(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Audited").await;
    let lead = app.member(org, "lead@audited.test", Role::Admin).await;
    let audit = app.create("audits", &lead, sample("audits", 1)).await;
    let audit_id = audit["id"].as_str().unwrap();
    assert_eq!(audit["status"], "Planning");

    let mut body = sample("findings", 1);
    body["audit"] = json!(audit_id);
    body["severity"] = json!("Critical");
    let finding = app.create("findings", &lead, body).await;
    let id = finding["id"].as_str().unwrap();
    assert_eq!(finding["status"], "Open");

    // The corrective-action task: the owner's, due when the finding says, linked both ways.
    let links = linked(&app, &lead, "findings", id).await;
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0].0, "tasks");
    let task_id = links[0].1.clone();
    let (_, task) = app.get(&format!("/api/tasks/{task_id}"), &lead).await;
    assert_eq!(task["title"], "Corrective action: Finding 1");
    assert_eq!(task["assignee"], "ann@example.com");
    assert_eq!(task["dueDate"], finding["dueDate"]);
    assert_eq!(task["priority"], "Critical");
    assert_eq!(task["source"], "Audit finding");
    assert_eq!(task["controls"], json!(["ac-2"]));
    assert!(
        task["description"]
            .as_str()
            .unwrap()
            .starts_with("Review accounts monthly"),
        "{task}"
    );
    assert_eq!(
        linked(&app, &lead, "tasks", &task_id).await,
        vec![("findings".to_owned(), id.to_owned())]
    );
    // The owner finds it among their tasks.
    let (_, mine) = app.get("/api/tasks?assignee=ann@example.com", &lead).await;
    assert_eq!(mine["items"][0]["id"], task_id.as_str());
    let (_, of_audit) = app
        .get(&format!("/api/findings?audit={audit_id}"), &lead)
        .await;
    assert_eq!(of_audit["items"].as_array().unwrap().len(), 1);

    // Taken into the POA&M: an item with the finding's weakness and its fix as a milestone.
    let (status, moved) = move_finding(&app, &lead, id, json!({ "to": "Tracked in POA&M" })).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let poam: Vec<_> = linked(&app, &lead, "findings", id)
        .await
        .into_iter()
        .filter(|(m, _)| m == "poam")
        .collect();
    assert_eq!(poam.len(), 1);
    let (_, item) = app.get(&format!("/api/poam/{}", poam[0].1), &lead).await;
    assert_eq!(item["title"], "Finding 1");
    assert_eq!(item["weaknessDescription"], "Stale accounts");
    assert_eq!(item["impact"], "High");
    assert_eq!(item["scheduledCompletion"], finding["dueDate"]);
    assert_eq!(item["pointOfContact"], "ann@example.com");
    assert_eq!(
        item["source"],
        format!("Audit: Audit 1 (finding {id})").as_str()
    );
    assert_eq!(
        item["milestones"][0]["description"],
        "Review accounts monthly"
    );

    // Every record made is audited as the person who recorded the finding.
    let entries = app.audit_entries(org).await;
    let recorded = entries
        .iter()
        .find(|e| e["action"] == "create" && e["entityId"] == id)
        .unwrap();
    let by_lead = |kind: &str, entity: &str| {
        entries.iter().any(|e| {
            e["action"] == "create"
                && e["entityType"] == kind
                && (entity.is_empty() || e["entityId"] == entity)
                && e["userId"] == recorded["userId"]
        })
    };
    assert!(by_lead("task", &task_id));
    assert!(by_lead("poam", &poam[0].1));
    assert!(by_lead("link", ""));
    let taken = entries
        .iter()
        .find(|e| e["action"] == "transition" && e["entityId"] == id)
        .unwrap();
    assert_eq!(
        taken["changes"]["_transition"]["effects"],
        json!([{ "module": "poam", "id": poam[0].1 }])
    );

    // Closing needs a word on how the fix was verified, and is a person's decision.
    let (status, p) = move_finding(&app, &lead, id, json!({ "to": "Closed" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
    assert_eq!(p["errors"][0]["field"], "comment");
    let verified = json!({ "to": "Closed", "comment": "Re-tested: no stale accounts" });
    let (status, closed) = move_finding(&app, &lead, id, verified).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    let (status, p) = app
        .send(Method::PUT, &format!("/api/findings/{id}"), &lead, &closed)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    assert_eq!(p["error"], "RECORD_DECIDED");
    // Reopened and tracked again: the POA&M item it opened stays the one.
    for to in ["Open", "Tracked in POA&M"] {
        let (status, p) =
            move_finding(&app, &lead, id, json!({ "to": to, "comment": "regressed" })).await;
        assert_eq!(status, StatusCode::OK, "{p}");
    }
    let items: Vec<_> = linked(&app, &lead, "findings", id)
        .await
        .into_iter()
        .filter(|(m, _)| m == "poam")
        .collect();
    assert_eq!(items, poam);

    // A finding naming another organization's audit is refused, and nothing is made.
    let other = app.org("Other").await;
    let theirs = app.member(other, "them@other.test", Role::Admin).await;
    let mut foreign = sample("findings", 2);
    foreign["audit"] = json!(audit_id);
    let (_, tasks_before) = app.get("/api/tasks", &theirs).await;
    let (status, p) = app
        .send(Method::POST, "/api/findings", &theirs, &foreign)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
    assert_eq!(p["errors"][0]["field"], "audit");
    let (_, tasks_after) = app.get("/api/tasks", &theirs).await;
    assert_eq!(tasks_before, tasks_after);
    assert_eq!(tasks_after["items"], json!([]));
}

async fn an_audit_moves_phase_by_phase_and_stays_as_completed(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Audited").await;
    let lead = app.member(org, "lead@audited.test", Role::Admin).await;
    let owner = app.member(org, "owner@audited.test", Role::OrgAdmin).await;

    let mut backwards = sample("audits", 1);
    backwards["periodEnd"] = json!(in_days(-60));
    let (status, p) = app
        .send(Method::POST, "/api/audits", &lead, &backwards)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
    assert_eq!(p["errors"][0]["field"], "periodEnd");

    let audit = app.create("audits", &lead, sample("audits", 1)).await;
    let id = audit["id"].as_str().unwrap();
    // No skipping a phase.
    let (status, p) = move_audit(&app, &lead, id, "Review").await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    for phase in ["Fieldwork", "Review", "Reporting", "Complete"] {
        let (status, p) = move_audit(&app, &lead, id, phase).await;
        assert_eq!(status, StatusCode::OK, "{phase}: {p}");
    }
    let (_, done) = app.get(&format!("/api/audits/{id}"), &lead).await;
    let mut edit = done.clone();
    edit["leadAuditor"] = json!("someone@else.test");
    let (status, p) = app
        .send(Method::PUT, &format!("/api/audits/{id}"), &lead, &edit)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    assert_eq!(p["error"], "RECORD_DECIDED");
    // Reopening is an OrgAdmin's, with a reason.
    let (status, p) = move_audit(&app, &lead, id, "Reporting").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
    let (status, p) = move_audit(&app, &owner, id, "Reporting").await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let (_, history) = app
        .get(&format!("/api/audits/{id}/transitions"), &lead)
        .await;
    let decisions = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["decision"] == true)
        .count();
    assert_eq!(decisions, 1, "{history}");
}

/// An organization with one endpoint failing IA-5, an overlay on IA-5, evidence for IA-5 and
/// for AC-1, and an audit scoped to IA-5.
struct Audited {
    org: tater_domain::OrgId,
    owner: Key,
    lead: Key,
    audit: String,
    evidence: String,
}

async fn audited(app: &TestApp) -> Audited {
    let org = app.org("Audited").await;
    let owner = app.member(org, "owner@audited.test", Role::OrgAdmin).await;
    let lead = app.member(org, "lead@audited.test", Role::Admin).await;
    let (_, enrolled) = enroll(app, &token(app, &owner, false).await, "web-01").await;
    let agent = Key::api(enrolled["apiKey"].as_str().unwrap().to_owned());
    let scan = report(
        &new_id(),
        "2026-11-29T09:00:00Z",
        &[("linux.accounts.empty-passwords", "Fail")],
    );
    let (s, p) = app
        .send(Method::POST, "/api/agent/scans", &agent, &scan)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let (s, p) = app
        .send(
            Method::PUT,
            "/api/controls/ia-5/overlay",
            &lead,
            &json!({ "implementationStatus": "partial", "narrative": "Passwords are checked" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let mut ev = sample("evidence", 1);
    ev["controls"] = json!(["IA-5"]);
    let evidence = app.create("evidence", &lead, ev).await;
    let mut other = sample("evidence", 2);
    other["controls"] = json!(["AC-1"]);
    app.create("evidence", &lead, other).await;
    let mut body = sample("audits", 1);
    body["scope"] = json!(["IA-5"]);
    let audit = app.create("audits", &lead, body).await;
    Audited {
        org,
        owner,
        lead,
        audit: audit["id"].as_str().unwrap().to_owned(),
        evidence: evidence["id"].as_str().unwrap().to_owned(),
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn a_snapshot_freezes_the_scope_and_its_package_carries_the_hashes(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let a = audited(&app).await;
    let snapshots = format!("/api/audits/{}/snapshots", a.audit);
    let viewer = app.member(a.org, "viewer@audited.test", Role::Viewer).await;
    let (status, _) = app
        .send(Method::POST, &snapshots, &viewer, &json!(null))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, taken) = app
        .send(Method::POST, &snapshots, &a.lead, &json!(null))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{taken}");
    let id = taken["id"].as_str().unwrap().to_owned();
    assert!(taken.get("body").is_none());

    let (_, read) = app.get(&format!("{snapshots}/{id}"), &viewer).await;
    let body = &read["body"];
    assert_eq!(body["audit"]["id"], a.audit.as_str());
    let controls = body["controls"].as_array().unwrap();
    assert_eq!(controls.len(), 1, "only the control in scope: {body}");
    assert_eq!(controls[0]["id"], "ia-5");
    assert_eq!(controls[0]["results"]["totals"]["fail"], 1);
    assert_eq!(controls[0]["overlay"]["implementationStatus"], "partial");
    assert_eq!(controls[0]["evidence"], json!([a.evidence]));
    let evidence = body["evidence"].as_array().unwrap();
    assert_eq!(evidence.len(), 1, "AC-1's evidence is out of scope");
    assert_eq!(evidence[0]["id"], a.evidence.as_str());
    assert_eq!(body["posture"]["totals"]["fail"], 1);

    // Later changes leave it as it was.
    let (_, mut current) = app
        .get(&format!("/api/evidence/{}", a.evidence), &a.lead)
        .await;
    current["title"] = json!("Renamed later");
    let (s, p) = app
        .send(
            Method::PUT,
            &format!("/api/evidence/{}", a.evidence),
            &a.lead,
            &current,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let (_, again) = app.get(&format!("{snapshots}/{id}"), &viewer).await;
    assert_eq!(again, read);
    let (_, list) = app.get(&snapshots, &viewer).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // The package: the snapshot as stored (its hash is the snapshot's), the reports, and a
    // manifest whose hashes match the files.
    let res = app
        .req(Method::GET, &format!("{snapshots}/{id}/package"), &a.lead)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let files = crate::data_export::unzip(&res.bytes().await.unwrap());
    assert_eq!(
        sha256(files["snapshot.json"].as_bytes()),
        taken["sha256"].as_str().unwrap()
    );
    let manifest: Value = serde_json::from_str(&files["manifest.json"]).unwrap();
    assert_eq!(manifest["snapshot"]["sha256"], taken["sha256"]);
    let entries = app.audit_entries(a.org).await;
    let recorded = entries
        .iter()
        .find(|e| e["id"] == manifest["recordedBy"]["auditEntryId"])
        .unwrap();
    assert_eq!(recorded["changes"]["sha256"]["after"], taken["sha256"]);
    assert_eq!(recorded["seq"], manifest["recordedBy"]["seq"]);
    // No member's name travels in it beyond who took the snapshot.
    assert!(!files["snapshot.json"].contains("createdBy"));
    for f in manifest["files"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        assert_eq!(
            f["sha256"].as_str().unwrap(),
            sha256(files[name].as_bytes()),
            "{name}"
        );
    }
    let status_csv = files["control-status.csv"].trim_start_matches('\u{feff}');
    let rows: Vec<Vec<&str>> = status_csv.lines().map(|l| l.split(',').collect()).collect();
    let column = |name: &str| rows[0].iter().position(|c| *c == name).unwrap();
    assert_eq!(rows.len(), 2, "{status_csv}");
    assert_eq!(rows[1][column("id")], "ia-5");
    assert_eq!(rows[1][column("fail")], "1");
    assert_eq!(rows[1][column("override")], "0");
    assert_eq!(rows[1][column("implementationStatus")], "partial");
    assert_eq!(rows[1][column("evidence")], "1");
    assert!(files["evidence.csv"].contains(&a.evidence));

    // The snapshot is recorded with its hash.
    let entries = app.audit_entries(a.org).await;
    let made = entries
        .iter()
        .find(|e| e["entityType"] == "audit-snapshot" && e["action"] == "create")
        .unwrap();
    assert_eq!(made["changes"]["sha256"]["after"], taken["sha256"]);

    // An audit keeps at most 50 snapshots.
    for _ in 1..tater_service::MAX_SNAPSHOTS {
        let (status, _) = app
            .send(Method::POST, &snapshots, &a.lead, &json!(null))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, p) = app
        .send(Method::POST, &snapshots, &a.lead, &json!(null))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    assert_eq!(p["error"], "TOO_MANY_SNAPSHOTS");

    // Another organization sees none of it.
    let other = app.org("Other").await;
    let theirs = app.member(other, "them@other.test", Role::OrgAdmin).await;
    for path in [
        snapshots.clone(),
        format!("{snapshots}/{id}"),
        format!("{snapshots}/{id}/package"),
    ] {
        assert_eq!(
            app.status(Method::GET, &path, &theirs).await,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let (status, _) = app
        .send(Method::POST, &snapshots, &theirs, &json!(null))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn an_auditor_token_reads_only_its_audit_until_revoked_or_expired(db: TestDb) {
    let clock = Arc::new(ShiftedClock::default());
    let app = TestApp::spawn_with(db, clock.clone()).await;
    let a = audited(&app).await;
    let snapshots = format!("/api/audits/{}/snapshots", a.audit);
    let (_, taken) = app
        .send(Method::POST, &snapshots, &a.lead, &json!(null))
        .await;
    let snapshot = taken["id"].as_str().unwrap().to_owned();
    let mut other_body = sample("audits", 2);
    other_body["scope"] = json!(["AC-1"]);
    let other_audit = app.create("audits", &a.lead, other_body).await;
    let other_snapshots = format!(
        "/api/audits/{}/snapshots",
        other_audit["id"].as_str().unwrap()
    );
    let (_, elsewhere) = app
        .send(Method::POST, &other_snapshots, &a.lead, &json!(null))
        .await;

    // Only an OrgAdmin gives access; the secret is shown once.
    let tokens = format!("/api/audits/{}/auditor-tokens", a.audit);
    let grant = json!({ "label": "Assessor LLP", "expiresInDays": 7 });
    let (status, _) = app.send(Method::POST, &tokens, &a.lead, &grant).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, made) = app.send(Method::POST, &tokens, &a.owner, &grant).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("tater_auditor_"));
    let (_, listed) = app.get(&tokens, &a.owner).await;
    assert!(!listed.to_string().contains(&secret));
    assert_eq!(listed["items"][0]["status"], "active");
    let (status, p) = app
        .send(
            Method::POST,
            &tokens,
            &a.owner,
            &json!({ "label": "x", "expiresInDays": 91 }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");

    let auditor = Key::bearer(&secret);
    let (status, view) = app.get("/api/auditor", &auditor).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["audit"]["id"], a.audit.as_str());
    assert_eq!(view["snapshots"][0]["id"], snapshot.as_str());
    let (status, read) = app
        .get(&format!("/api/auditor/snapshots/{snapshot}"), &auditor)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["body"]["controls"][0]["id"], "ia-5");
    let package = app
        .req(
            Method::GET,
            &format!("/api/auditor/snapshots/{snapshot}/package"),
            &auditor,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(package.status(), StatusCode::OK);

    // Nothing else: not another audit's snapshot, not the organization's records, not as a key.
    let theirs = elsewhere["id"].as_str().unwrap();
    let (status, _) = app
        .get(&format!("/api/auditor/snapshots/{theirs}"), &auditor)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for path in [
        "/api/evidence",
        "/api/posture",
        &snapshots,
        "/api/audit-log",
    ] {
        assert_eq!(
            app.status(Method::GET, path, &auditor).await,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
        let as_key = Key::api(secret.clone());
        assert_eq!(
            app.status(Method::GET, path, &as_key).await,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    // A member's credential opens no auditor route.
    assert_eq!(
        app.status(Method::GET, "/api/auditor", &a.owner).await,
        StatusCode::UNAUTHORIZED
    );

    // Every use is audited as the token.
    let entries = app.audit_entries(a.org).await;
    let token_id = made["id"].as_str().unwrap();
    let reads: Vec<&Value> = entries
        .iter()
        .filter(|e| e["userId"] == format!("auditor-token:{token_id}").as_str())
        .collect();
    assert_eq!(reads.len(), 3, "{reads:?}");
    assert!(
        reads
            .iter()
            .all(|e| e["action"] == "read" && e["upn"] == "auditor: Assessor LLP")
    );

    // Revoked: nothing more, at once.
    let (status, _) = app
        .send(
            Method::DELETE,
            &format!("{tokens}/{token_id}"),
            &a.owner,
            &json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.status(Method::GET, "/api/auditor", &auditor).await,
        StatusCode::UNAUTHORIZED
    );
    let (_, listed) = app.get(&tokens, &a.owner).await;
    assert_eq!(listed["items"][0]["status"], "revoked");

    // Expired: nothing after its last day.
    let short = json!({ "label": "Short visit", "expiresInDays": 1 });
    let (_, made) = app.send(Method::POST, &tokens, &a.owner, &short).await;
    let brief = Key::bearer(made["token"].as_str().unwrap());
    assert_eq!(
        app.status(Method::GET, "/api/auditor", &brief).await,
        StatusCode::OK
    );
    clock.advance_secs(86_400 + 60);
    assert_eq!(
        app.status(Method::GET, "/api/auditor", &brief).await,
        StatusCode::UNAUTHORIZED
    );

    // Deleting the audit takes its snapshots with it: an OrgAdmin's to do, and recorded.
    let path = format!("/api/audits/{}", a.audit);
    let (status, _) = app.send(Method::DELETE, &path, &a.lead, &json!(null)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .send(Method::DELETE, &path, &a.owner, &json!(null))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.status(Method::GET, &snapshots, &a.lead).await,
        StatusCode::NOT_FOUND
    );
    let entries = app.audit_entries(a.org).await;
    let deleted = entries
        .iter()
        .find(|e| e["action"] == "delete" && e["entityId"] == a.audit.as_str())
        .unwrap();
    assert_eq!(deleted["changes"]["_snapshotsRemoved"], 1);
}

/// A snapshot edited in the database, its own hash with it, no longer matches the hash its
/// sealed audit entry recorded: it is refused, not served.
#[tokio::test]
async fn a_snapshot_rewritten_behind_the_application_is_refused() {
    let db = TestDb::sqlite();
    let url = db.url.clone();
    let app = TestApp::spawn(db).await;
    let a = audited(&app).await;
    let snapshots = format!("/api/audits/{}/snapshots", a.audit);
    let (_, taken) = app
        .send(Method::POST, &snapshots, &a.lead, &json!(null))
        .await;
    let id = taken["id"].as_str().unwrap();
    let forged = r#"{"format":"tater-audit-snapshot/1","controls":[],"evidence":[]}"#;
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_snapshots SET body = ?1, sha256 = ?2 WHERE id = ?3")
        .bind(forged)
        .bind(sha256(forged.as_bytes()))
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    let path = format!("{snapshots}/{id}");
    assert_eq!(
        app.status(Method::GET, &path, &a.lead).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let res = app
        .req(Method::GET, &format!("{path}/package"), &a.lead)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
