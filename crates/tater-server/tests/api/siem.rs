//! SPEC L4–L6: SIEM destinations end to end — webhooks verified by a receiver on loopback (and
//! by `openssl`), an outage across a server restart that loses nothing and repeats nothing,
//! dead letters, two replicas sharing the work, refused addresses, and the secret never shown.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::{OrgId, Role};
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    webhooks_are_signed_and_delivered,
    refused_addresses_and_secrets_stay_out,
    outage_and_restart_lose_nothing,
    dead_letters_are_kept_and_replayed,
    dead_letters_and_ended_enrollment_tokens_go_after_thirty_days,
    two_replicas_deliver_each_entry_once
);

pub(crate) const SECRET: &str = "whsec-test-secret-0123456789";

/// What the receiver answers.
const ACCEPT: u16 = 204;

/// A webhook receiver on loopback that records every request.
pub(crate) struct Receiver {
    port: u16,
    pub(crate) got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    /// Whether bodies containing "poison" are refused with 422.
    refuse_poison: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub(crate) async fn start(port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(ACCEPT));
        let refuse_poison = Arc::new(AtomicBool::new(true));
        let (g, st, rp) = (got.clone(), status.clone(), refuse_poison.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (g, st, rp) = (g.clone(), st.clone(), rp.clone());
                async move {
                    let poison = rp.load(Ordering::SeqCst)
                        && String::from_utf8_lossy(&body).contains("poison");
                    let code = if poison {
                        422
                    } else {
                        st.load(Ordering::SeqCst)
                    };
                    if code == ACCEPT {
                        g.lock().unwrap().push((headers, body));
                    }
                    AxumStatus::from_u16(code).unwrap()
                }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            port,
            got,
            refuse_poison,
            task,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn bodies(&self) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| serde_json::from_slice(b).unwrap())
            .collect()
    }

    pub(crate) fn stop(self) {
        self.task.abort();
    }
}

