//! The role matrix: every write route × every role; only the allowed roles succeed, and a
//! refused write changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    every_documented_operation_by_every_role,
    every_write_route_by_every_role,
    every_write_route_by_every_role_with_entra_tokens,
    reads_audit_and_cross_org_by_role
);

/// The matrix by construction: every operation `/api/openapi.json` documents with a least
/// role (`x-tater-min-role`, derived from the action the route declares), called by a member
/// of every role. Below it the answer is 403 FORBIDDEN — before any body is read, so an
/// empty body is enough to ask; at or above it, never FORBIDDEN. Operations of endpoint
/// agents refuse every person. A new route is in the matrix by being documented.
async fn every_documented_operation_by_every_role(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Org").await;
    let mut members = Vec::new();
    for role in Role::ALL {
        let key = app.member(org, &format!("{role}@example.com"), role).await;
        members.push((role, key));
    }
    let res = app.client.get(app.url("/api/openapi.json")).send().await;
    let (_, doc) = json_of(res.unwrap()).await;
    let id = new_id();
    let mut asked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let Some(least) = op["x-tater-min-role"].as_str() else {
                continue;
            };
            // `agent` is no member's role: every person is at or above it.
            let least = match least {
                "agent" => Role::Agent,
                person => person.parse::<Role>().unwrap(),
            };
            let agents_only = op["x-tater-action"] == "agent-report";
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let url = path.replace("{id}", &id);
            for (role, key) in &members {
                let mut req = app.req(method.clone(), &url, key);
                if method == Method::POST || method == Method::PUT {
                    req = req.json(&serde_json::json!({}));
                }
                let (s, body) = json_of(req.send().await.unwrap()).await;
                let refused = s == StatusCode::FORBIDDEN && body["error"] == "FORBIDDEN";
                let allowed = *role >= least && !agents_only;
                assert_eq!(
                    refused, !allowed,
                    "{method} {path} as {role} (least {least}): {s} {body}"
                );
                asked += 1;
            }
        }
    }
    assert!(asked >= 90 * Role::ALL.len(), "{asked} calls");
}

async fn every_write_route_by_every_role(db: TestDb) {
    role_matrix(db, Cred::ApiKey).await;
}

async fn every_write_route_by_every_role_with_entra_tokens(db: TestDb) {
    role_matrix(db, Cred::Entra).await;
}

