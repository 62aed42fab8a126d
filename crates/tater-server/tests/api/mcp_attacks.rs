//! Tenant scope through MCP (issue 13 §3): a credential of organization A reaches nothing of
//! organization B, through any tool that takes an id or by naming B in `x-organization-id`.
//!
//! Each tool is tried with B's ids of the kinds it can take (see `theirs`), with every other
//! field it requires valid, and must answer NOT_FOUND: a refusal for any other reason would
//! prove nothing about scope, and fails the sweep too.

use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use tater_domain::{Action, Role};
use tater_service::use_cases::{Gate, UseCase, properties, registry};
use tater_testkit::{TestDb, both_engines};

use crate::mcp::{raw_call, raw_call_in, raw_tool_names};
use crate::support::*;
use crate::theirs::{
    Theirs, holdings, proves_something, seconds, takes_id, theirs, tries, valid_fields,
};

both_engines!(no_tool_reaches_another_organization);

async fn no_tool_reaches_another_organization(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let a = app.org("A").await;
    let b = app.org("B").await;
    // Sessions: verified, so writes are not stopped by the identity step before scope is.
    let alice = app.person(a, "alice@a.test", Role::OrgAdmin).await;
    let bob = app.person(b, "bob@b.test", Role::OrgAdmin).await;
    let theirs = theirs(&app, b, &bob).await;
    // A's own of every kind too: its records hold B's ids in second ids, and every tool must
    // find what is A's (below), so that its "not found" for B's says the scope held.
    let mine = holdings(&app, a, &alice, "A").await;
    let ours = &mine.records;
    let before = app.snapshot(b).await;

    // Every tool A is offered that takes an id: every tool but the cross-organization ones,
    // which are an operator's (`UseCase::is_tool` says which use cases are tools).
    let offered = raw_tool_names(&app, &alice).await;
    let withheld: Vec<&str> = registry()
        .iter()
        .filter(|c| c.is_tool() && c.gate != Gate::Action(Action::CrossOrg))
        .filter(|c| takes_id(c) && !offered.contains(&c.tool))
        .map(|c| c.tool.as_str())
        .collect();
    assert!(
        withheld.is_empty(),
        "not offered to A, so not swept: {withheld:?}"
    );
    let mut calls = 0;
    let mut proved_nothing = Vec::new();
    let mut own_checks = Vec::new();
    for case in registry().iter().filter(|c| offered.contains(&c.tool)) {
        if !takes_id(case) {
            continue;
        }
        let fields = properties(&case.input_schema());
        // A valid call but for whose its ids are, so only the scope can refuse it.
        let mut base = valid_fields(case);
        // A link's far end, when B's id is the record linked from: one of A's own, so only
        // the scope of the near end can refuse it.
        if is_link(&fields) {
            let far = if module_of(case) == Some("risks") {
                "poam"
            } else {
                "risks"
            };
            let (_, id) = ours.iter().find(|(m, _)| *m == far).unwrap();
            base.insert("to".into(), json!({ "module": far, "id": id }));
        }
        let seconds = seconds(case);
        // Each call with the refusal it may get besides NOT_FOUND, if any.
        let persons_only = PERSONS_ONLY.contains(&case.tool.as_str());
        let also = persons_only.then_some(Also::PersonRequired);
        let mut calls_of: Vec<(Map<String, Value>, Option<Also>)> = Vec::new();
        for (id, second) in tries(case, &theirs, ours) {
            let mut args = base.clone();
            args.insert("id".into(), json!(id));
            for name in &seconds {
                args.insert(name.clone(), json!(second));
            }
            calls_of.push((args, also));
        }
        // A link's far end (`to: {module, id}`): A's own record linked to each of B's.
        if is_link(&fields) {
            link_tries(case, &base, &theirs, ours, &mut calls_of);
        }
        for (args, also) in calls_of {
            let answer = raw_call(&app, &alice, &case.tool, Value::Object(args.clone()))
                .await
                .expect("HTTP 200");
            let text = answer.to_string();
            for secret in &theirs.secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "{} shows {secret}: {text}",
                    case.tool
                );
            }
            if !refused(&answer, also) {
                proved_nothing.push(format!("{} with {:?}: {text}", case.tool, args));
            }
            calls += 1;
        }
        if proves_something(case) && !persons_only {
            own_checks.push((case, base));
        }
    }
    // Each tool finds something of A's given A's own ids of the same kinds: its "not found"
    // for B's was the scope's, not that of an id it could never take. Checked after every
    // try of B's, as these calls change A's own objects.
    let mut vacuous = Vec::new();
    for (case, base) in own_checks {
        if !finds_its_own(&app, &alice, case, &base, &mine).await {
            vacuous.push(case.tool.as_str());
        }
    }
    assert!(
        vacuous.is_empty(),
        "tools that found nothing of A's own either: {vacuous:?}"
    );
    assert!(
        proved_nothing.is_empty(),
        "{} calls not refused as not found:\n{}",
        proved_nothing.len(),
        proved_nothing.join("\n")
    );
    assert!(calls > 5000, "{calls} calls");
    assert_eq!(app.snapshot(b).await, before, "B changed");

    // Naming B's id in x-organization-id is refused before any tool runs.
    let naming_b = raw_call_in(
        &app,
        &alice,
        Some(&b.to_string()),
        "list_poam_items",
        json!({}),
    )
    .await
    .err();
    assert_eq!(naming_b, Some(StatusCode::FORBIDDEN));
    // And no tool takes an organization argument that could widen the scope.
    for case in registry().iter() {
        let input = properties(&case.input_schema());
        for field in ["orgId", "organizationId", "tenantId", "org"] {
            assert!(!input.contains_key(field), "{} takes {field}", case.tool);
        }
    }
}

