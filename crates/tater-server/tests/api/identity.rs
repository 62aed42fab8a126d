//! Enough identity to use the product: sign-in, tokens, API keys, choosing the organization.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::{Role, Timestamp};
use tater_service::{AdminOrgRef, FixedClock};
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    login_tokens_and_me,
    organization_selection_and_keys,
    a_credential_or_organization_sent_twice_is_refused
);

/// Two copies of a credential or of `x-organization-id` (a proxy that appends instead of
/// replacing, a client that merges): whichever copy won would be a guess, so neither does —
/// on REST and on MCP alike.
async fn a_credential_or_organization_sent_twice_is_refused(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let a = app.org("Twice A").await;
    let b = app.org("Twice B").await;
    let key_a = app.member(a, "a@twice.test", Role::OrgAdmin).await;
    let key_b = app.member(b, "b@twice.test", Role::OrgAdmin).await;
    let org = a.to_string();
    let twice: [(&str, &str, &str); 3] = [
        ("x-api-key", &key_a.value, &key_b.value),
        ("authorization", "Bearer one", "Bearer two"),
        ("x-organization-id", &org, &org),
    ];
    for (name, first, second) in twice {
        for path in ["/api/poam", "/mcp"] {
            let mut headers = reqwest::header::HeaderMap::new();
            if name != "x-api-key" && name != "authorization" {
                headers.insert("x-api-key", key_a.value.parse().unwrap());
            }
            headers.append(name, first.parse().unwrap());
            headers.append(name, second.parse().unwrap());
            let req = if path == "/mcp" {
                app.client
                    .post(app.url(path))
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#)
            } else {
                app.client.get(app.url(path))
            };
            let res = req.headers(headers).send().await.unwrap();
            assert_eq!(
                res.status(),
                StatusCode::BAD_REQUEST,
                "{name} twice on {path}"
            );
            let problem: Value = res.json().await.unwrap();
            assert_eq!(
                problem["error"], "BAD_HEADER",
                "{name} on {path}: {problem}"
            );
        }
    }
    // An agent re-enrolling shows its current key: twice is refused too, and the one-time
    // token is not spent.
    let token = token(&app, &key_a, true).await;
    let body = json!({ "token": token, "hostname": "twice", "os": "linux",
                       "osVersion": "Debian 12", "arch": "x86_64", "agentVersion": "0.1.0" });
    let res = app
        .client
        .post(app.url("/api/agent/enroll"))
        .header("x-api-key", "tater_agent_one")
        .header("x-api-key", "tater_agent_two")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (status, enrolled) = enroll(&app, &token, "twice").await;
    assert_eq!(status, StatusCode::CREATED, "{enrolled}");
}

const PASSWORD: &str = "correct horse battery staple";

async fn login(app: &TestApp, email: &str, password: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    json_of(res).await
}

async fn bearer(app: &TestApp, path: &str, token: &str, org: Option<&str>) -> (StatusCode, Value) {
    let mut req = app.client.get(app.url(path)).bearer_auth(token);
    if let Some(o) = org {
        req = req.header("x-organization-id", o);
    }
    json_of(req.send().await.unwrap()).await
}

