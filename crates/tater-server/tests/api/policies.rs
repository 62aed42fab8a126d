//! Policies: written in Draft, published by a second person (the publication freezes the
//! text as a numbered version), acknowledged by members version by version, printed as a PDF
//! that an independent reader (pypdf) opens.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    a_policy_is_published_by_a_second_person_and_acknowledged_version_by_version,
    a_published_version_prints_as_a_pdf_a_reader_opens,
    the_export_keeps_every_version_and_only_an_org_admin_deletes_a_published_policy,
    a_member_acknowledges_from_the_policys_page,
);

async fn move_policy(app: &TestApp, key: &Key, id: &str, to: &str) -> (StatusCode, Value) {
    let body = json!({ "to": to, "comment": "as discussed" });
    app.send(
        Method::POST,
        &format!("/api/policies/{id}/transitions"),
        key,
        &body,
    )
    .await
}

async fn acknowledge(app: &TestApp, key: &Key, id: &str, version: u32) -> (StatusCode, Value) {
    app.send(
        Method::POST,
        &format!("/api/policies/{id}/versions/{version}/acknowledgements"),
        key,
        &json!({}),
    )
    .await
}

/// Sends the policy for review as `author` and publishes it as `approver`.
async fn publish(app: &TestApp, author: &Key, approver: &Key, id: &str) {
    let (status, v) = move_policy(app, author, id, "In Review").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = move_policy(app, approver, id, "Published").await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn a_policy_is_published_by_a_second_person_and_acknowledged_version_by_version(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Policied").await;
    let author = app.person(org, "author@policied.test", Role::Admin).await;
    let approver = app.person(org, "approver@policied.test", Role::Admin).await;
    let staff = app.person(org, "staff@policied.test", Role::Viewer).await;
    let chief = app.person(org, "chief@policied.test", Role::OrgAdmin).await;
    let script = app.member(org, "script@policied.test", Role::Admin).await;

    // Nothing goes for review without its text.
    let mut body = sample("policies", 1);
    body.as_object_mut().unwrap().remove("body");
    let policy = app.create("policies", &author, body).await;
    let id = policy["id"].as_str().unwrap().to_owned();
    assert_eq!(policy["status"], "Draft");
    let (status, v) = move_policy(&app, &author, &id, "In Review").await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "INVALID_TRANSITION");
    let first_text = "# Access control\n\n1. Accounts are **reviewed** quarterly.\n2. Leavers lose access the same day.";
    let mut text = sample("policies", 1);
    text["body"] = json!(first_text);
    let (status, v) = app
        .send(Method::PUT, &format!("/api/policies/{id}"), &author, &text)
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");

    // Whoever sent it for review does not publish it; while in review its text is fixed.
    let (status, _) = move_policy(&app, &author, &id, "In Review").await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = move_policy(&app, &author, &id, "Published").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"], "FOUR_EYES_REQUIRED");
    let (status, _) = app
        .send(
            Method::PUT,
            &format!("/api/policies/{id}"),
            &approver,
            &text,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = move_policy(&app, &staff, &id, "Published").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = move_policy(&app, &approver, &id, "Published").await;
    assert_eq!(status, StatusCode::OK, "{v}");

    // Version 1 is the text as approved, vouched for by its hash in the move's audit entry.
    let versions = format!("/api/policies/{id}/versions");
    let (status, list) = app.get(&versions, &staff).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["version"], 1);
    assert_eq!(items[0]["inForce"], true);
    assert_eq!(items[0]["members"], 5);
    assert_eq!(items[0]["acknowledged"], 0);
    assert_eq!(items[0]["sha256"], sha256_hex(first_text));
    assert!(items[0].get("body").is_none(), "lists carry no text");
    let entries = app.audit_entries(org).await;
    let published = entries
        .iter()
        .find(|e| {
            e["entityId"] == id.as_str()
                && e["action"] == "transition"
                && !e["changes"]["_transition"]["effects"][0].is_null()
        })
        .unwrap_or_else(|| panic!("no publication entry: {entries:?}"));
    let effects = &published["changes"]["_transition"]["effects"];
    assert_eq!(effects[0]["version"], 1, "{published}");
    assert_eq!(effects[0]["sha256"], sha256_hex(first_text));

    // A member acknowledges it once; again changes nothing. A script's key, an assistant and
    // an old version cannot.
    let (status, v) = acknowledge(&app, &staff, &id, 1).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["created"], true);
    let (status, again) = acknowledge(&app, &staff, &id, 1).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["created"], false);
    assert_eq!(again["acknowledgedAt"], v["acknowledgedAt"]);
    let (status, v) = acknowledge(&app, &script, &id, 1).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"], "IDENTITY_UNVERIFIED");
    let (_, list) = app.get(&versions, &author).await;
    assert_eq!(list["items"][0]["acknowledged"], 1);
    assert_eq!(list["items"][0]["acknowledgementRate"], 0.2);
    let (status, v) = acknowledge(&app, &staff, &id, 2).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");

    // A revision opens a draft while version 1 stays in force; publishing it makes version 2,
    // and version 1 can no longer be acknowledged.
    let (status, _) = move_policy(&app, &author, &id, "Draft").await;
    assert_eq!(status, StatusCode::OK);
    let (_, mine) = app.get("/api/me/policies-to-acknowledge", &author).await;
    assert_eq!(mine["items"][0]["version"], 1, "still in force: {mine}");
    let (_, mine) = app.get("/api/me/policies-to-acknowledge", &staff).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 0, "{mine}");
    let second_text = format!("{first_text}\n3. Shared accounts are forbidden.");
    text["body"] = json!(second_text);
    let (status, _) = app
        .send(Method::PUT, &format!("/api/policies/{id}"), &author, &text)
        .await;
    assert_eq!(status, StatusCode::OK);
    publish(&app, &approver, &author, &id).await;
    let (_, list) = app.get(&versions, &staff).await;
    let numbers: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["version"])
        .collect();
    assert_eq!(numbers, [&json!(2), &json!(1)]);
    assert_eq!(list["items"][0]["inForce"], true);
    assert_eq!(list["items"][1]["inForce"], false);
    assert_eq!(list["items"][1]["acknowledged"], 1, "kept for the record");
    let (_, old) = app.get(&format!("{versions}/1"), &staff).await;
    assert_eq!(old["body"], first_text);
    let (_, new) = app.get(&format!("{versions}/2"), &staff).await;
    assert_eq!(new["body"], second_text.as_str());
    let (status, v) = acknowledge(&app, &staff, &id, 1).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "VERSION_SUPERSEDED");

    let (_, mine) = app.get("/api/me/policies-to-acknowledge", &staff).await;
    assert_eq!(mine["items"][0]["policyId"], id.as_str(), "{mine}");
    assert_eq!(mine["items"][0]["version"], 2);
    let (status, _) = acknowledge(&app, &staff, &id, 2).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, mine) = app.get("/api/me/policies-to-acknowledge", &staff).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 0, "{mine}");

    // Who has and who has not: it names members, so it is not every Viewer's to read.
    let (status, _) = app
        .get(&format!("{versions}/2/acknowledgements"), &staff)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, report) = app
        .get(&format!("{versions}/2/acknowledgements"), &chief)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let acked: Vec<&str> = report["acknowledged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    assert_eq!(acked, ["staff@policied.test"]);
    let mut outstanding: Vec<&str> = report["outstanding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    outstanding.sort_unstable();
    assert_eq!(
        outstanding,
        [
            "approver@policied.test",
            "author@policied.test",
            "chief@policied.test",
            "script@policied.test"
        ]
    );

    // Retiring is an OrgAdmin's, with a reason, and final; a retired policy has nothing in
    // force, and nobody is asked to acknowledge it.
    let (status, _) = move_policy(&app, &author, &id, "Retired").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = move_policy(&app, &chief, &id, "Retired").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = move_policy(&app, &chief, &id, "Draft").await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    let (_, mine) = app.get("/api/me/policies-to-acknowledge", &author).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 0, "{mine}");
    let (status, v) = acknowledge(&app, &chief, &id, 2).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "POLICY_RETIRED");
    let (_, list) = app.get(&versions, &staff).await;
    assert_eq!(list["items"][0]["inForce"], false);

    // Another organization sees none of it.
    let other = app.org("Elsewhere").await;
    let outsider = app
        .person(other, "outsider@elsewhere.test", Role::OrgAdmin)
        .await;
    for path in [
        versions.clone(),
        format!("{versions}/2"),
        format!("{versions}/2/acknowledgements"),
        format!("{versions}/2/pdf"),
    ] {
        let (status, _) = app.get(&path, &outsider).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = acknowledge(&app, &outsider, &id, 2).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_published_version_prints_as_a_pdf_a_reader_opens(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Printed Policies Inc").await;
    let author = app.person(org, "author@printed.test", Role::Admin).await;
    let approver = app.person(org, "approver@printed.test", Role::Admin).await;
    let paragraph = "Every account is reviewed by its owner each quarter, and accounts \
                     nobody claims are disabled within five working days. ";
    let text = format!(
        "# Zugriffsrechte – naïve café policy\n\n{}\n\n## Scope\n\n- Servers\n- Laptops\n  \
         1. Managed\n  2. Unmanaged\n\n```\nfind / -perm -4000\n```\n\n> Quoted guidance.\n\n\
         | Role | Review |\n|---|---|\n| Admin | Monthly |\n\nEnd of the policy: {}",
        paragraph.repeat(80),
        "x".repeat(300)
    );
    let mut body = sample("policies", 1);
    body["title"] = json!("Access Control Policy");
    body["body"] = json!(text);
    let policy = app.create("policies", &author, body).await;
    let id = policy["id"].as_str().unwrap();
    let path = format!("/api/policies/{id}/versions/1/pdf");
    let (status, _) = app.get(&path, &author).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing published yet");
    publish(&app, &author, &approver, id).await;

    let res = app.req(Method::GET, &path, &author).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let disposition = res.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));

    let has_reader = std::process::Command::new("python3")
        .args(["-c", "import pypdf"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_reader {
        eprintln!(
            "skipped: pypdf is not installed (pip install pypdf), so the PDF reader did not run"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.pdf");
    std::fs::write(&file, &bytes).unwrap();
    let script = r#"
import sys, json, pypdf
r = pypdf.PdfReader(sys.argv[1], strict=True)
pages = [p.extract_text() for p in r.pages]
print(json.dumps({"pages": pages, "title": r.metadata.title, "author": r.metadata.author}))
"#;
    let read: Value = serde_json::from_str(&python(script, &file)).unwrap();
    let pages: Vec<&str> = read["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(pages.len() >= 3, "{} pages", pages.len());
    assert_eq!(read["title"], "Access Control Policy (version 1)");
    assert_eq!(read["author"], "Printed Policies Inc");
    let all = pages.join("\n");
    for expected in [
        "Access Control Policy",
        "Zugriffsrechte – naïve café policy",
        "approver@printed.test",
        "Servers",
        "find / -perm -4000",
        "Quoted guidance.",
        "Monthly",
        "End of the policy",
        &sha256_hex(&text),
    ] {
        assert!(all.contains(expected), "{expected:?} is not in the PDF");
    }
    // A text the fonts cannot draw is refused with a reason, never printed as boxes.
    let mut body = sample("policies", 2);
    body["body"] = json!("# 情報セキュリティ方針");
    let policy = app.create("policies", &author, body).await;
    let cjk = policy["id"].as_str().unwrap();
    publish(&app, &author, &approver, cjk).await;
    let (status, v) = app
        .get(&format!("/api/policies/{cjk}/versions/1/pdf"), &author)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "PDF_UNSUPPORTED_CHARACTERS");
    assert!(v["detail"].as_str().unwrap().contains('情'), "{v}");

    for (i, page) in pages.iter().enumerate() {
        let footer = format!("Page {} of {}", i + 1, pages.len());
        assert!(page.contains(&footer), "page {} has no {footer:?}", i + 1);
    }
}

async fn the_export_keeps_every_version_and_only_an_org_admin_deletes_a_published_policy(
    db: TestDb,
) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Kept").await;
    let author = app.person(org, "author@kept.test", Role::Admin).await;
    let approver = app.person(org, "approver@kept.test", Role::Admin).await;
    let chief = app.person(org, "chief@kept.test", Role::OrgAdmin).await;
    let policy = app.create("policies", &author, sample("policies", 1)).await;
    let id = policy["id"].as_str().unwrap();
    publish(&app, &author, &approver, id).await;
    let (status, _) = acknowledge(&app, &approver, id, 1).await;
    assert_eq!(status, StatusCode::CREATED);

    let res = app
        .req(Method::GET, "/api/export", &chief)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let files = crate::data_export::unzip(&res.bytes().await.unwrap());
    let versions: Value = serde_json::from_str(&files["policy-versions.json"]).unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");
    assert_eq!(versions[0]["policyId"], id);
    assert_eq!(versions[0]["version"], 1);
    assert_eq!(
        versions[0]["body"],
        sample("policies", 1)["body"],
        "the text as published"
    );
    assert_eq!(
        versions[0]["acknowledgements"][0]["email"],
        "approver@kept.test"
    );

    // Who agreed to what is the organization's record: an Admin does not delete it.
    let path = format!("/api/policies/{id}");
    let (status, v) = app.send(Method::DELETE, &path, &author, &json!(null)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    let (status, _) = app.get(&format!("{path}/versions"), &author).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.status(Method::DELETE, &path, &chief).await,
        StatusCode::NO_CONTENT
    );
    let entries = app.audit_entries(org).await;
    let deleted = entries
        .iter()
        .find(|e| e["action"] == "delete" && e["entityId"] == id)
        .unwrap();
    assert_eq!(deleted["changes"]["_versionsRemoved"], 1, "{deleted}");
    assert_eq!(deleted["changes"]["_acknowledgementsRemoved"], 1);
    let (status, _) = app.get(&format!("{path}/versions"), &chief).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A draft that was never published is an Admin's to delete.
    let draft = app.create("policies", &author, sample("policies", 2)).await;
    let path = format!("/api/policies/{}", draft["id"].as_str().unwrap());
    assert_eq!(
        app.status(Method::DELETE, &path, &author).await,
        StatusCode::NO_CONTENT
    );
}

async fn a_member_acknowledges_from_the_policys_page(db: TestDb) {
    use crate::web::{csrf_of, page, post, sign_in};
    let app = TestApp::spawn(db).await;
    let org = app.org("Paged").await;
    let author = app.person(org, "author@paged.test", Role::Admin).await;
    let approver = app.person(org, "approver@paged.test", Role::Admin).await;
    app.person(org, "staff@paged.test", Role::Viewer).await;
    let policy = app.create("policies", &author, sample("policies", 1)).await;
    let id = policy["id"].as_str().unwrap();
    publish(&app, &author, &approver, id).await;

    // The dashboard says what the person has to acknowledge; the policy's page offers what
    // the registry says is about policies, to this person.
    let secret = sign_in(&app, "staff@paged.test").await;
    let dashboard = page(&app, Some(&secret), "/app").await;
    assert!(
        dashboard.body.contains("Policies for you to acknowledge")
            && dashboard
                .body
                .contains("/app/actions/list_policies_to_acknowledge\">1</a>"),
        "{}",
        dashboard.body
    );
    let shown = page(&app, Some(&secret), &format!("/app/policies/{id}")).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert!(shown.body.contains("More on this policy"), "{}", shown.body);
    let versions = format!("/app/actions/list_policy_versions?id={id}");
    assert!(shown.body.contains(&versions), "{}", shown.body);
    let form = format!("/app/actions/acknowledge_policy?id={id}");
    assert!(shown.body.contains(&form), "{}", shown.body);
    let listed = page(&app, Some(&secret), &versions).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(
        listed
            .body
            .contains(&sha256_hex(sample("policies", 1)["body"].as_str().unwrap()))
    );

    // The PDF from its page: a form for the version, then the file through its REST route.
    let pdf_form = format!("/app/actions/get_policy_pdf?id={id}");
    assert!(shown.body.contains(&pdf_form), "{}", shown.body);
    let asked = page(&app, Some(&secret), &pdf_form).await;
    assert!(asked.body.contains("name=\"_download\""), "{}", asked.body);
    let pdf = page(
        &app,
        Some(&secret),
        &format!("{pdf_form}&version=1&_download=1"),
    )
    .await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    assert!(pdf.body.starts_with("%PDF-"));

    let opened = page(&app, Some(&secret), &form).await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
    let csrf = csrf_of(&opened.body);
    let done = post(
        &app,
        Some(&secret),
        "/app/actions/acknowledge_policy",
        &[("_csrf", &csrf), ("id", id), ("version", "1")],
        &[],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let (_, report) = app
        .get(
            &format!("/api/policies/{id}/versions/1/acknowledgements"),
            &author,
        )
        .await;
    assert_eq!(
        report["acknowledged"][0]["email"], "staff@paged.test",
        "{report}"
    );
    let entries = app.audit_entries(org).await;
    let entry = entries
        .iter()
        .find(|e| e["entityType"] == "policy-acknowledgement")
        .unwrap();
    assert_eq!(entry["via"], "web");
    assert_eq!(entry["upn"], "staff@paged.test");
}