/// A port nothing listens on (yet).
async fn free_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the destination's outbox is empty: every entry sent and acknowledged.
async fn drained(app: &TestApp, key: &Key, id: &str) {
    let path = format!("/api/siem-destinations/{id}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, d) = app.get(&path, key).await;
        if d["delivery"]["pending"] == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "outbox not drained: {d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn org_admin(app: &TestApp, name: &str) -> (OrgId, Key, Key) {
    let org = app.org(name).await;
    let boss = app
        .member(org, &format!("boss@{name}.test"), Role::OrgAdmin)
        .await;
    let admin = app
        .member(org, &format!("admin@{name}.test"), Role::Admin)
        .await;
    (org, boss, admin)
}

async fn add_webhook(app: &TestApp, key: &Key, url: &str) -> Value {
    let (status, d) = app
        .send(
            Method::POST,
            "/api/siem-destinations",
            key,
            &json!({ "type": "webhook", "name": "SOC webhook", "url": url, "secret": SECRET }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    d
}

fn openssl_hmac(key: &str, data: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", key])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned()
}

async fn webhooks_are_signed_and_delivered(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let rx = Receiver::start(0).await;
    let (_, boss, admin) = org_admin(&app, "hooks").await;
    let d = add_webhook(&app, &boss, &rx.url()).await;
    let id = d["id"].as_str().unwrap().to_owned();
    app.create(
        "risks",
        &admin,
        json!({ "title": "Risk | with = and \\ and ünïcödé" }),
    )
    .await;
    eventually("two deliveries", || rx.bodies().len() >= 2).await;

    let got = rx.got.lock().unwrap().clone();
    let (_, log) = app.get("/api/audit-log?limit=5", &boss).await;
    let newest = &log["items"][0];
    for (headers, body) in &got {
        let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_owned();
        assert_eq!(
            h("x-tater-signature"),
            format!("sha256={}", openssl_hmac(SECRET, body))
        );
        let timed = [
            h("x-tater-timestamp").as_bytes(),
            b".",
            h("x-tater-delivery").as_bytes(),
            b".",
            body,
        ]
        .concat();
        assert_eq!(
            h("x-tater-signature-timed"),
            format!("v1={}", openssl_hmac(SECRET, &timed))
        );
        assert_eq!(h("content-type"), "application/json");
    }
    let bodies = rx.bodies();
    assert_eq!(
        bodies[0]["entityType"], "siem-destination",
        "its own creation comes first"
    );
    assert_eq!(bodies[0]["changes"]["secret"]["after"], "[redacted]");
    assert_eq!(
        &bodies[1], newest,
        "the body is the entry exactly as the API shows it"
    );

    let (status, status_view) = app
        .get(&format!("/api/siem-destinations/{id}"), &boss)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_view["delivery"]["state"], "ok", "{status_view}");
    assert_eq!(status_view["delivery"]["delivered"], 2);
    assert_eq!(status_view["delivery"]["pending"], 0);

    let (status, test) = app
        .send(
            Method::POST,
            &format!("/api/siem-destinations/{id}/test"),
            &boss,
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, &test["delivered"]),
        (StatusCode::OK, &json!(true)),
        "{test}"
    );
    eventually("the test event", || {
        rx.bodies().iter().any(|b| b["id"] == test["eventId"])
    })
    .await;
    rx.stop();
}

async fn refused_addresses_and_secrets_stay_out(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (org, boss, admin) = org_admin(&app, "refusals").await;
    for (body, field, why) in [
        (
            json!({ "type": "webhook", "name": "a", "url": "http://10.0.0.1/hook", "secret": SECRET }),
            "url",
            "private",
        ),
        (
            json!({ "type": "webhook", "name": "b", "url": "https://169.254.169.254/", "secret": SECRET }),
            "url",
            "metadata",
        ),
        (
            json!({ "type": "webhook", "name": "c", "url": "http://2130706433/", "secret": SECRET }),
            "url",
            "non-standard",
        ),
        (
            json!({ "type": "webhook", "name": "d", "url": "https://u:p@example.com/", "secret": SECRET }),
            "url",
            "user info",
        ),
        (
            json!({ "type": "syslog", "name": "e", "host": "192.168.1.10", "port": 514, "transport": "udp" }),
            "host",
            "private",
        ),
        (
            json!({ "type": "syslog", "name": "f", "host": "localhost", "port": 6514, "transport": "tls" }),
            "host",
            "local host",
        ),
        (
            json!({ "type": "webhook", "name": "g", "url": "https://x.example/", "secret": "short" }),
            "secret",
            "16 to 256",
        ),
        (
            json!({ "type": "syslog", "name": "h", "host": "h.example", "port": 70000, "transport": "tcp" }),
            "port",
            "1 to 65535",
        ),
        (
            json!({ "type": "carrier-pigeon", "name": "i" }),
            "type",
            "syslog or webhook",
        ),
    ] {
        let before = app.snapshot(org).await;
        let (status, problem) = app
            .send(Method::POST, "/api/siem-destinations", &boss, &body)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem}");
        let message = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["field"] == field)
            .unwrap_or_else(|| panic!("{body}: no error on {field}: {problem}"))["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(why), "{body}: {message}");
        assert_eq!(
            app.snapshot(org).await,
            before,
            "a refused destination changes nothing"
        );
    }
    // Only OrgAdmins manage destinations; other organizations see none of them.
    let (status, _) = app
        .send(Method::POST, "/api/siem-destinations", &admin, &json!({ "type": "webhook", "name": "x", "url": "http://127.0.0.1:9/hook", "secret": SECRET }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let d = add_webhook(&app, &boss, "http://127.0.0.1:9/hook").await;
    let other = app.org("other").await;
    let other_boss = app.member(other, "boss@other.test", Role::OrgAdmin).await;
    let path = format!("/api/siem-destinations/{}", d["id"].as_str().unwrap());
    assert_eq!(app.get(&path, &other_boss).await.0, StatusCode::NOT_FOUND);
    let (_, list) = app.get("/api/siem-destinations", &other_boss).await;
    assert_eq!(list["items"], json!([]));
    // The secret is in no answer and no audit entry, and at rest only encrypted.
    let (_, listed) = app.get("/api/siem-destinations", &boss).await;
    let (_, log) = app.get("/api/audit-log?limit=500", &boss).await;
    for text in [d.to_string(), listed.to_string(), log.to_string()] {
        assert!(!text.contains(SECRET), "the secret leaked: {text}");
    }
    assert_eq!(d["secretSet"], true);
    // An update without the secret keeps it; with a new one, the audit says it changed.
    let (status, updated) = app
        .send(Method::PUT, &path, &boss, &json!({ "type": "webhook", "name": "renamed", "url": "http://127.0.0.1:9/hook", "version": 1 }))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        (updated["name"].as_str(), updated["secretSet"].as_bool()),
        (Some("renamed"), Some(true))
    );
    let (status, _) = app
        .send(Method::PUT, &path, &boss, &json!({ "type": "webhook", "name": "renamed", "url": "http://127.0.0.1:9/hook", "secret": "another-secret-0123456789", "version": 2 }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, log) = app
        .get(
            &format!("/api/audit-log?entityId={}", d["id"].as_str().unwrap()),
            &boss,
        )
        .await;
    assert_eq!(
        log["items"][0]["changes"]["secret"],
        json!({ "before": "[redacted]", "after": "[redacted]" })
    );
    assert!(!log.to_string().contains("another-secret"));
    let (status, _) = app
        .send(Method::PUT, &path, &boss, &json!({ "type": "webhook", "name": "stale", "url": "http://127.0.0.1:9/hook", "version": 1 }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        app.req(Method::DELETE, &path, &boss)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&path, &boss).await.0, StatusCode::NOT_FOUND);
}

/// The outbox entries the receiver must end up with: every entry from the destination's
/// creation on.
fn assert_in_order_once(bodies: &[Value], from_seq: i64, to_seq: i64) {
    let seqs: Vec<i64> = bodies.iter().map(|b| b["seq"].as_i64().unwrap()).collect();
    let expected: Vec<i64> = (from_seq..=to_seq).collect();
    assert_eq!(seqs, expected, "every entry, in order, once");
}

async fn outage_and_restart_lose_nothing(db: TestDb) {
    let url = db.url.clone();
    let mut siem = test_siem();
    siem.failing_after_secs = 60;
    // Real time that the test can move forward; both servers below share it.
    let clock = Arc::new(ShiftedClock::default());
    let mut app = TestApp::spawn_configured(db, |c| {
        c.siem = Some(siem.clone());
        c.clock = clock.clone();
    })
    .await;
    let port = free_port().await;
    let (org, boss, admin) = org_admin(&app, "outage").await;
    let d = add_webhook(&app, &boss, &format!("http://127.0.0.1:{port}/hook")).await;
    let id = d["id"].as_str().unwrap().to_owned();
    const N: usize = 12;
    for i in 0..N {
        app.create(
            "risks",
            &admin,
            json!({ "title": format!("during the outage {i}") }),
        )
        .await;
    }
    let path = format!("/api/siem-destinations/{id}");
    let mut seen = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        seen = app.get(&path, &boss).await.1;
        if seen["delivery"]["lastError"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen["delivery"]["state"], "retrying", "{seen}");
    assert_eq!(seen["delivery"]["pending"], N + 1, "{seen}");
    assert!(
        seen["delivery"]["lastError"]
            .as_str()
            .unwrap()
            .contains("connect"),
        "{seen}"
    );
    // Past the configured time, the destination shows as failing; entries keep queueing.
    clock.advance_secs(61);
    let (_, seen) = app.get(&path, &boss).await;
    assert_eq!(seen["delivery"]["state"], "failing", "{seen}");
    assert_eq!(seen["delivery"]["pending"], N + 1, "{seen}");
    assert!(
        seen["delivery"]["lagSeconds"].as_i64().unwrap() >= 1,
        "{seen}"
    );

    // Restart the server (same database, same master key) while the receiver is still down.
    app.stop().await;
    let mut cfg = config_for_url(&url);
    cfg.siem = Some(siem);
    cfg.clock = clock.clone();
    let app = TestApp::start(
        tater_server::App::build(cfg).await.unwrap(),
        None,
        tater_testkit::entra::FakeEntra::start().await,
    );
    let rx = Receiver::start(port).await;
    eventually("all entries after the outage", || rx.bodies().len() > N).await;
    drained(&app, &boss, &id).await;
    let bodies = rx.bodies();
    let first = bodies[0]["seq"].as_i64().unwrap();
    assert_eq!(bodies[0]["entityType"], "siem-destination");
    assert_in_order_once(&bodies, first, first + N as i64);
    let deliveries: std::collections::HashSet<String> = rx
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|(h, _)| h["x-tater-delivery"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(deliveries.len(), N + 1, "no delivery id twice");
    let (_, after) = app.get(&path, &boss).await;
    assert_eq!(after["delivery"]["state"], "ok", "{after}");
    assert_eq!(after["delivery"]["pending"], 0);
    let _ = org;
    rx.stop();
}

/// The hourly retention sweep (issue 19 §1): a dead letter and an ended enrollment token are
/// kept 30 days, then deleted, and the organization's audit log says how many went.
async fn dead_letters_and_ended_enrollment_tokens_go_after_thirty_days(db: TestDb) {
    let clock = Arc::new(ShiftedClock::default());
    let app = TestApp::spawn_with(db, clock.clone()).await;
    let rx = Receiver::start(0).await;
    let (org, boss, admin) = org_admin(&app, "swept").await;
    let d = add_webhook(&app, &boss, &rx.url()).await;
    let dead = format!(
        "/api/siem-destinations/{}/dead-letters",
        d["id"].as_str().unwrap()
    );
    app.create("risks", &admin, json!({ "title": "poison pill" }))
        .await;
    let (s, token) = app
        .send(
            Method::POST,
            "/api/enrollment-tokens",
            &admin,
            &json!({ "label": "short", "expiresInHours": 1 }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{token}");
    let mut letters = 0;
    for _ in 0..200 {
        let (_, listed) = app.get(&dead, &boss).await;
        letters = listed["items"].as_array().map_or(0, Vec::len);
        if letters > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(letters, 1, "the refused entry became a dead letter");

    clock.advance_secs(29 * 86_400);
    let kept = app.service.sweep_retention().await.unwrap();
    assert_eq!((kept.dead_letters, kept.enrollment_tokens), (0, 0));
    clock.advance_secs(2 * 86_400);
    let swept = app.service.sweep_retention().await.unwrap();
    assert_eq!((swept.dead_letters, swept.enrollment_tokens), (1, 1));
    let (_, listed) = app.get(&dead, &boss).await;
    assert_eq!(listed["items"], json!([]), "{listed}");
    let (_, tokens) = app.get("/api/enrollment-tokens", &admin).await;
    assert!(
        !tokens.to_string().contains(token["id"].as_str().unwrap()),
        "{tokens}"
    );
    let entry = app
        .audit_entries(org)
        .await
        .into_iter()
        .find(|e| e["entityType"] == "retention")
        .expect("the sweep is audited");
    assert_eq!(entry["via"], "cron");
    assert_eq!(entry["action"], "delete");
    assert_eq!(
        entry["changes"]["deleted"]["after"],
        json!({ "enrollmentTokens": 1, "deadLetters": 1 })
    );
    assert_eq!(
        app.service.sweep_retention().await.unwrap(),
        Default::default()
    );
}

async fn dead_letters_are_kept_and_replayed(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let rx = Receiver::start(0).await;
    let (_, boss, admin) = org_admin(&app, "dead").await;
    let d = add_webhook(&app, &boss, &rx.url()).await;
    let id = d["id"].as_str().unwrap().to_owned();
    app.create("risks", &admin, json!({ "title": "before" }))
        .await;
    let poison = app
        .create("risks", &admin, json!({ "title": "poison pill" }))
        .await;
    app.create("risks", &admin, json!({ "title": "after" }))
        .await;
    eventually("the entries around the refused one", || {
        rx.bodies().len() >= 3
    })
    .await;
    let titles: Vec<Value> = rx
        .bodies()
        .iter()
        .map(|b| b["changes"]["title"]["after"].clone())
        .collect();
    assert_eq!(
        titles[1..],
        [json!("before"), json!("after")],
        "delivery went on past the refused entry"
    );
    let (_, dead) = app
        .get(&format!("/api/siem-destinations/{id}/dead-letters"), &boss)
        .await;
    let items = dead["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{dead}");
    assert!(items[0]["lastError"].as_str().unwrap().contains("422"));
    let (_, view) = app
        .get(&format!("/api/siem-destinations/{id}"), &boss)
        .await;
    assert_eq!(view["delivery"]["deadLetters"], 1);
    let (_, log) = app
        .get(
            &format!("/api/audit-log?entityId={}", poison["id"].as_str().unwrap()),
            &boss,
        )
        .await;
    let poison_seq = log["items"][0]["seq"].clone();
    assert_eq!(items[0]["seq"], poison_seq);
    // The receiver is fixed; the operator replays.
    rx.refuse_poison.store(false, Ordering::SeqCst);
    let (status, replayed) = app
        .send(
            Method::POST,
            &format!("/api/siem-destinations/{id}/dead-letters/replay"),
            &boss,
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, &replayed["replayed"]),
        (StatusCode::OK, &json!(1)),
        "{replayed}"
    );
    eventually("the replayed entry", || {
        rx.bodies().iter().any(|b| b["seq"] == poison_seq)
    })
    .await;
    let (_, dead) = app
        .get(&format!("/api/siem-destinations/{id}/dead-letters"), &boss)
        .await;
    assert_eq!(dead["items"], json!([]));
    rx.stop();
}

/// A webhook request's `X-TATER-Delivery` id and the sequence number of the entry it carries
/// (empty and -1 where missing).
pub(crate) fn delivery_of(headers: &HeaderMap, body: &[u8]) -> (String, i64) {
    let entry: Value = serde_json::from_slice(body).unwrap_or_default();
    let delivery = headers
        .get("x-tater-delivery")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (delivery, entry["seq"].as_i64().unwrap_or(-1))
}

/// A receiver that accepts everything and records sequence numbers and delivery ids.
struct AcceptAll {
    port: u16,
    got: Arc<Mutex<Vec<(i64, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl AcceptAll {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let got: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
        let g = got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let g = g.clone();
                async move {
                    let (delivery, seq) = delivery_of(&headers, &body);
                    g.lock().unwrap().push((seq, delivery));
                    AxumStatus::NO_CONTENT
                }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { port, got, task }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }
}

impl Drop for AcceptAll {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn two_replicas_deliver_each_entry_once(db: TestDb) {
    let url = db.url.clone();
    let siem = test_siem();
    let first = TestApp::spawn_configured(db, |c| c.siem = Some(siem.clone())).await;
    let mut cfg = config_for_url(&url);
    cfg.siem = Some(siem);
    let second = TestApp::start(
        tater_server::App::build(cfg).await.unwrap(),
        None,
        tater_testkit::entra::FakeEntra::start().await,
    );
    let rx = AcceptAll::start().await;
    let mut orgs = Vec::new();
    let mut destinations = Vec::new();
    for n in 0..4 {
        let (org, boss, admin) = org_admin(&first, &format!("replica{n}")).await;
        let d = add_webhook(&first, &boss, &rx.url()).await;
        destinations.push((boss, d["id"].as_str().unwrap().to_owned()));
        orgs.push((org, admin));
    }
    const PER_ORG: usize = 10;
    for (_, admin) in &orgs {
        for i in 0..PER_ORG {
            // Writes go to both servers; both workers drain the same outbox.
            let app = if i % 2 == 0 { &first } else { &second };
            app.create("risks", admin, json!({ "title": format!("r{i}") }))
                .await;
        }
    }
    let total = orgs.len() * (PER_ORG + 1);
    eventually("every entry", || rx.got.lock().unwrap().len() >= total).await;
    // Once every outbox is empty nothing is left that could be sent a second time.
    for (boss, id) in &destinations {
        drained(&first, boss, id).await;
    }
    let got = rx.got.lock().unwrap().clone();
    let ids: std::collections::HashSet<&String> = got.iter().map(|(_, d)| d).collect();
    assert_eq!(
        got.len(),
        total,
        "each entry delivered once across both replicas"
    );
    assert_eq!(ids.len(), total);
}
