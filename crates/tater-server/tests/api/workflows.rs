//! Status flows, from the declarations alone: every move of every module with a flow, by
//! every role, allowed exactly when declared; refusals change nothing; decisions keep a
//! snapshot the audit chain vouches for.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tater_domain::Role;
use tater_domain::module::{Flow, ModuleDef, Transition};
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    every_move_of_every_flow_is_allowed_or_refused_as_declared,
    status_moves_only_by_transitions_and_decisions_keep_a_snapshot,
    an_approved_exception_overrides_its_failures_until_it_ends,
    every_record_takes_comments_in_its_own_organization,
    an_assistant_drafts_and_a_person_decides,
    a_high_risk_exception_needs_the_designated_second_approver,
);

fn flows() -> impl Iterator<Item = (&'static ModuleDef, &'static Flow)> {
    tater_domain::modules::ALL
        .iter()
        .filter_map(|d| d.flow.map(|f| (*d, f)))
}

/// Whether the module's sample record meets the move's condition.
fn holds(def: &ModuleDef, t: &Transition) -> bool {
    let data = sample(def.name, 0);
    t.guard.is_none_or(|g| (g.holds)(data.as_object().unwrap()))
}

/// The shortest chain of moves from the initial state to `to` that the module's sample record
/// may take (a state only a High-risk exception reaches is not reached).
fn path_to(def: &ModuleDef, flow: &'static Flow, to: &str) -> Option<Vec<&'static Transition>> {
    let mut paths: Vec<(&str, Vec<&'static Transition>)> = vec![(flow.initial, Vec::new())];
    let mut seen = vec![flow.initial];
    let mut i = 0;
    while i < paths.len() {
        let (at, path) = paths[i].clone();
        if at == to {
            return Some(path);
        }
        for t in flow.from(at).filter(|t| holds(def, t)) {
            if !seen.contains(&t.to) {
                seen.push(t.to);
                let mut next = path.clone();
                next.push(t);
                paths.push((t.to, next));
            }
        }
        i += 1;
    }
    None
}

struct Cast {
    requester: Key,
    /// An OrgAdmin who did not create the records (the second pair of eyes).
    reviewer: Key,
    /// Everyone who tries each move, with whether they are the requester.
    movers: Vec<(&'static str, Role, Key, bool)>,
}

async fn cast(app: &TestApp, org: tater_domain::OrgId) -> Cast {
    let requester = app.member(org, "requester@flow.test", Role::OrgAdmin).await;
    let reviewer = app.member(org, "reviewer@flow.test", Role::OrgAdmin).await;
    let mut movers = vec![("requester", Role::OrgAdmin, requester.clone(), true)];
    for (name, role) in [
        ("viewer", Role::Viewer),
        ("auditor", Role::Auditor),
        ("admin", Role::Admin),
        ("orgadmin", Role::OrgAdmin),
    ] {
        let key = app.member(org, &format!("{name}@flow.test"), role).await;
        movers.push((name, role, key, false));
    }
    Cast {
        requester,
        reviewer,
        movers,
    }
}

async fn move_to(
    app: &TestApp,
    def: &ModuleDef,
    id: &str,
    key: &Key,
    to: &str,
) -> (StatusCode, Value) {
    app.send(
        Method::POST,
        &format!("/api/{}/{id}/transitions", def.name),
        key,
        &json!({ "to": to, "comment": "because" }),
    )
    .await
}

/// A new record of `def`, created by the requester and brought to `state`.
async fn record_in(
    app: &TestApp,
    cast: &Cast,
    def: &ModuleDef,
    flow: &'static Flow,
    state: &str,
    n: usize,
) -> String {
    let created = app
        .create(def.name, &cast.requester, sample(def.name, n))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    for step in path_to(def, flow, state).unwrap() {
        let key = if by_reviewer(step) {
            &cast.reviewer
        } else {
            &cast.requester
        };
        let (status, body) = move_to(app, def, &id, key, step.to).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "setting up {} → {}: {body}",
            def.name,
            step.to
        );
    }
    id
}

/// Whether setting a record up takes this step as the reviewer: a move the requester may not
/// make, or one for a second person after the requester's move.
fn by_reviewer(step: &Transition) -> bool {
    step.not_requester || step.not_last_mover
}

/// Whether the requester made the move that brought a set-up record into `state`.
fn requester_moved_last(def: &ModuleDef, flow: &'static Flow, state: &str) -> bool {
    path_to(def, flow, state)
        .and_then(|path| path.last().map(|step| !by_reviewer(step)))
        .unwrap_or(false)
}

/// What the declaration says of `mover` moving a record from `from` to `to`.
fn expected(
    def: &ModuleDef,
    flow: &'static Flow,
    from: &str,
    to: &str,
    role: Role,
    is_requester: bool,
) -> (StatusCode, &'static str) {
    if role < Role::Admin {
        return (StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    let Some(t) = flow.from(from).find(|t| t.to == to) else {
        return (StatusCode::CONFLICT, "INVALID_TRANSITION");
    };
    if !holds(def, t) {
        (StatusCode::CONFLICT, "INVALID_TRANSITION")
    } else if role < t.role.max(Role::Admin) {
        (StatusCode::FORBIDDEN, "FORBIDDEN")
    } else if t.not_requester && is_requester {
        (StatusCode::FORBIDDEN, "FOUR_EYES_REQUIRED")
    } else if t.designated {
        // Nobody is designated in this organization.
        (StatusCode::FORBIDDEN, "FORBIDDEN")
    } else if t.not_last_mover && is_requester && requester_moved_last(def, flow, from) {
        (StatusCode::FORBIDDEN, "FOUR_EYES_REQUIRED")
    } else {
        (StatusCode::OK, "")
    }
}

async fn every_move_of_every_flow_is_allowed_or_refused_as_declared(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Flows").await;
    let cast = cast(&app, org).await;
    let mut n = 0;
    let (mut allowed, mut refused) = (0, 0);
    for (def, flow) in flows() {
        for from in flow.states() {
            if path_to(def, flow, from).is_none() {
                continue;
            }
            n += 1;
            let mut id = record_in(&app, &cast, def, flow, from, n).await;
            // The organization as it is before each move: a refused move leaves it so (as
            // asserted), so only a move made (and its fresh record) takes a new one.
            let mut before = app.snapshot(org).await;
            for to in flow.states() {
                for (who, role, key, is_requester) in &cast.movers {
                    let want = expected(def, flow, from, to, *role, *is_requester);
                    let (status, body) = move_to(&app, def, &id, key, to).await;
                    let case = format!("{} {from} → {to} by {who}", def.name);
                    assert_eq!(status, want.0, "{case}: {body}");
                    if status == StatusCode::OK {
                        assert_eq!(body[flow.field], to, "{case}");
                        allowed += 1;
                        n += 1;
                        id = record_in(&app, &cast, def, flow, from, n).await;
                        before = app.snapshot(org).await;
                    } else {
                        assert_eq!(body["error"], want.1, "{case}: {body}");
                        // The flow's refusals say which move; the role check before
                        // it says which role.
                        let detail = body["detail"].as_str().unwrap_or_default();
                        let names = if *role < Role::Admin { "admin" } else { to };
                        assert!(detail.contains(names), "{case}: {body}");
                        assert_eq!(app.snapshot(org).await, before, "{case} changed something");
                        refused += 1;
                    }
                }
            }
        }
    }
    assert!(
        allowed >= 10 && refused >= 100,
        "{allowed} allowed, {refused} refused"
    );
}

async fn status_moves_only_by_transitions_and_decisions_keep_a_snapshot(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Flows").await;
    let cast = cast(&app, org).await;
    let other_org = app.org("Elsewhere").await;
    let stranger = app
        .member(other_org, "boss@else.test", Role::OrgAdmin)
        .await;
    let def = &tater_domain::modules::EXCEPTIONS;

    // The status is the flow's: not set on create, not changed by an update.
    let mut body = sample("exceptions", 1);
    body["status"] = json!("Approved");
    let (status, p) = app
        .send(Method::POST, "/api/exceptions", &cast.requester, &body)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
    assert_eq!(p["errors"][0]["field"], "status", "{p}");
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("/transitions"),
        "{p}"
    );
    let created = app
        .create("exceptions", &cast.requester, sample("exceptions", 1))
        .await;
    assert_eq!(created["status"], "Pending");
    let id = created["id"].as_str().unwrap();
    let mut echo = created.clone();
    echo["justification"] = json!("Updated justification");
    let (status, updated) = app
        .send(
            Method::PUT,
            &format!("/api/exceptions/{id}"),
            &cast.requester,
            &echo,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "echoing the status back is fine: {updated}"
    );
    echo["status"] = json!("Under Review");
    let (status, p) = app
        .send(
            Method::PUT,
            &format!("/api/exceptions/{id}"),
            &cast.requester,
            &echo,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");

    // A move that needs a comment, without one: the field is named.
    move_to(&app, def, id, &cast.reviewer, "Under Review").await;
    let (status, p) = app
        .send(
            Method::POST,
            &format!("/api/exceptions/{id}/transitions"),
            &cast.reviewer,
            &json!({ "to": "Denied", "comment": "  " }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
    assert_eq!(p["errors"][0]["field"], "comment", "{p}");
    // Unknown fields and states are refused before anything is read.
    let (status, _) = app
        .send(
            Method::POST,
            &format!("/api/exceptions/{id}/transitions"),
            &cast.reviewer,
            &json!({ "to": "Approved", "status": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Approval by the second pair of eyes keeps the record as it stood.
    let (status, approved) = move_to(&app, def, id, &cast.reviewer, "Approved").await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    let (_, history) = app
        .get(
            &format!("/api/exceptions/{id}/transitions"),
            &cast.requester,
        )
        .await;
    let moves: Vec<(&str, &str)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["from"].as_str().unwrap(), t["to"].as_str().unwrap()))
        .collect();
    assert_eq!(
        moves,
        [("Under Review", "Approved"), ("Pending", "Under Review")]
    );
    let decision = &history["items"][0];
    assert_eq!(decision["decision"], true);
    assert!(
        decision.get("snapshot").is_none(),
        "lists leave snapshots out"
    );
    let tid = decision["id"].as_str().unwrap();
    let (status, one) = app
        .get(
            &format!("/api/exceptions/{id}/transitions/{tid}"),
            &cast.requester,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["snapshot"]["status"], "Under Review");
    assert_eq!(one["snapshot"]["justification"], "Updated justification");
    assert_eq!(one["comment"], "because");

    // The audit entry is a transition, and its hash vouches for the snapshot.
    let entries = app.audit_entries(org).await;
    let entry = entries
        .iter()
        .find(|e| e["action"] == "transition" && e["changes"]["_transition"]["id"] == tid)
        .expect("a transition entry");
    assert_eq!(entry["entityType"], "exception");
    assert_eq!(
        entry["changes"]["status"],
        json!({ "before": "Under Review", "after": "Approved" })
    );
    let bytes = serde_json::to_vec(&one["snapshot"]).unwrap();
    assert_eq!(
        entry["changes"]["_transition"]["snapshotSha256"],
        hex::encode(Sha256::digest(bytes))
    );

    // Ids that cannot exist are absent, not errors of ours.
    for path in [
        format!("/api/exceptions/{id}/transitions/not-an-id"),
        "/api/exceptions/not-an-id/transitions".to_owned(),
        format!(
            "/api/exceptions/{}/transitions",
            tater_domain::RecordId::generate()
        ),
    ] {
        assert_eq!(
            app.get(&path, &cast.requester).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // Another organization reaches none of it; deleting the record deletes its history.
    for path in [
        format!("/api/exceptions/{id}/transitions"),
        format!("/api/exceptions/{id}/transitions/{tid}"),
    ] {
        assert_eq!(
            app.get(&path, &stranger).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let (status, _) = move_to(&app, def, id, &stranger, "Expired").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .send(
            Method::DELETE,
            &format!("/api/exceptions/{id}"),
            &cast.requester,
            &json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .get(
            &format!("/api/exceptions/{id}/transitions/{tid}"),
            &cast.requester,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn an_approved_exception_overrides_its_failures_until_it_ends(db: TestDb) {
    let clock = std::sync::Arc::new(tater_service::FixedClock::new(
        tater_domain::Timestamp::parse("2026-11-29T10:00:00Z").unwrap(),
    ));
    let app = TestApp::spawn_with(db, clock).await;
    let org = app.org("Exceptions").await;
    let cast = cast(&app, org).await;
    let def = &tater_domain::modules::EXCEPTIONS;
    // Two endpoints fail the empty-password check (IA-5).
    let t = token(&app, &cast.requester, false).await;
    let mut hosts = Vec::new();
    for host in ["web-01", "db-01"] {
        let (s, enrolled) = enroll(&app, &t, host).await;
        assert_eq!(s, StatusCode::CREATED, "{enrolled}");
        let key = Key::api(enrolled["apiKey"].as_str().unwrap().to_owned());
        let scan = report(
            &new_id(),
            "2026-11-29T09:00:00Z",
            &[("linux.accounts.empty-passwords", "Fail")],
        );
        assert_eq!(
            app.send(Method::POST, "/api/agent/scans", &key, &scan)
                .await
                .0,
            StatusCode::CREATED
        );
        hosts.push(enrolled["endpointId"].as_str().unwrap().to_owned());
    }
    let overrides = |p: &Value| (p["totals"]["fail"].clone(), p["totals"]["override"].clone());
    let (_, before) = app.get("/api/posture", &cast.requester).await;
    assert_eq!(overrides(&before), (json!(2), json!(0)));

    // Another organization's endpoint cannot be named.
    let elsewhere = app.org("Elsewhere").await;
    let boss = app
        .member(elsewhere, "boss@else.test", Role::OrgAdmin)
        .await;
    let (_, foreign) = enroll(&app, &token(&app, &boss, false).await, "theirs").await;
    let mut body = sample("exceptions", 1);
    body["control"] = json!("IA-5");
    body["endpoints"] = json!([foreign["endpointId"]]);
    let (status, p) = app
        .send(Method::POST, "/api/exceptions", &cast.requester, &body)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
    assert_eq!(p["errors"][0]["field"], "endpoints");

    // Approved for db-01 only: one acceptance, naming the exception and its approver.
    body["endpoints"] = json!([hosts[1]]);
    let exception = app.create("exceptions", &cast.requester, body).await;
    let id = exception["id"].as_str().unwrap();
    for step in ["Under Review", "Approved"] {
        let (status, p) = move_to(&app, def, id, &cast.reviewer, step).await;
        assert_eq!(status, StatusCode::OK, "{p}");
    }
    let (_, accepted) = app
        .get(
            &format!("/api/risk-acceptances?exception={id}"),
            &cast.requester,
        )
        .await;
    let items = accepted["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{accepted}");
    assert_eq!(items[0]["endpoint"], hosts[1].as_str());
    assert_eq!(items[0]["control"], "ia-5");
    assert_eq!(items[0]["approvedBy"], "reviewer@flow.test");
    assert_eq!(items[0]["expires"], exception["requestedUntil"]);
    assert_eq!(items[0]["status"], "Active");
    let (_, during) = app.get("/api/posture", &cast.requester).await;
    assert_eq!(
        overrides(&during),
        (json!(1), json!(1)),
        "db-01's failure is overridden"
    );
    let entries = app.audit_entries(org).await;
    let approval = entries
        .iter()
        .find(|e| e["action"] == "transition" && e["changes"]["status"]["after"] == "Approved")
        .unwrap();
    assert_eq!(
        approval["changes"]["_transition"]["effects"],
        json!([{ "module": "risk-acceptances", "id": items[0]["id"] }])
    );
    assert!(entries.iter().any(|e| e["action"] == "create"
        && e["entityType"] == "risk-acceptance"
        && e["entityId"] == items[0]["id"]
        && e["userId"] == approval["userId"]));

    // Ended early: the acceptance is revoked and the failure counts again.
    let (status, p) = move_to(&app, def, id, &cast.reviewer, "Expired").await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let (_, ended) = app
        .get(
            &format!("/api/risk-acceptances/{}", items[0]["id"].as_str().unwrap()),
            &cast.requester,
        )
        .await;
    assert_eq!(ended["status"], "Revoked", "{ended}");
    assert_eq!(ended["revocationReason"], "The exception ended: because");
    let (_, after) = app.get("/api/posture", &cast.requester).await;
    assert_eq!(overrides(&after), (json!(2), json!(0)));

    // Without endpoints: one organization-wide acceptance covers both.
    let mut wide = sample("exceptions", 2);
    wide["control"] = json!("IA-5");
    let wide = app.create("exceptions", &cast.requester, wide).await;
    let wide_id = wide["id"].as_str().unwrap();
    for step in ["Under Review", "Approved"] {
        move_to(&app, def, wide_id, &cast.reviewer, step).await;
    }
    let (_, accepted) = app
        .get(
            &format!("/api/risk-acceptances?exception={wide_id}"),
            &cast.requester,
        )
        .await;
    assert_eq!(accepted["items"].as_array().unwrap().len(), 1);
    assert_eq!(accepted["items"][0]["endpoint"], Value::Null);
    let (_, wide_posture) = app.get("/api/posture", &cast.requester).await;
    assert_eq!(overrides(&wide_posture), (json!(0), json!(2)));

    // The exception can be deleted; its acceptances stay, and can still be edited.
    app.send(
        Method::DELETE,
        &format!("/api/exceptions/{wide_id}"),
        &cast.requester,
        &json!(null),
    )
    .await;
    let acc_id = accepted["items"][0]["id"].as_str().unwrap();
    let mut edit = accepted["items"][0].clone();
    edit["compensatingControls"] = json!("Monitored weekly");
    let (status, p) = app
        .send(
            Method::PUT,
            &format!("/api/risk-acceptances/{acc_id}"),
            &cast.requester,
            &edit,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
}

async fn every_record_takes_comments_in_its_own_organization(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Comments").await;
    let admin = app.member(org, "admin@c.test", Role::Admin).await;
    let viewer = app.member(org, "viewer@c.test", Role::Viewer).await;
    let auditor = app.member(org, "auditor@c.test", Role::Auditor).await;
    let elsewhere = app.org("Elsewhere").await;
    let stranger = app
        .member(elsewhere, "boss@else.test", Role::OrgAdmin)
        .await;
    for module in modules() {
        let record = app.create(module, &admin, sample(module, 1)).await;
        let path = format!("/api/{module}/{}/comments", record["id"].as_str().unwrap());
        let (status, made) = app
            .send(
                Method::POST,
                &path,
                &admin,
                &json!({ "body": "  **Checked** with IT.\n  " }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{module}: {made}");
        assert_eq!(made["body"], "**Checked** with IT.", "trimmed");
        app.send(Method::POST, &path, &admin, &json!({ "body": "second" }))
            .await;
        // Read by whoever reads the module's records (scripts: Auditors and above).
        let read_role = tater_domain::modules::by_name(module).unwrap().read_role;
        let viewer_reads = app.get(&path, &viewer).await.0;
        assert_eq!(
            viewer_reads == StatusCode::OK,
            read_role <= Role::Viewer,
            "{module}"
        );
        let (status, list) = app.get(&path, &auditor).await;
        assert_eq!(status, StatusCode::OK, "{module}: {list}");
        let bodies: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["body"].as_str().unwrap())
            .collect();
        assert_eq!(
            bodies,
            ["second", "**Checked** with IT."],
            "{module}: newest first"
        );

        let before = app.snapshot(org).await;
        let refusals = [
            (&viewer, json!({ "body": "hi" }), StatusCode::FORBIDDEN),
            (&stranger, json!({ "body": "hi" }), StatusCode::NOT_FOUND),
            (&admin, json!({ "body": " \n " }), StatusCode::BAD_REQUEST),
            (
                &admin,
                json!({ "body": "x".repeat(16_001) }),
                StatusCode::BAD_REQUEST,
            ),
            (
                &admin,
                json!({ "body": "a\u{0}b" }),
                StatusCode::BAD_REQUEST,
            ),
            (&admin, json!({ "text": "hi" }), StatusCode::BAD_REQUEST),
        ];
        for (key, body, want) in refusals {
            let (status, p) = app.send(Method::POST, &path, key, &body).await;
            assert_eq!(status, want, "{module} {body}: {p}");
        }
        assert_eq!(app.get(&path, &stranger).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            app.snapshot(org).await,
            before,
            "{module}: refusals changed nothing"
        );

        let entries = app.audit_entries(org).await;
        let audited = entries
            .iter()
            .filter(|e| {
                e["entityType"] == "comment" && e["changes"]["recordId"]["after"] == record["id"]
            })
            .count();
        assert_eq!(audited, 2, "{module}: each comment audited");
        app.send(
            Method::DELETE,
            &format!("/api/{module}/{}", record["id"].as_str().unwrap()),
            &admin,
            &json!(null),
        )
        .await;
        assert_eq!(
            app.get(&path, &admin).await.0,
            StatusCode::NOT_FOUND,
            "{module}: gone with its record"
        );
    }
}

/// Evidence an assistant drafts through MCP waits for a person: the same signed-in person
/// cannot accept it (or decide an exception) through MCP, and can in the REST API.
async fn an_assistant_drafts_and_a_person_decides(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Assisted").await;
    let requester = app.member(org, "req@assist.test", Role::OrgAdmin).await;
    let lead = app.person(org, "lead@assist.test", Role::OrgAdmin).await;
    let call = |tool: &'static str, args: Value| {
        let lead = lead.clone();
        let app = &app;
        async move {
            let answer = crate::mcp::raw_call(app, &lead, tool, args)
                .await
                .expect("HTTP 200");
            answer["result"]["structuredContent"].clone()
        }
    };
    let drafted = call(
        "create_evidence_item",
        json!({ "title": "Access review (drafted)", "description": "Minutes",
                "controls": ["AC-2"], "collectedBy": "ai" }),
    )
    .await;
    assert_eq!(drafted["status"], "draft", "{drafted}");
    let id = drafted["id"].as_str().unwrap().to_owned();
    let refused = call(
        "transition_evidence_item",
        json!({ "id": id, "to": "accepted" }),
    )
    .await;
    assert_eq!(refused["error"]["code"], "PERSON_REQUIRED", "{refused}");
    let (_, still) = app.get(&format!("/api/evidence/{id}"), &lead).await;
    assert_eq!(still["status"], "draft");
    // A move that is not a decision is fine through an assistant.
    let exception = app
        .create("exceptions", &requester, sample("exceptions", 1))
        .await;
    let eid = exception["id"].as_str().unwrap().to_owned();
    let reviewed = call(
        "transition_exception",
        json!({ "id": eid, "to": "Under Review" }),
    )
    .await;
    assert_eq!(reviewed["status"], "Under Review", "{reviewed}");
    let refused = call(
        "transition_exception",
        json!({ "id": eid, "to": "Approved" }),
    )
    .await;
    assert_eq!(refused["error"]["code"], "PERSON_REQUIRED", "{refused}");

    // The person decides in the REST API.
    for (module, record, to) in [
        ("evidence", &id, "accepted"),
        ("exceptions", &eid, "Approved"),
    ] {
        let (status, p) = app
            .send(
                Method::POST,
                &format!("/api/{module}/{record}/transitions"),
                &lead,
                &json!({ "to": to }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert_eq!(p["status"], to);
    }
    // Accepted evidence is decided: edited only once back in draft.
    let (_, accepted) = app.get(&format!("/api/evidence/{id}"), &lead).await;
    let mut edit = accepted.clone();
    edit["description"] = json!("Rewritten after acceptance");
    let (status, p) = app
        .send(Method::PUT, &format!("/api/evidence/{id}"), &lead, &edit)
        .await;
    assert_eq!(
        (status, p["error"].as_str()),
        (StatusCode::CONFLICT, Some("RECORD_DECIDED")),
        "{p}"
    );
    let (status, p) = app
        .send(
            Method::POST,
            &format!("/api/evidence/{id}/transitions"),
            &lead,
            &json!({ "to": "draft", "comment": "again" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    edit["version"] = Value::Null;
    edit["status"] = json!("draft");
    let (status, p) = app
        .send(Method::PUT, &format!("/api/evidence/{id}"), &lead, &edit)
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["description"], "Rewritten after acceptance");
}

/// A High or Critical exception, approved once, waits for the member the organization's
/// settings designate — who is neither the requester nor the first approver.
async fn a_high_risk_exception_needs_the_designated_second_approver(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Second").await;
    let cast = cast(&app, org).await;
    let ciso = app.member(org, "ciso@flow.test", Role::Admin).await;
    app.member(org, "reader@flow.test", Role::Viewer).await;
    let designate = async |who: &str| {
        let body = json!({ "remoteExecution": false, "exceptionApprover": who });
        app.send(Method::PUT, "/api/settings", &cast.reviewer, &body)
            .await
    };
    for (who, why) in [
        ("nobody@flow.test", "must be a member"),
        ("reader@flow.test", "Admin role"),
        ("not an address", "e-mail"),
    ] {
        let (status, p) = designate(who).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{who}: {p}");
        assert_eq!(p["errors"][0]["field"], "exceptionApprover", "{p}");
        assert!(
            p["errors"][0]["message"].as_str().unwrap().contains(why),
            "{p}"
        );
    }
    let (status, p) = designate(" CISO@flow.test ").await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["exceptionApprover"], "ciso@flow.test");
    let (_, read) = app.get("/api/settings", &ciso).await;
    assert_eq!(read["exceptionApprover"], "ciso@flow.test");

    let def = &tater_domain::modules::EXCEPTIONS;
    let mut body = sample("exceptions", 1);
    body["riskLevel"] = json!("Critical");
    let high = app.create("exceptions", &cast.requester, body).await;
    let id = high["id"].as_str().unwrap();
    let try_move = async |key: &Key, to: &str| {
        let (status, p) = move_to(&app, def, id, key, to).await;
        (
            status,
            p["error"].as_str().unwrap_or_default().to_owned(),
            p,
        )
    };
    assert_eq!(
        try_move(&cast.reviewer, "Under Review").await.0,
        StatusCode::OK
    );
    let (status, code, p) = try_move(&cast.reviewer, "Approved").await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "INVALID_TRANSITION"),
        "{p}"
    );
    assert!(
        p["detail"].as_str().unwrap().contains("Second Approval"),
        "{p}"
    );
    let (status, _, p) = try_move(&cast.reviewer, "Second Approval").await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let (_, none) = app
        .get(
            &format!("/api/risk-acceptances?exception={id}"),
            &cast.reviewer,
        )
        .await;
    assert_eq!(
        none["items"],
        json!([]),
        "nothing accepted after one approval"
    );

    // Not designated; the first approver; the requester: each refused, nothing changes.
    let (status, code, p) = try_move(&cast.reviewer, "Approved").await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "FORBIDDEN"),
        "{p}"
    );
    assert!(p["detail"].as_str().unwrap().contains("designate"), "{p}");
    designate("reviewer@flow.test").await;
    let (status, code, p) = try_move(&cast.reviewer, "Approved").await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "FOUR_EYES_REQUIRED"),
        "{p}"
    );
    designate("requester@flow.test").await;
    let (status, code, p) = try_move(&cast.requester, "Approved").await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "FOUR_EYES_REQUIRED"),
        "{p}"
    );
    let (_, still) = app
        .get(&format!("/api/exceptions/{id}"), &cast.reviewer)
        .await;
    assert_eq!(still["status"], "Second Approval");
    // What the first approver approved cannot be edited under the second.
    let mut lowered = still.clone();
    lowered["riskLevel"] = json!("Low");
    let (status, p) = app
        .send(
            Method::PUT,
            &format!("/api/exceptions/{id}"),
            &cast.requester,
            &lowered,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    assert_eq!(p["error"], "RECORD_DECIDED", "{p}");

    // The designated second approver, an Admin, approves: the acceptance is theirs.
    designate("ciso@flow.test").await;
    let (status, _, p) = try_move(&ciso, "Approved").await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let (_, accepted) = app
        .get(
            &format!("/api/risk-acceptances?exception={id}"),
            &cast.reviewer,
        )
        .await;
    assert_eq!(
        accepted["items"][0]["approvedBy"], "ciso@flow.test",
        "{accepted}"
    );
    let (_, history) = app
        .get(&format!("/api/exceptions/{id}/transitions"), &cast.reviewer)
        .await;
    let decisions: Vec<&Value> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["decision"] == true)
        .collect();
    assert_eq!(
        decisions.len(),
        2,
        "two approvals, each with its snapshot: {history}"
    );

    // Below High there is no second step.
    let low = app
        .create("exceptions", &cast.requester, sample("exceptions", 2))
        .await;
    let low_id = low["id"].as_str().unwrap();
    move_to(&app, def, low_id, &cast.reviewer, "Under Review").await;
    let (status, p) = move_to(&app, def, low_id, &cast.reviewer, "Second Approval").await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    let (status, p) = move_to(&app, def, low_id, &cast.reviewer, "Approved").await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let settings = app
        .audit_entries(org)
        .await
        .into_iter()
        .filter(|e| e["entityType"] == "settings")
        .count();
    assert_eq!(settings, 4, "each designation audited");
}
