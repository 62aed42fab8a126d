//! Replicas (issue 20 §2): two `tater serve` processes on one PostgreSQL database and one
//! Redis, under mixed load from clients that use both, and one of them killed with SIGKILL
//! while it holds work:
//! * one rate limit: failed sign-ins from one address count once across both servers;
//! * the first replica leases the due-date reminders and stalls in the mail relay, and holds
//!   the SIEM destination's delivery while the receiver stalls; it is killed there, and the
//!   other takes both over when the leases run out (`TATER_RUNNER_LEASE_SECS`,
//!   `TATER_SIEM_LEASE_SECS`);
//! * every reminder arrives once, every job is done once (a job runs a second time only where
//!   the killed replica held it), every audit entry reaches the SIEM at least once and exactly
//!   once after de-duplication by `X-TATER-Delivery`;
//! * every acknowledged write is there with its audit entry, nothing is half there, no answer
//!   was a 5xx, and the chain verifies.
//!
//! Needs PostgreSQL, Redis and the SMTP sink; says "skipped" for whichever is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tater_testkit::smtp::MailSink;
use tater_testkit::{DbOwner, TestDb};

use crate::crash::{Client, all_items, audit_entries, created_ids, same};
use crate::process::{ServerProcess, org_with_keys_in};
use crate::support::{new_id, report};

const LEAD: &str = "lead@replicas.test";
const ANN: &str = "ann@replicas.test";
/// Tasks due within the week: each owes its assignee one reminder.
const TASKS: usize = 6;
/// Failed sign-ins one address may make per minute, across all replicas.
const AUTH_LIMIT: usize = 10;

