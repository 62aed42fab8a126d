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
    let admin = app.member(org, "admin@train.test", Role::Admin).await;
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
}
