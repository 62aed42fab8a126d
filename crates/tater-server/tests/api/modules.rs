//! What the three first modules do for their users, through the API.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::{Role, Timestamp};
use tater_service::FixedClock;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    poam_overdue_and_milestones,
    risk_ale_and_heat_map,
    config_doc_versions_and_conflicts,
    lists_page_filter_sort_and_export
);

async fn setup(db: TestDb, today: &str) -> (TestApp, Key, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(Timestamp::parse(today).unwrap()));
    let app = TestApp::spawn_with(db, clock.clone()).await;
    let org = app.org("Org").await;
    let key = app.member(org, "admin@example.com", Role::Admin).await;
    (app, key, clock)
}

async fn poam_overdue_and_milestones(db: TestDb) {
    let (app, key, clock) = setup(db, "2026-11-29T10:00:00Z").await;
    let item = app
        .create("poam", &key, json!({
            "title": "Patch", "weaknessDescription": "w", "scheduledCompletion": "2026-11-30",
            "controls": ["AC-2(1)", "ac-2.1", "SI-2"],
            "milestones": [{ "description": "first" }, { "description": "second", "scheduledCompletion": "2026-12-01" }],
        }))
        .await;
    assert_eq!(item["status"], "Open", "default status");
    assert_eq!(item["overdue"], false);
    assert_eq!(
        item["controls"],
        json!(["ac-2.1", "si-2"]),
        "normalised and de-duplicated"
    );
    assert_eq!(item["milestones"][1]["id"], 2);
    let id = item["id"].as_str().unwrap();
    let path = format!("/api/poam/{id}");

    clock.set(Timestamp::parse("2026-12-01T00:00:00Z").unwrap());
    let (_, now) = app.get(&path, &key).await;
    assert_eq!(now["overdue"], true, "past its date and still open");
    let (_, overdue) = app.get("/api/poam?overdue=true", &key).await;
    assert_eq!(overdue["items"].as_array().unwrap().len(), 1);

    // Completing it needs a completion date; then it is no longer overdue.
    let mut done = now.clone();
    done["status"] = json!("Completed");
    let (s, p) = app.send(Method::PUT, &path, &key, &done).await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("completionDate"))
    );
    done["completionDate"] = json!("2026-11-30");
    // Milestone ids survive edits; a new milestone gets the next id, never a reused one.
    done["milestones"] = json!([{ "id": 2, "description": "second", "status": "Completed", "completionDate": "2026-11-30" }, { "description": "third" }]);
    let (s, saved) = app.send(Method::PUT, &path, &key, &done).await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    assert_eq!(saved["overdue"], false);
    let ids: Vec<i64> = saved["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![2, 3]);
    let (_, none) = app.get("/api/poam?overdue=true", &key).await;
    assert!(none["items"].as_array().unwrap().is_empty());

    let (s, p) = app
        .send(
            Method::POST,
            "/api/poam",
            &key,
            &json!({ "title": "t", "weaknessDescription": "w", "status": "False Positive" }),
        )
        .await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("justification"))
    );
}

