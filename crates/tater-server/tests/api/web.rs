//! The web application over plain HTTP: sign-in, the session cookie, its ends, the CSRF token
//! and the origin checks on every post. (`browser.rs` drives the same pages in Chromium.)

use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    signing_in_sets_a_host_only_secure_cookie_and_opens_the_dashboard,
    the_dashboard_counts_work_due_and_each_count_opens_its_list,
    a_session_ends_at_sign_out_idle_time_its_lifetime_and_sign_out_everywhere,
    posts_need_the_sessions_csrf_token_and_this_origin,
    the_sign_in_form_needs_the_token_its_browser_holds,
    the_organization_switcher_offers_only_the_persons_organizations,
    every_module_has_pages_from_its_declaration_alone,
    a_link_by_a_title_several_records_share_names_them_and_links_nothing,
    a_form_with_errors_keeps_what_was_typed_and_saves_nothing,
    a_viewer_is_offered_no_changes_and_a_forged_post_is_refused,
    filters_paging_and_downloads_keep_the_list_as_shown,
    another_organizations_records_are_not_found,
    the_activity_log_shows_who_changed_what_through_which_channel,
    a_control_page_shows_the_catalog_and_saves_the_overlay,
    endpoints_are_enrolled_watched_and_retired_from_their_pages,
    every_use_case_has_a_page_from_the_registry,
    the_account_page_changes_the_password_and_ends_other_sessions,
    page_views_are_counted_without_identifying_anyone_and_never_against_dnt,
    expired_sessions_and_page_views_are_forgotten,
    the_dashboards_posture_numbers_open_the_lists_behind_them,
    the_ssp_page_edits_the_system_profile_it_shows,
    an_edit_over_a_newer_change_is_refused_and_keeps_what_was_typed
);

/// A client that shows redirects instead of following them, as a test of a browser's view.
pub(crate) fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// What a page request answered.
pub(crate) struct Seen {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: HeaderMap,
    pub body: String,
}