/// A webhook receiver that can hold every request unanswered (a SIEM that hangs) and records
/// each delivered entry with its delivery id once it answers.
struct StallingReceiver {
    port: u16,
    /// (delivery id, entry seq), one per answered request.
    got: Arc<Mutex<Vec<(String, i64)>>>,
    /// Requests waiting for [`StallingReceiver::release`].
    waiting: Arc<AtomicUsize>,
    open: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl StallingReceiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let got: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
        let waiting = Arc::new(AtomicUsize::new(0));
        let (open, opened) = tokio::sync::watch::channel(false);
        let (g, w) = (got.clone(), waiting.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (g, w, mut opened) = (g.clone(), w.clone(), opened.clone());
                async move {
                    w.fetch_add(1, Ordering::SeqCst);
                    let _ = opened.wait_for(|o| *o).await;
                    w.fetch_sub(1, Ordering::SeqCst);
                    g.lock()
                        .expect("got")
                        .push(crate::siem::delivery_of(&headers, &body));
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            port,
            got,
            waiting,
            open,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn release(&self) {
        let _ = self.open.send(true);
    }

    fn seqs(&self) -> BTreeSet<i64> {
        let got = self.got.lock().expect("got");
        got.iter().map(|(_, s)| *s).collect()
    }
}

impl Drop for StallingReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Both replicas' environment: one database, one Redis, one master key and signing key, a
/// short lease for jobs and deliveries, limits off but for sign-ins.
fn environment(db: &TestDb, redis: &str, sink: &MailSink) -> Vec<(&'static str, String)> {
    vec![
        ("TATER_DATABASE_URL", db.url.clone()),
        ("TATER_REDIS_URL", redis.to_owned()),
        (
            "TATER_REDIS_PREFIX",
            format!("tater-test:{}:", uuid::Uuid::new_v4().simple()),
        ),
        ("TATER_MASTER_KEY", "ab".repeat(32)),
        (
            "AUDIT_SIGNING_KEY",
            "replica-test-audit-signing-key-0123456789".to_owned(),
        ),
        ("TATER_EGRESS_ALLOW", "127.0.0.0/8".to_owned()),
        ("TATER_EGRESS_ALLOW_HTTP", "true".to_owned()),
        ("TATER_SMTP_URL", sink.url()),
        ("TATER_MAIL_FROM", "tater@replicas.test".to_owned()),
        ("TATER_RUNNER_POLL_SECS", "1".to_owned()),
        // The shortest leases allowed: the takeover comes this long after the first lease.
        ("TATER_RUNNER_LEASE_SECS", "60".to_owned()),
        ("TATER_SIEM_LEASE_SECS", "30".to_owned()),
        ("TATER_RATE_LIMIT_AUTH", AUTH_LIMIT.to_string()),
        ("TATER_RATE_LIMIT_WRITE", "0".to_owned()),
        ("TATER_RATE_LIMIT_GENERAL", "0".to_owned()),
        ("TATER_RATE_LIMIT_SETTINGS", "0".to_owned()),
    ]
}

/// A replica with its own data directory (its own machine) and the shared environment, with
/// `extra` on top.
fn replica(env: &[(&str, String)], extra: &[(&str, &str)]) -> (ServerProcess, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("data dir");
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    (ServerProcess::start(dir.path(), &all), dir)
}

async fn eventually_async<F: AsyncFnMut() -> bool>(what: &str, secs: u64, mut check: F) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The reminder jobs as (id, state, attempts, lease owner).
async fn reminder_jobs(owner: &DbOwner) -> Vec<(String, String, i64, Option<String>)> {
    owner
        .text_rows(
            "SELECT id, state, attempts::text, lease_owner FROM runner_jobs \
             WHERE idempotency_key LIKE 'reminder:%' ORDER BY id",
        )
        .await
        .into_iter()
        .map(|r| {
            let text = |i: usize| r[i].clone().unwrap_or_default();
            (
                text(0),
                text(1),
                text(2).parse().unwrap_or(-1),
                r[3].clone(),
            )
        })
        .collect()
}

/// What one client's operation came to.
#[derive(Debug, Default)]
struct Tally {
    /// Risk titles whose create was acknowledged, with the id.
    risks: BTreeMap<String, String>,
    /// Scans acknowledged: the ids the server gave.
    scans: BTreeSet<String>,
    /// Answers by status class, and operations that got no answer (the killed replica).
    ok: usize,
    refused: Vec<String>,
    server_errors: Vec<String>,
    lost: usize,
}

/// One client: `ops` operations, each on the replica its turn picks (only the survivor once
/// the other is gone); a write that got no answer is retried on the survivor, a scan with the
/// same id (the agent's spool does that), a risk under a new title (its first title may or
/// may not have been kept: the checks below allow either, but never half).
async fn client(
    n: usize,
    replicas: [Arc<Client>; 2],
    dead: Arc<std::sync::atomic::AtomicBool>,
    admin: String,
    agent: String,
    ops: usize,
    done: Arc<AtomicUsize>,
) -> Tally {
    let mut t = Tally::default();
    for i in 0..ops {
        let mut which = (n + i) % 2;
        let scan_id = new_id();
        let mut attempt = 0;
        loop {
            if dead.load(Ordering::SeqCst) {
                which = 1;
            }
            let c = &replicas[which];
            let title = format!("load {n}-{i}-{attempt}");
            let (method, path, key, body) = match i % 4 {
                0 => (
                    Method::POST,
                    "/api/risks".to_owned(),
                    &admin,
                    Some(json!({ "title": title })),
                ),
                1 => (
                    Method::POST,
                    "/api/agent/scans".to_owned(),
                    &agent,
                    Some(report(
                        &scan_id,
                        "2026-12-01T09:00:00Z",
                        &[("linux.time.sync", "Pass")],
                    )),
                ),
                2 => (Method::GET, "/api/risks?limit=50".to_owned(), &admin, None),
                _ => (Method::GET, "/api/posture".to_owned(), &admin, None),
            };
            let what = format!("{method} {path} on replica {which}");
            match c.call(method, &path, key, body.as_ref()).await {
                Some((s, v)) if s.is_success() => {
                    t.ok += 1;
                    match i % 4 {
                        0 => {
                            t.risks
                                .insert(title, v["id"].as_str().unwrap_or_default().to_owned());
                        }
                        1 => {
                            t.scans
                                .insert(v["id"].as_str().unwrap_or_default().to_owned());
                        }
                        _ => {}
                    }
                    break;
                }
                Some((s, v)) if s.is_server_error() => {
                    t.server_errors.push(format!("{what}: {s} {v}"));
                    break;
                }
                Some((s, v)) => {
                    t.refused.push(format!("{what}: {s} {v}"));
                    break;
                }
                None => {
                    t.lost += 1;
                    assert_eq!(which, 0, "the surviving replica stopped answering: {what}");
                    attempt += 1;
                }
            }
        }
        done.fetch_add(1, Ordering::SeqCst);
    }
    t
}

/// Failed sign-ins from one address, alternating between the replicas: the shared limit lets
/// `AUTH_LIMIT` through in all, then both refuse.
async fn sign_ins_share_one_limit(first: &Client, second: &Client) {
    for n in 0..AUTH_LIMIT + 2 {
        let c = if n % 2 == 0 { first } else { second };
        let body = json!({ "email": LEAD, "password": "not the password" });
        let (s, v) = c
            .call(Method::POST, "/api/auth/login", "", Some(&body))
            .await
            .expect("an answer");
        let want = if n < AUTH_LIMIT {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(s, want, "sign-in {n} on replica {}: {v}", n % 2);
    }
}

#[tokio::test]
async fn two_replicas_share_the_work_and_take_over_from_a_killed_one() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let Ok(redis) = std::env::var("TATER_TEST_REDIS_URL") else {
        eprintln!("skipped: replicas suite (TATER_TEST_REDIS_URL is not set)");
        return;
    };
    let Some(sink) = MailSink::start() else {
        return;
    };
    let owner = db.owner();
    let env = environment(&db, &redis, &sink);
    let cli_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let setup_dir = tempfile::tempdir().expect("data dir");
    let (_org, keys) = org_with_keys_in(
        setup_dir.path(),
        "Replica Co",
        &[(LEAD, "orgadmin"), (ANN, "admin")],
        &cli_env,
    );
    let admin = keys[0].clone();

    // The work that will be due: tasks within the week (through a server that runs no jobs,
    // so the first replica's plan finds them all), and an enrolled agent.
    let today = time::OffsetDateTime::now_utc().date();
    // Its own rate-limit buckets: the agent's enrollment counts as a sign-in.
    let setup_prefix = format!("tater-test:{}:", uuid::Uuid::new_v4().simple());
    let (setup, _setup_data) = replica(
        &env,
        &[
            ("TATER_RUNNER_POLL_SECS", "0"),
            ("TATER_REDIS_PREFIX", &setup_prefix),
        ],
    );
    let c = Client::new(&setup.base);
    let mut titles = Vec::new();
    for n in 0..TASKS {
        let title = format!("Replica task {}", (b'A' + n as u8) as char);
        let due = today + time::Duration::days(1 + n as i64);
        let assignee = if n % 2 == 0 { ANN } else { LEAD };
        let body = json!({ "title": title, "priority": "High", "dueDate": due.to_string(), "assignee": assignee });
        c.post("/api/tasks", &admin, &body).await;
        titles.push((title, assignee));
    }
    let agent = c.enroll_agent(&admin, "replica-01").await;
    drop(setup);

    // The first replica alone: it plans the reminders and leases them, and stalls in the
    // frozen relay; it takes the new destination's delivery and stalls in the receiver.
    sink.pause();
    let rx = StallingReceiver::start().await;
    let (first, _first_data) = replica(&env, &[]);
    let a = Arc::new(Client::new(&first.base));
    let body =
        json!({ "type": "webhook", "name": "SOC", "url": rx.url(), "secret": crate::siem::SECRET });
    a.post("/api/siem-destinations", &admin, &body).await;
    eventually_async(
        "the first replica to lease every reminder",
        30,
        async || {
            let jobs = reminder_jobs(&owner).await;
            jobs.len() == TASKS
                && jobs
                    .iter()
                    .all(|(_, state, _, o)| state == "running" && o.is_some())
        },
    )
    .await;
    let leased = reminder_jobs(&owner).await;
    let first_owner = leased[0].3.clone();
    assert!(
        leased.iter().all(|(.., o)| *o == first_owner),
        "one runner took every reminder: {leased:?}"
    );
    let held_by_first: BTreeSet<String> = leased.into_iter().map(|(id, ..)| id).collect();
    eventually_async("the first replica's delivery to stall", 30, async || {
        rx.waiting.load(Ordering::SeqCst) > 0
    })
    .await;

    // The second replica joins; sign-ins share one limit; clients load both.
    let (second, _second_data) = replica(&env, &[]);
    let b = Arc::new(Client::new(&second.base));
    sign_ins_share_one_limit(&a, &b).await;
    let dead = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    const CLIENTS: usize = 4;
    const OPS: usize = 120;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            tokio::spawn(client(
                n,
                [a.clone(), b.clone()],
                dead.clone(),
                admin.clone(),
                agent.clone(),
                OPS,
                done.clone(),
            ))
        })
        .collect();
    // A third of the way in, the first replica dies holding its leases: the reminders (no
    // other runner has them) and the destination (its request still waits at the receiver).
    eventually_async("a third of the load", 20, async || {
        done.load(Ordering::SeqCst) >= CLIENTS * OPS / 3
    })
    .await;
    let jobs = reminder_jobs(&owner).await;
    assert!(
        jobs.iter()
            .all(|(_, s, _, o)| s == "running" && *o == first_owner),
        "the first replica still holds every reminder at the kill: {jobs:?}"
    );
    assert!(
        rx.waiting.load(Ordering::SeqCst) > 0,
        "the first replica's delivery still waits at the kill"
    );
    drop(first); // SIGKILL, then reaped
    dead.store(true, Ordering::SeqCst);
    let killed_at = Instant::now();
    let killed_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    sink.resume();
    rx.release();
    let mut tally = Tally::default();
    for c in clients {
        let t = c.await.expect("client");
        tally.ok += t.ok;
        tally.lost += t.lost;
        tally.risks.extend(t.risks);
        tally.scans.extend(t.scans);
        tally.refused.extend(t.refused);
        tally.server_errors.extend(t.server_errors);
    }
    assert!(
        tally.server_errors.is_empty(),
        "5xx: {:?}",
        tally.server_errors
    );
    assert!(tally.refused.is_empty(), "refused: {:?}", tally.refused);