async fn risk_ale_and_heat_map(db: TestDb) {
    let (app, key, _) = setup(db, "2026-11-29T10:00:00Z").await;
    let r = app
        .create(
            "risks",
            &key,
            json!({ "title": "r", "sle": 0.1, "aro": 3, "likelihood": 5, "impact": 2 }),
        )
        .await;
    assert_eq!(
        (r["ale"].clone(), r["score"].clone()),
        (json!(0.3), json!(10))
    );
    app.create("risks", &key, json!({ "title": "r2", "likelihood": 5, "impact": 2, "residualLikelihood": 1, "residualImpact": 1 })).await;
    app.create(
        "risks",
        &key,
        json!({ "title": "r3", "likelihood": 1, "impact": 5 }),
    )
    .await;
    app.create("risks", &key, json!({ "title": "unrated" }))
        .await;
    let (s, heat) = app.get("/api/risks/heat-map", &key).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(heat["cells"][4][1], 2, "likelihood 5, impact 2");
    assert_eq!(heat["cells"][0][4], 1);
    assert_eq!(
        (heat["total"].clone(), heat["unscored"].clone()),
        (json!(3), json!(1))
    );
    let (_, residual) = app.get("/api/risks/heat-map?kind=residual", &key).await;
    assert_eq!(
        (
            residual["cells"][0][0].clone(),
            residual["unscored"].clone()
        ),
        (json!(1), json!(3))
    );
    // ALE follows its inputs on update, and a client cannot set it.
    let mut body = r.clone();
    body["aro"] = json!(10);
    body["ale"] = json!(999999);
    let (_, updated) = app
        .send(
            Method::PUT,
            &format!("/api/risks/{}", r["id"].as_str().unwrap()),
            &key,
            &body,
        )
        .await;
    assert_eq!(updated["ale"], json!(1.0));
    let (_, sorted) = app.get("/api/risks?sort=-score&limit=2", &key).await;
    let titles: Vec<&str> = sorted["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 2);
    assert!(titles.iter().all(|t| *t == "r" || *t == "r2"));
}

async fn config_doc_versions_and_conflicts(db: TestDb) {
    let (app, key, _) = setup(db, "2026-11-29T10:00:00Z").await;
    let res = app
        .req(Method::POST, "/api/config-docs", &key)
        .json(&sample("config-docs", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let doc: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/config-docs/{}", doc["id"].as_str().unwrap())
    );
    assert_eq!(doc["version"], 1);
    let mut edit = doc.clone();
    for v in 2..=4 {
        edit["body"] = json!(format!("# version {v}"));
        let (s, saved) = app.send(Method::PUT, &location, &key, &edit).await;
        assert_eq!(s, StatusCode::OK, "{saved}");
        assert_eq!(saved["version"], v, "every update increments the version");
        edit = saved;
    }
    // Someone else's edit based on version 1 is refused, not silently overwritten.
    let mut stale = doc.clone();
    stale["body"] = json!("# stale");
    let (s, p) = app.send(Method::PUT, &location, &key, &stale).await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::CONFLICT, Some("CONFLICT"))
    );
    let (_, now) = app.get(&location, &key).await;
    assert_eq!(now["body"], "# version 4");
    // Without a version the latest wins (a deliberate overwrite).
    let mut blind = sample("config-docs", 1);
    blind["body"] = json!("# overwrite");
    let (s, saved) = app.send(Method::PUT, &location, &key, &blind).await;
    assert_eq!((s, saved["version"].clone()), (StatusCode::OK, json!(5)));
}

async fn lists_page_filter_sort_and_export(db: TestDb) {
    let (app, key, _) = setup(db, "2026-11-29T10:00:00Z").await;
    for n in 0..7 {
        let impact = ["High", "Moderate", "Low"][n % 3];
        app.create("poam", &key, json!({ "title": format!("Item {n}"), "weaknessDescription": "w", "impact": impact, "controls": [if n % 2 == 0 { "AC-2" } else { "SI-2" }] }))
            .await;
    }
    app.create("poam", &key, json!({ "title": "=HYPERLINK(\"http://evil\",\"x\")", "weaknessDescription": "+cmd|' /C calc'!A0", "impact": "Low" })).await;

    let (_, all) = app.get("/api/poam?limit=500&sort=title", &key).await;
    let all = all["items"].as_array().unwrap().clone();
    assert_eq!(all.len(), 8);
    let mut paged = Vec::new();
    let mut url = "/api/poam?limit=3&sort=title".to_owned();
    loop {
        let (s, page) = app.get(&url, &key).await;
        assert_eq!(s, StatusCode::OK);
        paged.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(c) => url = format!("/api/poam?limit=3&sort=title&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(paged, all);

    let count = |v: &Value| v["items"].as_array().unwrap().len();
    assert_eq!(count(&app.get("/api/poam?impact=High", &key).await.1), 3);
    assert_eq!(
        count(&app.get("/api/poam?impact=High,Low", &key).await.1),
        6
    );
    assert_eq!(count(&app.get("/api/poam?controls=ac-2", &key).await.1), 4);
    assert_eq!(count(&app.get("/api/poam?q=item%201", &key).await.1), 1);
    let (_, by_impact) = app.get("/api/poam?sort=impact&limit=1", &key).await;
    assert_eq!(by_impact["items"][0]["impact"], "High");

    let res = app
        .req(
            Method::GET,
            "/api/poam/export?format=csv&impact=Low&sort=title",
            &key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"poam-2026-11-29.csv\"")
    );
    let csv = res.text().await.unwrap();
    let mut reader =
        csv::ReaderBuilder::new().from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "id");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3, "filtered like the list");
    let title = headers.iter().position(|h| h == "title").unwrap();
    let weakness = headers
        .iter()
        .position(|h| h == "weaknessDescription")
        .unwrap();
    assert_eq!(
        &rows[0][title], "'=HYPERLINK(\"http://evil\",\"x\")",
        "formula neutralised"
    );
    assert_eq!(&rows[0][weakness], "'+cmd|' /C calc'!A0");

    let res = app
        .req(Method::GET, "/api/poam/export?format=json&sort=title", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/json");
    let exported: Vec<Value> = res.json().await.unwrap();
    assert_eq!(exported, all, "JSON export equals the list");
}
