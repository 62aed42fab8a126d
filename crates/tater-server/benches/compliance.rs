//! Scan ingestion and posture at scale, on SQLite and PostgreSQL.
//!
//! 1. Ingest: 1,000 endpoints each report one scan of 300 results through the real HTTP path
//!    (`POST /api/agent/scans`: authentication, validation, audit), then each reports again
//!    with a few results changed (a routine re-scan: most posture counters stay as they are);
//!    both compared with a bare bulk insert of the same rows into a table of the same shape,
//!    in the same database and run.
//! 2. Posture: `GET /api/posture` for an organization with 10,000 endpoints × 300 results.
//! 3. The web application at that size: server render time (p50/p99) of the dashboard and of
//!    the controls list, each against the JSON API call with the same data.
//!
//! Run: `cargo bench -p tater-server --bench compliance` (with `TATER_TEST_POSTGRES_URL` for
//! PostgreSQL). `TATER_BENCH_INGEST_ENDPOINTS` and `TATER_BENCH_POSTURE_ENDPOINTS` scale it;
//! `TATER_BENCH_AGENTS` sets the agents at a time (8).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark, not a service

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use tater_catalog::{Catalog, Check, CheckCatalog, Severity};
use tater_domain::{
    Actor, AuditAction, AuditDraft, Channel, CheckStatus, Counts, OrgId, Scan, ScanId, ScanResult,
};
use tater_domain::{Permit, SystemPurpose};
use tater_server::{App, AppConfig};
use tater_service::{EnrollRequest, Service, SystemOperator};
use tater_store::Mode;
use tater_testkit::{Engine, TestDb};

const RESULTS: usize = 300;
/// The reader's password, for the web application's pages.
const WEB_PASSWORD: &str = "a benchmark reader's password";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Agents (and bare writers) at a time: 8 unless `TATER_BENCH_AGENTS` says otherwise. One
/// agent shows each statement's cost without lock waits in it.
fn agents() -> usize {
    env_or("TATER_BENCH_AGENTS", 8).max(1)
}

/// 300 checks mapped round-robin onto the MODERATE baseline, severities cycling.
fn checks() -> Arc<CheckCatalog> {
    let catalog = Catalog::builtin().unwrap();
    let moderate = &catalog
        .framework("nist-800-53-rev5-moderate")
        .unwrap()
        .controls;
    let severities = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];
    let checks = (0..RESULTS)
        .map(|i| Check {
            id: format!("bench.check.{i:03}"),
            title: format!("Benchmark check {i}"),
            severity: severities[i % 4],
            rationale: "benchmark".into(),
            remediation: "benchmark".into(),
            controls: vec![
                moderate[i % moderate.len()].clone(),
                moderate[(i * 7 + 3) % moderate.len()].clone(),
            ],
            platforms: vec!["linux".into()],
            remediation_script: None,
            rule: None,
        })
        .collect();
    Arc::new(CheckCatalog::new(checks))
}

/// 80 % Pass, 15 % Fail, the rest spread over the other statuses.
fn status(endpoint: usize, check: usize) -> CheckStatus {
    match (endpoint * 31 + check * 17) % 20 {
        0..=15 => CheckStatus::Pass,
        16..=18 => CheckStatus::Fail,
        _ => [
            CheckStatus::ManualReview,
            CheckStatus::Skip,
            CheckStatus::Error,
            CheckStatus::NotApplicable,
        ][check % 4],
    }
}

async fn app(db: &TestDb) -> (App, Service) {
    let config = {
        let mut c = AppConfig::for_tests(&db.url);
        c.checks = Some(checks());
        c
    };
    let app = App::build(config).await.unwrap();
    let service = app.service.clone();
    (app, service)
}

