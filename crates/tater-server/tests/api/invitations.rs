//! Invitations need consent (issue 21, findings 4, 5 and 8): an OrgAdmin cannot capture an
//! account of another organization, learns nothing about it, and manages only the keys bound
//! to their own organization — never those of someone ranked above them.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::{Role, Timestamp};
use tater_service::FixedClock;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    an_orgadmin_cannot_capture_another_organizations_account,
    invitations_are_accepted_declined_revoked_or_expire,
    keys_are_managed_within_the_organization_and_by_rank
);

async fn invite(app: &TestApp, key: &Key, email: &str, role: &str) -> (StatusCode, Value) {
    app.send(
        Method::POST,
        "/api/members",
        key,
        &json!({ "email": email, "role": role }),
    )
    .await
}

/// An answer with the parts that differ for every invitation taken out.
fn shape(mut v: Value) -> Value {
    for k in ["id", "email", "createdAt", "expiresAt"] {
        v[k] = json!("…");
    }
    v
}

async fn an_orgadmin_cannot_capture_another_organizations_account(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let home = app.org("Victim Home").await;
    let hostile = app.org("Hostile").await;
    let victim = app.person(home, "victim@home.test", Role::Admin).await;
    let attacker = app
        .member(hostile, "boss@hostile.test", Role::OrgAdmin)
        .await;
    // The victim's unbound key, for automation in their own organization.
    let unbound = app.api_key_of("victim@home.test", None).await;
    let keys_before = app.get("/api/api-keys", &attacker).await.1;

    // Inviting an existing account and an unknown address: the same answer.
    let (s, existing) = invite(&app, &attacker, "Victim@Home.test", "viewer").await;
    assert_eq!(s, StatusCode::ACCEPTED, "{existing}");
    let (s, unknown) = invite(&app, &attacker, "nobody@home.test", "viewer").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(shape(existing.clone()), shape(unknown.clone()));
    for field in ["userId", "hasPassword", "entraLinked", "displayName"] {
        assert!(existing.get(field).is_none(), "{field} leaks: {existing}");
    }

    // Nothing happened to the victim: not a member, sessions and keys unaffected.
    let (_, members) = app.get("/api/members", &attacker).await;
    assert_eq!(members["items"].as_array().unwrap().len(), 1, "{members}");
    assert_eq!(
        app.get("/api/poam", &victim).await.0,
        StatusCode::OK,
        "no AMBIGUOUS_ORG"
    );
    assert_eq!(app.get("/api/poam", &unbound).await.0, StatusCode::OK);
    let (_, me) = app.get("/api/me", &victim).await;
    assert_eq!(me["memberships"].as_array().unwrap().len(), 1);
    // The attacker's key list is what it was, and the victim's key is out of reach.
    assert_eq!(app.get("/api/api-keys", &attacker).await.1, keys_before);
    let (_, mine) = app.get("/api/me", &unbound).await;
    let key_id = mine["apiKey"]["id"].as_str().unwrap();
    assert_eq!(
        app.status(
            Method::DELETE,
            &format!("/api/api-keys/{key_id}"),
            &attacker
        )
        .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/api/poam", &unbound).await.0, StatusCode::OK);

    // The victim sees the invitation, and turns it down.
    let seen = app.invitations(&victim).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (
            seen[0]["orgName"].as_str(),
            seen[0]["role"].as_str(),
            seen[0]["invitedBy"].as_str()
        ),
        (Some("Hostile"), Some("viewer"), Some("boss@hostile.test"))
    );
    let id = seen[0]["id"].as_str().unwrap();
    // Nobody else can answer it: another person, a key bound to the victim's organization.
    let bystander = app.person(home, "bystander@home.test", Role::Viewer).await;
    assert!(app.invitations(&bystander).await.is_empty());
    let accept = format!("/api/invitations/{id}/accept");
    assert_eq!(
        app.status(Method::POST, &accept, &bystander).await,
        StatusCode::NOT_FOUND
    );
    let victim_bound = app.api_key_of("victim@home.test", Some(home)).await;
    let (s, p) = app.call(Method::POST, &accept, &victim_bound).await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("BOUND_CREDENTIAL"))
    );
    // Nor may it even see them: they are the person's, across organizations. An Entra ID
    // token is bound to its tenant's organization the same way.
    let entra = app
        .member_as(Cred::Entra, home, "entra@home.test", Role::Viewer)
        .await;
    invite(&app, &attacker, "entra@home.test", "viewer").await;
    for bound in [&victim_bound, &entra] {
        let (s, p) = app.get("/api/invitations", bound).await;
        assert_eq!(
            (s, p["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("BOUND_CREDENTIAL"))
        );
    }
    let res = app
        .req(
            Method::POST,
            &format!("/api/invitations/{id}/decline"),
            &victim,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(app.invitations(&victim).await.is_empty());
    let (_, sent) = app.get("/api/members/invitations", &attacker).await;
    let declined = sent["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap();
    assert_eq!(declined["status"], "declined");
    assert_eq!(
        app.status(Method::POST, &accept, &victim).await,
        StatusCode::CONFLICT,
        "a declined invitation cannot be accepted later"
    );
    let (_, me) = app.get("/api/me", &victim).await;
    assert_eq!(me["memberships"].as_array().unwrap().len(), 1);
    // The hostile organization's log has the invitation and the refusal, by the victim.
    let log = app.audit_entries(hostile).await;
    let about: Vec<&Value> = log.iter().filter(|e| e["entityId"] == id).collect();
    assert_eq!(about.len(), 2, "{about:?}");
    assert_eq!(about[0]["upn"], "victim@home.test");
    assert_eq!(about[0]["changes"]["status"]["after"], "declined");
    assert!(!log.iter().any(|e| e["entityType"] == "membership" && e["changes"].to_string().contains("victim")));
}

async fn invitations_are_accepted_declined_revoked_or_expire(db: TestDb) {
    let clock = Arc::new(FixedClock::new(Timestamp::from_millis(1_800_000_000_000)));
    let app = TestApp::spawn_with(db, clock.clone()).await;
    let org = app.org("Team").await;
    let home = app.org("Home").await;
    let boss = app.member(org, "boss@team.test", Role::OrgAdmin).await;
    let admin = app.member(org, "admin@team.test", Role::Admin).await;
    let ann = app.person(home, "ann@home.test", Role::Viewer).await;

    assert_eq!(
        app.get("/api/members/invitations", &admin).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        invite(&app, &admin, "x@team.test", "viewer").await.0,
        StatusCode::FORBIDDEN
    );
    let (s, _) = invite(&app, &boss, "ann@home.test", "auditor").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // One pending invitation per address.
    let (s, p) = invite(&app, &boss, "ANN@home.test", "admin").await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");

    // Accepted: a member with the invited role, audited as the person joining.
    let joined = app.accept_invitation(&ann, org).await;
    assert_eq!(
        (joined["orgName"].as_str(), joined["role"].as_str()),
        (Some("Team"), Some("auditor"))
    );
    let team = Key {
        header: "authorization",
        value: ann.value.clone(),
    };
    let (s, _) = app
        .client
        .get(app.url("/api/audit-log"))
        .header(team.header, &team.value)
        .header("x-organization-id", org.to_string())
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(s, StatusCode::OK, "an auditor of Team now");
    let log = app.audit_entries(org).await;
    let joined_entry = log
        .iter()
        .find(|e| e["entityType"] == "membership" && e["action"] == "create")
        .unwrap();
    assert_eq!(joined_entry["upn"], "ann@home.test");
    assert_eq!(joined_entry["changes"]["role"]["after"], "auditor");
    let (s, _) = invite(&app, &boss, "ann@home.test", "viewer").await;
    assert_eq!(s, StatusCode::CONFLICT, "already a member");

    // Revoked by an OrgAdmin: the invitee can no longer accept it.
    let (_, pending) = invite(&app, &boss, "bob@home.test", "viewer").await;
    let bob = app.person(home, "bob@home.test", Role::Viewer).await;
    assert_eq!(app.invitations(&bob).await.len(), 1);
    let revoke = format!(
        "/api/members/invitations/{}",
        pending["id"].as_str().unwrap()
    );
    assert_eq!(
        app.status(Method::DELETE, &revoke, &admin).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.status(Method::DELETE, &revoke, &boss).await,
        StatusCode::NO_CONTENT
    );
    assert!(app.invitations(&bob).await.is_empty());
    let accept = format!(
        "/api/invitations/{}/accept",
        pending["id"].as_str().unwrap()
    );
    assert_eq!(
        app.status(Method::POST, &accept, &bob).await,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.status(Method::DELETE, &revoke, &boss).await,
        StatusCode::CONFLICT,
        "only pending invitations are withdrawn"
    );

    // Expired after 14 days; a new invitation replaces it.
    let (_, old) = invite(&app, &boss, "bob@home.test", "viewer").await;
    clock.advance_secs(14 * 24 * 3600 + 1);
    let bob = app.login("bob@home.test").await;
    let boss = app.member(org, "boss2@team.test", Role::OrgAdmin).await;
    assert!(app.invitations(&bob).await.is_empty());
    let accept = format!("/api/invitations/{}/accept", old["id"].as_str().unwrap());
    let (s, p) = app.call(Method::POST, &accept, &bob).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    let (_, listed) = app.get("/api/members/invitations", &boss).await;
    assert_eq!(listed["items"][0]["status"], "expired");
    let (s, fresh) = invite(&app, &boss, "bob@home.test", "viewer").await;
    assert_eq!(s, StatusCode::ACCEPTED, "{fresh}");
    app.accept_invitation(&bob, org).await;
    let (_, members) = app.get("/api/members", &boss).await;
    let emails: Vec<&str> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert!(
        emails.contains(&"bob@home.test") && emails.contains(&"ann@home.test"),
        "{emails:?}"
    );

    // Nobody withdraws an invitation for a role above their own.
    let root = app.member(org, "root@team.test", Role::SuperAdmin).await;
    let (s, high) = invite(&app, &root, "eve@home.test", "superadmin").await;
    assert_eq!(s, StatusCode::ACCEPTED, "{high}");
    let withdraw = format!("/api/members/invitations/{}", high["id"].as_str().unwrap());
    let (s, p) = app.call(Method::DELETE, &withdraw, &boss).await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("FORBIDDEN"))
    );
    assert_eq!(
        app.status(Method::DELETE, &withdraw, &root).await,
        StatusCode::NO_CONTENT
    );
    // Someone the operator added meanwhile cannot accept on top of it.
    invite(&app, &boss, "dave@home.test", "viewer").await;
    let dave = app.person(home, "dave@home.test", Role::Viewer).await;
    let pending = app.invitations(&dave).await;
    app.service
        .admin_create_user(
            &operator(),
            tater_service::AdminOrgRef(&org.to_string()),
            "dave@home.test",
            Role::Admin,
            None,
            None,
        )
        .await
        .unwrap();
    let accept = format!(
        "/api/invitations/{}/accept",
        pending[0]["id"].as_str().unwrap()
    );
    let (s, p) = app.call(Method::POST, &accept, &dave).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");

    // An OrgAdmin who is removed takes their unanswered invitations along.
    let leaver = app.member(org, "leaver@team.test", Role::OrgAdmin).await;
    let (_, sent) = invite(&app, &leaver, "carol@home.test", "admin").await;
    let carol = app.person(home, "carol@home.test", Role::Viewer).await;
    assert_eq!(app.invitations(&carol).await.len(), 1);
    let leaver_id = app.get("/api/me", &leaver).await.1["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.status(Method::DELETE, &format!("/api/members/{leaver_id}"), &boss)
            .await,
        StatusCode::NO_CONTENT
    );
    assert!(app.invitations(&carol).await.is_empty());
    let (_, listed) = app.get("/api/members/invitations", &boss).await;
    let closed = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == sent["id"])
        .unwrap();
    assert_eq!(closed["status"], "revoked");
}

