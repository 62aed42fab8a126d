//! SPEC T1: nothing crosses organizations. For every module route, a foreign id answers 404,
//! lists and exports never contain a foreign row, and the foreign row is unchanged.

use std::io::{Cursor, Read};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    foreign_ids_are_not_found_and_untouched,
    foreign_ids_are_not_found_and_untouched_with_entra_tokens,
    lists_and_exports_stay_in_their_org,
    federal_artifacts_and_full_exports_stay_in_their_org
);

async fn foreign_ids_are_not_found_and_untouched(db: TestDb) {
    foreign_ids(db, Cred::ApiKey).await;
}

async fn foreign_ids_are_not_found_and_untouched_with_entra_tokens(db: TestDb) {
    foreign_ids(db, Cred::Entra).await;
}

async fn foreign_ids(db: TestDb, cred: Cred) {
    let app = TestApp::spawn(db).await;
    let a = app.org("Org A").await;
    let b = app.org("Org B").await;
    let ka = app.member(a, "a@example.com", Role::OrgAdmin).await;
    let kb = app
        .member_as(cred, b, "b@example.com", Role::OrgAdmin)
        .await;
    for module in modules() {
        let mine = app.create(module, &kb, sample(module, 1)).await;
        let theirs = app.create(module, &ka, sample(module, 2)).await;
        let id = theirs["id"].as_str().unwrap();
        let path = format!("/api/{module}/{id}");
        let before = app.snapshot(a).await;

        let (s, body) = app.get(&path, &kb).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{module} GET foreign: {body}");
        assert_eq!(body["error"], "NOT_FOUND");
        assert!(
            !body
                .to_string()
                .contains(theirs[label_field(module)].as_str().unwrap()),
            "no foreign data in the error"
        );
        let (s, _) = app.send(Method::PUT, &path, &kb, &changed(module, 9)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{module} PUT foreign");
        let (s, _) = app
            .send(Method::PUT, &path, &kb, &serde_json::json!({"bogus": 1}))
            .await;
        assert_eq!(
            s,
            StatusCode::NOT_FOUND,
            "{module} PUT foreign with a bad body still says 404"
        );
        let s = app
            .req(Method::DELETE, &path, &kb)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(s, StatusCode::NOT_FOUND, "{module} DELETE foreign");

        assert_eq!(
            app.snapshot(a).await,
            before,
            "{module}: org A unchanged, no audit entries added"
        );
        let (s, still) = app.get(&path, &ka).await;
        assert_eq!(
            (s, still),
            (StatusCode::OK, theirs.clone()),
            "{module}: owner still sees it as it was"
        );
        // Own records still answer normally.
        let (s, _) = app
            .get(
                &format!("/api/{module}/{}", mine["id"].as_str().unwrap()),
                &kb,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
}

async fn lists_and_exports_stay_in_their_org(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let a = app.org("Org A").await;
    let b = app.org("Org B").await;
    let ka = app.member(a, "a@example.com", Role::Admin).await;
    let kb = app.member(b, "b@example.com", Role::Admin).await;
    for module in modules() {
        // What B holds of the module before (the starter data labels every organization gets).
        let (_, before) = app.get(&format!("/api/{module}?limit=500"), &kb).await;
        let mut b_ids: Vec<String> = before["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        let mut a_ids = Vec::new();
        for n in 0..3 {
            a_ids.push(
                app.create(module, &ka, sample(module, n)).await["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        let b_id = app.create(module, &kb, sample(module, 7)).await["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let (s, list) = app.get(&format!("/api/{module}?limit=500"), &kb).await;
        assert_eq!(s, StatusCode::OK);
        let mut ids: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        b_ids.push(b_id.clone());
        ids.sort();
        b_ids.sort();
        assert_eq!(ids, b_ids, "{module}: B's list holds only B's rows");
        // Search that would match A's titles finds nothing in B.
        let (_, found) = app.get(&format!("/api/{module}?q=0"), &kb).await;
        assert!(
            found["items"].as_array().unwrap().is_empty(),
            "{module}: search stays in B"
        );

        for format in ["csv", "json"] {
            let res = app
                .req(
                    Method::GET,
                    &format!("/api/{module}/export?format={format}"),
                    &kb,
                )
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let text = res.text().await.unwrap();
            assert!(
                text.contains(&b_id),
                "{module} {format} export holds B's row"
            );
            for id in &a_ids {
                assert!(
                    !text.contains(id.as_str()),
                    "{module} {format} export leaks A's row"
                );
            }
        }
    }
    let (_, heat) = app.get("/api/risks/heat-map", &kb).await;
    assert_eq!(heat["total"], 1, "heat map counts only B's risks");
    let (_, audit) = app.get("/api/audit-log?limit=500", &kb).await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["tenantId"] == b.to_string()),
        "audit log shows only B's entries"
    );
}

/// Issue 7: every export format — eMASS workbook (each layout), OSCAL POA&M and SSP, Word SSP,
/// the endpoint, control and scan-result lists, and the full zip — holds the caller's
/// organization's data and none of another's.
async fn federal_artifacts_and_full_exports_stay_in_their_org(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let mut keys = Vec::new();
    for tag in ["alpha", "bravo"] {
        let org = app.org(&format!("Org {tag}")).await;
        let key = app
            .member(org, &format!("boss@{tag}.test"), Role::OrgAdmin)
            .await;
        let marker = format!("{tag}-only-marker");
        let mut poam = sample("poam", 1);
        poam["title"] = json!(format!("{marker} poam"));
        poam["milestones"] = json!([{ "description": format!("{marker} milestone") }]);
        app.create("poam", &key, poam).await;
        let profile =
            json!({ "name": format!("{marker} system"), "issoName": format!("{marker} isso") });
        assert_eq!(
            app.send(Method::PUT, "/api/system-profile", &key, &profile)
                .await
                .0,
            StatusCode::OK
        );
        let overlay = json!({ "narrative": format!("{marker} narrative"), "responsibleRoles": [format!("{marker} role")] });
        assert_eq!(
            app.send(Method::PUT, "/api/controls/ac-2/overlay", &key, &overlay)
                .await
                .0,
            StatusCode::OK
        );
        let t = token(&app, &key, false).await;
        let (s, e) = enroll(&app, &t, &format!("{marker}-host")).await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        let agent = Key::api(e["apiKey"].as_str().unwrap().to_owned());
        let mut scan = report(
            &new_id(),
            "2026-11-29T09:00:00Z",
            &[("linux.ssh.root-login", "Fail")],
        );
        scan["results"][0]["evidence"] = json!(format!("{marker} evidence"));
        assert_eq!(
            app.send(Method::POST, "/api/agent/scans", &agent, &scan)
                .await
                .0,
            StatusCode::CREATED
        );
        keys.push((key, marker));
    }
    let mut paths = vec![
        "/api/poam/export?format=oscal-json".to_owned(),
        "/api/ssp?format=oscal-json".into(),
        "/api/ssp?format=docx".into(),
        "/api/endpoints/export?format=csv".into(),
        "/api/controls/export?format=json&framework=nist-800-53-rev5-moderate".into(),
        "/api/scan-results/export?format=csv".into(),
        "/api/export".into(),
    ];
    for layout in ["navy", "army", "marine-corps", "legacy"] {
        paths.push(format!(
            "/api/poam/export?format=emass-xlsx&layout={layout}"
        ));
    }
    for (me, (key, mine)) in keys.iter().enumerate() {
        let theirs = &keys[1 - me].1;
        for path in &paths {
            let res = app.req(Method::GET, path, key).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            let text = readable_text(&res.bytes().await.unwrap());
            assert!(text.contains(mine.as_str()), "{path}: {mine} missing");
            assert!(
                !text.contains(theirs.as_str()),
                "{path}: {theirs} leaked into {mine}'s export"
            );
        }
    }
}

/// The text of an export: every member of a zip package (xlsx, docx, the full export), or the
/// body itself.
fn readable_text(bytes: &[u8]) -> String {
    if !bytes.starts_with(b"PK") {
        return String::from_utf8(bytes.to_vec()).unwrap();
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut all = String::new();
    for i in 0..zip.len() {
        let mut part = String::new();
        zip.by_index(i).unwrap().read_to_string(&mut part).unwrap();
        all.push_str(&part);
    }
    all
}