async fn org_with_endpoints(
    service: &Service,
    name: &str,
    n: usize,
) -> (OrgId, Vec<(tater_domain::EndpointId, String)>) {
    let op = SystemOperator {
        name: "bench",
        detail: "bench".into(),
    };
    let org = service.admin_create_org(&op, name, None).await.unwrap().id;
    let actor = Actor::system("bench", "bench", org, Channel::Api);
    let token = service
        .create_enrollment_token(&actor, "bench", Some(24), false, None)
        .await
        .unwrap()
        .token;
    let mut endpoints = Vec::with_capacity(n);
    for i in 0..n {
        let req = EnrollRequest {
            token: token.clone(),
            hostname: format!("host-{i:05}"),
            os: "linux".into(),
            os_version: "Debian 12".into(),
            arch: "x86_64".into(),
            agent_version: "0.1.0".into(),
        };
        let e = service.enroll(&req, None).await.unwrap();
        endpoints.push((e.endpoint_id, e.credential));
    }
    (org, endpoints)
}

/// An endpoint's report in round `round`: from the second round on, one result in 30
/// differs from the first (Pass and Fail swapped), as between two routine scans.
fn report(endpoint: usize, round: usize) -> Value {
    let now = time::OffsetDateTime::now_utc();
    let ts = tater_domain::Timestamp::from_datetime(now).to_string();
    let results: Vec<Value> = (0..RESULTS)
        .map(|c| {
            let mut st = status(endpoint, c);
            if round > 0 && (c + endpoint).is_multiple_of(30) {
                st = match st {
                    CheckStatus::Pass => CheckStatus::Fail,
                    _ => CheckStatus::Pass,
                };
            }
            json!({ "checkId": format!("bench.check.{c:03}"), "status": st.as_str(), "evidence": "sshd_config: PermitRootLogin no" })
        })
        .collect();
    json!({ "scanId": uuid::Uuid::new_v4().to_string(), "startedAt": ts, "finishedAt": ts, "results": results })
}

