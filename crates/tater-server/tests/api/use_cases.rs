//! The use-case registry is the table every channel is made from: it covers the REST API,
//! agrees with it on who may call what and with which fields, and its schemas compile in an
//! independent JSON Schema implementation (Python's `jsonschema` and `referencing`).

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tater_service::use_cases::{Effect, Gate, registry};
use tater_testkit::TestDb;

use crate::http::api_document;
use crate::support::*;

/// Operations that are not use cases: pages, health, the API document itself, signing in and
/// out, the MCP endpoint's sign-in metadata, and the endpoint agent's own calls.
fn outside_registry(method: &str, path: &str) -> bool {
    // An upload streams raw bytes, which no generated channel carries: REST's alone.
    (method == "post" && path == "/api/evidence/{id}/files")
        || path == "/"
        || path.starts_with("/assets/")
        || path == "/healthz"
        || path == "/api/openapi.json"
        || path.starts_with("/api/auth/")
        || path.starts_with("/api/agent/")
        // How to sign in to the MCP endpoint: protocol metadata, not a use case.
        || path == "/.well-known/oauth-protected-resource"
        // A download link runs the file use case it was signed for: the link is the credential.
        || path == "/api/downloads"
}

fn properties(schema: &Value) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    // A choice of shapes (a syslog or a webhook destination) offers the fields of each.
    for branch in schema["oneOf"].as_array().into_iter().flatten() {
        names.extend(properties(branch));
    }
    names
}

fn path_params(op: &Value) -> Vec<String> {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "path")
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Whether `schema`, or any alternative in it, requires `name`.
fn requires(schema: &Value, name: &str) -> bool {
    schema["required"]
        .as_array()
        .is_some_and(|r| r.iter().any(|n| n == name))
        || schema["oneOf"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|b| requires(b, name))
}

/// A body schema from the document, with a `$ref` into components followed.
fn resolved<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[tokio::test]
async fn the_registry_covers_every_rest_operation_and_agrees_with_it() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc = api_document(&app).await;
    let mut served = BTreeSet::new();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            let what = format!("{} {path} ({id})", method.to_uppercase());
            let uc = registry().get(id);
            if outside_registry(method, path) {
                assert!(
                    uc.is_none(),
                    "{what} is outside the registry but named in it"
                );
                continue;
            }
            let uc = uc.unwrap_or_else(|| panic!("{what} has no use case"));
            served.insert(id.to_owned());
            checked += 1;
            // Who may call it.
            match uc.gate {
                Gate::Action(action) => {
                    assert_eq!(op["x-tater-action"], json!(action.name()), "{what}");
                    assert_eq!(
                        op["x-tater-min-role"],
                        json!(action.required_role()),
                        "{what}"
                    );
                }
                Gate::Signed => {
                    assert!(op["security"].is_array(), "{what} needs a credential");
                    assert!(op["x-tater-action"].is_null(), "{what}");
                }
                Gate::Public => assert!(op["security"].is_null(), "{what} is public"),
            }
            // What it does, by method.
            let expected = match method.as_str() {
                "get" => Effect::Read,
                "delete" => Effect::Delete,
                _ => Effect::Write,
            };
            assert_eq!(uc.effect, expected, "{what}");
            assert_eq!(op["summary"], json!(uc.summary), "{what}");
            // Every parameter and body field is a field of the use case's input, and the
            // input has no field REST cannot pass.
            let input = properties(&uc.input_schema());
            let mut rest_fields = BTreeSet::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "header" {
                    continue;
                }
                rest_fields.insert(p["name"].as_str().unwrap().to_owned());
            }
            if let Some(body) =
                op["requestBody"]["content"]["application/json"]["schema"].as_object()
            {
                let body = Value::Object(body.clone());
                let body = resolved(&doc, &body);
                rest_fields.extend(properties(body));
                // What the path carries is never also required of the body.
                for name in path_params(op) {
                    assert!(!requires(body, &name), "{what}: the body requires {name}");
                }
            }
            assert_eq!(
                rest_fields, input,
                "{what}: REST fields and use-case input differ"
            );
            // The answer.
            let ok = op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(status, _)| status.starts_with('2'))
                .map(|(_, r)| r)
                .unwrap();
            match &uc.output {
                tater_service::use_cases::Output::Json(_) => {
                    assert!(
                        ok["content"]["application/json"]["schema"].is_object(),
                        "{what}"
                    )
                }
                tater_service::use_cases::Output::File(media) => {
                    for m in media.iter() {
                        assert!(ok["content"][m].is_object(), "{what} serves {m}");
                    }
                }
                tater_service::use_cases::Output::Nothing => {
                    assert!(ok["content"].is_null(), "{what} answers nothing")
                }
            }
        }
    }
    assert!(checked > 80, "{checked} operations checked");
    // And nothing in the registry is missing from REST.
    let unserved: Vec<&str> = registry()
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| !served.contains(*n))
        .collect();
    assert!(
        unserved.is_empty(),
        "use cases without a REST operation: {unserved:?}"
    );
}

