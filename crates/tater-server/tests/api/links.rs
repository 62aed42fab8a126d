//! Links between records of any modules and controls, from the declarations alone: made from
//! either end, listed from both, refused clearly, kept in their organization, audited, and
//! gone with either record.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    every_record_links_to_any_module_and_to_controls_from_both_ends,
    links_are_refused_clearly_and_stay_in_their_organization,
    a_record_holds_at_most_two_hundred_links,
    controls_count_current_evidence_named_or_linked_once_each,
);

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// The far ends of a record's (or a control's) links, as `module/id`, newest first.
async fn far_ends(app: &TestApp, path: &str, key: &Key) -> Vec<String> {
    let (status, list) = app.get(&format!("{path}/links"), key).await;
    assert_eq!(status, StatusCode::OK, "{path}: {list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{}/{}",
                l["to"]["module"].as_str().unwrap(),
                l["to"]["id"].as_str().unwrap()
            )
        })
        .collect()
}

async fn every_record_links_to_any_module_and_to_controls_from_both_ends(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Links").await;
    let admin = app.member(org, "admin@l.test", Role::Admin).await;
    let hub = app.create("risks", &admin, sample("risks", 0)).await;
    let hub_path = format!("/api/risks/{}", id(&hub));
    for module in modules() {
        let record = app.create(module, &admin, sample(module, 1)).await;
        let path = format!("/api/{module}/{}", id(&record));
        // What recording it linked already (a finding's corrective-action task).
        let came_with = far_ends(&app, &path, &admin).await;
        let held = 2 + came_with.len();
        let (status, made) = app
            .send(
                Method::POST,
                &format!("{path}/links"),
                &admin,
                &json!({ "to": { "module": "risks", "id": id(&hub) } }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{module}: {made}");
        assert_eq!(made["to"]["label"], "Risk 0", "{module}: {made}");
        // A control in the way people write it; stored and shown canonically.
        let (status, to_control) = app
            .send(
                Method::POST,
                &format!("{path}/links"),
                &admin,
                &json!({ "to": { "module": "controls", "id": "AC-2(1)" } }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{module}: {to_control}");
        assert_eq!(to_control["to"]["id"], "ac-2.1");
        assert!(
            to_control["to"]["label"]
                .as_str()
                .unwrap()
                .starts_with("AC-2(1) "),
            "{to_control}"
        );
        let mut expected = vec!["controls/ac-2.1".to_owned(), format!("risks/{}", id(&hub))];
        expected.extend(came_with);
        assert_eq!(
            far_ends(&app, &path, &admin).await,
            expected,
            "{module}: from the record, newest first"
        );
        assert!(
            far_ends(&app, &hub_path, &admin)
                .await
                .contains(&format!("{module}/{}", id(&record))),
            "{module}: and from the other end"
        );
        assert!(
            far_ends(&app, "/api/controls/ac-2.1", &admin)
                .await
                .contains(&format!("{module}/{}", id(&record))),
            "{module}: and from the control"
        );

        // Deleting the record takes its links; its entry says how many went.
        let (status, _) = app.send(Method::DELETE, &path, &admin, &json!(null)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let gone = format!("{module}/{}", id(&record));
        assert!(
            !far_ends(&app, &hub_path, &admin).await.contains(&gone),
            "{module}"
        );
        assert!(
            !far_ends(&app, "/api/controls/ac-2.1", &admin)
                .await
                .contains(&gone),
            "{module}"
        );
        let entries = app.audit_entries(org).await;
        let deletion = entries
            .iter()
            .find(|e| e["action"] == "delete" && e["entityId"] == record["id"])
            .unwrap_or_else(|| panic!("{module}: the deletion is audited"));
        assert_eq!(
            deletion["changes"]["_linksRemoved"], held,
            "{module}: {deletion}"
        );
        let made_links = entries
            .iter()
            .filter(|e| {
                e["entityType"] == "link"
                    && e["action"] == "create"
                    && e["changes"]["from"]["after"]["id"] == record["id"]
            })
            .count();
        assert_eq!(made_links, 2, "{module}: each link audited with both ends");
    }
    assert!(far_ends(&app, &hub_path, &admin).await.is_empty());
}

async fn links_are_refused_clearly_and_stay_in_their_organization(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Links").await;
    let admin = app.member(org, "admin@l.test", Role::Admin).await;
    let viewer = app.member(org, "viewer@l.test", Role::Viewer).await;
    let elsewhere = app.org("Elsewhere").await;
    let stranger = app
        .member(elsewhere, "boss@else.test", Role::OrgAdmin)
        .await;
    let theirs = app.create("tasks", &stranger, sample("tasks", 9)).await;
    let risk = app.create("risks", &admin, sample("risks", 1)).await;
    let task = app.create("tasks", &admin, sample("tasks", 1)).await;
    let script = app.create("scripts", &admin, sample("scripts", 1)).await;
    let risk_links = format!("/api/risks/{}/links", id(&risk));
    let task_links = format!("/api/tasks/{}/links", id(&task));
    let to = |module: &str, id: &str| json!({ "to": { "module": module, "id": id } });
    let (status, made) = app
        .send(Method::POST, &risk_links, &admin, &to("tasks", id(&task)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (status, _) = app
        .send(
            Method::POST,
            &risk_links,
            &admin,
            &to("scripts", id(&script)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let before = app.snapshot(org).await;
    let refusals = [
        (
            &viewer,
            &risk_links,
            to("poam", &new_id()),
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "",
        ),
        (
            &stranger,
            &risk_links,
            to("tasks", id(&theirs)),
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "",
        ),
        (
            &admin,
            &risk_links,
            to("tasks", id(&theirs)),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
            "to.id",
        ),
        (
            &admin,
            &risk_links,
            to("tasks", &new_id()),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
            "to.id",
        ),
        (
            &admin,
            &risk_links,
            to("tasks", "not-an-id"),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
            "to.id",
        ),
        (
            &admin,
            &risk_links,
            to("widgets", &new_id()),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
            "to.module",
        ),
        (
            &admin,
            &risk_links,
            to("controls", "zz-99"),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
            "to.id",
        ),
        (
            &admin,
            &risk_links,
            to("risks", id(&risk)),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
            "to",
        ),
        (
            &admin,
            &risk_links,
            json!({ "module": "tasks", "id": id(&task) }),
            StatusCode::BAD_REQUEST,
            "",
            "",
        ),
        // The same pair from the other end is the same link.
        (
            &admin,
            &task_links,
            to("risks", id(&risk)),
            StatusCode::CONFLICT,
            "ALREADY_LINKED",
            "",
        ),
    ];
    for (key, path, body, want, code, field) in refusals {
        let (status, p) = app.send(Method::POST, path, key, &body).await;
        assert_eq!(status, want, "{body}: {p}");
        if !code.is_empty() {
            assert_eq!(p["error"], code, "{body}: {p}");
        }
        if !field.is_empty() {
            assert_eq!(p["errors"][0]["field"], field, "{body}: {p}");
        }
    }
    let link_path = format!("{risk_links}/{}", id(&made));
    assert_eq!(
        app.get(&risk_links, &stranger).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.status(Method::DELETE, &link_path, &stranger).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.status(Method::DELETE, &link_path, &viewer).await,
        StatusCode::FORBIDDEN
    );
    // A link is removed only through one of its own ends.
    let unrelated = app.create("poam", &admin, sample("poam", 1)).await;
    assert_eq!(
        app.status(
            Method::DELETE,
            &format!("/api/poam/{}/links/{}", id(&unrelated), id(&made)),
            &admin
        )
        .await,
        StatusCode::NOT_FOUND
    );
    let mut after = app.snapshot(org).await;
    after["poam"] = before["poam"].clone();
    after["auditSeq"] = json!(after["auditSeq"].as_i64().unwrap() - 1);
    assert_eq!(after, before, "refusals changed nothing");

    // A Viewer reads the links, but not those to what it may not read (scripts).
    assert_eq!(
        far_ends(&app, &risk_links.replace("/links", ""), &viewer).await,
        [format!("tasks/{}", id(&task))]
    );
    assert_eq!(
        far_ends(&app, &risk_links.replace("/links", ""), &admin)
            .await
            .len(),
        2
    );

    // Removed from the other end; audited with both ends.
    let (status, _) = app
        .send(
            Method::DELETE,
            &format!("{task_links}/{}", id(&made)),
            &admin,
            &json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        far_ends(&app, &task_links.replace("/links", ""), &admin).await,
        Vec::<String>::new()
    );
    let entries = app.audit_entries(org).await;
    let removal = entries
        .iter()
        .find(|e| e["entityType"] == "link" && e["action"] == "delete")
        .expect("the removal is audited");
    assert_eq!(removal["entityId"], made["id"]);
    assert_eq!(removal["changes"]["from"]["before"]["module"], "tasks");
    assert_eq!(removal["changes"]["to"]["before"]["id"], risk["id"]);
}

async fn a_record_holds_at_most_two_hundred_links(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Many").await;
    let admin = app.member(org, "admin@m.test", Role::Admin).await;
    let risk = app.create("risks", &admin, sample("risks", 0)).await;
    let path = format!("/api/risks/{}/links", id(&risk));
    for n in 0..=200 {
        let task = app.create("tasks", &admin, sample("tasks", n)).await;
        let (status, p) = app
            .send(
                Method::POST,
                &path,
                &admin,
                &json!({ "to": { "module": "tasks", "id": id(&task) } }),
            )
            .await;
        if n < 200 {
            assert_eq!(status, StatusCode::CREATED, "{n}: {p}");
        } else {
            assert_eq!(status, StatusCode::CONFLICT, "{p}");
            assert_eq!(p["error"], "TOO_MANY_LINKS", "{p}");
        }
    }
    let (_, list) = app.get(&path, &admin).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        200,
        "all of them listed"
    );
}

/// Evidence of `title` naming `controls`, brought to `status` (a draft stays one).
async fn evidence(
    app: &TestApp,
    key: &Key,
    title: &str,
    controls: &[&str],
    valid_until: &str,
    status: &str,
) -> String {
    let made = app
        .create(
            "evidence",
            key,
            json!({ "title": title, "controls": controls, "validUntil": valid_until }),
        )
        .await;
    let at = format!("/api/evidence/{}", id(&made));
    if status != "draft" {
        let (code, moved) = app
            .send(
                Method::POST,
                &format!("{at}/transitions"),
                key,
                &json!({ "to": status, "comment": "reviewed" }),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{moved}");
    }
    at
}

/// `control id → evidence count` of a controls list page.
async fn coverage(app: &TestApp, query: &str, key: &Key) -> Vec<(String, u64)> {
    let (status, list) = app.get(&format!("/api/controls?{query}"), key).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["evidence"].as_u64().unwrap(),
            )
        })
        .collect()
}

async fn controls_count_current_evidence_named_or_linked_once_each(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Coverage").await;
    let admin = app.member(org, "admin@c.test", Role::Admin).await;
    let future = "2099-12-31";
    // Counted: named in the field; linked only; named and linked (once).
    evidence(
        &app,
        &admin,
        "Account review",
        &["ac-2"],
        future,
        "accepted",
    )
    .await;
    let linked = evidence(&app, &admin, "Audit config", &[], future, "accepted").await;
    let both = evidence(&app, &admin, "Both", &["ac-2"], future, "accepted").await;
    for (at, control) in [(&linked, "au-2"), (&both, "ac-2")] {
        let (status, made) = app
            .send(
                Method::POST,
                &format!("{at}/links"),
                &admin,
                &json!({ "to": { "module": "controls", "id": control } }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
    }
    // Not counted: a draft, a rejected one, one past its valid-until date.
    evidence(&app, &admin, "Draft", &["ac-2", "ac-3"], future, "draft").await;
    evidence(&app, &admin, "Rejected", &["ac-3"], future, "rejected").await;
    evidence(&app, &admin, "Stale", &["ac-3"], "2020-01-01", "accepted").await;

    let covered = coverage(&app, "evidence=covered&limit=500", &admin).await;
    assert_eq!(
        covered,
        vec![("ac-2".to_owned(), 2), ("au-2".to_owned(), 1)],
        "ac-3 has no current evidence"
    );
    let (_, one) = app.get("/api/controls/ac-2", &admin).await;
    assert_eq!(one["evidence"], 2, "{one}");
    let uncovered = coverage(&app, "family=ac&evidence=uncovered&limit=500", &admin).await;
    assert!(uncovered.iter().any(|(c, n)| c == "ac-3" && *n == 0));
    assert!(!uncovered.iter().any(|(c, _)| c == "ac-2"));
    let (status, bad) = app.get("/api/controls?evidence=some", &admin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    // Another organization's evidence counts for nobody else.
    let other = app.org("Other").await;
    let theirs = app.member(other, "admin@o.test", Role::Admin).await;
    assert!(coverage(&app, "evidence=covered", &theirs).await.is_empty());
    let (_, one) = app.get("/api/controls/ac-2", &theirs).await;
    assert_eq!(one["evidence"], 0, "{one}");
}
