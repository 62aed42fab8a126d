//! HTTP hygiene (SPEC H1–H4): headers on every response, problem+json errors, request ids,
//! and an API document that covers every route.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::Role;
use tater_testkit::TestDb;

use crate::support::*;

fn assert_security_headers(res: &reqwest::Response, what: &str) {
    let h = res.headers();
    assert_eq!(
        h["strict-transport-security"], "max-age=31536000; includeSubDomains",
        "{what}"
    );
    let csp = h["content-security-policy"].to_str().unwrap();
    for directive in [
        "frame-ancestors 'none'",
        "object-src 'none'",
        "script-src 'self'",
    ] {
        assert!(csp.contains(directive), "{what}: CSP lacks {directive}");
    }
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    let id = h["x-request-id"].to_str().unwrap();
    assert!(!id.is_empty(), "{what}");
}

#[tokio::test]
async fn every_kind_of_response_carries_the_headers() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let org = app.org("Org").await;
    let key = app.member(org, "admin@example.com", Role::Admin).await;
    let viewer = app.member(org, "viewer@example.com", Role::Viewer).await;
    let rec = app.create("poam", &key, sample("poam", 1)).await;
    let id = rec["id"].as_str().unwrap();
    let c = &app.client;
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        ("page", c.get(app.url("/")), 200),
        ("css", c.get(app.url("/assets/tater.css")), 200),
        ("healthz", c.get(app.url("/healthz")), 200),
        (
            "security.txt",
            c.get(app.url("/.well-known/security.txt")),
            200,
        ),
        ("openapi", c.get(app.url("/api/openapi.json")), 200),
        ("list", app.req(Method::GET, "/api/poam", &key), 200),
        (
            "export",
            app.req(Method::GET, "/api/poam/export?format=csv", &key),
            200,
        ),
        (
            "create",
            app.req(Method::POST, "/api/risks", &key)
                .json(&sample("risks", 1)),
            201,
        ),
        (
            "delete",
            app.req(Method::DELETE, &format!("/api/poam/{id}"), &key),
            204,
        ),
        (
            "validation",
            app.req(Method::POST, "/api/risks", &key).json(&json!({})),
            400,
        ),
        (
            "malformed",
            app.req(Method::POST, "/api/risks", &key)
                .header("content-type", "application/json")
                .body("{"),
            400,
        ),
        ("unauthenticated", c.get(app.url("/api/poam")), 401),
        (
            "forbidden",
            app.req(Method::POST, "/api/risks", &viewer)
                .json(&sample("risks", 1)),
            403,
        ),
        (
            "record 404",
            app.req(Method::GET, &format!("/api/poam/{id}"), &key),
            404,
        ),
        ("route 404", c.get(app.url("/no/such/page")), 404),
        ("405", c.patch(app.url("/api/poam")), 405),
        (
            "413",
            app.req(Method::POST, "/api/risks", &key)
                .header("content-type", "application/json")
                .body(vec![b' '; 2 * 1024 * 1024]),
            413,
        ),
        (
            "415",
            app.req(Method::POST, "/api/risks", &key).body("x"),
            415,
        ),
    ];
    for (what, req, status) in cases {
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{what}");
        assert_security_headers(&res, what);
        if status >= 400 {
            assert_eq!(
                res.headers()["content-type"],
                "application/problem+json",
                "{what}"
            );
            let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["status"], status, "{what}");
            assert_eq!(body["requestId"], rid, "{what}: the body names the request");
            for k in ["title", "detail", "error"] {
                assert!(
                    body[k].as_str().is_some_and(|s| !s.is_empty()),
                    "{what}: {k}"
                );
            }
            let text = body.to_string().to_lowercase();
            for leak in ["select ", "sqlx", "panicked", "/src/", ".rs:"] {
                assert!(!text.contains(leak), "{what} leaks {leak}: {text}");
            }
        }
    }
    // A sane client request id is echoed; a hostile one is replaced.
    let res = c
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-abc_123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-abc_123");
    let res = c
        .get(app.url("/healthz"))
        .header("x-request-id", "a b\"<script>")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "a b\"<script>");
}

