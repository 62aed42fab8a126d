//! Members and API keys through the API (OrgAdmin): invitations, role changes, the last
//! OrgAdmin rule, no granting above one's own role, keys shown once and revoked at once.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    members_are_managed_by_org_admins,
    api_keys_are_managed_by_org_admins,
    people_name_the_member_with_their_address,
);

async fn members_are_managed_by_org_admins(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Org").await;
    let other = app.org("Other").await;
    let owner = app.member(org, "owner@example.com", Role::OrgAdmin).await;
    let admin = app.member(org, "admin@example.com", Role::Admin).await;
    let outsider = app.member(other, "out@example.com", Role::OrgAdmin).await;

    let (s, p) = app.get("/api/members", &admin).await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("FORBIDDEN")),
        "Admin is below OrgAdmin"
    );
    let (s, list) = app.get("/api/members", &owner).await;
    assert_eq!(s, StatusCode::OK);
    let emails: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec!["admin@example.com", "owner@example.com"]);

    // Invite: pending until the person accepts.
    let (s, invited) = app
        .send(
            Method::POST,
            "/api/members",
            &owner,
            &json!({ "email": "New@Example.com", "role": "auditor" }),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{invited}");
    assert_eq!(
        (
            invited["email"].as_str(),
            invited["role"].as_str(),
            invited["status"].as_str()
        ),
        (Some("new@example.com"), Some("auditor"), Some("pending"))
    );
    let (s, p) = app
        .send(
            Method::POST,
            "/api/members",
            &owner,
            &json!({ "email": "new@example.com", "role": "viewer" }),
        )
        .await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::CONFLICT, Some("CONFLICT"))
    );
    let before = app.snapshot(org).await;
    for (body, status) in [
        (
            json!({ "email": "boss@example.com", "role": "superadmin" }),
            StatusCode::FORBIDDEN,
        ),
        (
            json!({ "email": "not-an-email", "role": "viewer" }),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "email": "x@example.com", "role": "owner" }),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "email": "x@example.com", "role": "viewer", "admin": true }),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (s, p) = app.send(Method::POST, "/api/members", &owner, &body).await;
        assert_eq!(s, status, "{body}: {p}");
    }
    assert_eq!(
        app.snapshot(org).await,
        before,
        "refused invitations change nothing"
    );
    // The person (who has an account elsewhere) accepts and becomes a member.
    let home = app.org("Home").await;
    let newcomer = app.person(home, "new@example.com", Role::Viewer).await;
    let joined = app.accept_invitation(&newcomer, org).await;
    assert_eq!(joined["role"], "auditor");
    let new_id = app.get("/api/me", &newcomer).await.1["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Change a role; nobody grants above their own role.
    let (s, changed) = app
        .send(
            Method::PUT,
            &format!("/api/members/{new_id}"),
            &owner,
            &json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(
        (s, changed["role"].as_str()),
        (StatusCode::OK, Some("admin"))
    );
    let (s, _) = app
        .send(
            Method::PUT,
            &format!("/api/members/{new_id}"),
            &owner,
            &json!({ "role": "superadmin" }),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Foreign and unknown ids are not found; the outsider's OrgAdmin cannot touch this org.
    let (_, me_out) = app.get("/api/me", &outsider).await;
    let out_id = me_out["user"]["id"].as_str().unwrap();
    for path in [
        format!("/api/members/{out_id}"),
        format!("/api/members/{}", tater_domain::UserId::generate()),
        "/api/members/nope".into(),
    ] {
        let (s, _) = app
            .send(Method::PUT, &path, &owner, &json!({ "role": "viewer" }))
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    let (s, _) = app
        .send(
            Method::PUT,
            &format!("/api/members/{new_id}"),
            &outsider,
            &json!({ "role": "viewer" }),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "another org's OrgAdmin sees no such member"
    );

    // The last OrgAdmin can be neither demoted nor removed.
    let (_, me) = app.get("/api/me", &owner).await;
    let owner_id = me["user"]["id"].as_str().unwrap().to_owned();
    let before = app.snapshot(org).await;
    let (s, p) = app
        .send(
            Method::PUT,
            &format!("/api/members/{owner_id}"),
            &owner,
            &json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::CONFLICT, Some("LAST_ORG_ADMIN"))
    );
    let s = app
        .status(Method::DELETE, &format!("/api/members/{owner_id}"), &owner)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(app.snapshot(org).await, before);
    // With a second OrgAdmin, the first may step down.
    app.send(
        Method::PUT,
        &format!("/api/members/{new_id}"),
        &owner,
        &json!({ "role": "orgadmin" }),
    )
    .await;
    let (s, _) = app
        .send(
            Method::PUT,
            &format!("/api/members/{owner_id}"),
            &owner,
            &json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // Removal ends access at once, and every change is in the audit log.
    let admin_id = app.get("/api/me", &admin).await.1["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let new_key = Key::api(
        app.service
            .admin_create_api_key(
                &operator(),
                "new@example.com",
                Some(tater_service::AdminOrgRef(&org.to_string())),
                "k",
                None,
                None,
            )
            .await
            .unwrap()
            .key,
    );
    let s = app
        .req(
            Method::DELETE,
            &format!("/api/members/{admin_id}"),
            &new_key,
        )
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/poam", &admin).await.0,
        StatusCode::UNAUTHORIZED,
        "the removed member's key bound to the organization is revoked with the membership"
    );
    let log = app.audit_entries(org).await;
    assert!(
        log.iter().any(|e| e["entityType"] == "api-key"
            && e["action"] == "delete"
            && e["changes"]["reason"]["after"] == "member removed"),
        "the key's revocation is audited"
    );
    let memberships: Vec<&Value> = log
        .iter()
        .filter(|e| e["entityType"] == "membership")
        .collect();
    assert!(
        memberships
            .iter()
            .any(|e| e["action"] == "delete"
                && e["changes"]["email"]["before"] == "admin@example.com")
    );
    assert!(
        memberships.iter().any(|e| e["action"] == "update"
            && e["changes"]["role"] == json!({ "before": "auditor", "after": "admin" })),
        "{memberships:?}"
    );
}

async fn api_keys_are_managed_by_org_admins(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Org").await;
    let other = app.org("Other").await;
    let owner = app.member(org, "owner@example.com", Role::OrgAdmin).await;
    let admin = app.member(org, "admin@example.com", Role::Admin).await;
    let foreign = app.member(other, "f@example.com", Role::OrgAdmin).await;

    let (s, _) = app
        .send(
            Method::POST,
            "/api/api-keys",
            &admin,
            &json!({ "name": "ci" }),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "Admin cannot manage keys");
    let in_30_days = app.service.now().plus_seconds(30 * 86_400).to_string();
    let (s, created) = app
        .send(
            Method::POST,
            "/api/api-keys",
            &owner,
            &json!({ "name": "ci", "role": "viewer", "expiresAt": in_30_days }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(tater_service::is_well_formed_api_key(&key));
    assert_eq!(
        (
            created["bound"].as_bool(),
            created["role"].as_str(),
            created["status"].as_str()
        ),
        (Some(true), Some("viewer"), Some("active"))
    );
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));
    let ci = Key::api(key.clone());
    assert_eq!(app.get("/api/poam", &ci).await.0, StatusCode::OK);
    assert_eq!(
        app.send(Method::POST, "/api/poam", &ci, &sample("poam", 1))
            .await
            .0,
        StatusCode::FORBIDDEN,
        "viewer key"
    );
    let (_, me) = app.get("/api/me", &ci).await;
    assert!(me["apiKey"]["id"].is_string());
    let (_, listed) = app.get("/api/api-keys", &owner).await;
    let mine = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == created["id"])
        .unwrap()
        .clone();
    assert!(
        mine["lastUsedAt"].is_string(),
        "last use is recorded: {mine}"
    );

    // The secret is never listed or logged.
    let (_, list) = app.get("/api/api-keys", &owner).await;
    let text = list.to_string();
    assert!(!text.contains(&key) && !text.contains(&tater_service::hash_api_key(&key)));
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        3,
        "the two members' test keys and the new one"
    );
    let log = app
        .audit_entries(org)
        .await
        .iter()
        .map(Value::to_string)
        .collect::<String>();
    assert!(!log.contains(&key) && !log.contains(&tater_service::hash_api_key(&key)));

    let before = app.snapshot(org).await;
    for body in [
        json!({ "name": "x", "role": "superadmin" }),
        json!({ "name": "" }),
        json!({ "name": "x", "expiresAt": "2001-01-01T00:00:00Z" }),
        json!({ "name": "x", "expiresAt": "2999-01-01T00:00:00Z" }),
        json!({ "name": "x", "userId": "someone-else" }),
    ] {
        let (s, p) = app.send(Method::POST, "/api/api-keys", &owner, &body).await;
        assert!(
            s == StatusCode::BAD_REQUEST || s == StatusCode::FORBIDDEN,
            "{body}: {s} {p}"
        );
    }
    assert_eq!(app.snapshot(org).await, before);

    // Revocation: foreign orgs cannot; the owner can, with immediate effect.
    let id = created["id"].as_str().unwrap();
    let s = app
        .status(Method::DELETE, &format!("/api/api-keys/{id}"), &foreign)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/api/poam", &ci).await.0,
        StatusCode::OK,
        "still valid"
    );
    let s = app
        .status(Method::DELETE, &format!("/api/api-keys/{id}"), &owner)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/poam", &ci).await.0,
        StatusCode::UNAUTHORIZED,
        "revoked at once"
    );
    let s = app
        .status(Method::DELETE, &format!("/api/api-keys/{id}"), &owner)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "already revoked");
    let (_, list) = app.get("/api/api-keys", &owner).await;
    let revoked = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(revoked["status"], "revoked");
    let kinds: Vec<String> = app
        .audit_entries(org)
        .await
        .iter()
        .filter(|e| e["entityType"] == "api-key")
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert!(kinds.contains(&"create".to_owned()) && kinds.contains(&"delete".to_owned()));
}

