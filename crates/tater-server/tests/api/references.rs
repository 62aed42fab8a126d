//! What a record or report names must be the caller's own, and saying "taken" must not reveal
//! what another endpoint did (issue 21, finding 8).

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use tater_domain::Role;
use tater_service::use_cases::{UseCase, registry};
use tater_testkit::{TestDb, both_engines};

use crate::mcp::{raw_call, raw_tool_names};
use crate::support::*;
use crate::theirs::{
    Names, Reference, Theirs, holdings, references, takes_id, unswept_ids, valid_fields,
};

both_engines!(
    a_risk_acceptance_names_an_endpoint_of_its_own_organization,
    scan_ids_are_unique_per_endpoint,
    no_reference_names_another_organizations
);

async fn a_risk_acceptance_names_an_endpoint_of_its_own_organization(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Mine").await;
    let other = app.org("Theirs").await;
    let admin = app.member(org, "admin@mine.test", Role::Admin).await;
    let their_admin = app.member(other, "admin@theirs.test", Role::Admin).await;
    let (_, mine) = enroll(&app, &token(&app, &admin, false).await, "web-01").await;
    let (_, theirs) = enroll(&app, &token(&app, &their_admin, false).await, "web-01").await;
    let body = |endpoint: &str| json!({ "control": "AC-2", "endpoint": endpoint, "justification": "vendor fix pending", "expires": in_days(30) });
    let before = app.snapshot(org).await;
    for bad in [
        theirs["endpointId"].as_str().unwrap().to_owned(),
        new_id(),
        "web-01".to_owned(),
    ] {
        let (s, p) = app
            .send(Method::POST, "/api/risk-acceptances", &admin, &body(&bad))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {p}");
        assert_eq!(p["errors"][0]["field"], "endpoint", "{p}");
    }
    assert_eq!(app.snapshot(org).await, before, "nothing stored");
    let own = mine["endpointId"].as_str().unwrap();
    let created = app.create("risk-acceptances", &admin, body(own)).await;
    assert_eq!(created["endpoint"], own);
    // Nor can an update point it elsewhere.
    let path = format!("/api/risk-acceptances/{}", created["id"].as_str().unwrap());
    let (s, p) = app
        .send(
            Method::PUT,
            &path,
            &admin,
            &body(theirs["endpointId"].as_str().unwrap()),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    let (_, listed) = app
        .get(&format!("/api/risk-acceptances?endpoint={own}"), &admin)
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let (s, _) = app
        .get("/api/risk-acceptances?endpoint=not-an-id", &admin)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Organization-wide (no endpoint) still works.
    let wide = json!({ "control": "AC-2", "justification": "all", "expires": in_days(30) });
    app.create("risk-acceptances", &admin, wide).await;
}

async fn scan_ids_are_unique_per_endpoint(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Fleet").await;
    let other = app.org("Other").await;
    let admin = app.member(org, "admin@fleet.test", Role::Admin).await;
    let other_admin = app.member(other, "admin@other.test", Role::Admin).await;
    let t = token(&app, &admin, false).await;
    let agent = |v: &serde_json::Value| Key::api(v["apiKey"].as_str().unwrap().to_owned());
    let a = agent(&enroll(&app, &t, "a-01").await.1);
    let b = agent(&enroll(&app, &t, "b-01").await.1);
    let c = agent(
        &enroll(&app, &token(&app, &other_admin, false).await, "c-01")
            .await
            .1,
    );
    let id = new_id();
    let scan = report(&id, "2026-11-29T09:00:00Z", &[("linux.time.sync", "Pass")]);
    let send = |k: &Key| {
        let (k, scan) = (k.clone(), scan.clone());
        let app = &app;
        async move { app.send(Method::POST, "/api/agent/scans", &k, &scan).await }
    };
    let (s, first) = send(&a).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    // Another endpoint using the same id: its own scan, not a 409 saying the id is taken.
    let (s, second) = send(&b).await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    assert_ne!(second["id"], first["id"]);
    assert_eq!(second["scanId"], id.as_str());
    let (s, third) = send(&c).await;
    assert_eq!(s, StatusCode::CREATED, "{third}");
    // Each endpoint's retry is still a retry.
    for (k, stored) in [(&a, &first), (&b, &second)] {
        let (s, again) = send(k).await;
        assert_eq!((s, &again["id"]), (StatusCode::OK, &stored["id"]));
    }
    let (_, scans) = app
        .get("/api/scan-results?check=linux.time.sync", &admin)
        .await;
    assert_eq!(
        scans["items"].as_array().unwrap().len(),
        2,
        "one result per endpoint"
    );
}

/// Every field of every tool that names another record or an endpoint (read off the
/// registry and the module declarations: `theirs::references`), given B's: each answer is
/// the one an id that exists nowhere gets, so B's id is neither taken nor told apart, and a
/// change is refused on that field. The same call naming A's own is taken, so the refusal was
/// the scope's.
async fn no_reference_names_another_organizations(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let a = app.org("A").await;
    let b = app.org("B").await;
    let alice = app.person(a, "alice@a.test", Role::OrgAdmin).await;
    let bob = app.person(b, "bob@b.test", Role::OrgAdmin).await;
    let theirs = holdings(&app, b, &bob, "B").await;
    let mine = holdings(&app, a, &alice, "A").await;
    let before = app.snapshot(b).await;
    let offered = raw_tool_names(&app, &alice).await;
    let unswept: Vec<(&str, Vec<String>)> = registry()
        .iter()
        .map(|c| (c.tool.as_str(), unswept_ids(c)))
        .filter(|(_, ids)| !ids.is_empty())
        .collect();
    assert!(unswept.is_empty(), "ids no sweep tries: {unswept:?}");
    let mut swept = Vec::new();
    let mut failures = Vec::new();
    for case in registry().iter().filter(|c| offered.contains(&c.tool)) {
        let refs = references(case);
        if refs.is_empty() {
            continue;
        }
        let base = valid_call(&app, &alice, case, &refs, &mine).await;
        let own = raw_call(&app, &alice, &case.tool, Value::Object(base.clone()))
            .await
            .expect("HTTP 200");
        if own["result"]["isError"] == true {
            failures.push(format!("{} refused A's own: {own}", case.tool));
            continue;
        }
        for reference in &refs {
            let (given, nowhere) = match reference.names {
                Names::Record(module) => (record(&theirs, module), new_id()),
                Names::Endpoint => (theirs.endpoint.clone(), new_id()),
                Names::Host => (theirs.host.clone(), "nowhere-host".to_owned()),
            };
            let mut answers = Vec::new();
            for value in [&given, &nowhere] {
                let mut args = base.clone();
                let named = if reference.list {
                    json!([value])
                } else {
                    json!(value)
                };
                args.insert(reference.name.clone(), named);
                let answer = raw_call(&app, &alice, &case.tool, Value::Object(args))
                    .await
                    .expect("HTTP 200");
                // An answer may echo what it was given; only that may differ.
                answers.push(answer.to_string().replace(value.as_str(), "<given>"));
            }
            let tried = format!(
                "{} with B's {:?} in {}",
                case.tool, reference.names, reference.name
            );
            for secret in theirs.secrets.iter().filter(|s| **s != given) {
                if answers[0].contains(secret.as_str()) {
                    failures.push(format!("{tried} shows {secret}: {}", answers[0]));
                }
            }
            if answers[0] != answers[1] {
                failures.push(format!(
                    "{tried}: {}\nan id of no one's: {}",
                    answers[0], answers[1]
                ));
            }
            if !case.hints.read_only && !refused_on(&answers[0], &reference.name) {
                failures.push(format!("{tried} not refused on the field: {}", answers[0]));
            }
        }
        swept.push(case.tool.as_str());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Today: twelve modules' create, update, list, count and export, and the script run.
    assert!(swept.len() >= 61, "swept {swept:?}");
    assert_eq!(app.snapshot(b).await, before, "B changed");
}

/// A call of `case` valid in every field, naming A's own in each reference and acting on a
/// new record of A's in its module (one still open to edits).
async fn valid_call(
    app: &TestApp,
    alice: &Key,
    case: &UseCase,
    refs: &[Reference],
    mine: &Theirs,
) -> Map<String, Value> {
    let mut args = valid_fields(case);
    if takes_id(case) {
        let m = module_of(case)
            .unwrap_or_else(|| panic!("{}: whose record would it act on?", case.tool));
        let fresh = app.create(m, alice, sample(m, 3)).await;
        args.insert("id".into(), fresh["id"].clone());
    }
    for reference in refs {
        let own = match reference.names {
            Names::Record(m) => record(mine, m),
            Names::Endpoint => mine.endpoint.clone(),
            Names::Host => mine.host.clone(),
        };
        let own = if reference.list {
            json!([own])
        } else {
            json!(own)
        };
        args.insert(reference.name.clone(), own);
    }
    args
}

fn record(holdings: &Theirs, module: &str) -> String {
    let (_, id) = holdings.records.iter().find(|(m, _)| *m == module).unwrap();
    id.clone()
}

/// Whether a tool's answer (as text) refused the call as not found, or on `field` alone.
fn refused_on(answer: &str, field: &str) -> bool {
    let answer: Value = serde_json::from_str(answer).unwrap();
    let error = &answer["result"]["structuredContent"]["error"];
    match error["code"].as_str() {
        Some("NOT_FOUND") => true,
        Some("VALIDATION_FAILED") => error["errors"]
            .as_array()
            .is_some_and(|e| !e.is_empty() && e.iter().all(|e| e["field"] == field)),
        _ => false,
    }
}