#[tokio::test]
async fn status_page_and_security_txt() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (s, status) = json_of(app.client.get(app.url("/api/status")).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(status["database"], "sqlite");
    assert!(status["uptimeSeconds"].is_u64());
    let txt = app
        .client
        .get(app.url("/.well-known/security.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(txt.headers()["content-type"], "text/plain; charset=utf-8");
    let txt = txt.text().await.unwrap();
    assert!(txt.contains("Contact: mailto:security@example.test\n"));
    let policy = txt
        .lines()
        .find_map(|l| l.strip_prefix("Policy: "))
        .unwrap();
    assert_eq!(policy, app.url("/security-policy"));
    let res = app.client.get(policy).send().await.unwrap();
    assert_eq!(
        res.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    let text = res.text().await.unwrap();
    assert!(text.contains("within **1 business day**"), "{text}");
    assert!(text.contains("Safe harbour"), "{text}");
    let expires = txt
        .lines()
        .find_map(|l| l.strip_prefix("Expires: "))
        .unwrap();
    assert!(
        tater_domain::Timestamp::parse(expires).unwrap() > app.service.now(),
        "RFC 9116 Expires in the future"
    );
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("/api/openapi.json") && html.contains("/api/auth/login"));
}

/// `/api/openapi.json`, fetched without a credential.
pub(crate) async fn api_document(app: &TestApp) -> Value {
    let res = app.client.get(app.url("/api/openapi.json")).send().await;
    let (status, doc) = json_of(res.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    doc
}

#[tokio::test]
async fn the_api_document_covers_every_route() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let org = app.org("Org").await;
    let key = app.member(org, "admin@example.com", Role::SuperAdmin).await;
    let doc = api_document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            documented.push(format!("{} {path}", method.to_uppercase()));
            assert!(
                op["responses"].as_object().unwrap().contains_key("500"),
                "{method} {path}"
            );
            assert!(op["operationId"].is_string());
            // Every JSON answer documents its shape (the API document's own is OpenAPI's).
            for (status, res) in op["responses"].as_object().unwrap() {
                let schema = &res["content"]["application/json"]["schema"];
                if !status.starts_with('2') || schema.is_null() || path == "/api/openapi.json" {
                    continue;
                }
                let shaped = ["$ref", "properties", "items", "oneOf", "anyOf", "allOf"]
                    .iter()
                    .any(|k| schema.get(k).is_some());
                assert!(
                    shaped,
                    "{method} {path} {status} documents no shape: {schema}"
                );
            }
        }
    }
    for expected in [
        "GET /healthz",
        "GET /.well-known/security.txt",
        "GET /security-policy",
        "GET /api/status",
        "GET /",
        "POST /api/auth/login",
        "GET /api/me",
        "GET /api/poam",
        "POST /api/poam",
        "GET /api/poam/{id}",
        "PUT /api/poam/{id}",
        "DELETE /api/poam/{id}",
        "GET /api/poam/export",
        "GET /api/risks",
        "GET /api/risks/heat-map",
        "GET /api/config-docs",
        "DELETE /api/config-docs/{id}",
        "GET /api/audit-log",
        "GET /api/organizations",
        "GET /api/openapi.json",
    ] {
        assert!(
            documented.iter().any(|d| d == expected),
            "{expected} is not documented"
        );
    }
    // Every documented operation is really routed: no route-level 404 or 405.
    let some_id = tater_domain::RecordId::generate().to_string();
    for op in &documented {
        let (method, path) = op.split_once(' ').unwrap();
        let url = path.replace("{id}", &some_id);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = app.req(method, &url, &key);
        if matches!(op.split_once(' ').unwrap().0, "POST" | "PUT") {
            req = req.json(&json!({}));
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        let route_missing = status == StatusCode::METHOD_NOT_ALLOWED
            || (status == StatusCode::NOT_FOUND
                && body["detail"] == "there is nothing at this address");
        assert!(
            !route_missing,
            "{op} is documented but not routed ({status})"
        );
    }
    // Module schemas come from the declarations (through the use-case registry).
    let poam =
        &doc["paths"]["/api/poam"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(
        poam["properties"]["impact"]["anyOf"][0]["enum"],
        json!(["High", "Moderate", "Low"])
    );
    assert_eq!(poam["additionalProperties"], false);
    let record = &doc["components"]["schemas"]["Poam"];
    assert!(
        record["required"]
            .as_array()
            .unwrap()
            .contains(&json!("id"))
    );
}

/// One line per documented operation: method, path, operation id, least role, parameters
/// (name, place, required) and request body, in a stable order.
fn contract_lines(doc: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let mut params: Vec<String> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            let required = if p["required"] == true { "!" } else { "" };
                            format!(
                                "{}:{}{required}",
                                p["in"].as_str().unwrap(),
                                p["name"].as_str().unwrap()
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            params.sort();
            let role = op["x-tater-min-role"].as_str().unwrap_or("-");
            let body = if op.get("requestBody").is_some() {
                " body"
            } else {
                ""
            };
            let ok: Vec<&String> = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| k.starts_with('2'))
                .collect();
            lines.push(format!(
                "{} {path} {} role={role} ok={} params=[{}]{body}",
                method.to_uppercase(),
                op["operationId"].as_str().unwrap(),
                ok.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","),
                params.join(" "),
            ));
        }
    }
    lines.sort();
    lines
}