async fn keys_are_managed_within_the_organization_and_by_rank(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Org").await;
    let other = app.org("Other").await;
    let platform = app
        .member(org, "root@platform.test", Role::SuperAdmin)
        .await;
    let owner = app.member(org, "owner@org.test", Role::OrgAdmin).await;
    let worker = app.member(org, "worker@org.test", Role::Admin).await;
    let _ = app.member(other, "worker@org.test", Role::Viewer).await;
    let id_of = |v: &Value| v["apiKey"]["id"].as_str().unwrap().to_owned();
    let root_key = id_of(&app.get("/api/me", &platform).await.1);
    let worker_key = id_of(&app.get("/api/me", &worker).await.1);

    // An OrgAdmin cannot revoke a SuperAdmin's key (as with members); it keeps working.
    let (s, p) = app
        .call(Method::DELETE, &format!("/api/api-keys/{root_key}"), &owner)
        .await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("FORBIDDEN"))
    );
    assert_eq!(app.get("/api/poam", &platform).await.0, StatusCode::OK);
    // Nor change the SuperAdmin as a member (unchanged behaviour, for comparison).
    let root_id = app.get("/api/me", &platform).await.1["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = app
        .send(
            Method::PUT,
            &format!("/api/members/{root_id}"),
            &owner,
            &json!({ "role": "viewer" }),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Below or at one's rank: allowed. The SuperAdmin revokes the OrgAdmin's own key too.
    assert_eq!(
        app.status(
            Method::DELETE,
            &format!("/api/api-keys/{worker_key}"),
            &owner
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/api/poam", &worker).await.0,
        StatusCode::UNAUTHORIZED
    );
    let owner_key = id_of(&app.get("/api/me", &owner).await.1);
    assert_eq!(
        app.status(
            Method::DELETE,
            &format!("/api/api-keys/{owner_key}"),
            &platform
        )
        .await,
        StatusCode::NO_CONTENT
    );

    // Only keys bound to the organization are listed: the worker's unbound key (which also
    // acts in Other) is theirs, not Org's.
    let unbound_key = app.api_key_of("worker@org.test", None).await;
    let unbound_id = app.get("/api/me", &unbound_key).await.1["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, list) = app.get("/api/api-keys", &platform).await;
    let items = list["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .all(|k| k["bound"] == true && k["orgId"] == org.to_string()),
        "{list}"
    );
    assert!(!items.iter().any(|k| k["id"] == unbound_id.as_str()));

    // Removing the worker from Org revokes their keys bound to Org, not their unbound key.
    let worker_id = app.get("/api/me", &unbound_key).await;
    assert_eq!(worker_id.0, StatusCode::OK);
    let uid = worker_id.1["user"]["id"].as_str().unwrap().to_owned();
    let fresh_key = app.api_key_of("worker@org.test", Some(org)).await;
    assert_eq!(app.get("/api/poam", &fresh_key).await.0, StatusCode::OK);
    assert_eq!(
        app.status(Method::DELETE, &format!("/api/members/{uid}"), &platform)
            .await,
        StatusCode::NO_CONTENT
    );
    // Invited and accepted again: the old bound key stays dead.
    assert_eq!(
        app.get("/api/poam", &fresh_key).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/poam", &unbound_key).await.0,
        StatusCode::OK,
        "the unbound key still acts in Other"
    );
    let (s, _) = invite(&app, &platform, "worker@org.test", "admin").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    app.accept_invitation(&unbound_key, org).await;
    assert_eq!(
        app.get("/api/poam", &fresh_key).await.0,
        StatusCode::UNAUTHORIZED
    );
}
