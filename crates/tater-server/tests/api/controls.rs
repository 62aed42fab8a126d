//! The catalog through the API, and per-organization overlays (SPEC D1, T1).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_catalog::Catalog;
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    catalog_reads_and_filters,
    an_overlay_changes_only_its_org,
    overlay_rules_and_roles,
    a_loaded_catalog_is_served_like_the_builtin
);

async fn catalog_reads_and_filters(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Org").await;
    let key = app.member(org, "v@example.com", Role::Viewer).await;
    let catalog = Catalog::builtin().unwrap();

    let (s, fw) = app.get("/api/frameworks", &key).await;
    assert_eq!(s, StatusCode::OK);
    let items = fw["items"].as_array().unwrap();
    assert_eq!(items.len(), catalog.frameworks().len());
    for f in catalog.frameworks() {
        let listed = items.iter().find(|i| i["id"] == f.id.as_str()).unwrap();
        assert_eq!(listed["controlCount"], f.controls.len());
    }

    // Paging through a baseline returns exactly its controls, in catalog order.
    let low = catalog.framework("nist-800-53-rev5-low").unwrap();
    let mut seen: Vec<String> = Vec::new();
    let mut url = "/api/controls?framework=nist-800-53-rev5-low&limit=40".to_owned();
    loop {
        let (s, page) = app.get(&url, &key).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(c) => {
                url = format!("/api/controls?framework=nist-800-53-rev5-low&limit=40&cursor={c}")
            }
            None => break,
        }
    }
    assert_eq!(seen, low.controls);

    let count = |v: &Value| v["items"].as_array().unwrap().len();
    let (_, au) = app
        .get(
            "/api/controls?family=AU&framework=nist-800-53-rev5-moderate&limit=500",
            &key,
        )
        .await;
    let expected = catalog
        .framework("nist-800-53-rev5-moderate")
        .unwrap()
        .controls
        .iter()
        .filter(|id| id.starts_with("au-"))
        .count();
    assert_eq!(count(&au), expected);
    let (_, withdrawn) = app
        .get("/api/controls?withdrawn=true&limit=500", &key)
        .await;
    assert_eq!(
        count(&withdrawn),
        catalog.controls().iter().filter(|c| c.withdrawn).count()
    );
    let (_, search) = app
        .get("/api/controls?q=account%20management&limit=500", &key)
        .await;
    assert!(
        search["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "ac-2")
    );
    let (_, unset) = app
        .get(
            "/api/controls?status=unset&framework=nist-800-53-rev5-low&limit=500",
            &key,
        )
        .await;
    assert_eq!(count(&unset), low.controls.len(), "nothing tailored yet");

    let (s, checks) = app.get("/api/checks", &key).await;
    assert_eq!(s, StatusCode::OK);
    let builtin = tater_catalog::CheckCatalog::builtin().unwrap();
    assert_eq!(
        checks["items"].as_array().unwrap().len(),
        builtin.checks().len()
    );
    let root = checks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "linux.ssh.root-login")
        .unwrap();
    assert_eq!(root["severity"], "High");
    assert_eq!(
        root["controls"][0],
        json!({ "id": "ac-6.2", "label": "AC-6(2)" })
    );

    for id in ["ac-2.1", "AC-2(1)", "AC-2.1"] {
        let (s, c) = app.get(&format!("/api/controls/{id}"), &key).await;
        assert_eq!(
            (s, c["id"].as_str()),
            (StatusCode::OK, Some("ac-2.1")),
            "{id}"
        );
        assert_eq!(c["parent"], "ac-2");
        assert_eq!(c["provenance"]["statement"], "catalog");
    }
    for bad in [
        "/api/controls/ac-999",
        "/api/controls/zz-1",
        "/api/controls/not%20a%20control",
    ] {
        assert_eq!(app.get(bad, &key).await.0, StatusCode::NOT_FOUND, "{bad}");
    }
    for bad in [
        "framework=iso-27001",
        "family=zz",
        "status=done",
        "withdrawn=maybe",
        "limit=0",
        "cursor=zz-9",
        "colour=red",
    ] {
        let (s, p) = app.get(&format!("/api/controls?{bad}"), &key).await;
        assert_eq!(
            (s, p["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("VALIDATION_FAILED")),
            "{bad}"
        );
    }
}

async fn an_overlay_changes_only_its_org(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let a = app.org("Org A").await;
    let b = app.org("Org B").await;
    let ka = app.member(a, "a@example.com", Role::Admin).await;
    let kb = app.member(b, "b@example.com", Role::Admin).await;
    let b_before = app.snapshot(b).await;
    let (_, pristine) = app.get("/api/controls/ac-2", &kb).await;

    let body = json!({
        "implementationStatus": "implemented",
        "narrative": "Accounts are provisioned through the IdP with quarterly reviews.",
        "responsibleRoles": ["IAM lead", "ISSO"],
        "owner": "Dana Whitfield",
        // The 5.0.1 id of the first parameter; stored under the current id.
        "parameterValues": { "ac-2_prm_1": "manager approval and training", "ac-02_odp.10": "quarterly" },
    });
    let (s, tailored) = app
        .send(Method::PUT, "/api/controls/AC-2/overlay", &ka, &body)
        .await;
    assert_eq!(s, StatusCode::OK, "{tailored}");
    assert_eq!(tailored["implementationStatus"], "implemented");
    assert_eq!(
        tailored["provenance"]["implementationStatus"],
        "organization"
    );
    assert_eq!(tailored["provenance"]["statement"], "catalog");
    assert_eq!(tailored["provenance"]["applicability"], "default");
    assert_eq!(tailored["overlay"]["version"], 1);
    let params = tailored["params"].as_array().unwrap();
    let first = params.iter().find(|p| p["id"] == "ac-02_odp.01").unwrap();
    assert_eq!(
        (first["value"].as_str(), first["valueSource"].as_str()),
        (Some("manager approval and training"), Some("organization"))
    );
    let untouched = params.iter().find(|p| p["id"] == "ac-02_odp.02").unwrap();
    assert_eq!(untouched["valueSource"], "catalog");

    // A sees it, in reads and filters; B sees the catalog as it was and its data is unchanged.
    let (_, a_view) = app.get("/api/controls/ac-2", &ka).await;
    assert_eq!(a_view, tailored);
    let (_, a_implemented) = app.get("/api/controls?status=implemented", &ka).await;
    assert_eq!(a_implemented["items"].as_array().unwrap().len(), 1);
    let (_, b_view) = app.get("/api/controls/ac-2", &kb).await;
    assert_eq!(b_view, pristine);
    assert_eq!(b_view["provenance"]["implementationStatus"], "unset");
    let (_, b_implemented) = app.get("/api/controls?status=implemented", &kb).await;
    assert!(b_implemented["items"].as_array().unwrap().is_empty());
    let s = app
        .req(Method::DELETE, "/api/controls/ac-2/overlay", &kb)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "B has no overlay to delete, and cannot delete A's"
    );
    assert_eq!(app.snapshot(b).await, b_before);

    // Audited in A like every write.
    let log = app.audit_entries(a).await;
    assert_eq!(
        (
            log[0]["entityType"].as_str(),
            log[0]["entityId"].as_str(),
            log[0]["action"].as_str()
        ),
        (Some("control-overlay"), Some("ac-2"), Some("create"))
    );

    // Update with the version read; a stale one is refused; delete restores the catalog view.
    let mut edit = body.clone();
    edit["implementationStatus"] = json!("partial");
    edit["version"] = json!(1);
    let (s, v2) = app
        .send(Method::PUT, "/api/controls/ac-2/overlay", &ka, &edit)
        .await;
    assert_eq!(
        (s, v2["overlay"]["version"].as_i64()),
        (StatusCode::OK, Some(2))
    );
    let (s, _) = app
        .send(Method::PUT, "/api/controls/ac-2/overlay", &ka, &edit)
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "version 1 is stale");
    let s = app
        .req(Method::DELETE, "/api/controls/ac-2/overlay", &ka)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, restored) = app.get("/api/controls/ac-2", &ka).await;
    assert_eq!(restored["provenance"]["implementationStatus"], "unset");
    assert_eq!(restored["overlay"], Value::Null);
    let log = app.audit_entries(a).await;
    let overlay_actions: Vec<String> = log
        .iter()
        .filter(|e| e["entityType"] == "control-overlay")
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(overlay_actions, vec!["delete", "update", "create"]);
}

