//! Federal artifacts and data exports. The SSP as OSCAL: valid against the official OSCAL 1.2.1 schema (the same validator accepts
//! NIST's examples, see tater-export/tests/oscal_schema.rs) for a tailored organization, an
//! untailored one and one with every baseline control tailored; the overlays, the profile and
//! the endpoints show in it; two exports of unchanged data are byte-identical.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    the_ssp_is_valid_oscal_and_reflects_the_organization,
    every_control_tailored_still_validates,
    the_poam_exports_as_valid_oscal,
    the_endpoint_inventory_exports_as_csv_and_json,
    the_demo_organizations_artifacts_validate
);

fn schema_errors(ssp: &Value) -> Vec<String> {
    errors_against("oscal_ssp_schema.json", ssp)
}

/// Errors of `doc` against one of the official OSCAL 1.2.1 schemas.
fn errors_against(schema_file: &str, doc: &Value) -> Vec<String> {
    let path = format!(
        "{}/../tater-export/tests/data/oscal-schema-1.2.1/{schema_file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .take(20)
        .collect()
}

async fn ssp_text(app: &TestApp, key: &Key) -> String {
    let res = app
        .req(Method::GET, "/api/ssp?format=oscal-json", key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

fn requirement<'a>(ssp: &'a Value, control: &str) -> &'a Value {
    ssp["system-security-plan"]["control-implementation"]["implemented-requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["control-id"] == control)
        .unwrap_or_else(|| panic!("{control} missing"))
}

async fn the_ssp_is_valid_oscal_and_reflects_the_organization(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("SSP Org").await;
    let boss = app.member(org, "boss@ssp.test", Role::OrgAdmin).await;
    let viewer = app.member(org, "viewer@ssp.test", Role::Viewer).await;

    // Untailored and without a profile, the SSP is still valid.
    let bare: Value = serde_json::from_str(&ssp_text(&app, &viewer).await).unwrap();
    assert_eq!(schema_errors(&bare), Vec::<String>::new());

    let profile = json!({
        "name": "Acme Mission System", "abbreviation": "AMS", "description": "Processes CUI for the Navy.",
        "confidentiality": "moderate", "integrity": "high", "availability": "low",
        "informationTypes": [{ "title": "Controlled Unclassified Information", "description": "Contract data.", "confidentiality": "moderate" }],
        "authorizationBoundary": "Two VPCs and the office LAN.", "networkArchitecture": "Hub and spoke.",
        "issoName": "Ivy Isso", "issoEmail": "isso@acme.example", "authorizingOfficialName": "Al Official",
        "baseline": "nist-800-53-rev5-moderate",
    });
    assert_eq!(
        app.send(Method::PUT, "/api/system-profile", &boss, &profile)
            .await
            .0,
        StatusCode::OK
    );
    let overlays = [
        (
            "ac-2",
            json!({ "implementationStatus": "implemented", "narrative": "Accounts are managed in Entra ID.", "responsibleRoles": ["Identity Team"], "parameterValues": { "ac-02_odp.01": "security officer" } }),
        ),
        (
            "pe-3",
            json!({ "applicability": "not-applicable", "justification": "Cloud only; the CSP covers physical access." }),
        ),
    ];
    for (control, body) in &overlays {
        let (s, v) = app
            .send(
                Method::PUT,
                &format!("/api/controls/{control}/overlay"),
                &boss,
                body,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{control}: {v}");
    }
    let (_, token) = app
        .send(
            Method::POST,
            "/api/enrollment-tokens",
            &boss,
            &json!({ "label": "ssp" }),
        )
        .await;
    let enroll = json!({ "token": token["token"], "hostname": "web-01.acme.example", "os": "Debian GNU/Linux", "osVersion": "12", "arch": "x86_64", "agentVersion": "0.1.0" });
    let res = app
        .client
        .post(app.url("/api/agent/enroll"))
        .json(&enroll)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);

    let text = ssp_text(&app, &viewer).await;
    let ssp: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(schema_errors(&ssp), Vec::<String>::new());
    let plan = &ssp["system-security-plan"];
    assert_eq!(plan["metadata"]["oscal-version"], "1.2.1");
    assert_eq!(
        plan["metadata"]["title"],
        "Acme Mission System System Security Plan"
    );
    assert!(
        plan["import-profile"]["href"]
            .as_str()
            .unwrap()
            .ends_with("MODERATE-baseline_profile.json")
    );
    let sc = &plan["system-characteristics"];
    assert_eq!(sc["system-name-short"], "AMS");
    assert_eq!(
        sc["security-sensitivity-level"], "fips-199-high",
        "the high-water mark"
    );
    assert_eq!(
        sc["security-impact-level"]["security-objective-integrity"],
        "fips-199-high"
    );
    assert_eq!(
        sc["authorization-boundary"]["description"],
        "Two VPCs and the office LAN."
    );
    let catalog = tater_catalog::Catalog::builtin().unwrap();
    let moderate = catalog
        .framework("nist-800-53-rev5-moderate")
        .unwrap()
        .controls
        .len();
    let reqs = plan["control-implementation"]["implemented-requirements"]
        .as_array()
        .unwrap();
    assert_eq!(
        reqs.len(),
        moderate,
        "one implemented requirement per baseline control"
    );
    let ac2 = requirement(&ssp, "ac-2");
    assert_eq!(
        ac2["by-components"][0]["implementation-status"]["state"],
        "implemented"
    );
    assert_eq!(
        ac2["by-components"][0]["description"],
        "Accounts are managed in Entra ID."
    );
    assert_eq!(ac2["responsible-roles"][0]["role-id"], "identity-team");
    assert_eq!(
        ac2["set-parameters"][0],
        json!({ "param-id": "ac-02_odp.01", "values": ["security officer"] })
    );
    let pe3 = requirement(&ssp, "pe-3");
    assert_eq!(
        pe3["by-components"][0]["implementation-status"]["state"],
        "not-applicable"
    );
    assert!(
        pe3["by-components"][0]["description"]
            .as_str()
            .unwrap()
            .contains("CSP covers physical access")
    );
    let roles = plan["metadata"]["roles"].to_string();
    assert!(
        roles.contains("identity-team"),
        "responsible roles are declared: {roles}"
    );
    let inventory = &plan["system-implementation"]["inventory-items"];
    assert_eq!(
        inventory[0]["props"][0],
        json!({ "name": "fqdn", "value": "web-01.acme.example" })
    );
    let isso = plan["metadata"]["parties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Ivy Isso")
        .unwrap();
    assert_eq!(isso["email-addresses"], json!(["isso@acme.example"]));

    // Deterministic: the same bytes again; another organization's SSP has other UUIDs.
    assert_eq!(
        ssp_text(&app, &viewer).await,
        text,
        "two exports of unchanged data differ"
    );
    assert_ne!(bare["system-security-plan"]["uuid"], Value::Null);
    let other = app.org("Other").await;
    let other_viewer = app.member(other, "viewer@other.test", Role::Viewer).await;
    let theirs: Value = serde_json::from_str(&ssp_text(&app, &other_viewer).await).unwrap();
    assert_ne!(theirs["system-security-plan"]["uuid"], plan["uuid"]);
    assert!(
        !theirs.to_string().contains("Entra ID"),
        "nothing of another organization"
    );
    assert_eq!(
        app.get("/api/ssp?format=pdf", &viewer).await.0,
        StatusCode::BAD_REQUEST
    );
}

async fn every_control_tailored_still_validates(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Tailored").await;
    let boss = app.member(org, "boss@tailored.test", Role::OrgAdmin).await;
    let (s, _) = app
        .send(
            Method::PUT,
            "/api/system-profile",
            &boss,
            &json!({ "name": "Low System", "baseline": "nist-800-53-rev5-low" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let catalog = tater_catalog::Catalog::builtin().unwrap();
    let low = catalog
        .framework("nist-800-53-rev5-low")
        .unwrap()
        .controls
        .clone();
    let statuses = ["implemented", "partial", "planned", "alternative"];
    for (i, control) in low.iter().enumerate() {
        let body = json!({
            "implementationStatus": statuses[i % 4],
            "narrative": format!("How {control} is met: <b>markup</b> & \"quotes\"\nand lines."),
            "responsibleRoles": [format!("Team {}", i % 3)],
        });
        let (s, v) = app
            .send(
                Method::PUT,
                &format!("/api/controls/{control}/overlay"),
                &boss,
                &body,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{control}: {v}");
    }
    let ssp: Value = serde_json::from_str(&ssp_text(&app, &boss).await).unwrap();
    assert_eq!(schema_errors(&ssp), Vec::<String>::new());
    let reqs = ssp["system-security-plan"]["control-implementation"]["implemented-requirements"]
        .as_array()
        .unwrap();
    assert_eq!(reqs.len(), low.len());
    assert!(reqs.iter().all(|r| {
        r["by-components"][0]["description"]
            .as_str()
            .unwrap()
            .starts_with("How ")
    }));
}

async fn the_poam_exports_as_valid_oscal(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Poam Org").await;
    let admin = app.member(org, "admin@poam.test", Role::Admin).await;
    let export = |q: &'static str| {
        let req = app.req(
            Method::GET,
            &format!("/api/poam/export?format=oscal-json{q}"),
            &admin,
        );
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            res.text().await.unwrap()
        }
    };
    // OSCAL needs at least one item: an empty selection is refused with the reason.
    let (status, problem) = app.get("/api/poam/export?format=oscal-json", &admin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        problem.to_string().contains("at least one item"),
        "{problem}"
    );
    let mut item = sample("poam", 1);
    item["milestones"] = json!([
        { "description": "Order the patch", "status": "Completed", "scheduledCompletion": "2030-01-01", "completionDate": "2029-12-01" },
        { "description": "Apply it", "scheduledCompletion": "2030-02-01" },
    ]);
    item["status"] = json!("In Progress");
    app.create("poam", &admin, item).await;
    let mut accepted = sample("poam", 2);
    accepted["status"] = json!("Risk Accepted");
    accepted["justification"] = json!("Compensated by network isolation.");
    app.create("poam", &admin, accepted).await;
    let text = export("").await;
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        errors_against("oscal_poam_schema.json", &doc),
        Vec::<String>::new()
    );
    let plan = &doc["plan-of-action-and-milestones"];
    assert_eq!(plan["poam-items"].as_array().unwrap().len(), 2);
    let risks = plan["risks"].as_array().unwrap();
    let statuses: Vec<&str> = risks
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"remediating") && statuses.contains(&"deviation-approved"),
        "{statuses:?}"
    );
    let tasks = risks
        .iter()
        .find_map(|r| r["remediations"][0]["tasks"].as_array())
        .unwrap();
    assert_eq!(tasks.len(), 2, "one task per milestone");
    assert_eq!(export("").await, text, "deterministic");
    // The list's filters apply.
    let filtered: Value = serde_json::from_str(&export("&status=Risk%20Accepted").await).unwrap();
    assert_eq!(
        filtered["plan-of-action-and-milestones"]["poam-items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get("/api/risks/export?format=oscal-json", &admin)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
}

/// Endpoint inventory export (issue 7 item 1): CSV and JSON with the list's filters,
/// formula-looking tags neutralised, another organization's endpoints absent.
async fn the_endpoint_inventory_exports_as_csv_and_json(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Inventory").await;
    let admin = app.member(org, "admin@inv.test", Role::Admin).await;
    let other = app.org("Elsewhere").await;
    let other_admin = app.member(other, "admin@else.test", Role::Admin).await;
    for (key, host) in [
        (&admin, "db-01"),
        (&admin, "web-01"),
        (&admin, "web-02"),
        (&other_admin, "web-99"),
    ] {
        let (_, token) = app
            .send(
                Method::POST,
                "/api/enrollment-tokens",
                key,
                &json!({ "label": "x" }),
            )
            .await;
        let body = json!({ "token": token["token"], "hostname": host, "os": "linux", "osVersion": "12", "arch": "x86_64", "agentVersion": "0.1.0" });
        let res = app
            .client
            .post(app.url("/api/agent/enroll"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let (_, list) = app.get("/api/endpoints?q=db-01", &admin).await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) = app
        .send(
            Method::PUT,
            &format!("/api/endpoints/{id}"),
            &admin,
            &json!({ "tags": ["=HYPERLINK(\"x\")", "prod"] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let get_text = |q: &'static str| {
        let req = app.req(Method::GET, &format!("/api/endpoints/export{q}"), &admin);
        async move {
            let res = req.send().await.unwrap();
            (res.status(), res.text().await.unwrap())
        }
    };
    let (status, json_text) = get_text("").await;
    assert_eq!(status, StatusCode::OK);
    let all: Value = serde_json::from_str(&json_text).unwrap();
    let hosts: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(
        hosts,
        ["db-01", "web-01", "web-02"],
        "sorted, and only this organization's"
    );
    let (_, filtered) = get_text("?q=web&format=json").await;
    assert_eq!(
        serde_json::from_str::<Value>(&filtered)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (status, csv) = get_text("?format=csv").await;
    assert_eq!(status, StatusCode::OK);
    let mut reader = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    assert_eq!(reader.headers().unwrap().iter().next(), Some("id"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows[0].iter().any(|c| c.starts_with("'=HYPERLINK")),
        "formula neutralised: {:?}",
        rows[0]
    );
    for bad in ["?format=xml", "?limit=5", "?status=lost"] {
        assert_eq!(get_text(bad).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
}

/// `tater serve --demo`: the demo organization's SSP and POA&M are valid OSCAL, and its eMASS
/// workbook and Word SSP export.
async fn the_demo_organizations_artifacts_validate(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&db, std::sync::Arc::new(tater_service::SystemClock));
    cfg.demo_password_file = Some(dir.path().join("demo-password"));
    let app = tater_server::App::build(cfg).await.unwrap();
    let login = app.demo_login.clone().unwrap();
    let app = TestApp::start(app, None, tater_testkit::entra::FakeEntra::start().await);
    let (s, session) = json_of(
        app.client
            .post(app.url("/api/auth/login"))
            .json(&json!({ "email": login.email, "password": login.password }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{session}");
    let demo = Key::bearer(session["token"].as_str().unwrap());

    // A published policy (approved by the demo's second person) waits for the demo account's
    // acknowledgement, and prints.
    let (_, mine) = app.get("/api/me/policies-to-acknowledge", &demo).await;
    assert_eq!(
        mine["items"][0]["title"], "Account Management Policy",
        "{mine}"
    );
    let policy = mine["items"][0]["policyId"].as_str().unwrap();
    let pdf = app
        .req(
            Method::GET,
            &format!("/api/policies/{policy}/versions/1/pdf"),
            &demo,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);

    let ssp: Value = serde_json::from_str(&ssp_text(&app, &demo).await).unwrap();
    assert_eq!(schema_errors(&ssp), Vec::<String>::new());
    let plan = &ssp["system-security-plan"];
    assert_eq!(
        plan["system-characteristics"]["system-name"],
        "Demo Mission Support System"
    );
    assert_eq!(
        requirement(&ssp, "pe-3")["by-components"][0]["implementation-status"]["state"],
        "not-applicable"
    );
    let (s, poam) = app.get("/api/poam/export?format=oscal-json", &demo).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        errors_against("oscal_poam_schema.json", &poam),
        Vec::<String>::new()
    );
    assert!(
        poam["plan-of-action-and-milestones"]["poam-items"]
            .as_array()
            .unwrap()
            .len()
            >= 3
    );
    for path in [
        "/api/poam/export?format=emass-xlsx",
        "/api/ssp?format=docx",
        "/api/export",
    ] {
        let res = app.req(Method::GET, path, &demo).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(
            res.bytes().await.unwrap().starts_with(b"PK"),
            "{path} is a zip package"
        );
    }
}
