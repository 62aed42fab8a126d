//! The registry's invokers — how generated channels (MCP tools, the AI analyst) call a use
//! case with one JSON object — answer exactly what REST answers, refuse what REST refuses, and
//! write through the same audited paths.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tater_domain::{Role, Timestamp};
use tater_service::use_cases::{Answer, Caller, Effect, registry};
use tater_service::{Credential, FixedClock, ServiceError};
use tater_testkit::{TestDb, both_engines};

use crate::http::api_document;
use crate::support::*;

both_engines!(
    generated_reads_answer_what_rest_answers,
    generated_writes_are_checked_and_audited
);

async fn caller(app: &TestApp, key: &Key) -> Caller {
    let identity = app
        .service
        .identify(Credential::ApiKey(key.value.clone()))
        .await
        .unwrap();
    let actor = identity.actor(None).unwrap();
    Caller { identity, actor }
}

async fn call(
    app: &TestApp,
    caller: &Caller,
    tool: &str,
    input: Value,
) -> Result<Answer, ServiceError> {
    let case = registry()
        .iter()
        .find(|c| c.tool == tool)
        .unwrap_or_else(|| panic!("no tool {tool}"));
    let invoker = case
        .invoke
        .as_ref()
        .unwrap_or_else(|| panic!("{tool} has no invoker"));
    invoker
        .call(app.service.clone(), caller.clone(), input)
        .await
}

async fn generated_reads_answer_what_rest_answers(db: TestDb) {
    let clock = Arc::new(FixedClock::new(Timestamp::from_millis(1_800_000_000_000)));
    let app = TestApp::spawn_with(db, clock).await;
    let org = app.org("Invokers").await;
    let boss = app.member(org, "boss@invoke.test", Role::OrgAdmin).await;
    let poam = app
        .create(
            "poam",
            &boss,
            json!({ "title": "Patch", "weaknessDescription": "old kernel", "impact": "High",
                    "scheduledCompletion": "2030-01-01", "controls": ["AC-2"] }),
        )
        .await;
    let caller = caller(&app, &boss).await;
    let doc = api_document(&app).await;
    let mut compared = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let Some(op) = ops.get("get") else { continue };
        let id = op["operationId"].as_str().unwrap();
        let Some(case) = registry().get(id) else {
            continue;
        };
        let required = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["required"] == true && p["in"] != "header");
        if case.invoke.is_none() || case.effect != Effect::Read || required {
            continue;
        }
        let (status, rest) = app.get(path, &boss).await;
        let generated = call(&app, &caller, &case.tool, json!({})).await;
        match generated {
            Ok(Answer::Json(v)) => {
                assert_eq!(status, StatusCode::OK, "{path}: REST {rest}");
                assert_eq!(v, rest, "{} answers other than GET {path}", case.tool);
            }
            Ok(Answer::Nothing) => panic!("{} read nothing", case.tool),
            Err(e) => assert!(
                !status.is_success(),
                "{} failed ({e}) where GET {path} answered {status}",
                case.tool
            ),
        }
        compared.push(case.tool.clone());
    }
    assert!(compared.len() >= 20, "only {compared:?}");
    // One that takes an id, through the module's generated tool.
    let id = poam["id"].as_str().unwrap();
    let (_, rest) = app.get(&format!("/api/poam/{id}"), &boss).await;
    let Ok(Answer::Json(v)) = call(&app, &caller, "get_poam_item", json!({ "id": id })).await
    else {
        panic!("get_poam_item failed")
    };
    assert_eq!(v, rest);
    // A list with filters, given as typed JSON rather than query text.
    let (_, rest) = app.get("/api/poam?impact=High&limit=5", &boss).await;
    let Ok(Answer::Json(v)) = call(
        &app,
        &caller,
        "list_poam_items",
        json!({ "impact": "High", "limit": 5 }),
    )
    .await
    else {
        panic!("list_poam_items failed")
    };
    assert_eq!(v, rest);
}

async fn generated_writes_are_checked_and_audited(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Writes").await;
    let admin = app.member(org, "admin@invoke.test", Role::Admin).await;
    let viewer = app.member(org, "viewer@invoke.test", Role::Viewer).await;
    let as_admin = caller(&app, &admin).await;
    let as_viewer = caller(&app, &viewer).await;
    let body = json!({ "title": "Through a tool", "weaknessDescription": "w", "impact": "Low",
                       "scheduledCompletion": "2030-01-01", "controls": ["AC-2"] });

    // A viewer is refused, and nothing changes.
    let before = app.snapshot(org).await;
    let refused = call(&app, &as_viewer, "create_poam_item", body.clone()).await;
    assert!(
        matches!(refused, Err(ServiceError::Forbidden(_))),
        "{refused:?}"
    );
    assert_eq!(app.snapshot(org).await, before);

    // Bad input is a validation error on its field, and changes nothing either.
    let bad = call(
        &app,
        &as_admin,
        "get_control",
        json!({ "id": "ac-2", "extra": 1 }),
    )
    .await;
    match bad {
        Err(ServiceError::Validation(v)) => assert!(format!("{v:?}").contains("extra"), "{v:?}"),
        other => panic!("{other:?}"),
    }

    // An admin's write lands, reads back over REST, and is audited as the key's owner.
    let created = call(&app, &as_admin, "create_poam_item", body).await;
    let Ok(Answer::Json(created)) = created else {
        panic!("create failed: {created:?}")
    };
    let id = created["id"].as_str().unwrap();
    let (status, rest) = app.get(&format!("/api/poam/{id}"), &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rest["title"], "Through a tool");
    let (_, log) = app.get("/api/audit-log?entityType=poam", &admin).await;
    let entry = &log["items"][0];
    assert_eq!(entry["entityId"], id);
    assert_eq!(entry["action"], "create");
    assert_eq!(entry["upn"], "admin@invoke.test");

    // Update takes the id in the same object; delete answers nothing.
    let update = json!({ "id": id, "title": "Renamed", "weaknessDescription": "w", "impact": "Low",
                         "scheduledCompletion": "2030-01-01", "controls": ["AC-2"] });
    let updated = call(&app, &as_admin, "update_poam_item", update).await;
    let Ok(Answer::Json(updated)) = updated else {
        panic!("update failed: {updated:?}")
    };
    assert_eq!(updated["title"], "Renamed");
    // Inputs are bounded before any work, as REST bounds its query strings.
    let many: serde_json::Map<String, Value> =
        (0..300).map(|n| (format!("k{n}"), json!(1))).collect();
    let too_big = call(&app, &as_admin, "list_poam_items", Value::Object(many)).await;
    assert!(
        matches!(too_big, Err(ServiceError::Validation(_))),
        "{too_big:?}"
    );
    let values: Vec<String> = (0..100).map(|n| format!("s{n}")).collect();
    let too_many = call(
        &app,
        &as_admin,
        "list_poam_items",
        json!({ "status": values }),
    )
    .await;
    assert!(
        matches!(too_many, Err(ServiceError::Validation(_))),
        "{too_many:?}"
    );
    // Nobody invites a person as an endpoint agent.
    let agent = call(
        &app,
        &as_admin,
        "invite_member",
        json!({ "email": "x@invoke.test", "role": "agent" }),
    )
    .await;
    assert!(
        matches!(
            agent,
            Err(ServiceError::Validation(_)) | Err(ServiceError::Forbidden(_))
        ),
        "{agent:?}"
    );
    let deleted = call(&app, &as_admin, "delete_poam_item", json!({ "id": id })).await;
    assert_eq!(deleted.ok(), Some(Answer::Nothing));
    let (status, _) = app.get(&format!("/api/poam/{id}"), &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