async fn overlay_rules_and_roles(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Org").await;
    let admin = app.member(org, "a@example.com", Role::Admin).await;
    let before = app.snapshot(org).await;
    let refused = [
        (
            "/api/controls/ac-2/overlay",
            json!({ "applicability": "not-applicable" }),
            "justification",
        ),
        (
            "/api/controls/ac-2/overlay",
            json!({ "implementationStatus": "not-applicable" }),
            "implementationStatus",
        ),
        (
            "/api/controls/ac-2/overlay",
            json!({ "implementationStatus": "done" }),
            "implementationStatus",
        ),
        (
            "/api/controls/ac-2/overlay",
            json!({ "parameterValues": { "si-4_prm_1": "x" } }),
            "parameterValues.si-4_prm_1",
        ),
        (
            "/api/controls/ac-1/overlay",
            json!({ "parameterValues": { "ac-01_odp.03": "galaxy-level" } }),
            "parameterValues.ac-01_odp.03",
        ),
        (
            "/api/controls/ac-2/overlay",
            json!({ "narrative": 5 }),
            "narrative",
        ),
        (
            "/api/controls/ac-2/overlay",
            json!({ "hacker": true }),
            "hacker",
        ),
        (
            "/api/controls/ac-2.10/overlay",
            json!({ "implementationStatus": "implemented" }),
            "",
        ),
    ];
    for (path, body, field) in refused {
        let (s, p) = app.send(Method::PUT, path, &admin, &body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {p}");
        if !field.is_empty() {
            assert!(
                p["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["field"] == field),
                "{body}: {p}"
            );
        }
    }
    let (s, _) = app
        .send(
            Method::PUT,
            "/api/controls/ac-999/overlay",
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        app.snapshot(org).await,
        before,
        "refused overlays change nothing"
    );
    // A selection accepts its choices; not-applicable with a reason is fine.
    let (s, ok) = app
        .send(
            Method::PUT,
            "/api/controls/ac-1/overlay",
            &admin,
            &json!({ "parameterValues": { "ac-01_odp.03": "organization-level; system-level" } }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{ok}");
    let (s, _) = app.send(Method::PUT, "/api/controls/pe-1/overlay", &admin, &json!({ "applicability": "not-applicable", "justification": "Cloud-only; the CSP inherits PE." })).await;
    assert_eq!(s, StatusCode::OK);
    let (_, na) = app
        .get("/api/controls?applicability=not-applicable", &admin)
        .await;
    assert_eq!(na["items"][0]["id"], "pe-1");

    // Only Admin and above tailor controls.
    for role in Role::ALL {
        let key = app.member(org, &format!("{role}@example.com"), role).await;
        let allowed = role >= Role::Admin;
        let (s, _) = app
            .send(
                Method::PUT,
                "/api/controls/au-6/overlay",
                &key,
                &json!({ "owner": format!("{role}") }),
            )
            .await;
        assert_eq!(s == StatusCode::OK, allowed, "PUT overlay as {role}: {s}");
        let s = app
            .req(Method::DELETE, "/api/controls/au-6/overlay", &key)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(
            s == StatusCode::NO_CONTENT,
            allowed,
            "DELETE overlay as {role}: {s}"
        );
        assert_eq!(app.get("/api/controls/au-6", &key).await.0, StatusCode::OK);
    }
}

/// An SP 800-171-style catalog and profile in a catalog directory: data, not code.
async fn a_loaded_catalog_is_served_like_the_builtin(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sp800-171.json"),
        json!({"catalog": {"uuid": "6a1b5c3e-0000-4000-8000-000000000171",
            "metadata": {"title": "NIST SP 800-171", "version": "3"},
            "groups": [{"id": "sp_800_171_03.01", "title": "Access Control", "controls": [
                {"id": "sp_800_171_03.01.01", "title": "Account Management",
                 "props": [{"name": "label", "value": "03.01.01"}],
                 "parts": [{"name": "statement", "prose": "Define the types of system accounts allowed."}]},
                {"id": "sp_800_171_03.01.02", "title": "Access Enforcement",
                 "props": [{"name": "label", "value": "03.01.02"}]}]}]}})
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cmmc-l2.json"),
        json!({"profile": {"uuid": "6a1b5c3e-0000-4000-8000-000000000002",
            "metadata": {"title": "CMMC Level 2"},
            "imports": [{"href": "sp800-171.json", "include-all": {}}]}})
        .to_string(),
    )
    .unwrap();
    let catalog = std::sync::Arc::new(Catalog::with_dir(dir.path()).unwrap());
    let app = TestApp::spawn_configured(db, |c| c.catalog = Some(catalog)).await;
    let org = app.org("Org").await;
    let admin = app.member(org, "a@example.com", Role::Admin).await;

    let (_, fw) = app.get("/api/frameworks", &admin).await;
    let cmmc = fw["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "cmmc-l2")
        .cloned()
        .unwrap();
    assert_eq!(
        (cmmc["title"].as_str(), cmmc["controlCount"].as_u64()),
        (Some("CMMC Level 2"), Some(2))
    );
    let (s, listed) = app.get("/api/controls?framework=cmmc-l2", &admin).await;
    assert_eq!(s, StatusCode::OK, "{listed}");
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sp_800_171_03.01.01", "sp_800_171_03.01.02"]);
    let (s, one) = app.get("/api/controls/SP_800_171_03.01.01", &admin).await;
    assert_eq!(s, StatusCode::OK, "{one}");
    assert_eq!(
        one["statement"],
        "Define the types of system accounts allowed."
    );

    // Tailored and tracked like an 800-53 control.
    let (s, tailored) = app
        .send(
            Method::PUT,
            "/api/controls/sp_800_171_03.01.01/overlay",
            &admin,
            &json!({"implementationStatus": "planned", "narrative": "Rolling out with the IdP."}),
        )
        .await;
    assert_eq!(
        (s, tailored["implementationStatus"].as_str()),
        (StatusCode::OK, Some("planned")),
        "{tailored}"
    );
    let (_, ac2) = app.get("/api/controls/ac-2", &admin).await;
    assert_eq!(ac2["title"], "Account Management", "800-53 is still there");
}
