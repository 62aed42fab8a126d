//! Tenant scope through MCP (issue 13 §3): a credential of organization A reaches nothing of
//! organization B, through any tool that takes an id or by naming B in `x-organization-id`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::Role;
use tater_service::use_cases::{properties, registry};
use tater_testkit::{TestDb, both_engines};

use crate::mcp::{raw_call, raw_call_in};
use crate::support::*;

both_engines!(no_tool_reaches_another_organization);

async fn no_tool_reaches_another_organization(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let a = app.org("A").await;
    let b = app.org("B").await;
    // Sessions: verified, so writes are not stopped by the identity step before scope is.
    let alice = app.person(a, "alice@a.test", Role::OrgAdmin).await;
    let bob = app.person(b, "bob@b.test", Role::OrgAdmin).await;
    // Something of B's behind every kind of id a tool takes: `(module, id, arguments)`, the
    // module `None` for ids that are not records. A module's tool is tried with B's record of
    // that module and with the others (see `module_of`); a tool of no module with every one.
    let mut ids: Vec<(Option<&str>, String, Value)> = Vec::new();
    for module in modules() {
        let created = app.create(module, &bob, sample(module, 1)).await;
        ids.push((
            Some(module),
            created["id"].as_str().unwrap().to_owned(),
            sample(module, 2),
        ));
    }
    let (status, key) = app
        .send(Method::POST, "/api/api-keys", &bob, &json!({ "name": "b" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let (status, token) = app
        .send(Method::POST, "/api/enrollment-tokens", &bob, &json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let (_, me) = app.get("/api/me", &bob).await;
    for v in [&key["id"], &token["id"], &me["user"]["id"]] {
        ids.push((None, v.as_str().unwrap().to_owned(), json!({})));
    }
    let before = app.snapshot(b).await;

    let mut calls = 0;
    for case in registry().iter().filter(|c| c.invoke.is_some()) {
        if !properties(&case.input_schema()).contains_key("id") {
            continue;
        }
        let module = module_of(case);
        let kinds = ids
            .iter()
            .filter(|(m, _, _)| module.is_none() || m.is_none() || *m == module);
        for (_, id, body) in kinds {
            let mut args = body.clone();
            args["id"] = json!(id);
            let answer = raw_call(&app, &alice, &case.tool, args)
                .await
                .expect("HTTP 200");
            let refused = answer["error"].is_object() || answer["result"]["isError"] == true;
            // A create (or an upsert by title) ignores an id it is given: it makes a new
            // record in A.
            let made_in_a = (case.tool.starts_with("create_") || case.tool.starts_with("upsert_"))
                && answer["result"]["structuredContent"]["id"].as_str() != Some(id.as_str());
            assert!(
                refused || made_in_a,
                "{} reached B's {id}: {answer}",
                case.tool
            );
            calls += 1;
        }
    }
    assert!(calls > 150, "{calls} calls");
    assert_eq!(app.snapshot(b).await, before, "B changed");

    // Naming B's id in x-organization-id is refused before any tool runs.
    let refused = raw_call_in(
        &app,
        &alice,
        Some(&b.to_string()),
        "list_poam_items",
        json!({}),
    )
    .await
    .err();
    assert_eq!(refused, Some(StatusCode::FORBIDDEN));
    // And no tool takes an organization argument that could widen the scope.
    for case in registry().iter() {
        let input = properties(&case.input_schema());
        for field in ["orgId", "organizationId", "tenantId", "org"] {
            assert!(!input.contains_key(field), "{} takes {field}", case.tool);
        }
    }
}