    // The survivor sends every reminder once, taking over the killed replica's leases.
    eventually_async("every reminder", 120, async || {
        sink.messages().len() >= TASKS
            && reminder_jobs(&owner)
                .await
                .iter()
                .all(|(_, s, ..)| s == "done")
    })
    .await;
    let taken_over = killed_at.elapsed();
    let mails = sink.messages();
    assert_eq!(mails.len(), TASKS, "one reminder per task");
    for (title, to) in &titles {
        let got: Vec<_> = mails
            .iter()
            .filter(|m| m.text.contains(title.as_str()))
            .collect();
        assert_eq!(got.len(), 1, "{title}: one reminder");
        assert!(got[0].to.contains(to), "{title} to {to}: {}", got[0].to);
    }
    for (id, state, attempts, _) in reminder_jobs(&owner).await {
        assert_eq!(state, "done");
        // Leased by the first replica and again by the second, which ran it.
        assert!(held_by_first.contains(&id));
        assert_eq!(attempts, 2, "job {id}: leased {attempts} times");
    }
    // The plans made before the kill (a new hour's plan may be under way now).
    let before_kill = killed_ms - 1;
    let jobs = owner
        .text_rows(&format!(
            "SELECT id, state, attempts::text FROM runner_jobs \
             WHERE idempotency_key NOT LIKE 'reminder:%' AND created_at < {before_kill}"
        ))
        .await;
    for job in &jobs {
        assert_eq!(job[1].as_deref(), Some("done"), "job {job:?}");
        assert_eq!(job[2].as_deref(), Some("1"), "job {job:?}: run once");
    }