pub(crate) async fn seen(res: reqwest::Response) -> Seen {
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

pub(crate) fn cookie_header(secret: &str) -> String {
    format!("{}={secret}", tater_web::SESSION_COOKIE)
}

pub(crate) async fn page(app: &TestApp, secret: Option<&str>, path: &str) -> Seen {
    let mut req = no_redirects().get(app.url(path));
    if let Some(s) = secret {
        req = req.header("cookie", cookie_header(s));
    }
    seen(req.send().await.unwrap()).await
}

/// Posts a form as a browser on this origin would (`Sec-Fetch-Site: same-origin`), plus
/// `headers`.
pub(crate) async fn post(
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

/// The sign-in form as a browser gets it: its login-CSRF token, which the page also sets
/// in the `SIGN_IN_COOKIE` it gives the browser.
pub(crate) async fn sign_in_form(app: &TestApp) -> String {
    let form = page(app, None, tater_web::SIGN_IN_PATH).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let token = value_of(&form.body, "_signin");
    let cookie = form.headers["set-cookie"].to_str().unwrap();
    assert_eq!(
        cookie.split(';').next(),
        Some(format!("{}={token}", tater_web::SIGN_IN_COOKIE).as_str()),
        "{cookie}"
    );
    token
}

/// Posts the sign-in form with `fields` as the browser that loaded it would: with the
/// form's token in the field and in the cookie, plus `headers`.
pub(crate) async fn post_sign_in(
    app: &TestApp,
    fields: &[(&str, &str)],
    headers: &[(&'static str, &str)],
) -> Seen {
    let token = sign_in_form(app).await;
    let cookie = format!("{}={token}", tater_web::SIGN_IN_COOKIE);
    let mut fields = fields.to_vec();
    fields.push(("_signin", &token));
    let mut headers = headers.to_vec();
    headers.push(("cookie", &cookie));
    post(app, None, tater_web::SIGN_IN_PATH, &fields, &headers).await
}

/// Signs `email` in through the form; the session cookie's secret.
pub(crate) async fn sign_in(app: &TestApp, email: &str) -> String {
    let res = post_sign_in(app, &[("email", email), ("password", TEST_PASSWORD)], &[]).await;
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
pub(crate) fn csrf_of(body: &str) -> String {
    value_of(body, "_csrf")
}

/// The value of the page's first input named `name`.
fn value_of(body: &str, name: &str) -> String {
    let field = format!("name=\"{name}\" value=\"");
    let at = body.find(&field).expect("a form with the field") + field.len();
    body[at..].split('"').next().unwrap().to_owned()
}

/// A server on `clock` whose web sessions end after `idle` seconds without a request and
/// `absolute` seconds after sign-in.
pub(crate) async fn with_session_times(
    db: TestDb,
    clock: Arc<ShiftedClock>,
    idle: i64,
    absolute: i64,
) -> TestApp {
    TestApp::spawn_configured(db, move |c| {
        c.clock = clock;
        c.web_sessions = tater_service::WebSessionConfig {
            idle_secs: idle,
            absolute_secs: absolute,
        };
    })
    .await
}

pub(crate) fn is_sign_in_redirect(s: &Seen) -> bool {
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
    let wrong = post_sign_in(
        &app,
        &[("email", "ann@web.test"), ("password", "not the password")],
        &[],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::OK, "the form again");
    assert!(wrong.body.contains("do not match an account"));
    assert!(wrong.body.contains("value=\"ann@web.test\""));
    assert!(wrong.headers.get("set-cookie").is_none());

    let res = post_sign_in(
        &app,
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
    assert!(!dash.body.contains("style="));
    // The two scripts are htmx (vendored) and the page-view beacon, from this origin under
    // their hashed names; htmx is told by a meta tag to inject no style and evaluate nothing.
    let scripts: Vec<&str> = dash.body.split("<script").skip(1).collect();
    assert_eq!(scripts.len(), 2, "{}", dash.body);
    assert!(
        scripts[0]
            .trim_start()
            .starts_with("src=\"/assets/htmx.min.")
    );
    assert!(scripts[1].trim_start().starts_with("src=\"/assets/beacon."));
    for setting in [
        r#""includeIndicatorStyles":false"#,
        r#""allowEval":false"#,
        r#""historyCacheSize":0"#,
    ] {
        assert!(dash.body.contains(setting), "{setting}");
    }
    let at = dash.body.find("/assets/htmx.min.").unwrap();
    let htmx = dash.body[at..].split('"').next().unwrap();
    let res = app.client.get(app.url(htmx)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("htmx"));

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
    let app = with_session_times(db, clock.clone(), 120, 300).await;
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

/// Login CSRF from a browser that sends no `Sec-Fetch-Site` (Safari before 16.4): a post
/// from a sandboxed frame says `Origin: null`, as this site's own form does under its
/// `no-referrer` policy, so only the form's token, held in a `Strict` cookie, tells them apart.
async fn the_sign_in_form_needs_the_token_its_browser_holds(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Login CSRF").await;
    app.person(org, "ann@csrf.test", Role::Admin).await;
    let old_browser = |fields: Vec<(&'static str, String)>, cookie: Option<String>| {
        let app = &app;
        async move {
            let mut req = no_redirects()
                .post(app.url(tater_web::SIGN_IN_PATH))
                .header("origin", "null")
                .form(&fields);
            if let Some(c) = cookie {
                req = req.header("cookie", format!("{}={c}", tater_web::SIGN_IN_COOKIE));
            }
            seen(req.send().await.unwrap()).await
        }
    };
    let credentials = || {
        vec![
            ("email", "ann@csrf.test".to_owned()),
            ("password", TEST_PASSWORD.to_owned()),
        ]
    };
    let with_token = |token: &str| {
        let mut fields = credentials();
        fields.push(("_signin", token.to_owned()));
        fields
    };
    let signed_in = |s: &Seen| {
        s.headers.get_all("set-cookie").iter().any(|c| {
            c.to_str()
                .unwrap()
                .starts_with("__Host-tater_session=tater_web_")
        })
    };
    let attackers = sign_in_form(&app).await;
    let victims = sign_in_form(&app).await;
    assert_ne!(attackers, victims, "each browser has its own token");

    // Another site's post: no token; the attacker's own token against the victim's cookie;
    // the attacker's token where the victim's browser holds none; a token not of this
    // server's shape on both sides.
    for (fields, cookie) in [
        (credentials(), None),
        (credentials(), Some(victims.clone())),
        (with_token(&attackers), Some(victims.clone())),
        (with_token(&attackers), None),
        (with_token("x"), Some("x".to_owned())),
    ] {
        let res = old_browser(fields, cookie).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
        assert!(!signed_in(&res));
        // A person who reaches this page can sign in from it: the form again, with a token
        // the browser holds (its own, or a new one it is given).
        assert!(res.body.contains("out of date"), "{}", res.body);
        assert!(res.body.contains("value=\"ann@csrf.test\""));
        let token = value_of(&res.body, "_signin");
        let given = res.headers.get("set-cookie").map(|c| c.to_str().unwrap());
        let held =
            given.is_none_or(|c| c.starts_with(&format!("{}={token};", tater_web::SIGN_IN_COOKIE)));
        assert!(held, "{given:?} for {token}");
    }
    assert_eq!(
        page(&app, None, "/app").await.status,
        StatusCode::SEE_OTHER,
        "nobody is signed in"
    );

    // The same old browser on this site, with its form's token: signed in, and the token
    // is forgotten with its work done.
    let res = old_browser(with_token(&victims), Some(victims.clone())).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(signed_in(&res));
    let cleared = format!("{}=;", tater_web::SIGN_IN_COOKIE);
    assert!(
        res.headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with(&cleared)
                && c.to_str().unwrap().contains("Max-Age=0"))
    );
    // The token's cookie: out of script's reach, and never sent on another site's post.
    let form = page(&app, None, tater_web::SIGN_IN_PATH).await;
    let cookie = form.headers["set-cookie"].to_str().unwrap();
    for part in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.split("; ").any(|p| p == part), "{part} in {cookie}");
    }
    // A second tab's form keeps the token the browser holds, so the first tab's still works.
    let held = value_of(&form.body, "_signin");
    let second = no_redirects()
        .get(app.url(tater_web::SIGN_IN_PATH))
        .header("cookie", format!("{}={held}", tater_web::SIGN_IN_COOKIE))
        .send()
        .await
        .unwrap();
    assert!(second.headers().get("set-cookie").is_none());
    assert_eq!(value_of(&second.text().await.unwrap(), "_signin"), held);
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
    // Another site cannot sign a browser in either (login CSRF), even one holding a token.
    let res = post_sign_in(
        &app,
        &[("email", "ann@forms.test"), ("password", TEST_PASSWORD)],
        &[("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.headers.get("set-cookie").is_none());
    // A link on another site starts no export, download or log check in the person's name;
    // the same link followed on this site (or typed) does.
    for path in [
        "/app/poam/export?format=csv",
        "/app/activity/export?format=csv",
        "/app/activity/verify",
        "/app/ssp/download?format=docx",
        "/app/actions/export_ssp?format=docx&_download=1",
    ] {
        for (site, expected) in [
            ("cross-site", StatusCode::FORBIDDEN),
            ("same-site", StatusCode::FORBIDDEN),
            ("same-origin", StatusCode::OK),
            ("none", StatusCode::OK),
        ] {
            let res = no_redirects()
                .get(app.url(path))
                .header("cookie", cookie_header(&ann))
                .header("sec-fetch-site", site)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), expected, "{path} from {site}");
        }
    }
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

/// A record's JSON as the fields of its form: lists comma-separated, objects as numbered rows.
fn form_pairs(body: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, v) in body.as_object().unwrap() {
        match v {
            Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    for (sub, sv) in item.as_object().unwrap() {
                        out.push((format!("{name}[{i}].{sub}"), text(sv)));
                    }
                }
            }
            other => out.push((name.clone(), text(other))),
        }
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Posts `pairs` and the session's CSRF token (taken from `page_path`).
async fn submit(
    app: &TestApp,
    secret: &str,
    page_path: &str,
    action: &str,
    pairs: &[(String, String)],
) -> Seen {
    let token = csrf_of(&page(app, Some(secret), page_path).await.body);
    let mut fields: Vec<(&str, &str)> = vec![("_csrf", token.as_str())];
    fields.extend(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    post(app, Some(secret), action, &fields, &[]).await
}

/// The record page offers exactly the moves an Admin who created the record may make, and one
/// of them moves it (audited as made on the web).
async fn moves_from_the_record_page(
    app: &TestApp,
    secret: &str,
    bearer: &Key,
    def: &tater_domain::module::ModuleDef,
    flow: &tater_domain::module::Flow,
    at: &str,
    id: &str,
) {
    let shown = page(app, Some(secret), at).await;
    assert!(
        shown.body.contains(&format!("Status: {}", flow.initial)),
        "{at}"
    );
    let mut made = None;
    for t in flow.from(flow.initial) {
        let offered = t.role <= Role::Admin && !t.not_requester;
        let button = format!("name=\"to\" value=\"{}\"", t.to.replace('&', "&#38;"));
        assert_eq!(
            shown.body.contains(&button),
            offered,
            "{at}: move to {}",
            t.to
        );
        if offered && made.is_none() {
            made = Some(t.to);
        }
    }
    let Some(to) = made else { return };
    let pairs = [
        ("to".to_owned(), to.to_owned()),
        ("comment".to_owned(), "from the page".to_owned()),
    ];
    let moved = submit(app, secret, at, &format!("{at}/transitions"), &pairs).await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{at}: {}", moved.body);
    let (_, record) = app.get(&format!("/api/{}/{id}", def.name), bearer).await;
    assert_eq!(record[flow.field], to, "{at}");
    let (_, history) = app
        .get(&format!("/api/{}/{id}/transitions", def.name), bearer)
        .await;
    assert_eq!(history["items"][0]["comment"], "from the page");
    let shown = page(app, Some(secret), at).await;
    assert!(
        shown.body.contains("from the page"),
        "{at}: the history shows the move"
    );
}

/// Links made from the record page (a record by its title, a control by its id), shown on
/// the record's and the control's pages, and removed by the record page's button.
async fn links_from_the_record_page(
    app: &TestApp,
    secret: &str,
    bearer: &Key,
    def: &tater_domain::module::ModuleDef,
    at: &str,
    id: &str,
    hub: &str,
) {
    // What the record came with (a finding's corrective-action task) stays linked.
    let links_of = format!("/api/{}/{id}/links", def.name);
    let (_, before) = app.get(&links_of, bearer).await;
    let came_with = before["items"].as_array().unwrap().len();
    for (module, which) in [("risks", "hub RISK"), ("controls", "AC-2")] {
        let pairs = [
            ("module".to_owned(), module.to_owned()),
            ("target".to_owned(), which.to_owned()),
        ];
        let linked = submit(app, secret, at, &format!("{at}/links"), &pairs).await;
        assert_eq!(
            linked.status,
            StatusCode::SEE_OTHER,
            "{at}: {}",
            linked.body
        );
    }
    let shown = page(app, Some(secret), at).await;
    assert!(
        shown
            .body
            .contains(&format!("href=\"/app/risks/{hub}\">Hub risk</a>")),
        "{at}: the record page lists the linked risk"
    );
    let control = page(app, Some(secret), "/app/controls/ac-2").await;
    assert!(
        control.body.contains(&format!("href=\"{at}\"")),
        "{at}: the control's page lists the record"
    );
    let (_, links) = app.get(&links_of, bearer).await;
    let to_control = links["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["to"]["module"] == "controls")
        .and_then(|l| l["id"].as_str())
        .unwrap()
        .to_owned();
    let unlinked = submit(
        app,
        secret,
        at,
        &format!("{at}/links/{to_control}/delete"),
        &[],
    )
    .await;
    assert_eq!(
        unlinked.status,
        StatusCode::SEE_OTHER,
        "{at}: {}",
        unlinked.body
    );
    let (_, links) = app.get(&links_of, bearer).await;
    assert_eq!(
        links["items"].as_array().unwrap().len(),
        came_with + 1,
        "{at}: {links}"
    );
}

async fn a_link_by_a_title_several_records_share_names_them_and_links_nothing(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Ambiguous").await;
    let bearer = app.person(org, "ann@amb.test", Role::Admin).await;
    let secret = sign_in(&app, "ann@amb.test").await;
    for title in ["Backup gap east", "Backup gap west"] {
        app.create(
            "risks",
            &bearer,
            json!({ "title": title, "likelihood": 2, "impact": 2 }),
        )
        .await;
    }
    let task = app.create("tasks", &bearer, sample("tasks", 1)).await;
    let at = format!("/app/tasks/{}", task["id"].as_str().unwrap());
    let tries = [
        ("risks", "backup gap", "several Risks match (Backup gap"),
        ("risks", "nothing like it", "no Risk has"),
        ("controls", "zz-99", "is not a control of the catalog"),
    ];
    for (module, which, says) in tries {
        let pairs = [
            ("module".to_owned(), module.to_owned()),
            ("target".to_owned(), which.to_owned()),
        ];
        let tried = submit(&app, &secret, &at, &format!("{at}/links"), &pairs).await;
        assert_eq!(tried.status, StatusCode::BAD_REQUEST, "{which}");
        assert!(tried.body.contains(says), "{which}: {}", tried.body);
    }
    let (_, links) = app
        .get(
            &format!("/api/tasks/{}/links", task["id"].as_str().unwrap()),
            &bearer,
        )
        .await;
    assert_eq!(links["items"], json!([]));
}

async fn every_module_has_pages_from_its_declaration_alone(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Pages").await;
    let bearer = app.person(org, "ann@pages.test", Role::Admin).await;
    let secret = sign_in(&app, "ann@pages.test").await;
    let hub = app
        .create(
            "risks",
            &bearer,
            json!({ "title": "Hub risk", "likelihood": 2, "impact": 2 }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for def in tater_domain::modules::ALL {
        let base = format!("/app/{}", def.name);
        let list = page(&app, Some(&secret), &base).await;
        assert_eq!(list.status, StatusCode::OK, "{base}");
        assert!(list.body.contains(def.plural) && list.body.contains("New "));
        let form = page(&app, Some(&secret), &format!("{base}/new")).await;
        for f in def.fields {
            // A flow's status moves by the record page's buttons, never by the form.
            let by_flow = def.flow.is_some_and(|flow| flow.field == f.name);
            let offered = if by_flow {
                form.body.contains(&format!("name=\"{}\"", f.name))
            } else {
                form.body.contains(f.label)
            };
            assert_eq!(offered, !by_flow, "{base}: the form offers {}", f.name);
        }

        // Created from the form: the same record REST returns, audited as made on the web.
        let created = submit(
            &app,
            &secret,
            &format!("{base}/new"),
            &base,
            &form_pairs(&sample(def.name, 1)),
        )
        .await;
        assert_eq!(
            created.status,
            StatusCode::SEE_OTHER,
            "{base}: {}",
            created.body
        );
        let at = created.location.unwrap();
        let id = at.rsplit('/').next().unwrap().to_owned();
        let (s, record) = app.get(&format!("/api/{}/{id}", def.name), &bearer).await;
        assert_eq!(s, StatusCode::OK, "{record}");
        let label = label_field(def.name);
        assert_eq!(record[label], sample(def.name, 1)[label]);
        let shown = page(&app, Some(&secret), &at).await;
        assert!(shown.body.contains(record[label].as_str().unwrap()));
        assert!(shown.body.contains("Edit") && shown.body.contains("Delete"));
        let pairs = [("body".to_owned(), "Noted <b>here</b>".to_owned())];
        let said = submit(&app, &secret, &at, &format!("{at}/comments"), &pairs).await;
        assert_eq!(said.status, StatusCode::SEE_OTHER, "{at}: {}", said.body);
        let shown = page(&app, Some(&secret), &at).await;
        assert!(
            shown.body.contains("Noted &#60;b&#62;here&#60;/b&#62;"),
            "{at}: the comment, escaped"
        );
        links_from_the_record_page(&app, &secret, &bearer, def, &at, &id, &hub).await;

        // Edited through its form, which shows what is stored.
        let edit = page(&app, Some(&secret), &format!("{at}/edit")).await;
        assert!(edit.body.contains(record[label].as_str().unwrap()));
        let updated = submit(
            &app,
            &secret,
            &format!("{at}/edit"),
            &at,
            &form_pairs(&changed(def.name, 2)),
        )
        .await;
        assert_eq!(
            updated.status,
            StatusCode::SEE_OTHER,
            "{base}: {}",
            updated.body
        );
        let (_, record) = app.get(&format!("/api/{}/{id}", def.name), &bearer).await;
        assert_eq!(record[label], "Changed 2", "{base}");
        // Moved from its page (after the edit: a decided record changes only by its moves).
        if let Some(flow) = def.flow {
            moves_from_the_record_page(&app, &secret, &bearer, def, flow, &at, &id).await;
        }

        // Deleted after a confirmation page.
        let confirm = page(&app, Some(&secret), &format!("{at}/delete")).await;
        assert!(confirm.body.contains("will be deleted"), "{base}");
        let deleted = submit(
            &app,
            &secret,
            &format!("{at}/delete"),
            &format!("{at}/delete"),
            &[],
        )
        .await;
        assert_eq!(deleted.location.as_deref(), Some(base.as_str()));
        let (s, _) = app.get(&format!("/api/{}/{id}", def.name), &bearer).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // Each change is in the audit log, made through the web.
        let (_, log) = app
            .get(&format!("/api/audit-log?entityId={id}"), &bearer)
            .await;
        let actions: Vec<(&str, &str)> = log["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["action"].as_str().unwrap(), e["via"].as_str().unwrap()))
            .collect();
        // A module whose flow lets an Admin requester move its records made one move too.
        let moved = def.flow.is_some_and(|flow| {
            flow.from(flow.initial)
                .any(|t| t.role <= Role::Admin && !t.not_requester)
        });
        let mut expected = vec![("delete", "web")];
        if moved {
            expected.push(("transition", "web"));
        }
        expected.extend([("update", "web"), ("create", "web")]);
        assert_eq!(actions, expected, "{base}");
    }
}

async fn a_form_with_errors_keeps_what_was_typed_and_saves_nothing(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Typos").await;
    let bearer = app.person(org, "ann@typos.test", Role::Admin).await;
    let secret = sign_in(&app, "ann@typos.test").await;
    let typed = vec![
        ("title".to_owned(), String::new()),
        (
            "weaknessDescription".to_owned(),
            "Typed <b>with care</b>".to_owned(),
        ),
        ("impact".to_owned(), "High".to_owned()),
        (
            "milestones[0].description".to_owned(),
            "First step".to_owned(),
        ),
        ("milestones[0].status".to_owned(), "Open".to_owned()),
        (
            "milestones[0].scheduledCompletion".to_owned(),
            "2031-02-30".to_owned(),
        ),
        // A blank row (its status still at the default) adds nothing.
        ("milestones[1].description".to_owned(), String::new()),
        ("milestones[1].status".to_owned(), "Open".to_owned()),
    ];
    let res = submit(&app, &secret, "/app/poam/new", "/app/poam", &typed).await;
    assert_eq!(res.status, StatusCode::OK, "the form again");
    assert!(res.body.contains("Nothing was saved"));
    // The errors are at their fields, and what was typed is still there (escaped).
    assert!(res.body.contains("id=\"e-title\""), "{}", res.body);
    assert!(
        res.body
            .contains("id=\"e-milestones[0].scheduledCompletion\"")
    );
    assert!(res.body.contains("Typed &") && !res.body.contains("<b>with care"));
    assert!(res.body.contains("value=\"First step\"") || res.body.contains(">First step<"));
    let (_, list) = app.get("/api/poam", &bearer).await;
    assert_eq!(list["items"], json!([]));
}

async fn a_viewer_is_offered_no_changes_and_a_forged_post_is_refused(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Readers").await;
    let admin = app.person(org, "admin@readers.test", Role::Admin).await;
    app.person(org, "viewer@readers.test", Role::Viewer).await;
    let record = app.create("poam", &admin, sample("poam", 1)).await;
    let id = record["id"].as_str().unwrap();
    let viewer = sign_in(&app, "viewer@readers.test").await;
    let list = page(&app, Some(&viewer), "/app/poam").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.body.contains("/app/poam/new"));
    let shown = page(&app, Some(&viewer), &format!("/app/poam/{id}")).await;
    assert!(shown.body.contains("POAM 1"));
    assert!(!shown.body.contains("/edit") && !shown.body.contains("/delete"));
    assert_eq!(
        page(&app, Some(&viewer), "/app/poam/new").await.status,
        StatusCode::FORBIDDEN
    );
    // A post with the viewer's own valid token: the service refuses it all the same.
    let forged = submit(
        &app,
        &viewer,
        "/app/poam",
        "/app/poam",
        &form_pairs(&sample("poam", 2)),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let deleting = submit(
        &app,
        &viewer,
        "/app/poam",
        &format!("/app/poam/{id}/delete"),
        &[],
    )
    .await;
    assert_eq!(deleting.status, StatusCode::FORBIDDEN);
    let (_, all) = app.get("/api/poam", &admin).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    // Scripts are read by Auditors and above: a Viewer is not offered them.
    assert!(!list.body.contains("/app/scripts"));
    assert_eq!(
        page(&app, Some(&viewer), "/app/scripts").await.status,
        StatusCode::FORBIDDEN
    );
}

async fn filters_paging_and_downloads_keep_the_list_as_shown(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Lists").await;
    let admin = app.person(org, "ann@lists.test", Role::Admin).await;
    for (n, impact) in [(1, "High"), (2, "Low"), (3, "High")] {
        let mut body = sample("poam", n);
        body["impact"] = json!(impact);
        app.create("poam", &admin, body).await;
    }
    let secret = sign_in(&app, "ann@lists.test").await;
    let high = page(&app, Some(&secret), "/app/poam?impact=High&q=&sort=title").await;
    assert_eq!(high.status, StatusCode::OK);
    let rows = high.body.matches("<tr><td><a href=\"/app/poam/").count();
    assert_eq!(rows, 2, "{}", high.body);
    assert!(high.body.find("POAM 1").unwrap() < high.body.find("POAM 3").unwrap());
    // A filter that is not valid is shown at its field, not an error page.
    let bad = page(
        &app,
        Some(&secret),
        "/app/poam?scheduledCompletion.gte=soon",
    )
    .await;
    assert_eq!(bad.status, StatusCode::OK);
    assert!(
        bad.body.contains("id=\"e-scheduledCompletion.gte\""),
        "{}",
        bad.body
    );
    // Keyset paging: one per page, then the next.
    let first = page(
        &app,
        Some(&secret),
        "/app/poam?impact=High&sort=title&limit=1",
    )
    .await;
    let at = first
        .body
        .find("rel=\"next\"")
        .map(|i| &first.body[..i])
        .unwrap();
    let next = at
        .rsplit("href=\"")
        .next()
        .unwrap()
        .trim_end_matches("\" ")
        .replace("&#38;", "&");
    let second = page(&app, Some(&secret), &next).await;
    assert!(
        second.body.contains("POAM 3") && !second.body.contains("POAM 1"),
        "{next}"
    );
    // The CSV download keeps the filters, and comes from the same export as REST.
    let csv_link = high
        .body
        .split("href=\"")
        .find(|s| s.starts_with("/app/poam/export?"))
        .unwrap();
    let csv_link = csv_link.split('"').next().unwrap().replace("&#38;", "&");
    assert!(
        csv_link.contains("impact=High") && csv_link.contains("format=csv"),
        "{csv_link}"
    );
    let res = page(&app, Some(&secret), &csv_link).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let rest = app
        .req(
            Method::GET,
            "/api/poam/export?impact=High&sort=title&format=csv",
            &admin,
        )
        .send()
        .await
        .unwrap();
    let rest = rest.text().await.unwrap();
    assert_eq!(res.body.lines().count(), 3, "{}", res.body);
    assert_eq!(res.body.lines().next(), rest.lines().next());
    // Downloads need a session like any page.
    assert!(is_sign_in_redirect(&page(&app, None, &csv_link).await));
    every_poam_download_keeps_the_filter(&app, &secret, &admin, &high.body).await;
}

/// The POA&M list's downloads besides CSV: JSON, OSCAL and the eMASS workbook in each of
/// its four layouts, each the REST export of the list as filtered (and not of all items).
async fn every_poam_download_keeps_the_filter(app: &TestApp, secret: &str, key: &Key, list: &str) {
    let links: Vec<String> = list
        .split("href=\"")
        .filter(|s| s.starts_with("/app/poam/export?"))
        .map(|s| s.split('"').next().unwrap().replace("&#38;", "&"))
        .collect();
    let format_of = |link: &str| {
        let url = reqwest::Url::parse(&format!("http://page{link}")).unwrap();
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("impact").as_deref(), Some("High"), "{link}");
        match get("layout") {
            Some(layout) => format!("{}:{layout}", get("format").unwrap()),
            None => get("format").unwrap(),
        }
    };
    let formats: Vec<String> = links.iter().map(|l| format_of(l)).collect();
    assert_eq!(
        formats,
        [
            "csv",
            "json",
            "oscal-json",
            "emass-xlsx:navy",
            "emass-xlsx:army",
            "emass-xlsx:marine-corps",
            "emass-xlsx:legacy"
        ]
    );
    let rest = |query: String| async move {
        let res = app.req(Method::GET, &format!("/api/poam/export?{query}"), key);
        res.send().await.unwrap().bytes().await.unwrap().to_vec()
    };
    for link in links.iter().skip(1) {
        let res = no_redirects()
            .get(app.url(link))
            .header("cookie", cookie_header(secret))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{link}");
        let disposition = res.headers()["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment"),
            "{link}: {disposition}"
        );
        let web = res.bytes().await.unwrap().to_vec();
        let query = link.split_once('?').unwrap().1.to_owned();
        let everything: String = query
            .split('&')
            .filter(|p| !p.starts_with("impact="))
            .collect::<Vec<_>>()
            .join("&");
        let (same, all) = (rest(query).await, rest(everything).await);
        let content = |bytes: &[u8]| -> Value {
            if bytes.starts_with(b"PK") {
                let mut book: calamine::Xlsx<_> =
                    calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
                let sheet = calamine::Reader::worksheet_range(&mut book, "POA&M").unwrap();
                json!(
                    sheet
                        .rows()
                        .map(|r| r.iter().map(|c| c.to_string()).collect::<Vec<_>>())
                        .collect::<Vec<_>>()
                )
            } else {
                let doc: Value = serde_json::from_slice(bytes).unwrap();
                let items = &doc["plan-of-action-and-milestones"]["poam-items"];
                if items.is_array() { items.clone() } else { doc }
            }
        };
        assert_eq!(content(&web), content(&same), "{link}: the REST export's");
        assert_ne!(content(&web), content(&all), "{link}: filtered");
    }
}

async fn another_organizations_records_are_not_found(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let mine = app.org("Mine").await;
    let theirs = app.org("Theirs").await;
    app.person(mine, "ann@mine.test", Role::OrgAdmin).await;
    let them = app.person(theirs, "bob@theirs.test", Role::OrgAdmin).await;
    let record = app.create("poam", &them, sample("poam", 1)).await;
    let id = record["id"].as_str().unwrap();
    let secret = sign_in(&app, "ann@mine.test").await;
    for path in [
        format!("/app/poam/{id}"),
        format!("/app/poam/{id}/edit"),
        format!("/app/poam/{id}/delete"),
    ] {
        let seen = page(&app, Some(&secret), &path).await;
        assert_eq!(seen.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!seen.body.contains("POAM 1"));
    }
    let edit = submit(
        &app,
        &secret,
        "/app/poam",
        &format!("/app/poam/{id}"),
        &form_pairs(&changed("poam", 9)),
    )
    .await;
    assert_eq!(edit.status, StatusCode::NOT_FOUND);
    let delete = submit(
        &app,
        &secret,
        "/app/poam",
        &format!("/app/poam/{id}/delete"),
        &[],
    )
    .await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND);
    let (_, still) = app.get(&format!("/api/poam/{id}"), &them).await;
    assert_eq!(still["title"], "POAM 1");
}

async fn the_activity_log_shows_who_changed_what_through_which_channel(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Activity").await;
    app.person(org, "ann@activity.test", Role::Admin).await;
    app.person(org, "audrey@activity.test", Role::Auditor).await;
    app.person(org, "vic@activity.test", Role::Viewer).await;
    let key = app.member(org, "robot@activity.test", Role::Admin).await;
    let ann = sign_in(&app, "ann@activity.test").await;
    let made = submit(
        &app,
        &ann,
        "/app/poam/new",
        "/app/poam",
        &form_pairs(&sample("poam", 1)),
    )
    .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER);
    app.create("risks", &key, sample("risks", 1)).await;

    let auditor = sign_in(&app, "audrey@activity.test").await;
    let all = page(&app, Some(&auditor), "/app/activity").await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(all.body.contains("<td class=\"via\">web</td>"));
    assert!(all.body.contains("<td class=\"via\">api</td>"));
    assert!(all.body.contains("ann@activity.test"));
    let web_only = page(&app, Some(&auditor), "/app/activity?via=web&action=create").await;
    let vias: Vec<&str> = web_only
        .body
        .split("<td class=\"via\">")
        .skip(1)
        .map(|s| s.split('<').next().unwrap())
        .collect();
    assert_eq!(vias, ["web"], "{}", web_only.body);
    // The record's entry links to its page.
    let link = made.location.unwrap();
    assert!(web_only.body.contains(&format!("href=\"{link}\"")));
    // A name in the log filters it to that person's entries.
    let name = "\">ann@activity.test</a>";
    let at = web_only.body.find(name).unwrap();
    let start = web_only.body[..at].rfind("href=\"").unwrap() + 6;
    let hers = web_only.body[start..at].replace("&#38;", "&");
    assert!(hers.starts_with("/app/activity?userId="), "{hers}");
    let only_hers = page(&app, Some(&auditor), &hers).await;
    assert!(only_hers.body.contains("ann@activity.test"));
    assert!(!only_hers.body.contains("robot@activity.test"));
    // A filter the log does not know is said so.
    let bad = page(&app, Some(&auditor), "/app/activity?via=telepathy").await;
    assert!(bad.body.contains("not valid"), "{}", bad.body);

    let check = page(&app, Some(&auditor), "/app/activity/verify").await;
    assert!(check.body.contains("The log verifies"), "{}", check.body);
    let csv = page(
        &app,
        Some(&auditor),
        "/app/activity/export?via=api&format=csv",
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert!(
        csv.body.lines().skip(1).all(|l| l.contains(",api,")),
        "{}",
        csv.body
    );

    // Viewers read records, not the log: not offered, and refused.
    let viewer = sign_in(&app, "vic@activity.test").await;
    assert!(
        !page(&app, Some(&viewer), "/app")
            .await
            .body
            .contains("/app/activity")
    );
    assert_eq!(
        page(&app, Some(&viewer), "/app/activity").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        page(&app, Some(&viewer), "/app/activity/export?format=csv")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

async fn a_control_page_shows_the_catalog_and_saves_the_overlay(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Controls").await;
    let bearer = app.person(org, "ann@controls.test", Role::Admin).await;
    app.person(org, "vic@controls.test", Role::Viewer).await;
    let secret = sign_in(&app, "ann@controls.test").await;
    let list = page(
        &app,
        Some(&secret),
        "/app/controls?framework=nist-800-53-rev5-moderate&family=ac&q=",
    )
    .await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("href=\"/app/controls/ac-2\""));
    assert!(!list.body.contains("href=\"/app/controls/sc-7\""));

    // Evidence coverage: a column, a filter, and the count on the control's page.
    let proof = app
        .create(
            "evidence",
            &bearer,
            json!({ "title": "Account review", "controls": ["ac-2"] }),
        )
        .await;
    let at = format!(
        "/api/evidence/{}/transitions",
        proof["id"].as_str().unwrap()
    );
    let (status, _) = app
        .send(Method::POST, &at, &bearer, &json!({ "to": "accepted" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let covered = page(
        &app,
        Some(&secret),
        "/app/controls?family=ac&evidence=covered",
    )
    .await;
    assert!(covered.body.contains("href=\"/app/controls/ac-2\""));
    assert!(!covered.body.contains("href=\"/app/controls/ac-3\""));
    assert!(covered.body.contains("<td class=\"evidence\">1</td>"));
    assert!(covered.body.contains("<option value=\"covered\" selected>"));

    let control = page(&app, Some(&secret), "/app/controls/ac-2").await;
    assert!(control.body.contains("id=\"evidence\">1 current"));
    assert!(control.body.contains("Account Management"));
    assert!(
        control
            .body
            .contains("Define and document the types of accounts")
    );
    assert!(
        control
            .body
            .contains("href=\"/app/poam/new?controls=AC-2\"")
    );
    let prefilled = page(&app, Some(&secret), "/app/poam/new?controls=AC-2").await;
    assert!(
        prefilled
            .body
            .contains("name=\"controls\" type=\"text\" value=\"AC-2\"")
    );

    // The overlay form saves through the same use case as PUT /api/controls/{id}/overlay.
    let (_, rest) = app.get("/api/controls/ac-2", &bearer).await;
    let param = rest["params"][0]["id"].as_str().unwrap().to_owned();
    let fields = vec![
        ("implementationStatus".to_owned(), "implemented".to_owned()),
        (
            "narrative".to_owned(),
            "Accounts come from the HR feed.".to_owned(),
        ),
        (
            "responsibleRoles".to_owned(),
            "Identity Team, HR".to_owned(),
        ),
        (
            format!("parameterValues.{param}"),
            "quarterly review".to_owned(),
        ),
        ("version".to_owned(), String::new()),
    ];
    let saved = post_overlay(&app, &secret, &fields).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, stored) = app.get("/api/controls/ac-2", &bearer).await;
    assert_eq!(stored["implementationStatus"], "implemented");
    assert_eq!(stored["responsibleRoles"], json!(["Identity Team", "HR"]));
    assert_eq!(stored["params"][0]["value"], "quarterly review");
    let (_, log) = app
        .get("/api/audit-log?entityType=control-overlay", &bearer)
        .await;
    assert_eq!(log["items"][0]["via"], "web", "{log}");

    // Not applicable needs a justification: said at the field, nothing saved, nothing lost.
    let fields = vec![
        ("applicability".to_owned(), "not-applicable".to_owned()),
        ("narrative".to_owned(), "Kept while correcting".to_owned()),
        ("version".to_owned(), "1".to_owned()),
    ];
    let refused = post_overlay(&app, &secret, &fields).await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(
        refused.body.contains("id=\"e-justification\""),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("Kept while correcting"));
    let (_, unchanged) = app.get("/api/controls/ac-2", &bearer).await;
    assert_eq!(unchanged["applicability"], "applicable");
    // A form older than the stored overlay does not overwrite it.
    let stale = vec![
        ("implementationStatus".to_owned(), "planned".to_owned()),
        ("version".to_owned(), "99".to_owned()),
    ];
    let conflict = post_overlay(&app, &secret, &stale).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT, "{}", conflict.body);

    // A Viewer reads the control, is offered no form, and cannot post one.
    let viewer = sign_in(&app, "vic@controls.test").await;
    let seen = page(&app, Some(&viewer), "/app/controls/ac-2").await;
    assert!(seen.body.contains("Account Management"));
    assert!(!seen.body.contains("/overlay") && !seen.body.contains("/app/poam/new"));
    let forged = post_overlay(&app, &viewer, &stale).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        page(&app, Some(&viewer), "/app/controls/xx-99")
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // A control named by more risks than its page lists says so, and links to them all.
    let few = page(&app, Some(&viewer), "/app/controls/ac-3").await;
    assert!(!few.body.contains("Every risk naming this control"));
    for n in 0..101 {
        let body = json!({ "title": format!("Access risk {n}"), "controls": ["AC-3"] });
        app.create("risks", &bearer, body).await;
    }
    let many = page(&app, Some(&viewer), "/app/controls/ac-3").await;
    assert_eq!(many.body.matches("<li>Risk: ").count(), 100);
    assert!(
        many.body
            .contains("<a href=\"/app/risks?controls=ac-3\">Every risk naming this control</a>")
    );
}

/// Posts the AC-2 overlay form as the session `secret`.
async fn post_overlay(app: &TestApp, secret: &str, fields: &[(String, String)]) -> Seen {
    submit(
        app,
        secret,
        "/app/controls/ac-2",
        "/app/controls/ac-2/overlay",
        fields,
    )
    .await
}

async fn endpoints_are_enrolled_watched_and_retired_from_their_pages(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Fleet").await;
    app.person(org, "ann@fleet.test", Role::Admin).await;
    app.person(org, "vic@fleet.test", Role::Viewer).await;
    let secret = sign_in(&app, "ann@fleet.test").await;
    let fields = vec![
        ("label".to_owned(), "laptops".to_owned()),
        ("expiresInHours".to_owned(), "48".to_owned()),
        ("hostnames".to_owned(), String::new()),
    ];
    let created = submit(
        &app,
        &secret,
        "/app/endpoints/tokens",
        "/app/endpoints/tokens",
        &fields,
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let at = created.body.find("id=\"new-token\">").unwrap() + 15;
    let token = created.body[at..].split('<').next().unwrap().to_owned();
    assert!(token.starts_with("tater_enroll_"), "{token}");
    // Shown once: the list afterwards has only its prefix.
    let again = page(&app, Some(&secret), "/app/endpoints/tokens").await;
    assert!(!again.body.contains(&token) && again.body.contains("laptops"));
    // A bad number of hours is said at its field.
    let bad = vec![
        ("label".to_owned(), "x".to_owned()),
        ("expiresInHours".to_owned(), "soon".to_owned()),
    ];
    let refused = submit(
        &app,
        &secret,
        "/app/endpoints/tokens",
        "/app/endpoints/tokens",
        &bad,
    )
    .await;
    assert!(refused.body.contains("whole number of hours"));

    let (s, enrolled) = enroll(&app, &token, "web-01").await;
    assert_eq!(s, StatusCode::CREATED, "{enrolled}");
    let agent = Key::api(enrolled["apiKey"].as_str().unwrap().to_owned());
    let scan = report(
        &new_id(),
        "2026-11-29T09:00:00Z",
        &[("linux.ssh.root-login", "Fail")],
    );
    let (s, _) = app
        .send(Method::POST, "/api/agent/scans", &agent, &scan)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let list = page(&app, Some(&secret), "/app/endpoints?status=active").await;
    let id = enrolled["endpointId"].as_str().unwrap();
    assert!(
        list.body
            .contains(&format!("href=\"/app/endpoints/{id}\">web-01")),
        "{}",
        list.body
    );
    let detail = page(&app, Some(&secret), &format!("/app/endpoints/{id}")).await;
    assert!(
        detail.body.contains("linux.ssh.root-login: Fail"),
        "the evidence"
    );
    let retired = submit(
        &app,
        &secret,
        &format!("/app/endpoints/{id}"),
        &format!("/app/endpoints/{id}/retire"),
        &[],
    )
    .await;
    assert_eq!(retired.status, StatusCode::SEE_OTHER);
    let (s, _) = app
        .send(Method::POST, "/api/agent/scans", &agent, &scan)
        .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "a retired endpoint's credential stops working"
    );
    let detail = page(&app, Some(&secret), &format!("/app/endpoints/{id}")).await;
    assert!(detail.body.contains("retired") && !detail.body.contains("/retire\""));

    // Revoking a token from its row.
    let tokens = page(&app, Some(&secret), "/app/endpoints/tokens").await;
    let at = tokens.body.find("/app/endpoints/tokens/").unwrap();
    let revoke = tokens.body[at..].split('"').next().unwrap().to_owned();
    let res = submit(&app, &secret, "/app/endpoints/tokens", &revoke, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let (s, _) = enroll(&app, &token, "web-02").await;
    assert_ne!(s, StatusCode::CREATED, "a revoked token enrolls nothing");

    // A Viewer sees the fleet but not the tokens.
    let viewer = sign_in(&app, "vic@fleet.test").await;
    let seen = page(&app, Some(&viewer), "/app/endpoints").await;
    assert!(seen.body.contains("web-01") && !seen.body.contains("/app/endpoints/tokens"));
    assert_eq!(
        page(&app, Some(&viewer), "/app/endpoints/tokens")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

async fn every_use_case_has_a_page_from_the_registry(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Registry").await;
    let bearer = app.person(org, "boss@registry.test", Role::OrgAdmin).await;
    app.person(org, "vic@registry.test", Role::Viewer).await;
    let boss = sign_in(&app, "boss@registry.test").await;
    let index = page(&app, Some(&boss), "/app/actions").await;
    assert!(index.body.contains("/app/actions/create_api_key"));
    assert!(index.body.contains("/app/actions/list_members"));
    assert!(!index.body.contains("request_identity_verification"));

    // A change from its generated form; invalid input is said at the field.
    let empty = vec![("name".to_owned(), String::new())];
    let refused = submit(
        &app,
        &boss,
        "/app/actions/create_api_key",
        "/app/actions/create_api_key",
        &empty,
    )
    .await;
    assert!(refused.body.contains("id=\"e-name\""), "{}", refused.body);
    let fields = vec![
        ("name".to_owned(), "from the web".to_owned()),
        ("role".to_owned(), "viewer".to_owned()),
    ];
    let made = submit(
        &app,
        &boss,
        "/app/actions/create_api_key",
        "/app/actions/create_api_key",
        &fields,
    )
    .await;
    assert!(made.body.contains("id=\"done\""), "{}", made.body);
    let at = made.body.find("<dt>Key</dt><dd>").unwrap() + 16;
    let key = made.body[at..].split('<').next().unwrap().to_owned();
    let (s, me) = app.get("/api/me", &Key::api(key.clone())).await;
    assert_eq!(s, StatusCode::OK, "{me}");

    // A read runs at once; its rows offer their own changes.
    let keys = page(&app, Some(&boss), "/app/actions/list_api_keys").await;
    assert!(keys.body.contains("from the web"));
    let (_, listed) = app.get("/api/api-keys", &bearer).await;
    let id = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "from the web")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Revoking destroys: the row leads to the form, filled with the key's id, to confirm.
    let confirm = format!("/app/actions/revoke_api_key?id={id}");
    assert!(
        keys.body.contains(&format!("href=\"{confirm}\"")),
        "{}",
        keys.body
    );
    let form = page(&app, Some(&boss), &confirm).await;
    assert!(
        form.body.contains(&format!("value=\"{id}\"")),
        "{}",
        form.body
    );
    assert!(form.body.contains("class=\"danger\""));
    let fields = vec![("id".to_owned(), id.clone())];
    let revoked = submit(
        &app,
        &boss,
        "/app/actions/list_api_keys",
        "/app/actions/revoke_api_key",
        &fields,
    )
    .await;
    assert!(revoked.body.contains("id=\"done\""), "{}", revoked.body);
    assert_eq!(
        app.get("/api/me", &Key::api(key)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, log) = app
        .get(&format!("/api/audit-log?entityId={id}"), &bearer)
        .await;
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["via"] == "web"),
        "{log}"
    );

    // A checkbox turns a setting on.
    let on = vec![("remoteExecution".to_owned(), "on".to_owned())];
    let set = submit(
        &app,
        &boss,
        "/app/actions/update_settings",
        "/app/actions/update_settings",
        &on,
    )
    .await;
    assert!(set.body.contains("id=\"done\""), "{}", set.body);
    let (_, settings) = app.get("/api/settings", &bearer).await;
    assert_eq!(settings["remoteExecution"], true, "{settings}");

    // A Viewer is offered what a Viewer may do, and nothing else exists for them.
    let viewer = sign_in(&app, "vic@registry.test").await;
    let theirs = page(&app, Some(&viewer), "/app/actions").await;
    assert!(!theirs.body.contains("create_api_key") && theirs.body.contains("list_poam_items"));
    assert_eq!(
        page(&app, Some(&viewer), "/app/actions/create_api_key")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let forged = submit(
        &app,
        &viewer,
        "/app/actions",
        "/app/actions/update_settings",
        &[],
    )
    .await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND);
    let (_, settings) = app.get("/api/settings", &bearer).await;
    assert_eq!(settings["remoteExecution"], true);
}

async fn the_account_page_changes_the_password_and_ends_other_sessions(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Account").await;
    let bearer = app.person(org, "ann@account.test", Role::Viewer).await;
    let here = sign_in(&app, "ann@account.test").await;
    let elsewhere = sign_in(&app, "ann@account.test").await;
    let wrong = vec![
        ("currentPassword".to_owned(), "not it".to_owned()),
        (
            "newPassword".to_owned(),
            "an even longer new password".to_owned(),
        ),
    ];
    let refused = submit(&app, &here, "/app/account", "/app/account/password", &wrong).await;
    assert!(
        refused.body.contains("id=\"e-password\""),
        "{}",
        refused.body
    );
    assert_eq!(
        page(&app, Some(&elsewhere), "/app").await.status,
        StatusCode::OK
    );

    let right = vec![
        ("currentPassword".to_owned(), TEST_PASSWORD.to_owned()),
        (
            "newPassword".to_owned(),
            "an even longer new password".to_owned(),
        ),
    ];
    let changed = submit(&app, &here, "/app/account", "/app/account/password", &right).await;
    assert!(
        changed.body.contains("id=\"password-changed\""),
        "{}",
        changed.body
    );
    let cookie = changed.headers["set-cookie"].to_str().unwrap();
    let fresh = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    // This browser stays signed in with its new session; every other session and token ends.
    assert_eq!(
        page(&app, Some(&fresh), "/app").await.status,
        StatusCode::OK
    );
    assert!(is_sign_in_redirect(&page(&app, Some(&here), "/app").await));
    assert!(is_sign_in_redirect(
        &page(&app, Some(&elsewhere), "/app").await
    ));
    assert_eq!(
        app.get("/api/me", &bearer).await.0,
        StatusCode::UNAUTHORIZED
    );

    // The SSP downloads, as the REST route makes them.
    let word = page(&app, Some(&fresh), "/app/ssp/download?format=docx").await;
    assert_eq!(word.status, StatusCode::OK);
    assert!(
        word.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".docx")
    );
    let oscal = page(&app, Some(&fresh), "/app/ssp/download?format=oscal-json").await;
    assert!(oscal.body.contains("system-security-plan"));
}

/// The SSP page holds the system profile's form, filled with the profile as it is: only what
/// a person types (no ids or times), the version carried back hidden so a stale form cannot
/// overwrite a newer profile; a Viewer gets the downloads and no form.
async fn the_ssp_page_edits_the_system_profile_it_shows(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Profiled").await;
    let boss = app.person(org, "boss@ssp.test", Role::OrgAdmin).await;
    app.person(org, "vi@ssp.test", Role::Viewer).await;
    let profile = json!({ "name": "Acme Mission System", "abbreviation": "AMS", "confidentiality": "moderate" });
    let (s, saved) = app
        .send(Method::PUT, "/api/system-profile", &boss, &profile)
        .await;
    assert_eq!(s, StatusCode::OK, "{saved}");

    let secret = sign_in(&app, "boss@ssp.test").await;
    let shown = page(&app, Some(&secret), "/app/ssp").await;
    assert_eq!(shown.status, StatusCode::OK);
    let form = &shown.body[shown
        .body
        .find("action=\"/app/actions/set_system_profile\"")
        .unwrap()..];
    assert!(form.contains("value=\"Acme Mission System\""), "{form}");
    assert!(
        form.contains("<option value=\"moderate\" selected>"),
        "{form}"
    );
    assert!(form.contains("<input type=\"hidden\" name=\"version\" value=\"1\">"));
    for server_kept in ["id", "createdAt", "updatedAt", "createdBy", "updatedBy"] {
        assert!(
            !form.contains(&format!("name=\"{server_kept}\"")),
            "{server_kept} is not typed in"
        );
    }

    let csrf = csrf_of(&shown.body);
    let save = |version: &'static str, name: &'static str| {
        let (app, secret, csrf) = (&app, &secret, &csrf);
        async move {
            let fields = [
                ("_csrf", csrf.as_str()),
                ("version", version),
                ("name", name),
                ("abbreviation", "AMS"),
                ("confidentiality", "high"),
            ];
            post(
                app,
                Some(secret),
                "/app/actions/set_system_profile",
                &fields,
                &[],
            )
            .await
        }
    };
    let saved = save("1", "Acme Mission System II").await;
    assert_eq!(saved.status, StatusCode::OK);
    assert!(saved.body.contains("id=\"done\""), "{}", saved.body);
    let (_, now) = app.get("/api/system-profile", &boss).await;
    assert_eq!(
        (&now["name"], &now["confidentiality"], &now["version"]),
        (&json!("Acme Mission System II"), &json!("high"), &json!(2))
    );
    // The form this page showed before that save is stale now: refused, nothing lost.
    let stale = save("1", "Overwritten").await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert_eq!(
        app.get("/api/system-profile", &boss).await.1["name"],
        "Acme Mission System II"
    );
    let newest = &app.audit_entries(org).await[0];
    assert_eq!(
        (&newest["via"], &newest["changes"]["name"]["after"]),
        (&json!("web"), &json!("Acme Mission System II"))
    );

    let viewer = sign_in(&app, "vi@ssp.test").await;
    let shown = page(&app, Some(&viewer), "/app/ssp").await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(!shown.body.contains("set_system_profile"));
    assert!(shown.body.contains("/app/ssp/download?format=docx"));
}

/// Two people edit the same record: the second save, from a form filled before the first,
/// is refused (409) with what was typed kept and the newer version named; saving that form
/// again then replaces the change knowingly.
async fn an_edit_over_a_newer_change_is_refused_and_keeps_what_was_typed(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Edits").await;
    let bearer = app.person(org, "ann@edits.test", Role::Admin).await;
    let record = app.create("risks", &bearer, sample("risks", 1)).await;
    let at = format!("/app/risks/{}", record["id"].as_str().unwrap());
    let secret = sign_in(&app, "ann@edits.test").await;
    let form = page(&app, Some(&secret), &format!("{at}/edit")).await;
    assert!(
        form.body
            .contains("<input type=\"hidden\" name=\"version\" value=\"1\">")
    );

    // Meanwhile, through the API.
    let mut theirs = sample("risks", 1);
    theirs["title"] = json!("Renamed through the API");
    let (s, _) = app
        .send(Method::PUT, &format!("/api{}", &at[4..]), &bearer, &theirs)
        .await;
    assert_eq!(s, StatusCode::OK);

    let mine = [
        ("_csrf", csrf_of(&form.body)),
        ("version", "1".to_owned()),
        ("title", "Typed in the browser".to_owned()),
        ("likelihood", "2".to_owned()),
        ("impact", "2".to_owned()),
    ];
    let fields: Vec<(&str, &str)> = mine.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = post(&app, Some(&secret), &at, &fields, &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body.contains("someone else changed this risk"));
    assert!(refused.body.contains("value=\"Typed in the browser\""));
    assert!(
        refused
            .body
            .contains("<input type=\"hidden\" name=\"version\" value=\"2\">")
    );
    let (_, stored) = app.get(&format!("/api{}", &at[4..]), &bearer).await;
    assert_eq!(stored["title"], "Renamed through the API");

    let again: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| if *k == "version" { (*k, "2") } else { (*k, *v) })
        .collect();
    let saved = post(&app, Some(&secret), &at, &again, &[]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, stored) = app.get(&format!("/api{}", &at[4..]), &bearer).await;
    assert_eq!(
        (&stored["title"], &stored["version"]),
        (&json!("Typed in the browser"), &json!(3))
    );
}

/// Posts a page view as the beacon script does (a `text/plain` body, as `sendBeacon` sends).
pub(crate) async fn send_beacon(
    app: &TestApp,
    secret: &str,
    page: &str,
    token: String,
    headers: Vec<(&'static str, String)>,
) -> StatusCode {
    let mut req = no_redirects()
        .post(app.url("/app/beacon"))
        .header("cookie", cookie_header(secret))
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "text/plain;charset=UTF-8")
        .body(json!({ "page": page, "csrf": token }).to_string());
    for (k, v) in headers {
        req = req.header(k, v);
    }
    req.send().await.unwrap().status()
}

/// Sessions past their lifetime and page views past their 90 days are deleted by the
/// server's housekeeping sweep, not merely ignored; what is still current stays.
async fn expired_sessions_and_page_views_are_forgotten(db: TestDb) {
    let clock = Arc::new(ShiftedClock::default());
    let app = with_session_times(db, clock.clone(), 120, 300).await;
    let org = app.org("Forgetful").await;
    app.person(org, "ann@forget.test", Role::Viewer).await;
    let root = app.member(org, "root@forget.test", Role::SuperAdmin).await;
    let counts = || async { app.get("/api/page-views", &root).await.1["items"].clone() };

    let first = sign_in(&app, "ann@forget.test").await;
    let token = csrf_of(&page(&app, Some(&first), "/app").await.body);
    let sent = send_beacon(&app, &first, "/app/controls", token, vec![]).await;
    assert_eq!(sent, StatusCode::NO_CONTENT);
    let nothing = tater_service::Forgotten::default();
    assert_eq!(
        app.service.forget_expired_web_data().await.unwrap(),
        nothing
    );

    // Past its lifetime the first session is deleted; a newer one is kept and still works.
    clock.advance_secs(301);
    let second = sign_in(&app, "ann@forget.test").await;
    let swept = app.service.forget_expired_web_data().await.unwrap();
    assert_eq!((swept.web_sessions, swept.page_views), (1, 0));
    assert_eq!(
        page(&app, Some(&second), "/app").await.status,
        StatusCode::OK
    );
    assert!(is_sign_in_redirect(&page(&app, Some(&first), "/app").await));

    // The view is counted until its 90th day ends, then deleted.
    let ninety_days = tater_service::PAGE_VIEW_TTL_DAYS * 86_400;
    clock.advance_secs(ninety_days - 302);
    let swept = app.service.forget_expired_web_data().await.unwrap();
    assert_eq!((swept.web_sessions, swept.page_views), (1, 0));
    assert_eq!(counts().await.as_array().unwrap().len(), 1);
    clock.advance_secs(1);
    let swept = app.service.forget_expired_web_data().await.unwrap();
    assert_eq!(swept.page_views, 1);
    assert_eq!(counts().await, json!([]));
}

async fn page_views_are_counted_without_identifying_anyone_and_never_against_dnt(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Counted").await;
    app.person(org, "ann@counted.test", Role::Viewer).await;
    let root = app.member(org, "root@counted.test", Role::SuperAdmin).await;
    let secret = sign_in(&app, "ann@counted.test").await;
    let dash = page(&app, Some(&secret), "/app").await;
    assert!(
        dash.body.contains("data-page=\"/app\""),
        "the route template"
    );
    let token = csrf_of(&dash.body);
    let beacon = |page: &'static str, token: &str, headers: Vec<(&'static str, String)>| {
        send_beacon(&app, &secret, page, token.to_owned(), headers)
    };
    assert_eq!(
        beacon("/app/poam/{id}", &token, vec![]).await,
        StatusCode::NO_CONTENT
    );
    // Do Not Track, Global Privacy Control and the opt-out cookie: accepted, not counted.
    assert_eq!(
        beacon("/app", &token, vec![("dnt", "1".into())]).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        beacon("/app", &token, vec![("sec-gpc", "1".into())]).await,
        StatusCode::NO_CONTENT
    );
    let opted = format!("{}; tater_beacon_optout=1", cookie_header(&secret));
    let res = no_redirects()
        .post(app.url("/app/beacon"))
        .header("cookie", opted)
        .header("sec-fetch-site", "same-origin")
        .body(json!({ "page": "/app", "csrf": token }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Another session's token, another site, or a path that is not a page template: refused.
    assert_eq!(
        beacon("/app", "csrf_x", vec![]).await,
        StatusCode::FORBIDDEN
    );
    let cross = vec![("sec-fetch-site", "cross-site".to_owned())];
    assert_eq!(beacon("/app", &token, cross).await, StatusCode::FORBIDDEN);
    assert_eq!(
        beacon("/app/poam/01a2?q=secret", &token, vec![]).await,
        StatusCode::BAD_REQUEST
    );

    // Platform operators see the counts: the one beacon, by page and organization only.
    let (s, counts) = app.get("/api/page-views", &root).await;
    assert_eq!(s, StatusCode::OK, "{counts}");
    assert_eq!(
        counts["items"],
        json!([{ "orgId": org.to_string(), "page": "/app/poam/{id}", "views": 1 }])
    );
    let viewer_key = app.api_key_of("ann@counted.test", Some(org)).await;
    assert_eq!(
        app.get("/api/page-views", &viewer_key).await.0,
        StatusCode::FORBIDDEN
    );

    // The account page's switch sets the opt-out cookie, and shows it set.
    let off = vec![("optout".to_owned(), "on".to_owned())];
    let res = submit(&app, &secret, "/app/account", "/app/account/beacon", &off).await;
    let set = res.headers["set-cookie"].to_str().unwrap();
    assert!(
        set.starts_with("tater_beacon_optout=1;") && !set.contains("HttpOnly"),
        "{set}"
    );
    let account = no_redirects()
        .get(app.url("/app/account"))
        .header(
            "cookie",
            format!("{}; tater_beacon_optout=1", cookie_header(&secret)),
        )
        .send()
        .await
        .unwrap();
    let body = account.text().await.unwrap();
    assert!(
        body.contains("name=\"optout\" value=\"on\" checked"),
        "{body}"
    );
}

async fn the_dashboard_counts_work_due_and_each_count_opens_its_list(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Due").await;
    let boss = app.person(org, "boss@due.test", Role::OrgAdmin).await;
    let second = app.member(org, "second@due.test", Role::OrgAdmin).await;
    let secret = sign_in(&app, "boss@due.test").await;
    let mut late = sample("poam", 1);
    late["scheduledCompletion"] = json!(in_days(-3));
    app.create("poam", &boss, late).await;
    app.create("poam", &boss, sample("poam", 2)).await;
    let mut task = sample("tasks", 1);
    task["dueDate"] = json!(in_days(-1));
    app.create("tasks", &boss, task).await;
    // An approved exception ending in ten days, and one ending later.
    for (n, days) in [(1, 10), (2, 90)] {
        let mut body = sample("exceptions", n);
        body["requestedUntil"] = json!(in_days(days));
        let e = app.create("exceptions", &boss, body).await;
        let at = format!("/api/exceptions/{}/transitions", e["id"].as_str().unwrap());
        for to in ["Under Review", "Approved"] {
            let (s, p) = app
                .send(Method::POST, &at, &second, &json!({ "to": to }))
                .await;
            assert_eq!(s, StatusCode::OK, "{p}");
        }
    }

    let dash = page(&app, Some(&secret), "/app").await;
    assert_eq!(dash.status, StatusCode::OK);
    let ends_by = in_days(30);
    for (href, count, shows) in [
        ("/app/poam?overdue=true".to_owned(), 1, "POAM 1"),
        ("/app/tasks?overdue=true".to_owned(), 1, "Task 1"),
        (
            format!(
                "/app/exceptions?status=Approved&#38;requestedUntil.lte={ends_by}&#38;sort=requestedUntil"
            ),
            1,
            "Exception 1",
        ),
    ] {
        assert!(
            dash.body
                .contains(&format!("<a href=\"{href}\">{count}</a>")),
            "{href}: {}",
            dash.body
        );
        let list = page(&app, Some(&secret), &href.replace("&#38;", "&")).await;
        assert_eq!(list.status, StatusCode::OK, "{href}");
        assert!(list.body.contains(shows), "{href} lists {shows}");
    }
    assert!(dash.body.contains("Exception 1</a> ends"));
    assert!(!dash.body.contains("Exception 2</a>"));
    assert!(
        !page(&app, Some(&secret), "/app/poam?overdue=true")
            .await
            .body
            .contains("POAM 2")
    );
    assert!(dash.body.contains("href=\"/app/endpoints?stale=true\""));
    assert!(
        dash.body
            .contains("href=\"/app/risks?likelihood=5&amp;impact=1\"")
    );
}

/// The posture numbers lead to their lists too: results by status, endpoints that report,
/// controls failing by severity, and the risks not on the heat map for want of a rating.
async fn the_dashboards_posture_numbers_open_the_lists_behind_them(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Numbers").await;
    let boss = app.person(org, "boss@numbers.test", Role::OrgAdmin).await;
    let secret = sign_in(&app, "boss@numbers.test").await;
    let t = token(&app, &boss, false).await;
    let (_, enrolled) = enroll(&app, &t, "web-01").await;
    enroll(&app, &t, "never-scanned").await;
    let agent = Key::api(enrolled["apiKey"].as_str().unwrap().to_owned());
    let results = [
        ("linux.ssh.root-login", "Fail"),
        ("linux.accounts.empty-passwords", "Pass"),
    ];
    let scan = report(&new_id(), "2026-11-29T09:00:00Z", &results);
    let (s, stored) = app
        .send(Method::POST, "/api/agent/scans", &agent, &scan)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{stored}");
    app.create("risks", &boss, sample("risks", 1)).await;
    app.create("risks", &boss, json!({ "title": "Unrated risk" }))
        .await;

    let dash = page(&app, Some(&secret), "/app").await;
    let shown = |href: &str, count: &str| {
        let link = format!("<a href=\"{href}\">{count}</a>");
        assert!(dash.body.contains(&link), "{link} in {}", dash.body);
        href.replace("&amp;", "&")
    };
    // (the link and its count on the dashboard, what its list shows, what it must not)
    let opened = [
        (
            shown("/app/actions/list_scan_results?status=Fail", "1"),
            "linux.ssh.root-login",
            "linux.accounts.empty-passwords",
        ),
        (
            shown("/app/actions/list_scan_results?status=Pass", "1"),
            "linux.accounts.empty-passwords",
            "linux.ssh.root-login",
        ),
        (
            shown("/app/endpoints?status=active&amp;scanned=true", "1"),
            "web-01",
            "never-scanned",
        ),
        (
            shown("/app/controls?failing=High", "<strong>3</strong>"),
            "AC-17",
            "AC-2<",
        ),
        (
            shown("/app/risks?rated=false", "1"),
            "Unrated risk",
            "Risk 1",
        ),
    ];
    for (href, lists, not) in opened {
        let list = page(&app, Some(&secret), &href).await;
        assert_eq!(list.status, StatusCode::OK, "{href}: {}", list.body);
        assert!(list.body.contains(lists), "{href} lists {lists}");
        assert!(!list.body.contains(not), "{href} lists {not}");
    }
    // A heat map cell's exact rating has no input of the risk list's own: the list keeps it
    // (hidden, so filtering further keeps it too) and says so.
    let cell = page(&app, Some(&secret), "/app/risks?likelihood=3&impact=4").await;
    assert!(cell.body.contains("Risk 1") && !cell.body.contains("Unrated risk"));
    for kept in ["likelihood\" value=\"3", "impact\" value=\"4"] {
        assert!(
            cell.body
                .contains(&format!("<input type=\"hidden\" name=\"{kept}\">")),
            "{kept}"
        );
    }
    assert!(
        cell.body
            .contains("Also filtered by <strong>likelihood = 3</strong>")
    );
    assert!(dash.body.contains("href=\"/app/controls/ac-17#results\""));

    // The control's page: its latest results per endpoint, its guidance and parameters (for
    // a Viewer too), and the POA&M items and risks that name it.
    let mut item = sample("poam", 7);
    item["controls"] = json!(["AC-17"]);
    let item = app.create("poam", &boss, item).await;
    let risk = app
        .create(
            "risks",
            &boss,
            json!({ "title": "Remote access abuse", "controls": ["ac-17"] }),
        )
        .await;
    app.person(org, "vi@numbers.test", Role::Viewer).await;
    let viewer = sign_in(&app, "vi@numbers.test").await;
    let (_, control) = app.get("/api/controls/ac-17", &boss).await;
    let shown = page(&app, Some(&viewer), "/app/controls/ac-17").await;
    let body = &shown.body;
    let results = &body[body.find("id=\"results\"").unwrap()..];
    assert!(
        results.contains(
            "<td>web-01</td><td>SSH does not allow root to log in</td><td>Fail</td><td>High</td>"
        ),
        "{results}"
    );
    assert!(body.contains("<summary>Guidance</summary>"));
    let guidance = control["guidance"].as_str().unwrap();
    let words: String = guidance
        .split_whitespace()
        .take(4)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(body.contains(&words), "the guidance: {words}");
    for p in control["params"].as_array().unwrap() {
        let id = p["id"].as_str().unwrap();
        assert!(
            body.contains(&format!("<code class=\"small\">{id}</code>")),
            "{id}"
        );
    }
    assert!(
        body.contains(&format!(
            "href=\"/app/poam/{}\">POAM 7</a> — Open",
            item["id"].as_str().unwrap()
        )),
        "{body}"
    );
    assert!(body.contains(&format!(
        "href=\"/app/risks/{}\">Remote access abuse</a>",
        risk["id"].as_str().unwrap()
    )));
}