/// Ingest round `round` through HTTP with `agents()` agents at a time; results per second.
async fn ingest(base: &str, endpoints: &[(tater_domain::EndpointId, String)], round: usize) -> f64 {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let reports: Vec<(String, Value)> = endpoints
        .iter()
        .enumerate()
        .map(|(i, (_, key))| (key.clone(), report(i, round)))
        .collect();
    let chunks: Vec<Vec<(String, Value)>> = reports
        .chunks(reports.len().div_ceil(agents()))
        .map(<[_]>::to_vec)
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let client = client.clone();
        let url = format!("{base}/api/agent/scans");
        tasks.push(tokio::spawn(async move {
            for (key, body) in chunk {
                let res = client
                    .post(&url)
                    .header("x-api-key", key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (endpoints.len() * RESULTS) as f64 / started.elapsed().as_secs_f64()
}

/// The same rows into a table of the same shape, one multi-row insert and one transaction per
/// scan, `agents()` writers; results per second.
async fn bare_insert(db: &TestDb, scans: usize) -> f64 {
    let ddl = "CREATE TABLE bench_bare (tenant_id TEXT NOT NULL, scan_id TEXT NOT NULL, check_id TEXT NOT NULL, \
               status TEXT NOT NULL, severity TEXT NOT NULL, evidence TEXT NOT NULL, PRIMARY KEY (tenant_id, scan_id, check_id))";
    let values = |scan: usize| -> (String, Vec<String>) {
        let mut sql = String::from("INSERT INTO bench_bare VALUES ");
        let mut args = Vec::new();
        for c in 0..RESULTS {
            let base = c * 6;
            sql.push_str(&format!(
                "{}(${}, ${}, ${}, ${}, ${}, ${})",
                if c == 0 { "" } else { ", " },
                base + 1,
                base + 2,
                base + 3,
                base + 4,
                base + 5,
                base + 6
            ));
            args.extend([
                "tenant".to_owned(),
                format!("scan-{scan}"),
                format!("bench.check.{c:03}"),
                status(scan, c).as_str().to_owned(),
                "High".to_owned(),
                "sshd_config: PermitRootLogin no".to_owned(),
            ]);
        }
        (sql, args)
    };
    match db.engine {
        Engine::Sqlite => {
            // The same connection settings as the store's SQLite engine.
            let options: sqlx::sqlite::SqliteConnectOptions =
                std::str::FromStr::from_str(&db.url).unwrap();
            let options = options
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(std::time::Duration::from_secs(30));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .unwrap();
            sqlx::query(ddl).execute(&pool).await.unwrap();
            let started = Instant::now();
            let mut tasks = Vec::new();
            for w in 0..agents() {
                let pool = pool.clone();
                let work: Vec<(String, Vec<String>)> =
                    (w..scans).step_by(agents()).map(values).collect();
                tasks.push(tokio::spawn(async move {
                    for (sql, args) in work {
                        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
                        let mut q = sqlx::query(&sql);
                        for a in &args {
                            q = q.bind(a);
                        }
                        q.execute(&mut *tx).await.unwrap();
                        tx.commit().await.unwrap();
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            (scans * RESULTS) as f64 / started.elapsed().as_secs_f64()
        }
        Engine::Postgres => {
            // As many connections as the store's pool, so more agents than sqlx's default of
            // ten do not queue on the bare side alone.
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(16)
                .connect(&db.url)
                .await
                .unwrap();
            sqlx::query(ddl).execute(&pool).await.unwrap();
            let started = Instant::now();
            let mut tasks = Vec::new();
            for w in 0..agents() {
                let pool = pool.clone();
                let work: Vec<(String, Vec<String>)> =
                    (w..scans).step_by(agents()).map(values).collect();
                tasks.push(tokio::spawn(async move {
                    for (sql, args) in work {
                        let mut tx = pool.begin().await.unwrap();
                        let mut q = sqlx::query(&sql);
                        for a in &args {
                            q = q.bind(a);
                        }
                        q.execute(&mut *tx).await.unwrap();
                        tx.commit().await.unwrap();
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            (scans * RESULTS) as f64 / started.elapsed().as_secs_f64()
        }
    }
}

/// Seeds scans straight through the store (seeding is not what is measured), 50 per transaction.
async fn seed_scans(
    service: &Service,
    org: OrgId,
    endpoints: &[(tater_domain::EndpointId, String)],
) {
    let permit = Permit::system(org, SystemPurpose::Inspection, Mode::Write);
    let actor = Actor::system("bench", "seed", org, Channel::Agent);
    for (batch_no, batch) in endpoints.chunks(50).enumerate() {
        let mut tx = service.store().tenant(&permit).await.unwrap();
        for (i, (endpoint, _)) in batch.iter().enumerate() {
            let n = batch_no * 50 + i;
            let results: Vec<ScanResult> = (0..RESULTS)
                .map(|c| ScanResult {
                    check_id: format!("bench.check.{c:03}"),
                    status: status(n, c),
                    severity: ["Critical", "High", "Medium", "Low"][c % 4].into(),
                    evidence: "sshd_config: PermitRootLogin no".into(),
                })
                .collect();
            let now = service.now();
            let scan = Scan {
                id: ScanId::generate(),
                org,
                endpoint: *endpoint,
                started_at: now,
                finished_at: now,
                received_at: now,
                counts: Counts::of(&results),
            };
            let audit = AuditDraft::new(&actor, AuditAction::Create, "scan", scan.id, now);
            tx.insert_scan(&scan, &results, &audit).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
}

/// Latencies of `GET url` with `header` (after one warm-up): min, p50, p99 in ms over
/// `runs`, and the answer's size.
async fn latency(url: &str, header: (&str, &str), runs: usize) -> (f64, f64, f64, usize) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = || async {
        let started = Instant::now();
        let res = client
            .get(url)
            .header(header.0, header.1)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{url}");
        let body = res.bytes().await.unwrap();
        (started.elapsed().as_secs_f64() * 1000.0, body.len())
    };
    let (_, size) = get().await;
    let mut times = Vec::new();
    for _ in 0..runs {
        times.push(get().await.0);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (times[0], at(0.5), at(0.99), size)
}

/// A web session's cookie for `email` (signed in through the sign-in form).
async fn web_cookie(base: &str, email: &str, password: &str) -> String {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{base}{}", tater_web::SIGN_IN_PATH);
    // The form's login-CSRF token, which the browser also holds in a cookie.
    let form = client.get(&url).send().await.unwrap().text().await.unwrap();
    let field = "name=\"_signin\" value=\"";
    let at = form.find(field).expect("the sign-in form's token") + field.len();
    let token = form[at..].split('"').next().unwrap();
    let res = client
        .post(&url)
        .header("sec-fetch-site", "same-origin")
        .header("cookie", format!("{}={token}", tater_web::SIGN_IN_COOKIE))
        .form(&[("email", email), ("password", password), ("_signin", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "signing in for the page benchmark");
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok()?.split(';').next())
        .find(|c| c.starts_with(&format!("{}=", tater_web::SESSION_COOKIE)))
        .expect("a session cookie")
        .to_owned()
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_writer(std::io::sink)
        .init();
    let ingest_n = env_or("TATER_BENCH_INGEST_ENDPOINTS", 1000);
    let posture_n = env_or("TATER_BENCH_POSTURE_ENDPOINTS", 10_000);
    println!(
        "{} cores; ingest {ingest_n} endpoints × {RESULTS} results, agents at a time: {}; posture {posture_n} endpoints × {RESULTS}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        agents()
    );
    let mut engines = vec![("sqlite", TestDb::sqlite())];
    if let Some(pg) = TestDb::postgres().await {
        engines.push(("postgres", pg));
    }
    for (engine, db) in &engines {
        let (app, service) = app(db).await;
        let base = format!("http://{}", app.addr);
        tokio::spawn(app.run_until(std::future::pending()));
        let (_, endpoints) = org_with_endpoints(&service, "Ingest", ingest_n).await;
        let api = ingest(&base, &endpoints, 0).await;
        let again = ingest(&base, &endpoints, 1).await;
        let bare = bare_insert(db, ingest_n).await;
        println!(
            "{engine}: ingest via API {api:.0} results/s (first scans), {again:.0} results/s (re-scans); \
             bare bulk insert {bare:.0} results/s; ratio {:.3} (first), {:.3} (re-scans)",
            api / bare,
            again / bare
        );

        let (org, many) = org_with_endpoints(&service, "Posture", posture_n).await;
        let seeding = Instant::now();
        seed_scans(&service, org, &many).await;
        let seeded = seeding.elapsed().as_secs_f64();
        let op = SystemOperator {
            name: "bench",
            detail: "bench".into(),
        };
        let org_ref = org.to_string();
        service
            .admin_create_user(
                &op,
                tater_service::AdminOrgRef(&org_ref),
                "reader@example.com",
                tater_domain::Role::Viewer,
                Some(WEB_PASSWORD),
                None,
            )
            .await
            .unwrap();
        let key = service
            .admin_create_api_key(
                &op,
                "reader@example.com",
                Some(tater_service::AdminOrgRef(&org_ref)),
                "bench",
                None,
                None,
            )
            .await
            .unwrap()
            .key;
        let posture = format!("{base}/api/posture");
        let (min, median, p99, size) = latency(&posture, ("x-api-key", &key), 5).await;
        println!(
            "{engine}: GET /api/posture with {} results: min {min:.0} ms, median {median:.0} ms, p99 {p99:.0} ms ({} KiB; seeding took {seeded:.0} s)",
            posture_n * RESULTS,
            size / 1024
        );
        // The web application's pages over the same data, against the JSON they show.
        let cookie = web_cookie(&base, "reader@example.com", WEB_PASSWORD).await;
        let runs = env_or("TATER_BENCH_PAGE_RUNS", 100);
        let controls = "framework=nist-800-53-rev5-moderate&limit=50";
        for (page, api) in [
            (format!("{base}/app"), posture.clone()),
            (
                format!("{base}/app/controls?{controls}"),
                format!("{base}/api/controls?{controls}"),
            ),
        ] {
            let (_, p50, p99, size) = latency(&page, ("cookie", &cookie), runs).await;
            let (_, a50, a99, asize) = latency(&api, ("x-api-key", &key), runs).await;
            println!(
                "{engine}: page {} p50 {p50:.1} ms p99 {p99:.1} ms ({} KiB) | JSON {} p50 {a50:.1} ms p99 {a99:.1} ms ({} KiB) | page/JSON p50 {:.2}",
                page.trim_start_matches(&base),
                size / 1024,
                api.trim_start_matches(&base),
                asize / 1024,
                p50 / a50
            );
        }
    }
}