    // Every entry from the destination's creation on reaches the SIEM, once per delivery id.
    let entries = audit_entries(&b, &admin).await;
    let from = entries
        .iter()
        .find(|e| e["entityType"] == "siem-destination" && e["action"] == "create")
        .and_then(|e| e["seq"].as_i64())
        .expect("the destination's create entry");
    let last = entries
        .iter()
        .filter_map(|e| e["seq"].as_i64())
        .max()
        .expect("entries");
    let wanted: BTreeSet<i64> = (from + 1..=last).collect();
    eventually_async("every entry at the SIEM", 90, async || {
        rx.seqs().is_superset(&wanted)
    })
    .await;
    let got = rx.got.lock().expect("got").clone();
    let mut by_delivery: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    let mut by_seq: BTreeMap<i64, BTreeSet<&str>> = BTreeMap::new();
    for (d, s) in &got {
        by_delivery.entry(d.as_str()).or_default().insert(*s);
        by_seq.entry(*s).or_default().insert(d.as_str());
    }
    assert!(
        by_delivery.values().all(|s| s.len() == 1),
        "a delivery id names one entry"
    );
    assert!(
        by_seq.values().all(|d| d.len() == 1),
        "an entry has one delivery id"
    );
    let notify = entries.iter().filter(|e| e["action"] == "notify").count();
    assert_eq!(notify, TASKS, "one notify entry per reminder");

    // Acknowledged writes are there, with their entries; nothing is half there.
    let created = |entity: &str| created_ids(&entries, entity);
    let risks: BTreeSet<String> = all_items(&b, "/api/risks", &admin)
        .await
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect();
    same(&risks, &created("risk"), "risks");
    for (title, id) in &tally.risks {
        assert!(
            risks.contains(id),
            "acknowledged risk {title} ({id}) is missing"
        );
    }
    let scans = created("scan");
    for id in &tally.scans {
        assert!(
            scans.contains(id),
            "acknowledged scan {id} has no create entry"
        );
    }
    let verify = b.ok("/api/audit-log/verify", &admin).await;
    assert_eq!(verify["ok"], true, "{verify}");
    eprintln!(
        "replicas: {} operations answered, {} lost to the kill (retried on the survivor), 0 5xx; \
         {} risks and {} scans acknowledged; {TASKS} reminders sent once ({} jobs taken over, \
         {taken_over:?} after the kill); {} entries at the SIEM from {} requests",
        tally.ok,
        tally.lost,
        tally.risks.len(),
        tally.scans.len(),
        held_by_first.len(),
        wanted.len(),
        got.len()
    );
}