/// A People record names the organization's member with its e-mail address, as members are
/// now: whoever joins later is named from then on; a client cannot name one; another
/// organization's member with that address is nobody here.
async fn people_name_the_member_with_their_address(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("People").await;
    let admin = app.member(org, "admin@people.test", Role::Admin).await;
    let (_, me) = app.get("/api/me", &admin).await;
    let admin_id = me["user"]["id"].clone();
    let person = |email: &str| json!({ "name": "Someone", "email": email, "member": "forged" });

    let made = app
        .create("people", &admin, person("Admin@People.test"))
        .await;
    assert_eq!(made["member"], admin_id, "{made}");
    let later = app
        .create("people", &admin, person("later@people.test"))
        .await;
    assert_eq!(later["member"], Value::Null, "{later}");

    let other = app.org("Elsewhere").await;
    app.member(other, "shared@people.test", Role::Viewer).await;
    let shared = app
        .create("people", &admin, person("shared@people.test"))
        .await;
    assert_eq!(
        shared["member"],
        Value::Null,
        "another organization's member"
    );

    // They join: their record names them from now on, in the record and in the list.
    let joined = app.member(org, "later@people.test", Role::Viewer).await;
    let (_, me) = app.get("/api/me", &joined).await;
    let path = format!("/api/people/{}", later["id"].as_str().unwrap());
    let (_, read) = app.get(&path, &admin).await;
    assert_eq!(read["member"], me["user"]["id"]);
    let (_, list) = app.get("/api/people?email=later@people.test", &admin).await;
    assert_eq!(list["items"][0]["member"], me["user"]["id"]);
}
