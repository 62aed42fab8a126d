//! Soak (issue 20 §3): the real `tater` binary on SQLite under a bounded mixed workload —
//! reads (a list, a record, the posture), writes (risks), scan ingestion from an enrolled
//! agent and exports (CSV and JSON) — for `TATER_SOAK_SECS` seconds (180 in CI; 3600 is the
//! documented long run). It must answer no 5xx, its resident memory must stay flat (under
//! 10 % growth after the first third, the warm-up) and its p99 steady (the last third's within
//! a small multiple of the middle third's). Figures are printed for the record.
//!
//! The workload is bounded: the number of risks and scans it creates stops growing at a cap,
//! after which writes update the same records, so the database (and SQLite's page cache) reach
//! a steady size and what is measured is the server, not the data growing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_testkit::TestDb;

use crate::process::{ServerProcess, mib, org_with_keys};
use crate::support::report;

/// Records the workload creates before it only updates them.
const MAX_RISKS: u64 = 500;
/// Distinct scan ids per endpoint: past this, reports repeat (and are answered as retries).
const MAX_SCANS: u64 = 300;
const CLIENTS: usize = 4;

#[derive(Default)]
struct Samples {
    /// (seconds since start, latency in ms, status).
    requests: Vec<(f64, f64, u16)>,
    /// The path and status of every answer that was not a success.
    failures: Vec<(String, u16)>,
    /// (seconds since start, resident bytes).
    rss: Vec<(f64, u64)>,
}

fn p99(latencies: &mut [f64]) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    latencies.sort_by(f64::total_cmp);
    latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)]
}

