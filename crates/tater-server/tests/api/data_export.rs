//! Issue 7 item 1: the lists that are not modules export too — current scan results and
//! controls with overlays, as CSV and JSON with their list's filters — and `GET /api/export`
//! (OrgAdmin) hands over everything the organization holds as a zip, audited, with nothing of
//! another organization's and no secret in it.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    scan_results_list_and_export_with_filters,
    controls_export_with_overlays,
    the_whole_organization_exports_as_a_zip,
    jobs_list_and_export_newest_first
);

/// An organization with two endpoints that reported, and an org admin.
async fn fleet(app: &TestApp, name: &str, hosts: &[&str]) -> (tater_domain::OrgId, Key) {
    let org = app.org(name).await;
    let admin = app
        .member(
            org,
            &format!("admin@{}.test", name.to_lowercase()),
            Role::OrgAdmin,
        )
        .await;
    let t = token(app, &admin, false).await;
    for host in hosts {
        let (s, e) = enroll(app, &t, host).await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        let agent = Key::api(e["apiKey"].as_str().unwrap().to_owned());
        let mut scan = report(
            &new_id(),
            "2026-11-29T09:00:00Z",
            &[
                ("linux.ssh.root-login", "Fail"),
                ("linux.accounts.uid0", "Pass"),
                ("linux.auditd.active", "Fail"),
            ],
        );
        // Evidence a spreadsheet would run as a formula.
        scan["results"][0]["evidence"] = json!(format!("=cmd|' /C calc'!A0 on {host}"));
        let (s, v) = app
            .send(Method::POST, "/api/agent/scans", &agent, &scan)
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    (org, admin)
}

async fn text(app: &TestApp, key: &Key, path: &str) -> String {
    let res = app.req(Method::GET, path, key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.text().await.unwrap()
}

fn csv_rows(body: &str) -> Vec<Vec<String>> {
    let body = body
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 BOM for Excel");
    csv::Reader::from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

async fn scan_results_list_and_export_with_filters(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, admin) = fleet(&app, "Fleet", &["web-02", "web-01"]).await;
    let (_, other) = fleet(&app, "Elsewhere", &["secret-host"]).await;
    let viewer_org = app.org("Empty").await;
    let empty = app.member(viewer_org, "v@empty.test", Role::Viewer).await;

    // The list pages through every latest result, ordered by hostname then check.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (s, page) = app
            .get(&format!("/api/scan-results?limit=4{cursor}"), &admin)
            .await;
        assert_eq!(s, StatusCode::OK, "{page}");
        for item in page["items"].as_array().unwrap() {
            seen.push(format!(
                "{} {} {}",
                item["hostname"].as_str().unwrap(),
                item["checkId"].as_str().unwrap(),
                item["status"].as_str().unwrap()
            ));
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "web-01 linux.accounts.uid0 Pass",
            "web-01 linux.auditd.active Fail",
            "web-01 linux.ssh.root-login Fail",
            "web-02 linux.accounts.uid0 Pass",
            "web-02 linux.auditd.active Fail",
            "web-02 linux.ssh.root-login Fail",
        ]
    );
    let (_, one) = app
        .get("/api/scan-results?check=linux.ssh.root-login", &admin)
        .await;
    let item = &one["items"][0];
    assert!(item["checkTitle"].as_str().unwrap().len() > 5, "{item}");
    assert!(
        item["controls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().starts_with("ac-")),
        "{item}"
    );
    assert_eq!(
        app.get("/api/scan-results", &empty).await.1["items"],
        json!([])
    );

    // JSON export with filters: the failures only.
    let failures: Value =
        serde_json::from_str(&text(&app, &admin, "/api/scan-results/export?status=Fail").await)
            .unwrap();
    assert_eq!(failures.as_array().unwrap().len(), 4);
    assert!(
        failures
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "Fail")
    );
    // CSV: header, every row, the formula neutralised, another organization's host absent.
    let csv = text(&app, &admin, "/api/scan-results/export?format=csv").await;
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 6);
    let header: Vec<String> =
        csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes())
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
    assert_eq!(
        header,
        [
            "endpointId",
            "hostname",
            "scanId",
            "checkId",
            "checkTitle",
            "controls",
            "status",
            "severity",
            "evidence"
        ]
    );
    let evidence: Vec<&str> = rows
        .iter()
        .filter(|r| r[3] == "linux.ssh.root-login")
        .map(|r| r[8].as_str())
        .collect();
    assert_eq!(
        evidence,
        [
            "'=cmd|' /C calc'!A0 on web-01",
            "'=cmd|' /C calc'!A0 on web-02"
        ]
    );
    assert!(!csv.contains("secret-host"));
    assert!(
        text(&app, &other, "/api/scan-results/export")
            .await
            .contains("secret-host")
    );
    // Bad input is a clear 400.
    for q in [
        "status=Broken",
        "endpoint=nope",
        "check=no.such.check",
        "control=zz-99",
        "limit=0",
        "cursor=garbage",
        "bogus=1",
    ] {
        let (s, v) = app.get(&format!("/api/scan-results?{q}"), &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
    }
    assert_eq!(
        app.get("/api/scan-results/export?format=xml", &admin)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/api/scan-results/export?limit=5", &admin).await.0,
        StatusCode::BAD_REQUEST
    );
}

