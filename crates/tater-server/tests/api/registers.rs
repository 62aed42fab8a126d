//! The GRC registers, through the API: what their declarations give their users beyond the
//! generic suites (which cover every module's roles, isolation, bad input, audit and exports).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    counts_answer_per_label_per_campaign_and_stay_in_the_organization,
    launching_a_campaign_assigns_its_audience_once,
    a_change_is_decided_by_its_boards_votes,
    an_access_reviews_decisions_are_applied_under_the_members_rules,
    exercise_findings_and_regulations_open_follow_up_tasks,
);

async fn id_of(app: &TestApp, module: &str, key: &Key, body: Value) -> String {
    app.create(module, key, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn counts_answer_per_label_per_campaign_and_stay_in_the_organization(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Registers").await;
    let admin = app.member(org, "admin@reg.test", Role::Admin).await;
    let viewer = app.member(org, "viewer@reg.test", Role::Viewer).await;
    let other = app.org("Elsewhere").await;
    let outsider = app.member(other, "admin@else.test", Role::Admin).await;

    // Assets per classification label (the organization's own labels).
    let confidential = id_of(
        &app,
        "data-labels",
        &admin,
        json!({"name": "Confidential", "rank": 3}),
    )
    .await;
    let public = id_of(
        &app,
        "data-labels",
        &admin,
        json!({"name": "Public", "rank": 1}),
    )
    .await;
    for (name, label) in [
        ("HR share", &confidential),
        ("Payroll DB", &confidential),
        ("Website", &public),
    ] {
        id_of(
            &app,
            "data-assets",
            &admin,
            json!({"name": name, "label": label}),
        )
        .await;
    }
    id_of(&app, "data-assets", &admin, json!({"name": "Unlabelled"})).await;
    let (status, counts) = app.get("/api/data-assets/counts?by=label", &viewer).await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    assert_eq!(
        counts,
        json!({"by": "label", "total": 4, "counts": [
            {"value": confidential, "count": 2, "percent": 50.0},
            {"value": public, "count": 1, "percent": 25.0},
            {"value": null, "count": 1, "percent": 25.0},
        ]})
    );

    // A campaign's completion: its assignments by status, under the list's own filter.
    let course = id_of(
        &app,
        "training-courses",
        &admin,
        json!({"title": "Awareness"}),
    )
    .await;
    let campaign = id_of(
        &app,
        "training-campaigns",
        &admin,
        json!({"title": "FY27 awareness", "course": course, "dueDate": in_days(30)}),
    )
    .await;
    let later = id_of(
        &app,
        "training-campaigns",
        &admin,
        json!({"title": "Next year", "dueDate": in_days(400)}),
    )
    .await;
    for (who, done) in [("a", true), ("b", true), ("c", true), ("d", false)] {
        let mut body = json!({"assignee": format!("{who}@reg.test"), "campaign": campaign,
                              "course": course, "dueDate": in_days(30)});
        if done {
            body["status"] = json!("Completed");
            body["completedOn"] = json!(in_days(0));
        }
        id_of(&app, "training-assignments", &admin, body).await;
    }
    id_of(
        &app,
        "training-assignments",
        &admin,
        json!({"assignee": "a@reg.test", "campaign": later}),
    )
    .await;
    let path = format!("/api/training-assignments/counts?by=status&campaign={campaign}");
    let (status, counts) = app.get(&path, &viewer).await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    assert_eq!(counts["total"], 4);
    assert_eq!(
        counts["counts"][0],
        json!({"value": "Completed", "count": 3, "percent": 75.0})
    );
    assert_eq!(
        counts["counts"][1],
        json!({"value": "Assigned", "count": 1, "percent": 25.0})
    );

    // Another organization counts only its own (nothing); a reference to a record elsewhere
    // is refused like any other unknown record.
    let (status, theirs) = app.get("/api/data-assets/counts?by=label", &outsider).await;
    assert_eq!((status, &theirs["total"]), (StatusCode::OK, &json!(0)));
    let (status, refused) = app
        .send(
            Method::POST,
            "/api/data-assets",
            &outsider,
            &json!({"name": "x", "label": confidential}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    // Bad counts are clear 400s naming the parameter; the access reviews are an auditor's.
    for (query, field) in [
        ("by=notes", "by"),
        ("", "by"),
        ("by=status&limit=5", "limit"),
        ("by=status&colour=red", "colour"),
    ] {
        let (status, problem) = app
            .get(
                &format!("/api/training-assignments/counts?{query}"),
                &viewer,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {problem}");
        assert!(problem.to_string().contains(field), "{query}: {problem}");
    }
    let (status, _) = app
        .get("/api/access-review-items/counts?by=decision", &viewer)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn launching_a_campaign_assigns_its_audience_once(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Training").await;
    let admin = app.person(org, "admin@train.test", Role::Admin).await;
    app.member(org, "viewer@train.test", Role::Viewer).await;
    let elsewhere = app.org("Elsewhere").await;
    app.member(elsewhere, "stranger@else.test", Role::Admin)
        .await;
    // A contact who is also a member is assigned once.
    for email in ["ann@people.test", "viewer@train.test"] {
        id_of(
            &app,
            "people",
            &admin,
            json!({"name": email, "email": email}),
        )
        .await;
    }
    let course = id_of(
        &app,
        "training-courses",
        &admin,
        json!({"title": "CUI handling"}),
    )
    .await;
    let due = in_days(30);
    let campaign = id_of(
        &app,
        "training-campaigns",
        &admin,
        json!({"title": "FY27",
        "course": course, "dueDate": due, "audience": "Members and people"}),
    )
    .await;
    let moves = format!("/api/training-campaigns/{campaign}/transitions");
    let assigned = || async {
        let path = format!("/api/training-assignments?campaign={campaign}&limit=500");
        let (_, page) = app.get(&path, &admin).await;
        let mut who: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                assert_eq!(
                    (&a["course"], &a["dueDate"]),
                    (&json!(course), &json!(due)),
                    "{a}"
                );
                assert_eq!(a["status"], "Assigned");
                a["assignee"].as_str().unwrap().to_owned()
            })
            .collect();
        who.sort();
        who
    };
    assert!(assigned().await.is_empty(), "a draft assigns nobody");

    let (status, moved) = app
        .send(Method::POST, &moves, &admin, &json!({"to": "Active"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(
        assigned().await,
        ["admin@train.test", "ann@people.test", "viewer@train.test"]
    );
    let (_, audit) = app
        .get(
            "/api/audit-log?entityType=training-assignment&limit=50",
            &admin,
        )
        .await;
    assert_eq!(
        audit["items"].as_array().unwrap().len(),
        3,
        "each one audited"
    );

    // Closed and launched again: only who joined since is assigned.
    id_of(
        &app,
        "people",
        &admin,
        json!({"name": "Bo", "email": "bo@people.test"}),
    )
    .await;
    for (to, comment) in [("Closed", None), ("Active", Some("late joiners"))] {
        let (status, moved) = app
            .send(
                Method::POST,
                &moves,
                &admin,
                &json!({"to": to, "comment": comment}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{moved}");
    }
    assert_eq!(
        assigned().await,
        [
            "admin@train.test",
            "ann@people.test",
            "bo@people.test",
            "viewer@train.test"
        ]
    );
    let path = format!("/api/training-assignments/counts?by=status&campaign={campaign}");
    let (_, counts) = app.get(&path, &admin).await;
    assert_eq!(
        counts["counts"],
        json!([{"value": "Assigned", "count": 4, "percent": 100.0}])
    );

    // The campaign's page counts its assignments (its completion) and opens their list.
    let secret = crate::web::sign_in(&app, "admin@train.test").await;
    let shown = crate::web::page(
        &app,
        Some(&secret),
        &format!("/app/training-campaigns/{campaign}"),
    )
    .await;
    assert_eq!(shown.status, StatusCode::OK);
    let list = format!("/app/training-assignments?campaign={campaign}");
    assert!(
        shown.body.contains(&format!("href=\"{list}\"")),
        "{}",
        shown.body
    );
    assert!(
        shown
            .body
            .contains("Training assignments (campaign)</a>: 4 — Assigned 4 (100%)"),
        "{}",
        shown.body
    );
    let listed = crate::web::page(&app, Some(&secret), &list).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(listed.body.contains("bo@people.test"), "{}", listed.body);
    let course_page = crate::web::page(
        &app,
        Some(&secret),
        &format!("/app/training-courses/{course}"),
    )
    .await;
    assert!(
        course_page
            .body
            .contains("Training campaigns (course)</a>: 1 — Active 1 (100%)"),
        "{}",
        course_page.body
    );
}

/// The answer to a vote, or the problem's code.
async fn vote(
    app: &TestApp,
    key: &Key,
    change: &str,
    vote: &str,
) -> Result<Value, (StatusCode, String)> {
    let path = format!("/api/change-requests/{change}/votes");
    let (status, body) = app
        .send(
            Method::POST,
            &path,
            key,
            &json!({"vote": vote, "comment": format!("I {vote}")}),
        )
        .await;
    if status == StatusCode::OK {
        Ok(body)
    } else {
        Err((
            status,
            body["error"].as_str().unwrap_or_default().to_owned(),
        ))
    }
}

async fn a_change_is_decided_by_its_boards_votes(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("CAB").await;
    let mut keys = std::collections::HashMap::new();
    for who in ["req", "chair", "v1", "v2", "obs", "out"] {
        let key = app
            .member(org, &format!("{who}@cab.test"), Role::Admin)
            .await;
        keys.insert(who, key);
    }
    let viewer = app.member(org, "viewer@cab.test", Role::Viewer).await;
    let members = json!([
        {"email": "chair@cab.test", "role": "Chair"}, {"email": "v1@cab.test", "role": "Voting"},
        {"email": "v2@cab.test", "role": "Voting"}, {"email": "req@cab.test", "role": "Voting"},
        {"email": "obs@cab.test", "role": "Observer"},
    ]);
    let board = id_of(
        &app,
        "cab-boards",
        &keys["chair"],
        json!({"name": "Production CAB", "members": members, "approvalThreshold": 2}),
    )
    .await;
    let change = |title: &str, kind: &str| {
        let mut body = json!({"title": title, "changeType": kind, "board": board,
            "controls": ["CM-3"], "windowStart": in_days(7), "windowEnd": in_days(8)});
        if kind == "Emergency" {
            body["justification"] = json!("the outage");
        }
        body
    };
    let submitted = |body: Value| {
        let (app, req) = (&app, &keys["req"]);
        async move {
            let id = id_of(app, "change-requests", req, body).await;
            let path = format!("/api/change-requests/{id}/transitions");
            let (status, moved) = app
                .send(Method::POST, &path, req, &json!({"to": "Submitted"}))
                .await;
            assert_eq!(status, StatusCode::OK, "{moved}");
            id
        }
    };

    // Only a submitted change is voted on, only by its board's chair and voting members,
    // never by its requester.
    let a = id_of(
        &app,
        "change-requests",
        &keys["req"],
        change("Patch the web tier", "Normal"),
    )
    .await;
    assert_eq!(
        vote(&app, &keys["v1"], &a, "approve").await.unwrap_err().1,
        "NOT_SUBMITTED"
    );
    let path = format!("/api/change-requests/{a}/transitions");
    app.send(
        Method::POST,
        &path,
        &keys["req"],
        &json!({"to": "Submitted"}),
    )
    .await;
    for who in ["obs", "out"] {
        assert_eq!(
            vote(&app, &keys[who], &a, "approve").await.unwrap_err(),
            (StatusCode::FORBIDDEN, "NOT_A_VOTER".into())
        );
    }
    assert_eq!(
        vote(&app, &keys["req"], &a, "approve").await.unwrap_err().1,
        "FOUR_EYES_REQUIRED"
    );
    assert_eq!(
        vote(&app, &keys["v1"], &a, "maybe").await.unwrap_err().0,
        StatusCode::BAD_REQUEST
    );

    // A later vote replaces the voter's earlier one; the threshold's approval decides.
    vote(&app, &keys["v1"], &a, "reject").await.unwrap();
    let tally = vote(&app, &keys["v1"], &a, "approve").await.unwrap();
    assert_eq!(
        (tally["approve"].as_u64(), tally["reject"].as_u64()),
        (Some(1), Some(0)),
        "{tally}"
    );
    assert_eq!(
        (tally["voters"].as_u64(), tally["needed"].as_u64()),
        (Some(4), Some(2))
    );
    assert_eq!(tally["status"], "Submitted");
    let tally = vote(&app, &keys["chair"], &a, "approve").await.unwrap();
    assert_eq!(tally["status"], "Approved", "{tally}");
    let (_, moves) = app
        .get(&format!("/api/change-requests/{a}/transitions"), &viewer)
        .await;
    let decided = &moves["items"][0];
    assert_eq!(
        (&decided["to"], &decided["decision"]),
        (&json!("Approved"), &json!(true)),
        "{moves}"
    );
    assert!(
        decided["comment"]
            .as_str()
            .unwrap()
            .contains("2 approve, 0 reject"),
        "{decided}"
    );
    assert_eq!(
        vote(&app, &keys["v2"], &a, "reject").await.unwrap_err().1,
        "NOT_SUBMITTED"
    );
    let (status, seen) = app
        .get(&format!("/api/change-requests/{a}/votes"), &viewer)
        .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["votes"].as_array().unwrap().len(), 2, "{seen}");
    let (_, audit) = app
        .get(
            "/api/audit-log?entityType=change-vote&limit=50",
            &keys["chair"],
        )
        .await;
    assert_eq!(
        audit["items"].as_array().unwrap().len(),
        3,
        "every vote cast is audited"
    );

    // A second change on the same control in an overlapping window: approved, and named as
    // in conflict with the first.
    let b = submitted(change("Rotate TLS certificates", "Normal")).await;
    vote(&app, &keys["v1"], &b, "approve").await.unwrap();
    let tally = vote(&app, &keys["v2"], &b, "approve").await.unwrap();
    assert_eq!(
        (&tally["status"], &tally["conflicts"]),
        (&json!("Approved"), &json!([a])),
        "{tally}"
    );

    // Rejected once the threshold can no longer be reached (4 voters, 2 needed: 3 rejections).
    let c = submitted(change("Open port 23", "Normal")).await;
    for who in ["chair", "v1"] {
        assert_eq!(
            vote(&app, &keys[who], &c, "reject").await.unwrap()["status"],
            "Submitted"
        );
    }
    assert_eq!(
        vote(&app, &keys["v2"], &c, "reject").await.unwrap()["status"],
        "Rejected"
    );

    // An emergency change is escalated to the chair, whose approval decides it.
    let d = submitted(change("Block the exploited service", "Emergency")).await;
    let tally = vote(&app, &keys["chair"], &d, "approve").await.unwrap();
    assert_eq!(tally["status"], "Approved", "{tally}");

    // The organization's full export holds every vote (the last of each voter per round).
    let boss = app.member(org, "boss@cab.test", Role::OrgAdmin).await;
    let res = app
        .req(Method::GET, "/api/export", &boss)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let files = crate::data_export::unzip(&res.bytes().await.unwrap());
    let votes: Vec<Value> = serde_json::from_str(&files["votes.json"]).unwrap();
    assert_eq!(votes.len(), 8, "{votes:?}");
    let v1_on_a = votes
        .iter()
        .find(|v| v["recordId"] == json!(a) && v["voter"] == "v1@cab.test")
        .unwrap();
    assert_eq!(
        (&v1_on_a["module"], &v1_on_a["vote"], &v1_on_a["comment"]),
        (
            &json!("change-requests"),
            &json!("approve"),
            &json!("I approve")
        )
    );
}

async fn an_access_reviews_decisions_are_applied_under_the_members_rules(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Reviewed").await;
    let boss = app.member(org, "boss@rev.test", Role::OrgAdmin).await;
    let admin = app.member(org, "admin@rev.test", Role::Admin).await;
    let leaver = app.member(org, "leaver@rev.test", Role::Viewer).await;
    let (status, key) = app
        .send(
            Method::POST,
            "/api/api-keys",
            &boss,
            &json!({"name": "ci", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let ci = Key::api(key["key"].as_str().unwrap().to_owned());
    let review = id_of(
        &app,
        "access-reviews",
        &boss,
        json!({"title": "Q4 access review"}),
    )
    .await;
    let why = "left the program";
    for item in [
        json!({"subject": "leaver@rev.test", "decision": "Revoke", "justification": why}),
        json!({"subject": "admin@rev.test", "decision": "Change role", "newRole": "viewer",
               "justification": "no longer edits"}),
        json!({"subject": key["prefix"], "subjectType": "API key", "decision": "Revoke",
               "justification": "unused"}),
        // The organization's only OrgAdmin stays, whatever a review says.
        json!({"subject": "boss@rev.test", "decision": "Revoke", "justification": "test"}),
        json!({"subject": "ghost@rev.test", "decision": "Change role", "newRole": "admin",
               "justification": "typo"}),
        json!({"subject": "keep@rev.test", "decision": "Keep"}),
        json!({"subject": "pending@rev.test"}),
    ] {
        let mut item = item;
        item["review"] = json!(review);
        id_of(&app, "access-review-items", &boss, item).await;
    }
    let apply = format!("/api/access-reviews/{review}/apply");
    let (status, refused) = app.send(Method::POST, &apply, &boss, &json!({})).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::CONFLICT, Some("NOT_COMPLETED"))
    );
    let moves = format!("/api/access-reviews/{review}/transitions");
    let (status, moved) = app
        .send(Method::POST, &moves, &boss, &json!({"to": "Completed"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let (status, _) = app.send(Method::POST, &apply, &admin, &json!({})).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an Admin does not change members"
    );
    // Nor through the review: a decision an Admin adds once the OrgAdmin has completed it
    // (promoting themselves) was never the OrgAdmin's, and is refused when applied.
    let sneaky = id_of(
        &app,
        "access-review-items",
        &admin,
        json!({"review": review, "subject": "admin@rev.test", "decision": "Change role",
               "newRole": "orgadmin", "justification": "self-promotion"}),
    )
    .await;

    let (status, done) = app.send(Method::POST, &apply, &boss, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let late = done["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item"] == json!(sneaky))
        .unwrap();
    assert_eq!(late["outcome"], "refused", "{done}");
    assert!(
        late["detail"]
            .as_str()
            .unwrap()
            .starts_with("CHANGED_AFTER_COMPLETION"),
        "{done}"
    );
    let outcome = |subject: &str| {
        let items = done["items"].as_array().unwrap();
        let item = items.iter().find(|i| i["subject"] == subject).unwrap();
        (
            item["outcome"].as_str().unwrap().to_owned(),
            item["detail"].as_str().unwrap_or("").to_owned(),
        )
    };
    assert_eq!(done["applied"], 3, "{done}");
    for subject in [
        "leaver@rev.test",
        "admin@rev.test",
        key["prefix"].as_str().unwrap(),
    ] {
        assert_eq!(outcome(subject).0, "applied", "{subject}: {done}");
    }
    assert!(
        outcome("boss@rev.test").1.starts_with("LAST_ORG_ADMIN"),
        "{done}"
    );
    assert!(
        outcome("ghost@rev.test").1.starts_with("NOT_FOUND"),
        "{done}"
    );
    for subject in ["keep@rev.test", "pending@rev.test"] {
        assert_eq!(outcome(subject).0, "unchanged");
    }
    // What was decided holds: the leaver (and their keys, which go with the membership) and
    // the reviewed key are out, the admin is a viewer.
    assert_eq!(
        app.get("/api/poam", &leaver).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/api/poam", &ci).await.0, StatusCode::UNAUTHORIZED);
    let (_, members) = app.get("/api/members", &boss).await;
    let role_of = |email: &str| {
        members
            .as_array()
            .or(members["items"].as_array())
            .unwrap()
            .iter()
            .find(|m| m["email"] == email)
            .map(|m| m["role"].clone())
    };
    assert_eq!(role_of("admin@rev.test"), Some(json!("viewer")));
    assert_eq!(role_of("leaver@rev.test"), None);
    assert_eq!(role_of("boss@rev.test"), Some(json!("orgadmin")));

    // Again: nothing more to do.
    let (_, again) = app.send(Method::POST, &apply, &boss, &json!({})).await;
    assert_eq!(again["applied"], 0, "{again}");
    let (_, log) = app
        .get("/api/audit-log?entityType=access-review&limit=50", &boss)
        .await;
    let applied: Vec<&Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "update")
        .collect();
    assert_eq!(applied.len(), 2, "each application audited: {log}");
}

async fn exercise_findings_and_regulations_open_follow_up_tasks(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Follow-up").await;
    let admin = app.member(org, "admin@fu.test", Role::Admin).await;
    let tasks_from = |source: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            let (_, page) = app.get(&format!("/api/tasks?source={source}"), admin).await;
            page["items"].as_array().unwrap().clone()
        }
    };
    id_of(
        &app,
        "bcp-exercises",
        &admin,
        json!({"title": "Clean run", "exerciseType": "Full",
        "heldOn": in_days(-1), "result": "Passed"}),
    )
    .await;
    assert!(
        tasks_from("Continuity exercise").await.is_empty(),
        "nothing found, nothing owed"
    );
    let drill = id_of(
        &app,
        "bcp-exercises",
        &admin,
        json!({"title": "Ransomware tabletop",
        "exerciseType": "Tabletop", "heldOn": in_days(-1), "result": "Passed with findings",
        "findings": "The call tree is out of date."}),
    )
    .await;
    let tasks = tasks_from("Continuity exercise").await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["title"], "Follow up: Ransomware tabletop");
    assert_eq!(tasks[0]["description"], "The call tree is out of date.");
    let (_, links) = app
        .get(&format!("/api/bcp-exercises/{drill}/links"), &admin)
        .await;
    assert_eq!(links["items"][0]["to"]["id"], tasks[0]["id"], "{links}");

    let regulation = id_of(
        &app,
        "regulatory-changes",
        &admin,
        json!({"title": "CMMC rule",
        "regulation": "32 CFR 170", "summary": "Level 2 assessments", "controls": ["CA-2"]}),
    )
    .await;
    assert!(tasks_from("Regulatory change").await.is_empty());
    let moves = format!("/api/regulatory-changes/{regulation}/transitions");
    let (status, moved) = app
        .send(Method::POST, &moves, &admin, &json!({"to": "Implementing"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let tasks = tasks_from("Regulatory change").await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(
        (&tasks[0]["title"], &tasks[0]["controls"]),
        (&json!("Follow up: CMMC rule"), &json!(["ca-2"]))
    );
}
