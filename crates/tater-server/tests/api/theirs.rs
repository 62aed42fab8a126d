//! What organization B holds for the isolation sweeps (`web_isolation`, `mcp_attacks`), and
//! which of B's ids each use case is tried with.
//!
//! A use case of one module is tried with B's ids of the kinds it can take: B's record of
//! that module and B's ids that are not records (endpoint, token, link, file, key, person,
//! two moves, snapshot, auditor token, job, invitation, scan, SIEM destination, evidence job);
//! its second id (a link, file, move or snapshot under the record) with A's own record of
//! that module holding each of B's ids. A record is looked up by module and organization
//! together, so another module's record is never found: trying one could not show a missing
//! organization condition, and only cost time. A use case of no one module is tried with
//! every id of B's.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use tater_domain::{OrgId, Role};
use tater_service::use_cases::{UseCase, properties};

use crate::evidence_files::upload;
use crate::support::*;

/// What B holds, and the words on its pages that must never show in A's.
pub struct Theirs {
    /// `(module, record id)` for every module.
    pub records: Vec<(&'static str, String)>,
    pub endpoint: String,
    /// The enrolled endpoint's host name (what a script run names its targets by).
    pub host: String,
    pub token: String,
    pub link: String,
    /// Every id of B's: the records and the others. What the use case sweep tries.
    pub ids: Vec<String>,
    /// The ids in `ids` that are not module records (endpoint, token, link, file, key,
    /// person, two moves, snapshot, auditor token, job, invitation, scan, SIEM destination,
    /// evidence job).
    pub others: Vec<String>,
    /// Titles and names only B's pages show.
    pub secrets: Vec<String>,
}

pub async fn theirs(app: &TestApp, b: OrgId, bob: &Key) -> Theirs {
    holdings(app, b, bob, "B").await
}

/// One of everything an id can name, made by `key`'s organization, its words marked
/// `{who}-only`: a record of every module, a link, a file, an enrolled endpoint, its
/// enrollment token, an API key, the person, a move of its exception and of its policy
/// ([`MOVES_HELD`]), a snapshot, an auditor token, a job, an
/// invitation, a scan, a SIEM destination, an evidence job (queued), and a published
/// version of its policy.
pub async fn holdings(app: &TestApp, org: OrgId, key: &Key, who: &str) -> Theirs {
    let only = |what: &str| format!("{who}-only {what}");
    let mut records = Vec::new();
    let mut secrets = Vec::new();
    for module in modules() {
        let secret = only(module);
        let mut body = sample(module, 1);
        body[label_field(module)] = json!(secret);
        let made = app.create(module, key, body).await;
        records.push((module, made["id"].as_str().unwrap().to_owned()));
        secrets.push(secret);
    }
    let record = |m: &str| records.iter().find(|(n, _)| *n == m).unwrap().1.clone();
    // Its policy published (by a second person: four eyes), so it has a version 1.
    let approver = format!("{}-approver@example.com", who.to_lowercase());
    let approver = app.person(org, &approver, Role::Admin).await;
    let moves = format!("/api/policies/{}/transitions", record("policies"));
    for (by, to) in [(key, "In Review"), (&approver, "Published")] {
        let (s, moved) = app
            .send(
                Method::POST,
                &moves,
                by,
                &json!({ "to": to, "comment": "as agreed" }),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{moved}");
    }
    let (_, history) = app.get(&moves, key).await;
    let policy_move = history["items"][0]["id"].as_str().unwrap().to_owned();
    let post = |path: String, body: Value, want: StatusCode| made(app, key, path, body, want);
    let link = post(
        format!("/api/poam/{}/links", record("poam")),
        json!({ "to": { "module": "risks", "id": record("risks") } }),
        StatusCode::CREATED,
    )
    .await;
    let file_name = format!("{}-minutes.txt", who.to_lowercase());
    let minutes = only("minutes");
    let file = upload(
        app,
        key,
        &record("evidence"),
        &file_name,
        "text/plain",
        minutes.clone().into_bytes(),
    )
    .await;
    assert_eq!(file.0, StatusCode::CREATED, "{}", file.1);
    let file = file.1["id"].as_str().unwrap().to_owned();
    let rollout = only("rollout");
    let (s, token) = app
        .send(
            Method::POST,
            "/api/enrollment-tokens",
            key,
            &json!({ "label": rollout }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{token}");
    let host = format!("{}-only-host", who.to_lowercase());
    let (s, enrolled) = enroll(app, token["token"].as_str().unwrap(), &host).await;
    assert_eq!(s, StatusCode::CREATED, "{enrolled}");
    let key_name = only("key");
    let api_key = post(
        "/api/api-keys".into(),
        json!({ "name": key_name }),
        StatusCode::CREATED,
    )
    .await;
    let (_, me) = app.get("/api/me", key).await;
    // A move of the exception and a snapshot of the audit: ids a second field takes.
    let moves = format!("/api/exceptions/{}/transitions", record("exceptions"));
    let (s, moved) = app
        .send(Method::POST, &moves, key, &json!({ "to": "Under Review" }))
        .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    let (_, history) = app.get(&moves, key).await;
    let transition = history["items"][0]["id"].as_str().unwrap().to_owned();
    let snapshots = format!("/api/audits/{}/snapshots", record("audits"));
    let snapshot = post(snapshots, json!(null), StatusCode::CREATED).await;
    let assessor = only("assessor");
    let auditor = post(
        format!("/api/audits/{}/auditor-tokens", record("audits")),
        json!({ "label": assessor }),
        StatusCode::CREATED,
    )
    .await;
    // Scripts may run on its endpoints, and the AI features are on with a key: no model is
    // ever called, as nothing runs the queued evidence job.
    let on = json!({ "remoteExecution": true, "aiEnabled": true });
    let (s, set) = app.send(Method::PUT, "/api/settings", key, &on).await;
    assert_eq!(s, StatusCode::OK, "{set}");
    let ai_key = json!({ "apiKey": "sk-ant-api03-isolation-sweep-key-0123456789-abcd" });
    let (s, set) = app
        .send(Method::PUT, "/api/settings/ai", key, &ai_key)
        .await;
    assert_eq!(s, StatusCode::OK, "{set}");
    let evidence_job = post(
        "/api/ai/evidence-jobs".into(),
        json!({ "controls": ["AC-2"] }),
        StatusCode::CREATED,
    )
    .await;
    let job = post(
        format!("/api/scripts/{}/execute", record("scripts")),
        json!({ "targets": [host] }),
        StatusCode::CREATED,
    )
    .await;
    let agent = Key::api(enrolled["apiKey"].as_str().unwrap().to_owned());
    let scan_id = new_id();
    let mut scan = report(
        &scan_id,
        "2026-11-29T09:00:00Z",
        &[("linux.ssh.root-login", "Fail")],
    );
    let finding = only("scan evidence");
    scan["results"][0]["evidence"] = json!(finding);
    let (s, scanned) = app
        .send(Method::POST, "/api/agent/scans", &agent, &scan)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{scanned}");
    let siem_name = only("SOC webhook");
    // Off, so no delivery runs beside the sweep.
    let siem = post(
        "/api/siem-destinations".into(),
        json!({ "type": "webhook", "name": siem_name, "url": "http://127.0.0.1:9/hook",
                "secret": "a-webhook-secret-of-32-characters", "enabled": false }),
        StatusCode::CREATED,
    )
    .await;
    let invitee = format!("{}-invitee@example.com", who.to_lowercase());
    let invitation = post(
        "/api/members".into(),
        json!({ "email": invitee, "role": "viewer" }),
        StatusCode::ACCEPTED,
    )
    .await;
    secrets.extend([
        minutes,
        file_name,
        host.clone(),
        rollout,
        key_name,
        assessor,
        invitee,
        finding,
        siem_name,
    ]);
    let mut out = Theirs {
        records,
        endpoint: enrolled["endpointId"].as_str().unwrap().to_owned(),
        host,
        token: token["id"].as_str().unwrap().to_owned(),
        link,
        ids: Vec::new(),
        others: Vec::new(),
        secrets,
    };
    out.others = vec![
        out.endpoint.clone(),
        out.token.clone(),
        out.link.clone(),
        file,
        api_key,
        me["user"]["id"].as_str().unwrap().to_owned(),
        transition,
        policy_move,
        snapshot,
        auditor,
        job,
        invitation,
        scanned["id"].as_str().expect("the scan's id").to_owned(),
        siem,
        evidence_job,
    ];
    out.ids = out.records.iter().map(|(_, id)| id.clone()).collect();
    out.ids.extend(out.others.iter().cloned());
    out
}

/// POSTs `body` to `path` as `key`, checks the answer's status, and gives the id of what it
/// made.
async fn made(app: &TestApp, key: &Key, path: String, body: Value, want: StatusCode) -> String {
    let (s, v) = app.send(Method::POST, &path, key, &body).await;
    assert_eq!(s, want, "{path}: {v}");
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{path} answered no id: {v}"))
        .to_owned()
}

/// Whether `case` acts on something named by its input's `id`. A record's own `id` in a
/// create or set body is read-only (a fetched record can be sent back as it is) and names
/// nothing to act on.
pub fn takes_id(case: &UseCase) -> bool {
    input_properties(case)
        .get("id")
        .is_some_and(|id| id["readOnly"] != true)
}

/// The use case's second ids: its other properties that name something by id (`fileId`,
/// `snapshotId`, `linkId`, …).
pub fn seconds(case: &UseCase) -> Vec<String> {
    input_properties(case)
        .into_iter()
        .filter(|(name, p)| name != "id" && p["format"] == "uuid")
        .map(|(name, _)| name)
        .collect()
}

/// A field of a use case's input that names something of the organization's, other than
/// what the use case acts on (`id`) and its second ids (`fileId`, …): a record's reference
/// to another record (a finding's `audit`) or to endpoints (a change's `endpoints`), a
/// script run's `targets`. Each must name the caller's own.
pub struct Reference {
    pub name: String,
    /// What it names.
    pub names: Names,
    /// It takes a list.
    pub list: bool,
}

/// What a [`Reference`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Names {
    /// A record of this module.
    Record(&'static str),
    /// An endpoint, by id.
    Endpoint,
    /// An endpoint, by host name.
    Host,
}

/// `case`'s references: read off its module's declaration (a record field of a reference
/// kind), and for the one use case that names endpoints by host name, its `targets`.
pub fn references(case: &UseCase) -> Vec<Reference> {
    use tater_domain::module::FieldKind;
    let input = input_properties(case);
    let declared = module_of(case).and_then(tater_domain::modules::by_name);
    let mut out = Vec::new();
    for (name, property) in &input {
        let kind = declared.and_then(|d| d.field(name)).map(|f| f.kind);
        let names = match kind {
            Some(FieldKind::RecordRef(module)) => Names::Record(module),
            Some(FieldKind::EndpointRef | FieldKind::EndpointRefs) => Names::Endpoint,
            _ if case.tool == "execute_script" && name == "targets" => Names::Host,
            _ => continue,
        };
        let list = property["type"] == "array" || property["anyOf"][0]["type"] == "array";
        out.push(Reference {
            name: name.clone(),
            names,
            list,
        });
    }
    out
}

/// The properties of `case`'s input that name something by id and are neither what it acts
/// on, nor a second id, nor a [`Reference`]: none may exist, or a sweep would miss them.
pub fn unswept_ids(case: &UseCase) -> Vec<String> {
    let seconds = seconds(case);
    let references: Vec<String> = references(case).into_iter().map(|r| r.name).collect();
    let is_id = |p: &Value| p["format"] == "uuid" || p["items"]["format"] == "uuid";
    input_properties(case)
        .into_iter()
        .filter(|(name, p)| {
            let p = p["anyOf"].get(0).unwrap_or(p);
            name != "id" && is_id(p) && !seconds.contains(name) && !references.contains(name)
        })
        .map(|(name, _)| name)
        .collect()
}

/// Every property `case`'s input may have: its own, and those of each alternative of a
/// `oneOf` input (a SIEM destination is a syslog or a webhook one, each taking the id).
fn input_properties(case: &UseCase) -> Map<String, Value> {
    let schema = case.input_schema();
    let mut all = properties(&schema);
    for branch in schema["oneOf"].as_array().into_iter().flatten() {
        for (name, property) in properties(branch) {
            all.entry(name).or_insert(property);
        }
    }
    all
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
    let whole = case.input_schema();
    let defs = whole.get("$defs").cloned().unwrap_or(Value::Null);
    // Of a `oneOf` input, its first alternative.
    let schema = whole["oneOf"].get(0).unwrap_or(&whole);
    let mut out = Map::new();
    for (name, property) in properties(schema) {
        let required = schema["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|n| *n == Value::String(name.clone())));
        if required && name != "id" && property["format"] != "uuid" {
            // Plain strings in the schema whose values are few: a member's role, and a
            // host a destination may name (this machine; the tests allow it).
            let value = match name.as_str() {
                "role" => json!("viewer"),
                "host" => json!("127.0.0.1"),
                _ => filler(&property, &defs),
            };
            out.insert(name, value);
        }
    }
    out
}

/// A valid call's fields besides its ids: what `case` requires ([`fillers`]), and the fields
/// of its module's sample record that it takes (a create or update).
pub fn valid_fields(case: &UseCase) -> Map<String, Value> {
    let fields = properties(&case.input_schema());
    let mut out = fillers(case);
    if let Some(m) = module_of(case) {
        for (k, v) in sample(m, 2).as_object().into_iter().flatten() {
            if fields.contains_key(k) {
                out.insert(k.clone(), v.clone());
            }
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
    if let Some(value) = schema.get("const") {
        return value.clone();
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
        // Text in the format the schema names, else a word.
        _ => match schema["format"].as_str() {
            Some("date") => json!("2030-01-01"),
            Some("date-time") => json!("2030-01-01T00:00:00Z"),
            Some("email") => json!("a-filler@example.com"),
            _ => json!("a-filler"),
        },
    }
}

/// Whether a use case's "not found" for B's ids can be checked against what it does with A's
/// own (each sweep's own-ids check). Not for a tool that destroys what it finds (it would
/// take A's ids from the tools after it), nor one whose id names a catalog control (the same
/// in every organization: `controls::an_overlay_changes_only_its_org` keeps each
/// organization's own), nor an invitation's answer (the invitee's alone: `invitations` shows
/// no one else's counts), nor a move of a module whose records the holdings do not move
/// ([`MOVES_HELD`]). A tool with a second id is checked with A's own record of its module and
/// each of A's ids in the second (see [`tries`]): A's file, link or snapshot among them.
pub fn proves_something(case: &UseCase) -> bool {
    let id_is_uuid = properties(&case.input_schema())
        .get("id")
        .is_some_and(|id| id["format"] == "uuid");
    let invitees = ["accept_invitation", "decline_invitation"];
    let move_held = module_of(case).is_some_and(|m| MOVES_HELD.contains(&m));
    let names_a_move = seconds(case).iter().any(|s| s == "transitionId");
    !case.hints.destructive
        && id_is_uuid
        && !invitees.contains(&case.tool.as_str())
        && (move_held || !names_a_move)
}

/// The modules whose records the holdings move through their workflow, so that a move of the
/// organization's own exists to look up. Another module's move tool is swept with B's ids
/// like every tool, but not checked against A's own.
pub const MOVES_HELD: [&str; 2] = ["exceptions", "policies"];
