//! `/metrics` on its own listener, read by an independent parser (Python's
//! `prometheus_client`): requests by route template (never a raw id), latency histograms,
//! rate-limit refusals, audit entries, the pool, the SIEM queue per destination (organizations
//! named only when asked) and the job runner's backlog.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tater_domain::Role;
use tater_testkit::{Engine, TestDb, both_engines};

use crate::support::*;

both_engines!(metrics_are_served_apart_and_parse_as_prometheus);

/// One sample: its name, labels and value.
type Sample = (String, HashMap<String, String>, f64);

/// Every sample `prometheus_client` reads in `text`: (name, labels, value); `None` when the
/// parser is not installed.
fn parsed(text: &str) -> Option<Vec<Sample>> {
    let script = "import sys, json\n\
from prometheus_client.parser import text_string_to_metric_families\n\
out = [[s.name, s.labels, s.value] for f in text_string_to_metric_families(sys.stdin.read()) for s in f.samples]\n\
print(json.dumps(out))\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(text.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("No module named 'prometheus_client'") {
        eprintln!("skipped: prometheus_client is not installed (pip install prometheus_client)");
        return None;
    }
    assert!(
        out.status.success(),
        "the parser refused the exposition: {err}\n{text}"
    );
    let samples: Vec<Sample> = serde_json::from_slice(&out.stdout).unwrap();
    Some(samples)
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.2)
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    let res = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    res.text().await.unwrap()
}

async fn metrics_are_served_apart_and_parse_as_prometheus(db: TestDb) {
    let (url, engine) = (db.url.clone(), db.engine);
    let app = TestApp::spawn_configured(db, |c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        c.rate_limits.limits.general = 6;
    })
    .await;
    let addr = app.metrics_addr.expect("a metrics listener");
    assert!(
        !app.base.ends_with(&format!(":{}", addr.port())),
        "a listener of its own"
    );
    let (status, _) = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_ne!(status, StatusCode::OK, "not on the public listener");
    let org = app.org("Metered Org").await;
    let admin = app.member(org, "admin@metered.test", Role::OrgAdmin).await;
    // A destination nobody listens at: entries wait in its queue.
    let (status, dest) = app
        .send(
            Method::POST,
            "/api/siem-destinations",
            &admin,
            &json!({ "type": "webhook", "name": "Nowhere", "url": "http://127.0.0.1:9/hook",
                     "secret": "a webhook secret of some length" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{dest}");
    let risk = app.create("risks", &admin, sample("risks", 1)).await;
    let id = risk["id"].as_str().unwrap();
    let (status, _) = app.get(&format!("/api/risks/{id}"), &admin).await;
    assert_eq!(status, StatusCode::OK);
    // The general limit is 6: the /metrics miss, the record's read and four lists pass.
    let mut seen = Vec::new();
    for _ in 0..7 {
        seen.push(app.get("/api/poam", &admin).await.0);
    }
    assert_eq!(
        seen.iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        3,
        "{seen:?}"
    );
    let (status, _) = app.get("/api/audit-log?limit=1", &admin).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    let text = scrape(addr).await;
    let Some(samples) = parsed(&text) else { return };
    assert!(!text.contains(id), "no record id in any label");
    assert!(
        !text.contains("Metered Org"),
        "no organization named by default"
    );
    let requests = |route: &str, status: &str| {
        value(
            &samples,
            "tater_http_requests_total",
            &[("route", route), ("method", "GET"), ("status", status)],
        )
    };
    assert_eq!(requests("/api/risks/{id}", "200"), Some(1.0));
    assert!(
        requests("/api/poam", "200").is_some_and(|n| n >= 4.0),
        "{text}"
    );
    assert!(
        requests("/api/poam", "429").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        value(
            &samples,
            "tater_http_request_duration_seconds_bucket",
            &[("route", "/api/risks/{id}"), ("le", "+Inf")]
        ) == Some(1.0),
        "a latency histogram per route: {text}"
    );
    let refused = value(
        &samples,
        "tater_rate_limit_refusals_total",
        &[("category", "general")],
    );
    assert!(refused.is_some_and(|n| n >= 2.0), "{text}");
    assert!(value(&samples, "tater_audit_entries_written_total", &[]).is_some_and(|n| n >= 3.0));
    assert!(
        value(&samples, "tater_db_pool_connections", &[("state", "max")]).is_some_and(|n| n >= 1.0)
    );
    // SQLite's read path reports its slots, all free between requests (the reads above
    // opened some and closed them all); PostgreSQL has none.
    let readers = |state| value(&samples, "tater_db_sqlite_readers", &[("state", state)]);
    match engine {
        Engine::Sqlite => {
            assert_eq!(readers("max"), Some(32.0), "{text}");
            assert_eq!(readers("in_use"), Some(0.0), "{text}");
            assert!(readers("idle").is_some_and(|n| n >= 1.0), "{text}");
        }
        Engine::Postgres => assert_eq!(readers("max"), None, "{text}"),
    }
    assert!(value(&samples, "tater_jobs_pending", &[]).is_some());
    let dest_id = dest["id"].as_str().unwrap();
    let depth = value(
        &samples,
        "tater_siem_queue_depth",
        &[("destination", dest_id)],
    );
    assert!(
        depth.is_some_and(|n| n >= 1.0),
        "the risk's entry waits: {text}"
    );
    assert!(
        value(
            &samples,
            "tater_siem_queue_lag_seconds",
            &[("destination", dest_id)]
        )
        .is_some()
    );

    // A replica asked to name organizations does.
    let mut cfg = config_for_url(&url);
    cfg.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.metrics_tenant_labels = true;
    let named = TestApp::start(
        tater_server::App::build(cfg).await.unwrap(),
        None,
        tater_testkit::entra::FakeEntra::start().await,
    );
    let text = scrape(named.metrics_addr.unwrap()).await;
    let samples = parsed(&text).unwrap();
    let labels = [("destination", dest_id), ("organization", "Metered Org")];
    assert!(
        value(&samples, "tater_siem_queue_depth", &labels).is_some(),
        "{text}"
    );
}
