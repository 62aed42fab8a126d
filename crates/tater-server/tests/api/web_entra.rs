//! "Sign in with Microsoft": the web application's OpenID Connect code flow with PKCE against
//! the Entra ID stand-in's authorize and token endpoints, and every way it must refuse.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use tater_domain::Role;
use tater_service::{AdminOrgRef, SystemClock};
use tater_testkit::entra_sign_in::CLIENT_ID;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;
use crate::web::{Seen, csrf_of, no_redirects, page, post, seen};

both_engines!(
    signing_in_with_microsoft_opens_a_session_bound_to_the_tenants_organization,
    a_sign_in_is_refused_unless_this_browser_started_it_recently_and_microsoft_vouches
);

const FLOW_COOKIE: &str = "__Host-tater_entra";

/// The value a `Set-Cookie` header of `res` gives the cookie `name`.
fn set_cookie(res: &Seen, name: &str) -> Option<String> {
    res.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Clicks "Sign in with Microsoft": the flow cookie and where the browser is sent.
async fn leave_for_microsoft(app: &TestApp) -> (String, String) {
    let start = page(app, None, "/app/sign-in/entra").await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    let flow = set_cookie(&start, FLOW_COOKIE).expect("a flow cookie");
    (flow, start.location.expect("a redirect"))
}

/// The stand-in's answer to the authorize request: where it sends the browser back.
async fn at_microsoft(authorize: &str) -> String {
    let res = seen(no_redirects().get(authorize).send().await.unwrap()).await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    res.location.expect("back to Tater")
}

/// The browser's return to Tater's callback, carrying `flow` when given.
async fn come_back(callback: &str, flow: Option<&str>) -> Seen {
    come_back_signed_in(callback, flow, None).await
}

/// The same, from a browser that still holds the session cookie `session`.
async fn come_back_signed_in(callback: &str, flow: Option<&str>, session: Option<&str>) -> Seen {
    let cookies: Vec<String> = flow
        .map(|f| format!("{FLOW_COOKIE}={f}"))
        .into_iter()
        .chain(session.map(|s| format!("{}={s}", tater_web::SESSION_COOKIE)))
        .collect();
    let mut req = no_redirects().get(callback);
    if !cookies.is_empty() {
        req = req.header("cookie", cookies.join("; "));
    }
    seen(req.send().await.unwrap()).await
}

fn is_refused(res: &Seen, says: &str) -> bool {
    res.status == StatusCode::UNAUTHORIZED
        && res.body.contains(says)
        && set_cookie(res, tater_web::SESSION_COOKIE).is_none()
}

async fn signing_in_with_microsoft_opens_a_session_bound_to_the_tenants_organization(db: TestDb) {
    let app = TestApp::spawn_with_entra_sign_in(db, Arc::new(SystemClock)).await;
    let (org, tid) = app.entra_org("Tenant Works").await;
    let (_, oid) = app
        .entra_member(org, &tid, "eve@entra-web.test", Role::Admin)
        .await;
    // An operator also made her a member of a second organization.
    let other = app.org("Elsewhere Ltd").await;
    app.service
        .admin_create_user(
            &operator(),
            AdminOrgRef(&other.to_string()),
            "eve@entra-web.test",
            Role::Admin,
            None,
            None,
        )
        .await
        .unwrap();

    // The sign-in page offers a plain link.
    let form = page(&app, None, tater_web::SIGN_IN_PATH).await;
    assert!(
        form.body.contains("href=\"/app/sign-in/entra\""),
        "{}",
        form.body
    );

    let (flow, authorize) = leave_for_microsoft(&app).await;
    let start = page(&app, None, "/app/sign-in/entra").await;
    let cookie = start.headers["set-cookie"].to_str().unwrap();
    for part in [
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Max-Age=600",
    ] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(
        authorize.starts_with(&format!(
            "{}/organizations/oauth2/v2.0/authorize?",
            app.entra.authority
        )),
        "{authorize}"
    );
    let q = query_of(&authorize);
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert_eq!(
        q["redirect_uri"],
        app.url(tater_service::ENTRA_CALLBACK_PATH)
    );
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    assert_eq!((q["state"].len(), q["nonce"].len()), (32, 32));
    assert!(
        !authorize.contains("secret"),
        "the client secret stays on the server"
    );

    app.entra.desk.sign_in_as(&tid, &oid, "eve@entra-web.test");
    let callback = at_microsoft(&authorize).await;
    let back = come_back(&callback, Some(&flow)).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    assert_eq!(back.location.as_deref(), Some("/app"));
    let secret = set_cookie(&back, tater_web::SESSION_COOKIE).expect("a session");
    assert!(
        back.headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with(&format!("{FLOW_COOKIE}=;"))),
        "the flow cookie is cleared"
    );

    // Signed in, in the tenant's organization; the other is not offered and cannot be chosen.
    let home = page(&app, Some(&secret), "/app").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Tenant Works"), "{}", home.body);
    assert!(!home.body.contains("Elsewhere Ltd"), "{}", home.body);
    let csrf = csrf_of(&home.body);
    let switch = post(
        &app,
        Some(&secret),
        "/app/organization",
        &[("_csrf", &csrf), ("org", &other.to_string())],
        &[],
    )
    .await;
    assert_eq!(switch.status, StatusCode::FORBIDDEN, "{}", switch.body);
    assert!(
        page(&app, Some(&secret), "/app")
            .await
            .body
            .contains("Tenant Works")
    );

    // The same answer again: Microsoft's code works once.
    let replay = come_back(&callback, Some(&flow)).await;
    assert!(is_refused(&replay, "did not complete"), "{}", replay.body);
    assert_eq!(app.entra.desk.refused_tokens(), ["unknown code"]);

    // Signing in again in the same browser ends the session it held before.
    let (flow, authorize) = leave_for_microsoft(&app).await;
    let again =
        come_back_signed_in(&at_microsoft(&authorize).await, Some(&flow), Some(&secret)).await;
    let secret_again = set_cookie(&again, tater_web::SESSION_COOKIE).expect("a session");
    assert_eq!(
        page(&app, Some(&secret), "/app").await.status,
        StatusCode::SEE_OTHER
    );
    let secret = secret_again;

    // Sign out everywhere ends the Microsoft session like any other.
    let csrf = csrf_of(&page(&app, Some(&secret), "/app/account").await.body);
    post(
        &app,
        Some(&secret),
        "/app/sign-out-everywhere",
        &[("_csrf", &csrf)],
        &[],
    )
    .await;
    assert_eq!(
        page(&app, Some(&secret), "/app").await.status,
        StatusCode::SEE_OTHER
    );

    // Removed from the tenant's organization, her Microsoft session is over — not moved to
    // the other organization she still belongs to.
    let (flow, authorize) = leave_for_microsoft(&app).await;
    let back = come_back(&at_microsoft(&authorize).await, Some(&flow)).await;
    let secret = set_cookie(&back, tater_web::SESSION_COOKIE).expect("a session");
    let boss = app.person(org, "boss@entra-web.test", Role::OrgAdmin).await;
    let (_, members) = app.get("/api/members", &boss).await;
    let eve = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "eve@entra-web.test")
        .expect("eve is listed")["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = app
        .status(Method::DELETE, &format!("/api/members/{eve}"), &boss)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let after = page(&app, Some(&secret), "/app").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "{}", after.body);
    assert_eq!(after.location.as_deref(), Some(tater_web::SIGN_IN_PATH));
}

