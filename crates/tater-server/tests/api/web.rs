//! The web application over plain HTTP: sign-in, the session cookie, its ends, the CSRF token
//! and the origin checks on every post. (`browser.rs` drives the same pages in Chromium.)

use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    signing_in_sets_a_host_only_secure_cookie_and_opens_the_dashboard,
    a_session_ends_at_sign_out_idle_time_its_lifetime_and_sign_out_everywhere,
    posts_need_the_sessions_csrf_token_and_this_origin,
    the_organization_switcher_offers_only_the_persons_organizations
);

/// A client that shows redirects instead of following them, as a test of a browser's view.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// What a page request answered.
struct Seen {
    status: StatusCode,
    location: Option<String>,
    headers: HeaderMap,
    body: String,
}

async fn seen(res: reqwest::Response) -> Seen {
    let status = res.status();
    let headers = res.headers().clone();
    let location = headers
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    Seen {
        status,
        location,
        headers,
        body: res.text().await.unwrap(),
    }
}

fn cookie_header(secret: &str) -> String {
    format!("{}={secret}", tater_web::SESSION_COOKIE)
}

async fn page(app: &TestApp, secret: Option<&str>, path: &str) -> Seen {
    let mut req = no_redirects().get(app.url(path));
    if let Some(s) = secret {
        req = req.header("cookie", cookie_header(s));
    }
    seen(req.send().await.unwrap()).await
}