async fn role_matrix(db: TestDb, cred: Cred) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Org").await;
    let owner = app.member(org, "owner@example.com", Role::OrgAdmin).await;
    let mut keys = Vec::new();
    for role in Role::ALL {
        keys.push((
            role,
            app.member_as(cred, org, &format!("{role}@example.com"), role)
                .await,
        ));
    }
    for module in modules() {
        let kept = app.create(module, &owner, sample(module, 999)).await;
        for (i, (role, key)) in keys.iter().enumerate() {
            let allowed = *role >= Role::Admin;
            let target = app.create(module, &owner, sample(module, i)).await;
            let path = format!("/api/{module}/{}", target["id"].as_str().unwrap());
            let before = app.snapshot(org).await;

            let (s, body) = app
                .send(
                    Method::POST,
                    &format!("/api/{module}"),
                    key,
                    &sample(module, 100 + i),
                )
                .await;
            let expect = if allowed {
                StatusCode::CREATED
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(s, expect, "POST /api/{module} as {role}: {body}");
            if !allowed {
                assert_eq!(body["error"], "FORBIDDEN");
            }
            let (s, _) = app.send(Method::PUT, &path, key, &changed(module, i)).await;
            let expect = if allowed {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(s, expect, "PUT {path} as {role}");
            let s = app.status(Method::DELETE, &path, key).await;
            let expect = if allowed {
                StatusCode::NO_CONTENT
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(s, expect, "DELETE {path} as {role}");

            if !allowed {
                assert_eq!(
                    app.snapshot(org).await,
                    before,
                    "{role} changed nothing in {module}"
                );
            }
            // Reads follow the declaration: lists, records and exports alike.
            let def = tater_domain::modules::by_name(module).unwrap();
            let reads = *role >= def.read_role;
            let (s, _) = app.get(&format!("/api/{module}"), key).await;
            assert_eq!(
                s == StatusCode::OK,
                reads,
                "GET /api/{module} as {role}: {s}"
            );
            let one = format!("/api/{module}/{}", kept["id"].as_str().unwrap());
            let (s, _) = app.get(&one, key).await;
            assert_eq!(s == StatusCode::OK, reads, "GET {one} as {role}: {s}");
            for format in ["csv", "json"] {
                let res = app
                    .req(
                        Method::GET,
                        &format!("/api/{module}/export?format={format}"),
                        key,
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    res.status() == StatusCode::OK,
                    reads,
                    "export {module} {format} as {role}: {}",
                    res.status()
                );
            }
            if !reads {
                assert_eq!(s, StatusCode::FORBIDDEN);
            }
        }
    }
    if cred == Cred::Entra {
        assert_eq!(
            app.entra.hits(),
            1,
            "the JWKS is fetched once, not per request"
        );
    }
}

async fn reads_audit_and_cross_org_by_role(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Org").await;
    for role in Role::ALL {
        let key = app.member(org, &format!("{role}@example.com"), role).await;
        let (s, _) = app.get("/api/audit-log", &key).await;
        assert_eq!(
            s == StatusCode::OK,
            role >= Role::Auditor,
            "audit log as {role}: {s}"
        );
        // The command channel's jobs carry script output: read as the scripts module is.
        let scripts = tater_domain::modules::SCRIPTS.read_role;
        for (path, exists) in [
            ("/api/jobs".to_owned(), true),
            ("/api/jobs/export?format=csv".to_owned(), true),
            (format!("/api/jobs/{}", new_id()), false),
        ] {
            let (s, _) = app.get(&path, &key).await;
            let expect = match (role >= scripts, exists) {
                (false, _) => StatusCode::FORBIDDEN,
                (true, true) => StatusCode::OK,
                (true, false) => StatusCode::NOT_FOUND,
            };
            assert_eq!(s, expect, "{path} as {role}");
        }
        let (s, body): (StatusCode, Value) = app.get("/api/organizations", &key).await;
        assert_eq!(
            s == StatusCode::OK,
            role >= Role::SuperAdmin,
            "cross-org list as {role}: {s} {body}"
        );
        let (s, _) = app.get("/api/risks/heat-map", &key).await;
        assert_eq!(s, StatusCode::OK);
        let name = format!("Created by {role}");
        let (s, created) = app
            .send(
                Method::POST,
                "/api/organizations",
                &key,
                &serde_json::json!({ "name": name }),
            )
            .await;
        let expect = if role >= Role::SuperAdmin {
            StatusCode::CREATED
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(s, expect, "cross-org create as {role}: {created}");
        // Managing keys and members needs OrgAdmin.
        let (s, _) = app.get("/api/members", &key).await;
        assert_eq!(
            s == StatusCode::OK,
            role >= Role::OrgAdmin,
            "members as {role}"
        );
        let (s, _) = app.get("/api/api-keys", &key).await;
        assert_eq!(
            s == StatusCode::OK,
            role >= Role::OrgAdmin,
            "api keys as {role}"
        );
        if s == StatusCode::OK && role >= Role::SuperAdmin {
            // The creator is the new organization's first OrgAdmin, and its log says so.
            let new_org: tater_domain::OrgId = created["id"].as_str().unwrap().parse().unwrap();
            let log = app.audit_entries(new_org).await;
            let kinds: Vec<&str> = log
                .iter()
                .map(|e| e["entityType"].as_str().unwrap())
                .collect();
            let starters = ["data-label"; 4];
            assert_eq!(
                kinds,
                [&starters[..], &["membership", "organization"]].concat()
            );
            assert_eq!(log[4]["changes"]["role"]["after"], "orgadmin");
            assert_eq!(log[0]["userId"], "system:org-setup");
            assert_eq!(log[0]["upn"], log[4]["upn"], "on behalf of the creator");
        }
    }
    let (_, all) = app
        .get(
            "/api/organizations",
            &app.member(org, "root@example.com", Role::SuperAdmin).await,
        )
        .await;
    assert_eq!(
        all["items"].as_array().unwrap().len(),
        2,
        "the org and the one the superadmin created"
    );
}
