//! Rate limits (SPEC A6) against the real server: per client IP, per tenant across IPs, only
//! trusted proxies' X-Forwarded-For, and one combined limit for replicas sharing Redis.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::Role;
use tater_server::rate_limit::{Limits, RateLimitConfig};
use tater_testkit::TestDb;

use crate::mcp::{poam, raw_call};
use crate::support::*;

fn limits(auth: u32, write: u32) -> Limits {
    Limits {
        auth,
        write,
        settings: 1_000,
        general: 1_000,
    }
}

async fn login_attempt(app: &TestApp, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": "ann@example.com", "password": "wrong password!" }));
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.unwrap()
}

fn assert_throttled(res: &reqwest::Response, what: &str) {
    assert_limited(res, what);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}

/// A 429 with its wait and the spent bucket in the headers, whatever the body.
fn assert_limited(res: &reqwest::Response, what: &str) {
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{what}");
    let h = res.headers();
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{what}: Retry-After {retry}");
    assert_eq!(h["ratelimit-remaining"], "0", "{what}");
    assert!(
        h["ratelimit"].to_str().unwrap().contains(";r=0;t="),
        "{what}"
    );
}

#[tokio::test]
async fn the_eleventh_login_from_one_ip_is_throttled() {
    let app = TestApp::spawn_configured(TestDb::sqlite(), |c| {
        c.rate_limits = RateLimitConfig {
            limits: limits(10, 1_000),
            ..Default::default()
        };
    })
    .await;
    for n in 1..=10 {
        let res = login_attempt(&app, None).await;
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {n} is judged on its password"
        );
        assert_eq!(res.headers()["ratelimit-policy"], "\"auth\";q=10;w=60");
        assert_eq!(
            res.headers()["ratelimit-remaining"].to_str().unwrap(),
            (10 - n).to_string()
        );
    }
    let res = login_attempt(&app, None).await;
    assert_throttled(&res, "11th login");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "RATE_LIMITED");
    // A header an untrusted client adds does not buy a new bucket.
    let res = login_attempt(&app, Some("198.51.100.77")).await;
    assert_throttled(&res, "X-Forwarded-For from an untrusted peer is ignored");
    // Other categories have their own buckets; the health check is never limited.
    assert_eq!(
        app.client
            .get(app.url("/api/status"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_tenant_bucket_trips_across_ips() {
    let app = TestApp::spawn_configured(TestDb::sqlite(), |c| {
        c.rate_limits = RateLimitConfig {
            limits: limits(1_000, 5),
            trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
            ..Default::default()
        };
    })
    .await;
    let org = app.org("Org").await;
    let other = app.org("Other").await;
    let key = app.member(org, "a@example.com", Role::Admin).await;
    let other_key = app.member(other, "b@example.com", Role::Admin).await;
    let post = |key: &Key, ip: String| {
        app.req(Method::POST, "/api/poam", key)
            .header("x-forwarded-for", ip)
            .json(&sample("poam", 1))
    };
    for n in 0..5 {
        let res = post(&key, format!("203.0.113.{n}")).send().await.unwrap();
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "write {n} from its own IP"
        );
    }
    let before = app.snapshot(org).await;
    let res = post(&key, "203.0.113.99".into()).send().await.unwrap();
    assert_throttled(&res, "6th write to the tenant from a 6th IP");
    assert_eq!(
        app.snapshot(org).await,
        before,
        "the throttled write did not happen"
    );
    // Another tenant, same IP as before: its own buckets.
    let res = post(&other_key, "203.0.113.1".into()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
}

/// Two servers sharing Redis enforce one combined limit. Needs Redis (CI provides it).
#[tokio::test]
async fn replicas_sharing_redis_share_the_limit() {
    let Ok(redis_url) = std::env::var("TATER_TEST_REDIS_URL") else {
        eprintln!("skipped: Redis leg (TATER_TEST_REDIS_URL is not set)");
        return;
    };
    let prefix = format!("tater-test:{}:", uuid::Uuid::new_v4().simple());
    let shared = RateLimitConfig {
        limits: limits(10, 1_000),
        redis_url: Some(redis_url),
        redis_prefix: prefix,
        ..Default::default()
    };
    let first =
        TestApp::spawn_configured(TestDb::sqlite(), |c| c.rate_limits = shared.clone()).await;
    let second =
        TestApp::spawn_configured(TestDb::sqlite(), |c| c.rate_limits = shared.clone()).await;
    for n in 0..10 {
        let app = if n % 2 == 0 { &first } else { &second };
        assert_eq!(
            login_attempt(app, None).await.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {n}"
        );
    }
    assert_throttled(
        &login_attempt(&first, None).await,
        "11th attempt, on the first server",
    );
    assert_throttled(
        &login_attempt(&second, None).await,
        "12th attempt, on the second server",
    );
    // A server with its own prefix (another deployment) is not affected.
    let separate = RateLimitConfig {
        redis_prefix: format!("tater-test:{}:", uuid::Uuid::new_v4().simple()),
        ..shared
    };
    let third = TestApp::spawn_configured(TestDb::sqlite(), |c| c.rate_limits = separate).await;
    assert_eq!(
        login_attempt(&third, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Through MCP a call counts in the bucket of what its tool does, not the envelope's method
/// (every tool call is a POST): writes in `write`, settings in `settings`, reads in `general`.
#[tokio::test]
async fn mcp_tool_calls_count_by_what_the_tool_does() {
    let app = TestApp::spawn_configured(TestDb::sqlite(), |c| {
        c.rate_limits = RateLimitConfig {
            limits: Limits {
                auth: 1_000,
                write: 2,
                settings: 1,
                general: 1_000,
            },
            ..Default::default()
        };
    })
    .await;
    let org = app.org("Limited").await;
    let boss = app.person(org, "boss@limits.test", Role::OrgAdmin).await;
    let outcome = |answer: Value| answer["result"]["structuredContent"]["error"]["code"].clone();
    for _ in 0..2 {
        let answer = raw_call(&app, &boss, "create_poam_item", poam())
            .await
            .unwrap();
        assert!(
            answer["result"]["structuredContent"]["id"].is_string(),
            "{answer}"
        );
    }
    let answer = raw_call(&app, &boss, "create_poam_item", poam())
        .await
        .unwrap();
    assert_eq!(outcome(answer.clone()), "RATE_LIMITED", "{answer}");
    assert!(
        answer["result"]["structuredContent"]["error"]["retryAfterSeconds"].as_u64() >= Some(1)
    );
    // Reads are not writes, even in a POST.
    for _ in 0..5 {
        let answer = raw_call(&app, &boss, "list_poam_items", json!({}))
            .await
            .unwrap();
        assert!(
            answer["result"]["structuredContent"]["items"].is_array(),
            "{answer}"
        );
    }
    // A settings tool has its own bucket, read or not.
    let answer = raw_call(&app, &boss, "get_mcp_policy", json!({}))
        .await
        .unwrap();
    assert_eq!(
        answer["result"]["structuredContent"]["mode"], "permissive",
        "{answer}"
    );
    let answer = raw_call(&app, &boss, "get_mcp_policy", json!({}))
        .await
        .unwrap();
    assert_eq!(outcome(answer.clone()), "RATE_LIMITED", "{answer}");
}

/// Web pages count against their organization's bucket too, whatever address they come
/// from: one organization's browsers cannot spend a shared server's capacity for everyone.
#[tokio::test]
async fn web_pages_count_against_their_organizations_bucket() {
    let app = TestApp::spawn_configured(TestDb::sqlite(), |c| {
        c.rate_limits = RateLimitConfig {
            limits: Limits {
                general: 6,
                ..limits(1_000, 1_000)
            },
            trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
            ..Default::default()
        };
    })
    .await;
    let org = app.org("Busy Org").await;
    let other = app.org("Quiet Org").await;
    app.person(org, "busy@limits.test", Role::Viewer).await;
    app.person(other, "quiet@limits.test", Role::Viewer).await;
    let busy = crate::web::sign_in(&app, "busy@limits.test").await;
    let quiet = crate::web::sign_in(&app, "quiet@limits.test").await;
    let open = |secret: &str, ip: String| {
        crate::web::no_redirects()
            .get(app.url("/app/poam"))
            .header("cookie", crate::web::cookie_header(secret))
            .header("x-forwarded-for", ip)
    };
    for n in 0..6 {
        let res = open(&busy, format!("198.51.100.{n}")).send().await.unwrap();
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "page {n} from its own address"
        );
    }
    let res = open(&busy, "198.51.100.99".into()).send().await.unwrap();
    // A page for the browser, with the same headers as the API's refusals.
    assert_limited(&res, "7th page of the organization from a 7th address");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = res.text().await.unwrap();
    assert!(body.contains("Try again in"), "{body}");
    // Another organization's pages, from an address already used: their own bucket.
    let res = open(&quiet, "198.51.100.1".into()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_sign_in_form_counts_against_the_login_limit() {
    let app = TestApp::spawn_configured(TestDb::sqlite(), |c| {
        c.rate_limits = RateLimitConfig {
            limits: limits(3, 1_000),
            ..Default::default()
        };
    })
    .await;
    let org = app.org("Guarded").await;
    app.person(org, "ann@example.com", Role::Viewer).await;
    let sign_in = |password: &'static str| {
        let app = &app;
        async move {
            let token = crate::web::sign_in_form(app).await;
            crate::web::no_redirects()
                .post(app.url(tater_web::SIGN_IN_PATH))
                .header("sec-fetch-site", "same-origin")
                .header("cookie", format!("{}={token}", tater_web::SIGN_IN_COOKIE))
                .form(&[
                    ("email", "ann@example.com"),
                    ("password", password),
                    ("_signin", &token),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // (Making the account signed in once through the API: that counted too.)
    let remaining = |res: &reqwest::Response| -> u32 {
        res.headers()["ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let mut left = 3;
    while left > 0 {
        let res = sign_in("not the password").await;
        assert_eq!(res.status(), StatusCode::OK, "the form again");
        assert!(remaining(&res) < left, "each attempt counts");
        left = remaining(&res);
    }
    // The fourth, even with the right password: a page saying when to try again, no session.
    let res = sign_in(TEST_PASSWORD).await;
    assert_limited(&res, "4th sign-in");
    assert!(res.headers().get("set-cookie").is_none());
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(res.text().await.unwrap().contains("Try again in"));
    // The form and the API's login share the one bucket per address.
    assert_throttled(&login_attempt(&app, None).await, "the API after the form");
}
