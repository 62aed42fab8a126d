//! Prometheus metrics on their own listener (`--metrics-listen`, off by default), so the
//! numbers an operator scrapes are never on the address the internet reaches.
//!
//! Counted as things happen (the `metrics` crate's macros; free when no recorder is
//! installed): HTTP requests and their latency by route template, method and status
//! (`http_metrics` below), rate-limit refusals (`rate_limit`), audit entries written (the
//! store), agent scan reports (`routes/endpoints.rs`). Read from the database at each scrape:
//! the connection pool, each SIEM destination's queue and lag, the job runner's backlog and
//! lag. Labels never name an organization unless `--metrics-tenant-labels` says so.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tater_service::Service;
use tokio::net::TcpListener;

/// Latency buckets, in seconds: a cached read to a large export.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// The most SIEM destinations one scrape reports (the rest are summed in no series).
const MAX_DESTINATIONS: u32 = 1000;

/// The process's recorder: one per process, however many servers it runs (tests run two).
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder once; its handle.
fn handle() -> anyhow::Result<PrometheusHandle> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let built = PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(
                "tater_http_request_duration_seconds".into(),
            ),
            LATENCY_BUCKETS,
        )?
        .install_recorder();
    match built {
        Ok(h) => Ok(HANDLE.get_or_init(|| h).clone()),
        // Another server of this process installed it first.
        Err(_) => HANDLE
            .get()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("a metrics recorder of another kind is installed")),
    }
}

/// What the metrics listener serves from.
#[derive(Clone)]
struct Scrape {
    handle: PrometheusHandle,
    service: Service,
    tenant_labels: bool,
}

/// Binds the metrics listener and describes the metrics; serving starts with [`serve`].
pub async fn bind(
    addr: SocketAddr,
    service: Service,
    tenant_labels: bool,
) -> anyhow::Result<(TcpListener, axum::Router)> {
    let handle = handle()?;
    describe();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("metrics listener on {addr}: {e}"))?;
    let router = axum::Router::new()
        .route("/metrics", get(metrics_page))
        .with_state(Scrape {
            handle,
            service,
            tenant_labels,
        });
    Ok((listener, router))
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "tater_http_requests_total",
        "HTTP requests answered, by route template, method and status"
    );
    describe_histogram!(
        "tater_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer, by route template, method and status"
    );
    describe_counter!(
        "tater_rate_limit_refusals_total",
        "Requests refused by a rate limit, by category and bucket (ip or tenant)"
    );
    describe_counter!(
        "tater_audit_entries_written_total",
        "Audit entries appended"
    );
    describe_counter!(
        "tater_agent_reports_total",
        "Scan reports received from agents (stored, or a repeat of one stored)"
    );
    describe_gauge!(
        "tater_db_pool_connections",
        "Database connections by state (open, idle, max)"
    );
    describe_gauge!(
        "tater_siem_queue_depth",
        "Audit entries waiting for a SIEM destination"
    );
    describe_gauge!(
        "tater_siem_queue_lag_seconds",
        Unit::Seconds,
        "Age of the oldest entry waiting for a SIEM destination"
    );
    describe_gauge!("tater_jobs_pending", "Background jobs due or running");
    describe_gauge!(
        "tater_jobs_lag_seconds",
        Unit::Seconds,
        "How long the longest-waiting due job has waited"
    );
}

/// The method as a label: the standard ones by name, any other as `other` (a client may send
/// any token as a method, and each distinct label would be a series kept for ever).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts each request by the route it matched (its template, never the raw path: ids and
/// query strings stay out of the labels) and times it.
pub async fn http_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method()).to_owned();
    let started = Instant::now();
    let res = next.run(req).await;
    let labels = [
        ("route", route),
        ("method", method),
        ("status", res.status().as_u16().to_string()),
    ];
    metrics::counter!("tater_http_requests_total", &labels).increment(1);
    metrics::histogram!("tater_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    res
}

/// Reads the gauges from the database, then renders everything.
async fn metrics_page(State(s): State<Scrape>) -> Response {
    if let Err(e) = read_gauges(&s).await {
        tracing::warn!(error = %e, "metrics: could not read the database's figures");
    }
    s.handle.run_upkeep();
    let mut res = s.handle.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

async fn read_gauges(s: &Scrape) -> anyhow::Result<()> {
    let store = s.service.store();
    let pool = store.pool_stats();
    for (state, n) in [("open", pool.open), ("idle", pool.idle), ("max", pool.max)] {
        metrics::gauge!("tater_db_pool_connections", "state" => state).set(f64::from(n));
    }
    if let Some(reads) = pool.reads {
        for (state, n) in [
            ("in_use", reads.in_use),
            ("idle", reads.idle),
            ("max", reads.max),
        ] {
            metrics::gauge!("tater_db_sqlite_readers", "state" => state).set(f64::from(n));
        }
    }
    let now = s.service.now();
    let secs_since =
        |t: tater_domain::Timestamp| ((now.millis() - t.millis()).max(0) as f64) / 1000.0;
    let mut runner = store.runner().await?;
    let pending = runner.unfinished(now).await?;
    let oldest = runner.oldest_due(now).await?;
    drop(runner);
    metrics::gauge!("tater_jobs_pending").set(pending as f64);
    metrics::gauge!("tater_jobs_lag_seconds").set(oldest.map_or(0.0, secs_since));
    let mut delivery = store.delivery().await?;
    let queues = delivery.queue_depths(MAX_DESTINATIONS).await?;
    drop(delivery);
    for q in queues {
        let mut labels = vec![("destination", q.destination.to_string())];
        if s.tenant_labels {
            labels.push(("organization", q.org_name.clone()));
            labels.push(("organization_id", q.org.to_string()));
        }
        metrics::gauge!("tater_siem_queue_depth", &labels).set(q.pending as f64);
        metrics::gauge!("tater_siem_queue_lag_seconds", &labels)
            .set(q.oldest.map_or(0.0, secs_since));
    }
    Ok(())
}

/// Serves the metrics listener until `stop` completes.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!(error = %e, "metrics listener stopped");
    }
}

#[cfg(test)]
mod method_tests {
    use super::method_label;
    use axum::http::Method;

    #[test]
    fn a_made_up_method_is_one_label_however_many_are_sent() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        for made_up in ["XAAAAAAAAAAAAAAA1", "XAAAAAAAAAAAAAAA2", "PROPFIND"] {
            let method = Method::from_bytes(made_up.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other");
        }
    }
}