/// Whether `case`, given A's own ids of the kinds it is tried with, finds one of them: it
/// answers, or refuses only for a reason that comes after the lookup.
async fn finds_its_own(
    app: &TestApp,
    alice: &Key,
    case: &UseCase,
    base: &Map<String, Value>,
    mine: &Theirs,
) -> bool {
    let seconds = seconds(case);
    for (id, second) in tries(case, mine, &mine.records) {
        let mut args = base.clone();
        args.insert("id".into(), json!(id));
        for name in &seconds {
            args.insert(name.clone(), json!(second));
        }
        let answer = raw_call(app, alice, &case.tool, Value::Object(args))
            .await
            .expect("HTTP 200");
        // Found: an answer, or a refusal that comes only after the lookup (a move the
        // workflow does not allow, the last OrgAdmin kept). Not one that could come before it.
        let before_lookup = [
            "NOT_FOUND",
            "VALIDATION_FAILED",
            "PERSON_REQUIRED",
            "INTERNAL",
        ];
        let code = answer["result"]["structuredContent"]["error"]["code"].as_str();
        if answer["result"].is_object() && !code.is_some_and(|c| before_lookup.contains(&c)) {
            return true;
        }
    }
    false
}

/// Whether a tool's input is a link's: a far end `to: {module, id}`.
fn is_link(fields: &Map<String, Value>) -> bool {
    fields
        .get("to")
        .is_some_and(|to| to["$ref"] == "#/$defs/LinkTarget")
}

/// Links from A's own record of the tool's module to each of B's records.
fn link_tries(
    case: &UseCase,
    base: &Map<String, Value>,
    theirs: &Theirs,
    ours: &[(&'static str, String)],
    tries: &mut Vec<(Map<String, Value>, Option<Also>)>,
) {
    let module = module_of(case);
    for (_, mine) in ours.iter().filter(|(n, _)| module.is_none_or(|m| m == *n)) {
        for (their_module, their_id) in &theirs.records {
            let mut args = base.clone();
            args.insert("id".into(), json!(mine));
            args.insert(
                "to".into(),
                json!({ "module": their_module, "id": their_id }),
            );
            tries.push((args, Some(Also::FarEnd)));
        }
    }
}

/// Tools refused to every MCP caller before they read any id: a vote is a person's decision,
/// cast in the web application or the REST API. Their tries prove only that refusal.
const PERSONS_ONLY: [&str; 1] = ["vote_on_change_request"];

/// A refusal a try may get besides NOT_FOUND.
#[derive(Clone, Copy)]
enum Also {
    /// A link from A's record to B's, refused on its far end (`to.id`) as an id A does not
    /// have.
    FarEnd,
    /// A tool of `PERSONS_ONLY`.
    PersonRequired,
}

/// Whether a call naming B's ids was refused as not found — what A sees of an id that is not
/// its own — or with the one other refusal its kind of try may get. A refusal for any other
/// reason (a field the tool found wanting) proves nothing about scope, so the sweep counts it
/// as a failure too.
fn refused(answer: &Value, also: Option<Also>) -> bool {
    let error = &answer["result"]["structuredContent"]["error"];
    let code = error["code"].as_str();
    let also = match also {
        Some(Also::FarEnd) => {
            code == Some("VALIDATION_FAILED")
                && error["errors"]
                    .as_array()
                    .is_some_and(|e| e.len() == 1 && e[0]["field"] == "to.id")
        }
        Some(Also::PersonRequired) => code == Some("PERSON_REQUIRED"),
        None => false,
    };
    code == Some("NOT_FOUND") || also
}