#[test]
fn every_schema_in_the_registry_compiles_in_an_independent_validator() {
    let schemas: Vec<Value> = registry()
        .iter()
        .flat_map(|c| {
            [
                json!([format!("{} input", c.name), c.input_schema()]),
                json!([format!("{} output", c.name), c.output_schema()]),
            ]
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("use-cases.json");
    std::fs::write(&path, Value::Array(schemas).to_string()).unwrap();
    // Every schema is valid draft 2020-12, and every `$ref` in it resolves inside it.
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

def refs(v):
    if isinstance(v, dict):
        if isinstance(v.get("$ref"), str):
            yield v["$ref"]
        for x in v.values():
            yield from refs(x)
    elif isinstance(v, list):
        for x in v:
            yield from refs(x)

n = 0
for name, schema in json.load(open(sys.argv[1])):
    try:
        Draft202012Validator.check_schema(schema)
        resolver = Registry().with_resource("urn:tater", DRAFT202012.create_resource(schema)).resolver(base_uri="urn:tater")
        for r in refs(schema):
            resolver.lookup(r)
    except Exception as e:
        sys.exit(f"{name}: {e}")
    n += 1
print(n)
"#;
    let checked: usize = python(script, &path).trim().parse().unwrap();
    assert_eq!(checked, 2 * registry().len());
    assert!(registry().len() > 90, "{} use cases", registry().len());
}

#[tokio::test]
async fn a_path_that_cannot_be_read_is_not_replaced_by_the_body() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let org = app.org("paths").await;
    let boss = app
        .member(org, "boss@paths.test", tater_domain::Role::OrgAdmin)
        .await;
    let (_, members) = app.get("/api/members", &boss).await;
    let me = members["items"][0]["userId"].as_str().unwrap().to_owned();
    let (status, problem) = app
        .send(
            reqwest::Method::PUT,
            "/api/members/%FF",
            &boss,
            &json!({ "id": me, "role": "viewer" }),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "{problem}");
    // And a body that names another member than the path is refused.
    let (status, problem) = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/members/{}", tater_domain::UserId::generate()),
            &boss,
            &json!({ "id": me, "role": "viewer" }),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "id");
    let (_, after) = app.get("/api/members", &boss).await;
    assert_eq!(after["items"][0]["role"], "orgadmin", "nothing changed");
}

/// The README's count of MCP tools is the registry's: a module added without it drifted
/// once (the README said 484 for an OrgAdmin while `tools/list` showed 485).
#[test]
fn the_readme_counts_the_tools_the_registry_has() {
    let readme = include_str!("../../../../README.md");
    let tools = registry().iter().filter(|c| c.is_tool()).count();
    let members = registry()
        .iter()
        .filter(|c| c.is_tool() && !c.name.starts_with("cross_org_"))
        .count();
    let said = format!("({tools} today, files included: {members} for an OrgAdmin,");
    assert!(readme.contains(&said), "README.md should say {said:?}");
}