async fn controls_export_with_overlays(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Controls Org").await;
    let boss = app.member(org, "boss@controls.test", Role::OrgAdmin).await;
    let body = json!({ "implementationStatus": "implemented", "narrative": "=SUM(A1:A9) is how we count.", "responsibleRoles": ["IAM"] });
    let (s, v) = app
        .send(Method::PUT, "/api/controls/ac-2/overlay", &boss, &body)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let catalog = tater_catalog::Catalog::builtin().unwrap();
    let moderate = &catalog
        .framework("nist-800-53-rev5-moderate")
        .unwrap()
        .controls;

    let all: Value = serde_json::from_str(
        &text(
            &app,
            &boss,
            "/api/controls/export?framework=nist-800-53-rev5-moderate",
        )
        .await,
    )
    .unwrap();
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        moderate.iter().map(String::as_str).collect::<Vec<_>>(),
        "every MODERATE control, in catalog order, across pages"
    );
    let ac2 = all
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "ac-2")
        .unwrap();
    assert_eq!(ac2["implementationStatus"], "implemented");

    let csv = text(
        &app,
        &boss,
        "/api/controls/export?format=csv&status=implemented",
    )
    .await;
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 1, "the list's filters apply");
    assert_eq!(rows[0][0], "ac-2");
    assert_eq!(rows[0][7], "implemented");
    assert_eq!(rows[0][11], "'=SUM(A1:A9) is how we count.");
    assert_eq!(
        app.get("/api/controls/export?framework=nope", &boss)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
}

pub(crate) fn unzip(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut text = String::new();
            f.read_to_string(&mut text).unwrap();
            (f.name().unwrap().to_string(), text)
        })
        .collect()
}

