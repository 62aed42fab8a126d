//! Throughput and latency of authenticated, tenant-scoped reads, next to a bare axum handler
//! measured in the same run on the same machine.
//!
//! Run: `cargo bench -p tater-server --bench http` (set `TATER_TEST_POSTGRES_URL` to include
//! PostgreSQL; `TATER_BENCH_SECONDS` and `TATER_BENCH_CONCURRENCY` tune the run).
//! The load generator runs in the same process as the server, so absolute figures understate
//! a dedicated server; the ratios to the bare handler are the point.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark, not a service

use std::time::{Duration, Instant};

use axum::Json;
use axum::routing::get;
use serde_json::json;
use tater_domain::modules::POAM;
use tater_domain::{Actor, Channel, Role};
use tater_server::{App, AppConfig};
use tater_service::{AdminOrgRef, SystemOperator};
use tater_testkit::TestDb;
use tater_testkit::entra::FakeEntra;

struct Stats {
    requests: usize,
    errors: usize,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A `GET` of `url`, with a credential header if given.
async fn measure(client: &reqwest::Client, url: &str, credential: Option<(&str, &str)>) -> Stats {
    measure_with(client, url, credential, None).await
}

/// A request the workers send over and over, built once so that the load generator's own
/// work (it shares the machine with the server) stays out of the comparison.
#[derive(Clone)]
struct Load {
    url: String,
    headers: reqwest::header::HeaderMap,
    /// `POST` this body when given, else `GET`.
    body: Option<bytes::Bytes>,
}

impl Load {
    fn new(url: &str, credential: Option<(&str, &str)>, post: Option<Post>) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        let (extra, body) = match post {
            Some((h, b)) => (h, Some(bytes::Bytes::from(b))),
            None => (Vec::new(), None),
        };
        let credential = credential.map(|(h, v)| (h, v.to_owned()));
        for (h, v) in extra.iter().map(|(h, v)| (*h, v.clone())).chain(credential) {
            headers.insert(
                reqwest::header::HeaderName::from_bytes(h.as_bytes()).unwrap(),
                reqwest::header::HeaderValue::from_str(&v).unwrap(),
            );
        }
        Self {
            url: url.to_owned(),
            headers,
            body,
        }
    }

    fn request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        let req = match &self.body {
            Some(body) => client.post(&self.url).body(body.clone()),
            None => client.get(&self.url),
        };
        req.headers(self.headers.clone())
    }
}

/// Headers and body of a `POST`.
type Post = (Vec<(&'static str, String)>, String);

/// One stateless (2026-07-28) MCP request as a client sends it: `POST /mcp` with the method
/// and tool in headers and the client's metadata in `_meta`.
fn mcp_body(method: &str, params: serde_json::Value) -> Post {
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "bench", "version": "1" },
    });
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        ("accept", "application/json, text/event-stream".to_owned()),
        ("mcp-protocol-version", "2026-07-28".to_owned()),
        ("mcp-method", method.to_owned()),
    ];
    if let Some(name) = params["name"].as_str() {
        headers.push(("mcp-name", name.to_owned()));
    }
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    (headers, body.to_string())
}

/// `concurrency` workers issue requests back to back for `seconds`, after a one-second warm-up:
/// `GET url`, or a `POST` of `post` (headers and body) when given.
async fn measure_with(
    client: &reqwest::Client,
    url: &str,
    credential: Option<(&str, &str)>,
    post: Option<Post>,
) -> Stats {
    let load = Load::new(url, credential, post);
    run(client, &load, Duration::from_secs(1)).await;
    let window = Duration::from_secs(env_or("TATER_BENCH_SECONDS", 5));
    let (latencies, errors) = run(client, &load, window).await;
    stats(latencies, errors, window)
}

/// Loads measured in turns (`rounds` windows each, one after the other), so that drift in
/// the machine's speed during the run weighs on all alike: for ratios between them.
async fn measure_in_turns(client: &reqwest::Client, loads: &[&Load]) -> Vec<Stats> {
    let rounds = 4;
    let window = Duration::from_secs(env_or("TATER_BENCH_SECONDS", 5).div_ceil(2).max(1));
    for load in loads {
        run(client, load, Duration::from_secs(1)).await;
    }
    let mut latencies = vec![Vec::new(); loads.len()];
    let mut errors = vec![0; loads.len()];
    for _ in 0..rounds {
        for (i, load) in loads.iter().enumerate() {
            let (l, e) = run(client, load, window).await;
            latencies[i].extend(l);
            errors[i] += e;
        }
    }
    latencies
        .into_iter()
        .zip(errors)
        .map(|(l, e)| stats(l, e, window * rounds))
        .collect()
}