async fn login_tokens_and_me(db: TestDb) {
    let clock = Arc::new(FixedClock::new(
        Timestamp::parse("2026-11-29T12:00:00Z").unwrap(),
    ));
    let app = TestApp::spawn_with(db, clock.clone()).await;
    let org = app.org("Org").await;
    let org_ref = org.to_string();
    app.service
        .admin_create_user(
            &operator(),
            AdminOrgRef(&org_ref),
            "ann@example.com",
            Role::Admin,
            Some(PASSWORD),
            None,
        )
        .await
        .unwrap();

    let (s, wrong) = login(&app, "ann@example.com", "wrong password!").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, unknown) = login(&app, "nobody@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong["detail"], unknown["detail"],
        "no hint whether the email exists"
    );
    let (s, _) = login(&app, "not an email", PASSWORD).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let res = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": "ann@example.com", "password": PASSWORD, "admin": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "unknown login fields are refused"
    );

    let (s, ok) = login(&app, "ANN@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "{ok}");
    assert_eq!(ok["tokenType"], "Bearer");
    assert_eq!(ok["expiresAt"], "2026-11-29T13:00:00.000Z");
    let token = ok["token"].as_str().unwrap().to_owned();

    let (s, me) = bearer(&app, "/api/me", &token, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["user"]["email"], "ann@example.com");
    assert_eq!(me["via"], "web");
    assert_eq!(
        me["memberships"],
        json!([{ "orgId": org.to_string(), "orgName": "Org", "role": "admin", "terminated": false }])
    );
    assert_eq!(me["activeOrganization"]["role"], "admin");

    // A browser session is audited as via=web.
    let res = app
        .client
        .post(app.url("/api/poam"))
        .bearer_auth(&token)
        .json(&sample("poam", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(app.audit_entries(org).await[0]["via"], "web");

    // Tampered, foreign-signed and expired tokens fail.
    let sig_start = token.rfind('.').unwrap() + 1;
    let flipped = if &token[sig_start..sig_start + 1] == "A" {
        "B"
    } else {
        "A"
    };
    let tampered = format!(
        "{}{flipped}{}",
        &token[..sig_start],
        &token[sig_start + 1..]
    );
    for bad in [tampered.as_str(), "not-a-jwt", "a.b.c"] {
        let (s, p) = bearer(&app, "/api/me", bad, None).await;
        assert_eq!(
            (s, p["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("UNAUTHORIZED")),
            "{bad}"
        );
    }
    // Changing the password signs out earlier sessions.
    clock.advance_secs(60);
    app.service
        .admin_set_password(&operator(), "ann@example.com", "a brand new password")
        .await
        .unwrap();
    let (s, _) = bearer(&app, "/api/me", &token, None).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "token from before the password change"
    );
    clock.advance_secs(1);
    let (_, ok) = login(&app, "ann@example.com", "a brand new password").await;
    let fresh = ok["token"].as_str().unwrap().to_owned();
    assert_eq!(
        bearer(&app, "/api/me", &fresh, None).await.0,
        StatusCode::OK
    );
    clock.advance_secs(3601);
    assert_eq!(
        bearer(&app, "/api/me", &fresh, None).await.0,
        StatusCode::UNAUTHORIZED,
        "expired"
    );
}

async fn organization_selection_and_keys(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let a = app.org("Org A").await;
    let b = app.org("Org B").await;
    let c = app.org("Org C").await;
    let (a_ref, b_ref) = (a.to_string(), b.to_string());
    let op = operator();
    app.service
        .admin_create_user(
            &op,
            AdminOrgRef(&a_ref),
            "multi@example.com",
            Role::Admin,
            None,
            None,
        )
        .await
        .unwrap();
    app.service
        .admin_create_user(
            &op,
            AdminOrgRef(&b_ref),
            "multi@example.com",
            Role::Viewer,
            None,
            None,
        )
        .await
        .unwrap();
    let unbound = Key::api(
        app.service
            .admin_create_api_key(&op, "multi@example.com", None, "u", None, None)
            .await
            .unwrap()
            .key,
    );
    let bound_b = Key::api(
        app.service
            .admin_create_api_key(
                &op,
                "multi@example.com",
                Some(AdminOrgRef(&b_ref)),
                "b",
                None,
                None,
            )
            .await
            .unwrap()
            .key,
    );
    let lowered = Key::api(
        app.service
            .admin_create_api_key(
                &op,
                "multi@example.com",
                Some(AdminOrgRef(&a_ref)),
                "ro",
                Some(Role::Viewer),
                None,
            )
            .await
            .unwrap()
            .key,
    );

    let with_org = |key: &Key, org: Option<String>, method: Method, path: &str| {
        let mut req = app.req(method, path, key);
        if let Some(o) = org {
            req = req.header("x-organization-id", o);
        }
        req
    };
    // Unbound key, two memberships, no header: ambiguous.
    let (s, p) = json_of(
        with_org(&unbound, None, Method::GET, "/api/poam")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("AMBIGUOUS_ORG"))
    );
    // /api/me still works, to discover the memberships.
    let (s, me) = json_of(
        with_org(&unbound, None, Method::GET, "/api/me")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["memberships"].as_array().unwrap().len(), 2);
    assert_eq!(me["activeOrganization"], Value::Null);
    // The header selects among the caller's memberships, with that membership's role.
    let res = with_org(&unbound, Some(a_ref.clone()), Method::POST, "/api/poam")
        .json(&sample("poam", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = with_org(&unbound, Some(b_ref.clone()), Method::POST, "/api/poam")
        .json(&sample("poam", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "viewer in B");
    // Not a member of C: refused, whatever C holds.
    let (s, p) = json_of(
        with_org(&unbound, Some(c.to_string()), Method::GET, "/api/poam")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("NOT_A_MEMBER"))
    );
    let (s, p) = json_of(
        with_org(
            &unbound,
            Some("not-a-uuid".into()),
            Method::GET,
            "/api/poam",
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BAD_REQUEST"))
    );
    // A bound key acts only in its org.
    let (s, p) = json_of(
        with_org(&bound_b, Some(a_ref.clone()), Method::GET, "/api/poam")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("ORG_MISMATCH"))
    );
    assert_eq!(p["detail"], "this API key is bound to another organization");
    let (s, list) = json_of(
        with_org(&bound_b, None, Method::GET, "/api/poam")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        list["items"].as_array().unwrap().is_empty(),
        "B holds no POAM"
    );
    // A key's role ceiling lowers the user's role.
    let res = with_org(&lowered, None, Method::POST, "/api/poam")
        .json(&sample("poam", 2))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Malformed and missing credentials.
    for bad in [
        "tater_short",
        "tater_0123456789ABCDEF0123456789abcdef",
        "other_0123456789abcdef0123456789abcdef",
        &"a".repeat(10_000),
    ] {
        let res = app
            .client
            .get(app.url("/api/poam"))
            .header("x-api-key", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "{}",
            &bad[..bad.len().min(20)]
        );
    }
    let well_formed_unknown = tater_service::generate_api_key();
    let res = app
        .client
        .get(app.url("/api/poam"))
        .header("x-api-key", well_formed_unknown)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.client.get(app.url("/api/poam")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key("www-authenticate"));
    let res = app
        .client
        .get(app.url("/api/poam"))
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .client
        .get(app.url("/api/poam"))
        .header("authorization", format!("Bearer {}", unbound.value))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "an API key is not a bearer token"
    );
    let res = app
        .client
        .get(app.url("/api/poam"))
        .bearer_auth("x.y.z")
        .header("x-api-key", &unbound.value)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "two credentials");
}