async fn a_sign_in_is_refused_unless_this_browser_started_it_recently_and_microsoft_vouches(
    db: TestDb,
) {
    let clock = Arc::new(ShiftedClock::default());
    let app = TestApp::spawn_with_entra_sign_in(db, clock.clone()).await;
    let (org, tid) = app.entra_org("Careful Co").await;
    let (_, oid) = app
        .entra_member(org, &tid, "ivy@entra-web.test", Role::Viewer)
        .await;
    app.entra.desk.sign_in_as(&tid, &oid, "ivy@entra-web.test");

    // Login CSRF: an attacker's own sign-in, finished in the victim's browser, is refused —
    // whether the victim's browser has a flow of its own or none.
    let (mine, authorize) = leave_for_microsoft(&app).await;
    let (attackers, attackers_authorize) = leave_for_microsoft(&app).await;
    let attackers_callback = at_microsoft(&attackers_authorize).await;
    let crossed = come_back(&attackers_callback, Some(&mine)).await;
    assert!(is_refused(&crossed, "did not complete"), "{}", crossed.body);
    let bare = come_back(&attackers_callback, None).await;
    assert!(
        is_refused(&bare, "not started from this browser"),
        "{}",
        bare.body
    );

    // A flow cookie not signed by this server is refused.
    // (The signature's first character: changing it always changes the decoded bytes.)
    let at = attackers.rfind('.').unwrap() + 1;
    let mut forged = attackers.clone();
    let flipped = if &attackers[at..=at] == "A" { "B" } else { "A" };
    forged.replace_range(at..=at, flipped);
    let tampered = come_back(&attackers_callback, Some(&forged)).await;
    assert!(
        is_refused(&tampered, "did not complete"),
        "{}",
        tampered.body
    );

    // Ten minutes is the most a sign-in may take.
    let callback = at_microsoft(&authorize).await;
    clock.advance_secs(tater_service::ENTRA_FLOW_TTL_SECS + 1);
    let late = come_back(&callback, Some(&mine)).await;
    assert!(is_refused(&late, "did not complete"), "{}", late.body);

    // A person Microsoft signs in but no organization here invited: no account is made.
    let (flow, authorize) = leave_for_microsoft(&app).await;
    let stranger = uuid::Uuid::new_v4().to_string();
    app.entra
        .desk
        .sign_in_as(&tid, &stranger, "stranger@entra-web.test");
    let res = come_back(&at_microsoft(&authorize).await, Some(&flow)).await;
    assert!(
        is_refused(&res, "not a member of an organization here"),
        "{}",
        res.body
    );
    let unknown = tater_domain::Email::parse("stranger@entra-web.test").unwrap();
    let mut tx = app
        .service
        .store()
        .identity(tater_store::Mode::Read)
        .await
        .unwrap();
    assert!(tx.user_by_email(&unknown).await.unwrap().is_none());
    drop(tx);

    // An id token minted for another sign-in (its nonce is not this one's) is refused.
    app.entra.desk.sign_in_as(&tid, &oid, "ivy@entra-web.test");
    app.entra
        .desk
        .issue_wrong_nonce("0123456789abcdef0123456789abcdef");
    let (flow, authorize) = leave_for_microsoft(&app).await;
    let res = come_back(&at_microsoft(&authorize).await, Some(&flow)).await;
    assert!(is_refused(&res, "did not complete"), "{}", res.body);
    // An id token is no access token: the API refuses one even for an accepted audience.
    let mut claims = tater_testkit::entra::claims(&tid, &oid, "ivy@entra-web.test");
    claims["nonce"] = "0123456789abcdef0123456789abcdef".into();
    let id_token = tater_testkit::entra::sign("k1", &claims);
    let (status, _) = app.get("/api/me", &Key::bearer(&id_token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Nor is an id token issued without a nonce (a registration shared with the API): an
    // access token carries the person's delegated scopes.
    let mut claims = tater_testkit::entra::claims(&tid, &oid, "ivy@entra-web.test");
    claims.as_object_mut().unwrap().remove("scp");
    let no_scopes = tater_testkit::entra::sign("k1", &claims);
    let (status, _) = app.get("/api/me", &Key::bearer(&no_scopes)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The person declined at Microsoft: said so, and only the error's code is shown.
    let (flow, authorize) = leave_for_microsoft(&app).await;
    app.entra.desk.refuse_with("access_denied");
    let res = come_back(&at_microsoft(&authorize).await, Some(&flow)).await;
    assert!(is_refused(&res, "(access_denied)"), "{}", res.body);
    assert!(!res.body.contains("AADSTS65004"), "{}", res.body);
}
