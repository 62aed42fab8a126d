//! Liveness, status and the security contact (SPEC H4).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tater_store::Engine;

use crate::api_doc::{ApiRouter, Op};
use crate::state::AppState;

/// Whether the server and its database answer.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Health {
    /// `ok`, or `unavailable` (with status 503) when the database does not answer.
    status: &'static str,
}

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    let health = api.schema_of::<Health>();
    api.route(
        Op::get("/healthz", "healthz")
            .summary("Liveness and database reachability")
            .outside_registry()
            .ok(200, "Healthy", Some(health)),
        get(healthz),
    )
    .route(
        Op::get("/api/status", "status").ok(200, "Status", None),
        get(status),
    )
    .route(
        Op::get("/.well-known/security.txt", "security_txt").ok(200, "The contact", None),
        get(security_txt),
    )
    .route(
        Op::get(POLICY_PATH, "security_policy").ok(200, "The disclosure policy", None),
        get(security_policy),
    )
}

/// Where the disclosure policy (`SECURITY.md`, built in) is served; security.txt's `Policy`.
const POLICY_PATH: &str = "/security-policy";

/// 200 when the database answers, 503 otherwise (so orchestrators restart or route around us).
/// The check is shared by the requests of a quarter second (`health_probe.rs`).
async fn healthz(State(s): State<AppState>) -> Response {
    let store = s.service.store();
    let ping = || async move {
        store
            .ping()
            .await
            .inspect_err(|e| tracing::error!(error = %e, "health check: database unreachable"))
            .is_ok()
    };
    match s.health.healthy(ping).await {
        true => Json(Health { status: "ok" }).into_response(),
        false => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "unavailable",
            }),
        )
            .into_response(),
    }
}

async fn status(State(s): State<AppState>) -> Json<tater_service::StatusView> {
    let engine = match s.info.engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    };
    Json(tater_service::StatusView {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        database: engine,
        started_at: s.info.started_at,
        uptime_seconds: (s.service.now().millis() - s.info.started_at.millis()).max(0) / 1000,
    })
}

/// RFC 9116: `Contact` and `Expires` are required; the file is valid for a year from now.
/// `Policy` names the disclosure policy this server serves.
async fn security_txt(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let expires = s.service.now().plus_seconds(365 * 24 * 3600);
    let body = format!(
        "Contact: {}\nExpires: {}\nPolicy: {}{POLICY_PATH}\nPreferred-Languages: en\n",
        s.info.security_contact,
        expires,
        super::mcp::base_url(&s, &headers)
    );
    with_type(body, "text/plain; charset=utf-8")
}

/// The project's `SECURITY.md`: how to report, what we promise, safe harbour.
async fn security_policy() -> Response {
    with_type(
        include_str!("../../../../SECURITY.md"),
        "text/markdown; charset=utf-8",
    )
}

fn with_type(body: impl IntoResponse, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}