/// One client (`index`): a fixed mix, forever, until `until`.
#[allow(clippy::too_many_arguments)]
async fn client(
    index: usize,
    base: String,
    admin: String,
    agent: String,
    until: Instant,
    started: Instant,
    samples: Arc<Mutex<Samples>>,
    created: Arc<AtomicU64>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let mut risk_ids: Vec<String> = Vec::new();
    let mut n: u64 = 0;
    while Instant::now() < until {
        n += 1;
        let (method, path, key, body): (Method, String, &str, Option<Value>) = match n % 10 {
            0..=3 => match n % 3 {
                0 => (Method::GET, "/api/risks?limit=50".into(), &admin, None),
                1 => (Method::GET, "/api/posture".into(), &admin, None),
                _ => match risk_ids.last() {
                    Some(id) => (Method::GET, format!("/api/risks/{id}"), &admin, None),
                    None => (Method::GET, "/api/me".into(), &admin, None),
                },
            },
            4..=6 => {
                if created.fetch_add(1, Ordering::SeqCst) < MAX_RISKS || risk_ids.is_empty() {
                    let body = json!({ "title": format!("Soak risk {n}") });
                    (Method::POST, "/api/risks".into(), &admin, Some(body))
                } else {
                    let id = &risk_ids[(n as usize) % risk_ids.len()];
                    let body = json!({ "title": format!("Soak risk {n} (edited)") });
                    (Method::PUT, format!("/api/risks/{id}"), &admin, Some(body))
                }
            }
            7 | 8 => {
                // A stable id per (client, slot): past the cap, reports are retries.
                let slot = format!("{index}-{}", n % MAX_SCANS);
                let scan = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, slot.as_bytes());
                let results = [("linux.time.sync", "Pass")];
                let body = report(&scan.to_string(), "2026-12-01T09:00:00Z", &results);
                (Method::POST, "/api/agent/scans".into(), &agent, Some(body))
            }
            _ => {
                let format = if n % 20 == 9 { "json" } else { "csv" };
                let path = format!("/api/risks/export?format={format}");
                (Method::GET, path, &admin, None)
            }
        };
        let mut req = http
            .request(method.clone(), format!("{base}{path}"))
            .header("x-api-key", key);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let sent = Instant::now();
        let res = req.send().await;
        let (status, answer) = match res {
            Ok(r) => {
                let status = r.status().as_u16();
                let bytes = r.bytes().await.unwrap_or_default();
                (status, bytes)
            }
            // No answer at all counts as a server error.
            Err(_) => (599, Default::default()),
        };
        let latency = sent.elapsed().as_secs_f64() * 1000.0;
        if method == Method::POST
            && path == "/api/risks"
            && status == StatusCode::CREATED.as_u16()
            && let Ok(v) = serde_json::from_slice::<Value>(&answer)
            && let Some(id) = v["id"].as_str()
        {
            risk_ids.push(id.to_owned());
        }
        let at = started.elapsed().as_secs_f64();
        let mut s = samples.lock().expect("samples");
        s.requests.push((at, latency, status));
        if status >= 400 {
            s.failures.push((path, status));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_and_latency_stay_flat_under_a_mixed_load() {
    let secs: u64 = std::env::var("TATER_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(180);
    let db = TestDb::sqlite();
    let data = db.data_dir();
    let (_org, keys) = org_with_keys(&data, "Soak Co", &[("admin@soak.test", "orgadmin")]);
    let admin = keys[0].clone();
    let env = [
        ("TATER_RATE_LIMIT_WRITE", "0"),
        ("TATER_RATE_LIMIT_GENERAL", "0"),
        ("TATER_RATE_LIMIT_SETTINGS", "0"),
        ("TATER_RATE_LIMIT_AUTH", "0"),
    ];
    let server = ServerProcess::start(&data, &env);
    let http = reqwest::Client::new();
    let post = |path: &str, key: Option<&str>, body: Value| {
        let mut req = http.post(format!("{}{path}", server.base)).json(&body);
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        req.send()
    };
    let token: Value = post(
        "/api/enrollment-tokens",
        Some(&admin),
        json!({ "label": "soak", "singleUse": false }),
    )
    .await
    .expect("token")
    .json()
    .await
    .expect("token json");
    let enrolled: Value = post(
        "/api/agent/enroll",
        None,
        json!({ "token": token["token"], "hostname": "soak-01", "os": "linux", "osVersion": "Debian 12", "arch": "x86_64", "agentVersion": "0.1.0" }),
    )
    .await
    .expect("enroll")
    .json()
    .await
    .expect("enroll json");
    let agent = enrolled["apiKey"].as_str().expect("agent key").to_owned();

    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let samples: Arc<Mutex<Samples>> = Arc::default();
    let created = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|index| {
            tokio::spawn(client(
                index,
                server.base.clone(),
                admin.clone(),
                agent.clone(),
                until,
                started,
                samples.clone(),
                created.clone(),
            ))
        })
        .collect();
    // Resident memory every second while the clients run.
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let at = started.elapsed().as_secs_f64();
        samples
            .lock()
            .expect("samples")
            .rss
            .push((at, server.rss()));
    }
    for c in clients {
        c.await.expect("client");
    }

    let s = samples.lock().expect("samples");
    let span = secs as f64;
    // The first third warms up: the records reach their cap, SQLite's page cache fills.
    let warm = span / 3.0;
    let window = |from: f64, to: f64| -> Vec<f64> {
        s.requests
            .iter()
            .filter(|(t, _, _)| *t >= from && *t < to)
            .map(|(_, l, _)| *l)
            .collect()
    };
    let errors: Vec<_> = s.failures.iter().filter(|(_, st)| *st >= 500).collect();
    // Exports running at once are capped per organization (429 past the cap, by design);
    // any other refusal means the workload, not the server, went wrong.
    let busy = |(path, st): &&(String, u16)| *st == 429 && path.contains("/export");
    let exports_busy = s.failures.iter().filter(busy).count();
    let refused: Vec<_> = s
        .failures
        .iter()
        .filter(|f| f.1 < 500 && !busy(f))
        .collect();
    let rss_after_warm = s
        .rss
        .iter()
        .find(|(t, _)| *t >= warm)
        .map_or(0, |(_, r)| *r);
    let rss_end = s.rss.last().map_or(0, |(_, r)| *r);
    let rss_peak = s.rss.iter().map(|(_, r)| *r).max().unwrap_or(0);
    let middle = p99(&mut window(span / 3.0, 2.0 * span / 3.0));
    let last = p99(&mut window(2.0 * span / 3.0, span + 60.0));
    let total = s.requests.len();
    eprintln!(
        "soak {secs} s, {CLIENTS} clients: {total} requests ({:.0}/s), {} 5xx, {exports_busy} \
         exports refused as busy; RSS after warm-up \
         {:.1} MiB, at the end {:.1} MiB ({:+.1} %), peak {:.1} MiB; p99 middle third {middle:.1} \
         ms, last third {last:.1} ms",
        total as f64 / span,
        errors.len(),
        mib(rss_after_warm),
        mib(rss_end),
        (rss_end as f64 / rss_after_warm.max(1) as f64 - 1.0) * 100.0,
        mib(rss_peak),
    );
    assert!(
        errors.is_empty(),
        "server errors: {:?}",
        &errors[..errors.len().min(10)]
    );
    assert!(
        refused.is_empty(),
        "refused: {:?}",
        &refused[..refused.len().min(10)]
    );
    assert!(total > 100, "too few requests to say anything: {total}");
    assert!(
        (rss_end as f64) < rss_after_warm as f64 * 1.10,
        "resident memory grew more than 10 % after warm-up"
    );
    // Steady, not fast: the machine is shared with the rest of the suite.
    assert!(
        last <= middle * 3.0 + 50.0,
        "p99 rose from {middle:.1} ms to {last:.1} ms"
    );
}
