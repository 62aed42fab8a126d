//! What organization B holds for the isolation sweeps (`web_isolation`, `mcp_attacks`), and
//! which of B's ids each use case is tried with.
//!
//! A use case of one module is tried with B's ids of the kinds it can take: B's record of
//! that module and B's ids that are not records (endpoint, token, link, file, key, person,
//! move, snapshot, auditor token); its second id (a link, file, move or snapshot under the
//! record) with A's own record of that module holding each of B's ids. A record is looked up
//! by module and organization together, so another module's record is never found: trying
//! one could not show a missing organization condition, and only cost time. A use case of no
//! one module is tried with every id of B's.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use tater_service::use_cases::{UseCase, properties};

use crate::evidence_files::upload;
use crate::support::*;

/// What B holds, and the words on its pages that must never show in A's.
pub struct Theirs {
    /// `(module, record id)` for every module.
    pub records: Vec<(&'static str, String)>,
    pub endpoint: String,
    pub token: String,
    pub link: String,
    pub file: String,
    /// Every id above and B's API key's and person's: what the use case sweep tries.
    pub ids: Vec<String>,
    /// The ids in `ids` that are not module records (endpoint, token, link, file, key,
    /// person, move, snapshot, auditor token).
    pub others: Vec<String>,
    /// Titles and names only B's pages show.
    pub secrets: Vec<String>,
}

pub async fn theirs(app: &TestApp, bob: &Key) -> Theirs {
    let mut records = Vec::new();
    let mut secrets = Vec::new();
    for module in modules() {
        let secret = format!("B-only {module}");
        let mut body = sample(module, 1);
        body[label_field(module)] = json!(secret);
        let made = app.create(module, bob, body).await;
        records.push((module, made["id"].as_str().unwrap().to_owned()));
        secrets.push(secret);
    }
    let record = |m: &str| records.iter().find(|(n, _)| *n == m).unwrap().1.clone();
    let (s, link) = app
        .send(
            Method::POST,
            &format!("/api/poam/{}/links", record("poam")),
            bob,
            &json!({ "to": { "module": "risks", "id": record("risks") } }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{link}");
    let (s, file) = upload(
        app,
        bob,
        &record("evidence"),
        "b-minutes.txt",
        "text/plain",
        b"B-only minutes".to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{file}");
    let (s, made) = app
        .send(
            Method::POST,
            "/api/enrollment-tokens",
            bob,
            &json!({ "label": "B-only rollout" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    let (s, enrolled) = enroll(app, made["token"].as_str().unwrap(), "b-only-host").await;
    assert_eq!(s, StatusCode::CREATED, "{enrolled}");
    let (s, key) = app
        .send(
            Method::POST,
            "/api/api-keys",
            bob,
            &json!({ "name": "B-only key" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{key}");
    let (_, me) = app.get("/api/me", bob).await;
    // A move of B's exception and a snapshot of B's audit: ids a second field takes.
    let moves = format!("/api/exceptions/{}/transitions", record("exceptions"));
    let (s, moved) = app
        .send(Method::POST, &moves, bob, &json!({ "to": "Under Review" }))
        .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    let (_, history) = app.get(&moves, bob).await;
    let transition = history["items"][0]["id"].as_str().unwrap().to_owned();
    let snapshots = format!("/api/audits/{}/snapshots", record("audits"));
    let (s, snapshot) = app.send(Method::POST, &snapshots, bob, &json!(null)).await;
    assert_eq!(s, StatusCode::CREATED, "{snapshot}");
    secrets.extend(
        [
            "B-only minutes",
            "b-minutes.txt",
            "b-only-host",
            "B-only rollout",
            "B-only key",
            "B-only assessor",
        ]
        .map(String::from),
    );
    let (s, auditor) = app
        .send(
            Method::POST,
            &format!("/api/audits/{}/auditor-tokens", record("audits")),
            bob,
            &json!({ "label": "B-only assessor" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{auditor}");
    let mut out = Theirs {
        records,
        endpoint: enrolled["endpointId"].as_str().unwrap().to_owned(),
        token: made["id"].as_str().unwrap().to_owned(),
        link: link["id"].as_str().unwrap().to_owned(),
        file: file["id"].as_str().unwrap().to_owned(),
        ids: Vec::new(),
        others: Vec::new(),
        secrets,
    };
    out.others = vec![
        out.endpoint.clone(),
        out.token.clone(),
        out.link.clone(),
        out.file.clone(),
        key["id"].as_str().unwrap().to_owned(),
        me["user"]["id"].as_str().unwrap().to_owned(),
        transition,
        snapshot["id"].as_str().unwrap().to_owned(),
        auditor["id"].as_str().unwrap().to_owned(),
    ];
    out.ids = out.records.iter().map(|(_, id)| id.clone()).collect();
    out.ids.extend(out.others.iter().cloned());
    out
}

/// A's own record of every module, to hold B's ids in a second id.
pub async fn ours(app: &TestApp, key: &Key) -> Vec<(&'static str, String)> {
    let mut ours = Vec::new();
    for module in modules() {
        let made = app.create(module, key, sample(module, 3)).await;
        ours.push((module, made["id"].as_str().unwrap().to_owned()));
    }
    ours
}

/// Whether `case` acts on something named by its input's `id`. A record's own `id` in a
/// create or set body is read-only (a fetched record can be sent back as it is) and names
/// nothing to act on.
pub fn takes_id(case: &UseCase) -> bool {
    properties(&case.input_schema())
        .get("id")
        .is_some_and(|id| id["readOnly"] != true)
}

/// The use case's second ids: its other properties that name something by id (`fileId`,
/// `snapshotId`, `linkId`, …).
pub fn seconds(case: &UseCase) -> Vec<String> {
    properties(&case.input_schema())
        .into_iter()
        .filter(|(name, p)| name != "id" && p["format"] == "uuid")
        .map(|(name, _)| name)
        .collect()
}

/// The `(id, second id)` pairs to try `case` with (see the module's doc): each of B's ids it
/// can take in both, and when it has a second id, A's own record of its module with each of
/// B's ids in the second.
pub fn tries<'a>(
    case: &UseCase,
    theirs: &'a Theirs,
    ours: &'a [(&'static str, String)],
) -> Vec<(&'a str, &'a str)> {
    let module = module_of(case);
    let firsts: Vec<&String> = match module {
        Some(m) => theirs
            .records
            .iter()
            .filter(|(n, _)| *n == m)
            .map(|(_, id)| id)
            .chain(&theirs.others)
            .collect(),
        None => theirs.ids.iter().collect(),
    };
    let mut tries: Vec<(&str, &str)> = firsts.iter().map(|b| (b.as_str(), b.as_str())).collect();
    if !seconds(case).is_empty() {
        for (_, mine) in ours.iter().filter(|(n, _)| module.is_none_or(|m| m == *n)) {
            tries.extend(theirs.ids.iter().map(|b| (mine.as_str(), b.as_str())));
        }
    }
    tries
}

/// A valid value for every field `case` requires besides its ids, read off its input schema:
/// a call given these fails only on what a sweep is testing (whose the ids are), never on a
/// missing or malformed field, which would prove nothing.
pub fn fillers(case: &UseCase) -> Map<String, Value> {
    let schema = case.input_schema();
    let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
    let mut out = Map::new();
    for (name, property) in properties(&schema) {
        let required = schema["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|n| *n == Value::String(name.clone())));
        if required && name != "id" && property["format"] != "uuid" {
            // A member's role is a plain string in the schema; its values are the roles.
            let value = if name == "role" {
                json!("viewer")
            } else {
                filler(&property, &defs)
            };
            out.insert(name, value);
        }
    }
    out
}

fn filler(schema: &Value, defs: &Value) -> Value {
    if let Some(name) = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        return filler(&defs[name], defs);
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .find(|k| *k != "null")
            .cloned()
            .unwrap_or_default(),
        kind => kind.clone(),
    };
    match kind.as_str() {
        Some("integer" | "number") => schema["minimum"]
            .as_i64()
            .map_or(json!(1), |m| json!(m.max(1))),
        Some("boolean") => json!(false),
        Some("array") => json!([filler(&schema["items"], defs)]),
        Some("object") => {
            let mut object = Map::new();
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap_or_default();
                object.insert(name.to_owned(), filler(&schema["properties"][name], defs));
            }
            Value::Object(object)
        }
        _ => json!("a-filler"),
    }
}