async fn the_whole_organization_exports_as_a_zip(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (org, boss) = fleet(&app, "Whole", &["whole-01"]).await;
    let admin = app.member(org, "admin2@whole.test", Role::Admin).await;
    let (other_org, other) = fleet(&app, "Stranger", &["stranger-01"]).await;
    app.create("poam", &boss, json!({ "title": "Whole POAM", "weaknessDescription": "w", "milestones": [{ "description": "m1" }] })).await;
    let risk = app.create("risks", &boss, sample("risks", 1)).await;
    let (s, link) = app
        .send(
            Method::POST,
            &format!("/api/risks/{}/links", risk["id"].as_str().unwrap()),
            &boss,
            &json!({ "to": { "module": "controls", "id": "AC-2" } }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{link}");
    let (s, said) = app
        .send(
            Method::POST,
            &format!("/api/risks/{}/comments", risk["id"].as_str().unwrap()),
            &boss,
            &json!({ "body": "Reviewed with **the ISSO**" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{said}");
    let proof = app
        .create("evidence", &boss, json!({ "title": "Account review" }))
        .await;
    let (s, moved) = app
        .send(
            Method::POST,
            &format!(
                "/api/evidence/{}/transitions",
                proof["id"].as_str().unwrap()
            ),
            &boss,
            &json!({ "to": "accepted" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    app.create(
        "poam",
        &other,
        json!({ "title": "STRANGER POAM", "weaknessDescription": "w" }),
    )
    .await;
    let (s, key) = app
        .send(
            Method::POST,
            "/api/api-keys",
            &boss,
            &json!({ "name": "ci" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{key}");
    let secret = key["key"].as_str().unwrap().to_owned();
    let audit = app.create("audits", &boss, sample("audits", 1)).await;
    let audit_path = format!("/api/audits/{}", audit["id"].as_str().unwrap());
    let (s, snapshot) = app
        .send(
            Method::POST,
            &format!("{audit_path}/snapshots"),
            &boss,
            &json!(null),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{snapshot}");
    let (s, grant) = app
        .send(
            Method::POST,
            &format!("{audit_path}/auditor-tokens"),
            &boss,
            &json!({ "label": "Assessor" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{grant}");
    app.send(
        Method::PUT,
        "/api/system-profile",
        &boss,
        &json!({ "name": "Whole System" }),
    )
    .await;

    // Below OrgAdmin: refused, and nothing is recorded.
    let before = app.audit_entries(org).await.len();
    assert_eq!(
        app.get("/api/export", &admin).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/export?x=1", &boss).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.audit_entries(org).await.len(), before);

    let res = app
        .req(Method::GET, "/api/export", &boss)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&org.to_string())
    );
    let files = unzip(&res.bytes().await.unwrap());
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    for expected in [
        "poam.json",
        "risks.json",
        "links.json",
        "comments.json",
        "transitions.json",
        "config-docs.json",
        "risk-acceptances.json",
        "scripts.json",
        "endpoints.json",
        "controls.json",
        "scan-results.json",
        "system-profile.json",
        "settings.json",
        "members.json",
        "api-keys.json",
        "siem-destinations.json",
        "enrollment-tokens.json",
        "audit-snapshots.json",
        "auditor-tokens.json",
        "policy-versions.json",
        "audit-log.jsonl",
        "manifest.json",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let json = |name: &str| -> Value {
        serde_json::from_str(&files[name]).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let poam = json("poam.json");
    assert_eq!(poam.as_array().unwrap().len(), 1);
    assert_eq!(poam[0]["title"], "Whole POAM");
    assert_eq!(poam[0]["milestones"][0]["description"], "m1");
    assert_eq!(json("risks.json").as_array().unwrap().len(), 1);
    let links = json("links.json");
    assert_eq!(links.as_array().unwrap().len(), 1, "{links}");
    assert_eq!(links[0]["a"]["id"], risk["id"]);
    assert_eq!(links[0]["b"], json!({ "module": "controls", "id": "ac-2" }));
    let comments = json("comments.json");
    assert_eq!(comments.as_array().unwrap().len(), 1, "{comments}");
    assert_eq!(comments[0]["module"], "risks");
    assert_eq!(comments[0]["recordId"], risk["id"]);
    assert_eq!(comments[0]["body"], "Reviewed with **the ISSO**");
    let moves = json("transitions.json");
    assert_eq!(moves.as_array().unwrap().len(), 1, "{moves}");
    assert_eq!(moves[0]["module"], "evidence");
    assert_eq!(
        (&moves[0]["from"], &moves[0]["to"]),
        (&json!("draft"), &json!("accepted"))
    );
    assert_eq!(moves[0]["decision"], true);
    assert_eq!(
        moves[0]["snapshot"]["title"], "Account review",
        "decided as it stood"
    );
    let snapshots = json("audit-snapshots.json");
    assert_eq!(snapshots.as_array().unwrap().len(), 1, "{snapshots}");
    assert_eq!(snapshots[0]["sha256"], snapshot["sha256"]);
    assert_eq!(snapshots[0]["body"]["audit"]["title"], "Audit 1");
    let auditors = json("auditor-tokens.json");
    assert_eq!(auditors[0]["label"], "Assessor");
    assert!(!files["auditor-tokens.json"].contains(grant["token"].as_str().unwrap()));
    assert_eq!(json("endpoints.json")[0]["hostname"], "whole-01");
    assert_eq!(json("scan-results.json").as_array().unwrap().len(), 3);
    assert_eq!(
        json("controls.json").as_array().unwrap().len(),
        tater_catalog::Catalog::builtin().unwrap().controls().len()
    );
    assert_eq!(json("system-profile.json")["name"], "Whole System");
    assert_eq!(json("members.json").as_array().unwrap().len(), 2);
    let tokens = json("enrollment-tokens.json");
    assert_eq!(tokens.as_array().unwrap().len(), 1);
    assert!(tokens[0].get("token").is_none() && tokens[0].get("tokenHash").is_none());
    // Members also export alone, for access reviews (OrgAdmin).
    let members = csv_rows(&text(&app, &boss, "/api/members/export?format=csv").await);
    let mut emails: Vec<&str> = members.iter().map(|r| r[1].as_str()).collect();
    emails.sort();
    assert_eq!(emails, ["admin2@whole.test", "admin@whole.test"]);
    assert_eq!(
        app.get("/api/members/export", &admin).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/members/export?role=admin", &boss).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        json("api-keys.json").as_array().unwrap().len(),
        3,
        "both members' keys and the new one"
    );
    let manifest = json("manifest.json");
    assert_eq!(manifest["organization"]["id"], org.to_string());
    assert_eq!(manifest["exportedBy"], "admin@whole.test");
    assert_eq!(manifest["files"]["poam.json"]["items"], 1);
    assert_eq!(manifest["files"]["scan-results.json"]["items"], 3);
    // The audit log is the signed export: a header, every entry so far, a signed end.
    let lines: Vec<Value> = files["audit-log.jsonl"]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines[0].get("export").is_some() && lines.last().unwrap().get("end").is_some());
    let entries = lines.iter().filter(|l| l.get("seq").is_some()).count();
    assert_eq!(
        manifest["files"]["audit-log.jsonl"]["items"],
        entries as u64
    );
    assert!(entries >= before, "{entries} < {before}");
    // Nothing of the other organization, no secret.
    let everything: String = files.values().cloned().collect();
    assert!(!everything.contains("STRANGER") && !everything.contains("stranger-01"));
    assert!(
        !everything.contains(&secret),
        "an API key secret in the export"
    );
    assert!(
        !everything.contains(&boss.value),
        "the caller's own key secret in the export"
    );

    // The export itself is audited, attributed to the org admin.
    let log = app.audit_entries(org).await;
    let entry = log
        .iter()
        .find(|e| e["entityType"] == "data-export")
        .expect("a data-export audit entry");
    assert_eq!(
        (entry["action"].as_str(), entry["upn"].as_str()),
        (Some("create"), Some("admin@whole.test"))
    );
    assert_eq!(
        entry["changes"]["contents"]["after"]["poam.json"]["items"],
        1
    );
    assert!(
        app.audit_entries(other_org)
            .await
            .iter()
            .all(|e| e["entityType"] != "data-export")
    );
}

/// The command channel's history: `GET /api/jobs` newest first across pages, its export, and
/// another organization's jobs nowhere.
async fn jobs_list_and_export_newest_first(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let mut keys = Vec::new();
    for name in ["Runner", "Sprinter"] {
        let (_, boss) = fleet(
            &app,
            name,
            &[&format!("{}-host", name.to_lowercase().replace(' ', "-"))],
        )
        .await;
        let (s, v) = app
            .send(
                Method::PUT,
                "/api/settings",
                &boss,
                &json!({ "remoteExecution": true }),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let script = app.create("scripts", &boss, sample("scripts", 1)).await;
        let host = format!("{}-host", name.to_lowercase().replace(' ', "-"));
        let mut ids = Vec::new();
        for _ in 0..5 {
            let (s, job) = app
                .send(
                    Method::POST,
                    &format!("/api/scripts/{}/execute", script["id"].as_str().unwrap()),
                    &boss,
                    &json!({ "targets": [host] }),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{job}");
            ids.push(job["id"].as_str().unwrap().to_owned());
        }
        keys.push((boss, ids));
    }
    let (boss, ids) = &keys[0];
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (s, page) = app.get(&format!("/api/jobs?limit=2{cursor}"), boss).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        for job in page["items"].as_array().unwrap() {
            assert_eq!(job["targets"].as_array().unwrap().len(), 1, "{job}");
            seen.push(job["id"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first, "every job once, newest first");
    let csv = csv_rows(&text(&app, boss, "/api/jobs/export?format=csv").await);
    assert_eq!(csv.len(), 5);
    let theirs = &keys[1].1;
    let json_export = text(&app, boss, "/api/jobs/export").await;
    assert!(theirs.iter().all(|id| !json_export.contains(id.as_str())));
    for bad in ["limit=0", "cursor=x", "cursor=1.nope", "status=failed"] {
        assert_eq!(
            app.get(&format!("/api/jobs?{bad}"), boss).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    let res = app
        .req(Method::GET, "/api/export", boss)
        .send()
        .await
        .unwrap();
    let files = unzip(&res.bytes().await.unwrap());
    let jobs: Value = serde_json::from_str(&files["jobs.json"]).unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 5);
}