/// Posts a form as a browser on this origin would (`Sec-Fetch-Site: same-origin`), plus
/// `headers`.
async fn post(
    app: &TestApp,
    secret: Option<&str>,
    path: &str,
    fields: &[(&str, &str)],
    headers: &[(&'static str, &str)],
) -> Seen {
    let mut req = no_redirects()
        .post(app.url(path))
        .header("sec-fetch-site", "same-origin")
        .form(fields);
    if let Some(s) = secret {
        req = req.header("cookie", cookie_header(s));
    }
    for (name, value) in headers {
        req = req.header(*name, HeaderValue::from_str(value).unwrap());
    }
    seen(req.send().await.unwrap()).await
}

/// Signs `email` in through the form; the session cookie's secret.
async fn sign_in(app: &TestApp, email: &str) -> String {
    let res = post(
        app,
        None,
        tater_web::SIGN_IN_PATH,
        &[("email", email), ("password", TEST_PASSWORD)],
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some("/app"));
    let cookie = res.headers["set-cookie"].to_str().unwrap();
    let secret = cookie
        .split(';')
        .next()
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap();
    assert!(secret.starts_with("tater_web_"), "{cookie}");
    secret
}

/// The CSRF token a page's forms carry.
fn csrf_of(body: &str) -> String {
    let at = body
        .find("name=\"_csrf\" value=\"")
        .expect("a form with a token")
        + 20;
    body[at..].split('"').next().unwrap().to_owned()
}

fn is_sign_in_redirect(s: &Seen) -> bool {
    s.status == StatusCode::SEE_OTHER && s.location.as_deref() == Some(tater_web::SIGN_IN_PATH)
}

async fn signing_in_sets_a_host_only_secure_cookie_and_opens_the_dashboard(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Acme Web").await;
    app.person(org, "ann@web.test", Role::Admin).await;

    // Not signed in: to the sign-in page, which says nothing about TLS on loopback.
    assert!(is_sign_in_redirect(&page(&app, None, "/app").await));
    let form = page(&app, None, tater_web::SIGN_IN_PATH).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(!form.body.contains("plain HTTP"), "{}", form.body);

    // A wrong password: the form again, with the address kept and one message for both parts.
    let wrong = post(
        &app,
        None,
        tater_web::SIGN_IN_PATH,
        &[("email", "ann@web.test"), ("password", "not the password")],
        &[],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::OK, "the form again");
    assert!(wrong.body.contains("do not match an account"));
    assert!(wrong.body.contains("value=\"ann@web.test\""));
    assert!(wrong.headers.get("set-cookie").is_none());

    let res = post(
        &app,
        None,
        tater_web::SIGN_IN_PATH,
        &[("email", "ann@web.test"), ("password", TEST_PASSWORD)],
        &[],
    )
    .await;
    let cookie = res.headers["set-cookie"].to_str().unwrap();
    // `__Host-`: Secure, Path=/, no Domain; and script cannot read it.
    assert!(
        cookie.starts_with("__Host-tater_session=tater_web_"),
        "{cookie}"
    );
    for part in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.split("; ").any(|p| p == part), "{part} in {cookie}");
    }
    assert!(!cookie.to_ascii_lowercase().contains("domain"), "{cookie}");
    let secret = sign_in(&app, "ann@web.test").await;

    let dash = page(&app, Some(&secret), "/app").await;
    assert_eq!(dash.status, StatusCode::OK);
    assert!(dash.body.contains("Acme Web") && dash.body.contains("ann@web.test"));
    assert!(dash.body.contains("Posture score"));
    // Pages are not cached; the policy allows no inline script or style, and pages use none.
    assert_eq!(dash.headers["cache-control"], "no-store");
    let csp = dash.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(!dash.body.contains("<script") && !dash.body.contains("style="));

    // The stylesheet is served under its content hash, cached for good; the plain name stays.
    let at = dash.body.find("/assets/tater.").unwrap();
    let css = dash.body[at..].split('"').next().unwrap();
    let res = app.client.get(app.url(css)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
    let plain = app.client.get(app.url("/assets/tater.css")).send().await;
    assert_eq!(plain.unwrap().status(), StatusCode::OK);
    let unknown = app
        .client
        .get(app.url("/assets/tater.0000000000.css"))
        .send();
    assert_eq!(unknown.await.unwrap().status(), StatusCode::NOT_FOUND);

    // Reached over plain HTTP by another name, the sign-in page says the cookie will not stick.
    let remote = no_redirects()
        .get(app.url(tater_web::SIGN_IN_PATH))
        .header("host", "tater.example.com")
        .send()
        .await
        .unwrap();
    assert!(remote.text().await.unwrap().contains("plain HTTP"));
}

async fn a_session_ends_at_sign_out_idle_time_its_lifetime_and_sign_out_everywhere(db: TestDb) {
    let clock = Arc::new(ShiftedClock::default());
    let shared = clock.clone();
    let app = TestApp::spawn_configured(db, move |c| {
        c.clock = shared;
        c.web_sessions = tater_service::WebSessionConfig {
            idle_secs: 120,
            absolute_secs: 300,
        };
    })
    .await;
    let org = app.org("Ends").await;
    let bearer = app.person(org, "ann@ends.test", Role::Viewer).await;

    // Sign-out ends the session on the server: the old cookie no longer signs in.
    let secret = sign_in(&app, "ann@ends.test").await;
    let dash = page(&app, Some(&secret), "/app").await;
    assert_eq!(dash.status, StatusCode::OK);
    let out = post(
        &app,
        Some(&secret),
        "/app/sign-out",
        &[("_csrf", &csrf_of(&dash.body))],
        &[],
    )
    .await;
    assert!(is_sign_in_redirect(&out));
    assert!(
        out.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert!(is_sign_in_redirect(
        &page(&app, Some(&secret), "/app").await
    ));

    // Idle: nothing for longer than the idle timeout ends it.
    let secret = sign_in(&app, "ann@ends.test").await;
    clock.advance_secs(121);
    assert!(is_sign_in_redirect(
        &page(&app, Some(&secret), "/app").await
    ));

    // Activity keeps a session alive, up to its lifetime and no longer.
    let secret = sign_in(&app, "ann@ends.test").await;
    for _ in 0..3 {
        clock.advance_secs(95);
        let seen = page(&app, Some(&secret), "/app").await;
        assert_eq!(seen.status, StatusCode::OK, "still active");
    }
    clock.advance_secs(20);
    assert!(is_sign_in_redirect(
        &page(&app, Some(&secret), "/app").await
    ));

    // "Sign out everywhere" on the API ends the browser sessions too, and the page's own
    // button ends every other browser's.
    let secret = sign_in(&app, "ann@ends.test").await;
    clock.advance_secs(1);
    let status = app
        .status(Method::POST, "/api/auth/logout-all", &bearer)
        .await;
    assert!(status.is_success(), "{status}");
    assert!(is_sign_in_redirect(
        &page(&app, Some(&secret), "/app").await
    ));
    clock.advance_secs(1);
    let first = sign_in(&app, "ann@ends.test").await;
    let second = sign_in(&app, "ann@ends.test").await;
    let dash = page(&app, Some(&first), "/app").await;
    let out = post(
        &app,
        Some(&first),
        "/app/sign-out-everywhere",
        &[("_csrf", &csrf_of(&dash.body))],
        &[],
    )
    .await;
    assert!(is_sign_in_redirect(&out));
    assert!(is_sign_in_redirect(
        &page(&app, Some(&second), "/app").await
    ));
}

async fn posts_need_the_sessions_csrf_token_and_this_origin(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Forms").await;
    app.person(org, "ann@forms.test", Role::Admin).await;
    app.person(org, "bob@forms.test", Role::Admin).await;
    let ann = sign_in(&app, "ann@forms.test").await;
    let bob = sign_in(&app, "bob@forms.test").await;
    let token = csrf_of(&page(&app, Some(&ann), "/app").await.body);
    let bobs_token = csrf_of(&page(&app, Some(&bob), "/app").await.body);
    assert_ne!(token, bobs_token, "each session has its own token");

    let forbidden = |s: &Seen| s.status == StatusCode::FORBIDDEN;
    let sign_out = |fields: Vec<(&'static str, String)>, headers: Vec<(&'static str, String)>| {
        let app = &app;
        let ann = ann.clone();
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let headers: Vec<(&'static str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(app, Some(&ann), "/app/sign-out", &fields, &headers).await
        }
    };
    // No token, a wrong one, another session's: 403, and the session goes on. The refusal
    // is a page for a person, not a problem document.
    let refused = sign_out(vec![], vec![]).await;
    assert!(forbidden(&refused));
    assert!(
        refused.body.contains("<h1>Not allowed</h1>"),
        "{}",
        refused.body
    );
    assert!(forbidden(
        &sign_out(vec![("_csrf", "csrf_0".repeat(6))], vec![]).await
    ));
    assert!(forbidden(
        &sign_out(vec![("_csrf", bobs_token.clone())], vec![]).await
    ));
    // The right token from another site: 403 (the browser names the site, or the origin).
    let cross = vec![("sec-fetch-site", "cross-site".to_owned())];
    assert!(forbidden(
        &sign_out(vec![("_csrf", token.clone())], cross).await
    ));
    let res = no_redirects()
        .post(app.url("/app/sign-out"))
        .header("cookie", cookie_header(&ann))
        .header("origin", "https://evil.example")
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(page(&app, Some(&ann), "/app").await.status, StatusCode::OK);
    // Another site cannot sign a browser in either (login CSRF).
    let res = post(
        &app,
        None,
        tater_web::SIGN_IN_PATH,
        &[("email", "ann@forms.test"), ("password", TEST_PASSWORD)],
        &[("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.headers.get("set-cookie").is_none());
    // The right token from this origin works.
    assert!(is_sign_in_redirect(
        &sign_out(vec![("_csrf", token)], vec![]).await
    ));
}

async fn the_organization_switcher_offers_only_the_persons_organizations(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let home = app.org("Home Org").await;
    let other = app.org("Other Org").await;
    let stranger = app.org("Stranger Org").await;
    let boss = app.person(other, "boss@other.test", Role::OrgAdmin).await;
    let ann = app.person(home, "ann@switch.test", Role::Admin).await;
    app.join(&boss, &ann, "ann@switch.test", other, "viewer")
        .await;

    let secret = sign_in(&app, "ann@switch.test").await;
    let dash = page(&app, Some(&secret), "/app").await;
    assert!(dash.body.contains("Home Org") && dash.body.contains("Other Org"));
    assert!(!dash.body.contains("Stranger Org"));
    let token = csrf_of(&dash.body);
    let other_id = other.to_string();
    let res = post(
        &app,
        Some(&secret),
        "/app/organization",
        &[("_csrf", &token), ("org", &other_id)],
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let dash = page(&app, Some(&secret), "/app").await;
    let selected = format!("value=\"{other_id}\" selected");
    assert!(dash.body.contains(&selected), "{}", dash.body);
    assert!(dash.body.contains(">viewer<"), "the role there");
    // An organization the person is not in cannot be chosen.
    let stranger_id = stranger.to_string();
    let res = post(
        &app,
        Some(&secret),
        "/app/organization",
        &[("_csrf", &token), ("org", &stranger_id)],
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(
        page(&app, Some(&secret), "/app")
            .await
            .body
            .contains(&selected)
    );
}