/// `concurrency` workers sending `load` back to back for `window`: each answer's latency,
/// and the number of failures.
async fn run(client: &reqwest::Client, load: &Load, window: Duration) -> (Vec<Duration>, usize) {
    let concurrency = env_or("TATER_BENCH_CONCURRENCY", 16) as usize;
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let load = load.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let end = Instant::now() + window;
            while Instant::now() < end {
                let started = Instant::now();
                match load.request(&client).send().await {
                    // A JSON-RPC or tool error inside a 200 counts as an error too.
                    Ok(res) if res.status().is_success() => match res.bytes().await {
                        Ok(b) if !is_mcp_error(&b) => latencies.push(started.elapsed()),
                        _ => errors += 1,
                    },
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await.unwrap();
        all.extend(l);
        errors += e;
    }
    (all, errors)
}

fn stats(mut latencies: Vec<Duration>, errors: usize, window: Duration) -> Stats {
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Stats {
        requests: latencies.len(),
        errors,
        rps: latencies.len() as f64 / window.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

/// Whether a JSON-RPC answer is an error or a tool error. Read into a shape that skips what it
/// does not name, so checking costs the load generator little next to the server's work.
fn is_mcp_error(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Reply {
        jsonrpc: Option<serde::de::IgnoredAny>,
        error: Option<serde::de::IgnoredAny>,
        result: Option<Outcome>,
    }
    #[derive(serde::Deserialize)]
    struct Outcome {
        #[serde(rename = "isError", default)]
        is_error: bool,
    }
    // A REST answer (no `jsonrpc`) is judged by its status alone.
    serde_json::from_slice::<Reply>(body).is_ok_and(|r| {
        r.jsonrpc.is_some() && (r.error.is_some() || r.result.is_some_and(|o| o.is_error))
    })
}

/// A running Tater with one organization (onboarded for an Entra ID tenant), a member who
/// can use each kind of credential, and 1,000 POAM items (plus as many in a second tenant).
struct Fixture {
    base: String,
    /// A replica on the same database whose `/mcp` sends every request through rmcp.
    sdk_base: String,
    api_key: String,
    session: String,
    entra_token: String,
    id: String,
    _entra: FakeEntra,
}

/// Tater's configuration for the benchmark: the Entra ID stand-in trusted, rate limits on.
fn bench_config(db: &TestDb, entra: &FakeEntra) -> AppConfig {
    let mut config = AppConfig::for_tests(&db.url);
    config.entra = Some(tater_service::EntraConfig {
        jwks_url: entra.jwks_url().to_owned(),
        audiences: tater_testkit::entra::AUDIENCES.map(str::to_owned).to_vec(),
        refresh_floor: Duration::from_secs(60),
        sign_in: None,
    });
    // Rate limiting stays on (its cost is part of every request) but never trips.
    config.rate_limits = tater_server::rate_limit::RateLimitConfig {
        limits: unlimited(),
        ..Default::default()
    };
    config
}

async fn tater(db: &TestDb) -> Fixture {
    let entra = FakeEntra::start().await;
    let app = App::build(bench_config(db, &entra)).await.unwrap();
    let mut sdk_config = bench_config(db, &entra);
    sdk_config.mcp.sdk_only = true;
    let sdk = App::build(sdk_config).await.unwrap();
    let sdk_base = format!("http://{}", sdk.addr);
    tokio::spawn(sdk.run_until(std::future::pending()));
    let base = format!("http://{}", app.addr);
    let service = app.service.clone();
    let op = SystemOperator {
        name: "bench",
        detail: "bench".into(),
    };
    let tid = uuid::Uuid::new_v4().to_string();
    let oid = uuid::Uuid::new_v4().to_string();
    let org = service
        .admin_create_org(&op, "Bench", Some(&tid))
        .await
        .unwrap()
        .id;
    let org_ref = org.to_string();
    let password = "bench password 123";
    service
        .admin_create_user(
            &op,
            AdminOrgRef(&org_ref),
            "bench@example.com",
            Role::Admin,
            Some(password),
            Some(&oid),
        )
        .await
        .unwrap();
    let api_key = service
        .admin_create_api_key(
            &op,
            "bench@example.com",
            Some(AdminOrgRef(&org_ref)),
            "bench",
            None,
            None,
        )
        .await
        .unwrap()
        .key;
    let session = service
        .login("bench@example.com", password)
        .await
        .unwrap()
        .token;
    let entra_token = tater_testkit::entra::sign(
        "k1",
        &tater_testkit::entra::claims(&tid, &oid, "bench@example.com"),
    );
    // A second tenant with as much data, so tenant scoping has something to skip.
    let other = service
        .admin_create_org(&op, "Other", None)
        .await
        .unwrap()
        .id;
    let actor = Actor::system("bench", "seed", org, Channel::Api);
    let other_actor = Actor::system("bench", "seed", other, Channel::Api);
    let mut id = String::new();
    for n in 0..1000 {
        let impact = ["High", "Moderate", "Low"][n % 3];
        let body = json!({
            "title": format!("Finding {n}"), "weaknessDescription": "Configuration drift on a production host.",
            "impact": impact, "scheduledCompletion": "2027-06-30",
            "controls": ["CM-6", "SI-2"], "milestones": [{ "description": "Remediate" }],
        });
        let rec = service.create_record(&actor, &POAM, &body).await.unwrap();
        service
            .create_record(&other_actor, &POAM, &body)
            .await
            .unwrap();
        id = rec["id"].as_str().unwrap().to_owned();
    }
    tokio::spawn(app.run_until(std::future::pending()));
    Fixture {
        base,
        sdk_base,
        api_key,
        session,
        entra_token,
        id,
        _entra: entra,
    }
}

/// Sign-in must not reveal whether an email exists: an unknown email costs one Argon2id
/// verification, like a wrong password. Prints the mean of sequential attempts of each kind.
async fn login_timing(client: &reqwest::Client, base: &str) {
    // Interleaved, so drift in machine load weighs on both kinds alike.
    let attempts = 40;
    let mut total = [0.0f64; 2];
    for _ in 0..attempts {
        for (i, email) in ["bench@example.com", "nobody@example.com"]
            .iter()
            .enumerate()
        {
            let started = Instant::now();
            let res = client
                .post(format!("{base}/api/auth/login"))
                .json(&json!({ "email": email, "password": "wrong password!" }))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 401);
            total[i] += started.elapsed().as_secs_f64() * 1000.0;
        }
    }
    let (wrong, unknown) = (
        total[0] / f64::from(attempts),
        total[1] / f64::from(attempts),
    );
    println!(
        "login refused, mean of {attempts} interleaved: wrong password {wrong:.2} ms, unknown email {unknown:.2} ms (ratio {:.3})",
        unknown / wrong
    );
}

/// The baseline: axum with no middleware, returning a small JSON document.
async fn bare() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route(
        "/bare",
        get(|| async { Json(json!({ "status": "ok", "items": [] })) }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/bare")
}

fn row(name: &str, s: &Stats, baseline: f64) {
    // A row of failures measures nothing: stop rather than print a zero.
    assert_eq!(
        s.errors,
        0,
        "{name}: {} of {} requests failed",
        s.errors,
        s.requests + s.errors
    );
    println!(
        "{name:<44} {:>9.0} {:>8.2} {:>8.2} {:>8.3} {:>7} {:>6}",
        s.rps,
        s.p50_ms,
        s.p99_ms,
        s.rps / baseline,
        s.requests,
        s.errors
    );
}

#[tokio::main]
async fn main() {
    // Log every request as production does, into a sink.
    tracing_subscriber::fmt()
        .with_env_filter(tater_server::middleware::SERVE_LOG_FILTER)
        .with_writer(std::io::sink)
        .init();
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    println!(
        "concurrency {}, {} s per target, {} cores",
        env_or("TATER_BENCH_CONCURRENCY", 16),
        env_or("TATER_BENCH_SECONDS", 5),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<44} {:>9} {:>8} {:>8} {:>8} {:>7} {:>6}",
        "target", "req/s", "p50 ms", "p99 ms", "× bare", "n", "errors"
    );
    // `TATER_BENCH_ONLY=mcp`: the MCP rows alone (for profiling the tool path).
    let only_mcp = std::env::var("TATER_BENCH_ONLY").is_ok_and(|v| v == "mcp");
    let bare_url = bare().await;
    let baseline = measure(&client, &bare_url, None).await;
    row("bare axum handler", &baseline, baseline.rps);

    let mut engines = vec![("sqlite", TestDb::sqlite())];
    if let Some(pg) = TestDb::postgres().await {
        engines.push(("postgres", pg));
    }
    for (engine, db) in &engines {
        let f = tater(db).await;
        let one = format!("{}/api/poam/{}", f.base, f.id);
        if !only_mcp {
            rest_rows(&client, engine, &f, &one, baseline.rps).await;
        }
        // The same read as an MCP tool call (issue 13: goal ≥ 0.8× the REST call), and the
        // tool list.
        let session = ("authorization", format!("Bearer {}", f.session));
        let call = mcp_body(
            "tools/call",
            json!({ "name": "get_poam_item", "arguments": { "id": f.id } }),
        );
        let mcp_url = format!("{}/mcp", f.base);
        // The same call to a replica that serves every MCP request through rmcp's
        // transport, the direct path of stateless tool calls off.
        let sdk_url = format!("{}/mcp", f.sdk_base);
        let credential = Some((session.0, session.1.as_str()));
        let measured = measure_in_turns(
            &client,
            &[
                &Load::new(&one, credential, None),
                &Load::new(&mcp_url, credential, Some(call.clone())),
                &Load::new(&sdk_url, credential, Some(call)),
            ],
        )
        .await;
        let [rest, tool, through_sdk] = [&measured[0], &measured[1], &measured[2]];
        row(
            &format!("{engine}: REST GET /api/poam/{{id}} (session)"),
            rest,
            baseline.rps,
        );
        row(
            &format!("{engine}: MCP tools/call get_poam_item"),
            tool,
            baseline.rps,
        );
        row(
            &format!("{engine}: the same call, all through rmcp"),
            through_sdk,
            baseline.rps,
        );
        println!(
            "{engine}: MCP tool call / REST call = {:.3} (through rmcp {:.3}; req/s, in turns), p50 {:.2} ms vs {:.2} ms",
            tool.rps / rest.rps,
            through_sdk.rps / rest.rps,
            tool.p50_ms,
            rest.p50_ms
        );
        let list = mcp_body("tools/list", json!({}));
        let listed =
            measure_with(&client, &mcp_url, Some((session.0, &session.1)), Some(list)).await;
        row(
            &format!("{engine}: MCP tools/list (first page)"),
            &listed,
            baseline.rps,
        );
        if *engine == "sqlite" && !only_mcp {
            login_timing(&client, &f.base).await;
        }
    }
}

/// The REST rows: an unauthenticated status, a list, and one record by each credential.
async fn rest_rows(client: &reqwest::Client, engine: &str, f: &Fixture, one: &str, baseline: f64) {
    let status = measure(client, &format!("{}/api/status", f.base), None).await;
    row(
        &format!("{engine}: GET /api/status (no auth)"),
        &status,
        baseline,
    );
    let list = measure(
        client,
        &format!("{}/api/poam?limit=50", f.base),
        Some(("x-api-key", &f.api_key)),
    )
    .await;
    row(
        &format!("{engine}: GET /api/poam?limit=50 (API key)"),
        &list,
        baseline,
    );
    for (name, header) in [
        ("API key", ("x-api-key", f.api_key.clone())),
        (
            "local JWT",
            ("authorization", format!("Bearer {}", f.session)),
        ),
        (
            "Entra ID token",
            ("authorization", format!("Bearer {}", f.entra_token)),
        ),
    ] {
        let s = measure(client, one, Some((header.0, &header.1))).await;
        row(
            &format!("{engine}: GET /api/poam/{{id}} ({name})"),
            &s,
            baseline,
        );
    }
}

/// A benchmark measures throughput, not the limiter's refusals.
fn unlimited() -> tater_server::rate_limit::Limits {
    tater_server::rate_limit::Limits {
        auth: 0,
        write: 0,
        settings: 0,
        general: 0,
    }
}
