//! SPEC T1: nothing crosses organizations. For every module route, a foreign id answers 404,
//! lists and exports never contain a foreign row, and the foreign row is unchanged.

use reqwest::{Method, StatusCode};
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    foreign_ids_are_not_found_and_untouched,
    foreign_ids_are_not_found_and_untouched_with_entra_tokens,
    lists_and_exports_stay_in_their_org
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
        let ids: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            vec![b_id.as_str()],
            "{module}: B's list holds only B's row"
        );
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