/// The REST contract as it stood after the security issue (21) landed: every operation of
/// that snapshot is still served with the same id, least role, success status, parameters
/// and body (operations may be added). `TATER_WRITE_CONTRACT=1` rewrites the snapshot, for a
/// deliberate change of contract that a reviewer then sees in the diff.
#[tokio::test]
async fn the_rest_contract_is_unchanged() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc = api_document(&app).await;
    let now = contract_lines(&doc);
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api/contract/operations.txt"
    );
    if std::env::var("TATER_WRITE_CONTRACT").is_ok_and(|v| v == "1") {
        std::fs::write(file, now.join("\n") + "\n").unwrap();
        return;
    }
    let snapshot = std::fs::read_to_string(file).unwrap();
    let missing: Vec<&str> = snapshot
        .lines()
        .filter(|l| !now.iter().any(|n| n == l))
        .collect();
    assert!(
        missing.is_empty(),
        "operations changed or gone:\n{}\n\nnow:\n{}",
        missing.join("\n"),
        now.join("\n")
    );
}

/// Every schema the API document holds — components, request bodies, parameters and
/// responses — is a valid JSON Schema (draft 2020-12) to an independent validator (Python's
/// jsonschema), and every `$ref` names a component that exists.
#[tokio::test]
async fn every_schema_in_the_api_document_is_valid_json_schema() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc = api_document(&app).await;
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    let components = doc["components"]["schemas"].as_object().unwrap();
    for r in &refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r} points outside components/schemas"));
        assert!(components.contains_key(name), "{r} names no component");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator
doc = json.load(open(sys.argv[1]))
schemas = list(doc["components"]["schemas"].items())
for path, ops in doc["paths"].items():
    for method, op in ops.items():
        where = f"{method.upper()} {path}"
        for p in op.get("parameters", []):
            schemas.append((f"{where} parameter {p['name']}", p["schema"]))
        for media, c in op.get("requestBody", {}).get("content", {}).items():
            schemas.append((f"{where} body {media}", c["schema"]))
        for status, r in op["responses"].items():
            for media, c in r.get("content", {}).items():
                schemas.append((f"{where} {status} {media}", c["schema"]))
for name, schema in schemas:
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as e:
        sys.exit(f"{name}: {e}")
print(len(schemas))
"#;
    let checked: usize = python(script, &path).trim().parse().unwrap();
    assert!(checked > 300, "{checked} schemas checked");
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| collect_refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}
