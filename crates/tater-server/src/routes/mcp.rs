//! `/mcp`: the MCP server (`tater-mcp`) behind the same authentication as the REST API, and
//! the protected-resource metadata (RFC 9728) MCP clients read to learn how to sign in.

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use std::sync::Arc;

use tater_mcp::SessionOwners;

use crate::api_doc::{ApiRouter, Op};
use crate::error::Problem;
use crate::extract::resolve_caller;
use crate::rate_limit::{Category, TenantBucket};
use crate::state::AppState;
use tater_service::use_cases::RateClass;

/// What an OAuth client learns about this resource (RFC 9728).
#[derive(Serialize, schemars::JsonSchema)]
struct ProtectedResource {
    /// The MCP endpoint's URL.
    resource: String,
    resource_name: &'static str,
    /// Credentials go in the Authorization header (or X-API-Key).
    bearer_methods_supported: Vec<&'static str>,
}

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    let doc = api.schema_of::<ProtectedResource>();
    api.route(
        Op::get(
            "/.well-known/oauth-protected-resource",
            "oauth_protected_resource",
        )
        .summary("How to authenticate to the MCP endpoint (RFC 9728 protected-resource metadata)")
        .outside_registry()
        .tag("mcp")
        .ok(200, "The metadata", Some(doc)),
        get(protected_resource),
    )
}

/// What the `/mcp` layer needs: the application, and who opened which MCP session.
#[derive(Clone)]
struct Gate {
    app: AppState,
    owners: Arc<SessionOwners>,
}

/// The MCP endpoint, each request authenticated first.
pub fn endpoint(state: AppState, config: &tater_mcp::McpConfig) -> Router<AppState> {
    let (mcp, owners) = tater_mcp::service(state.service.clone(), config);
    let gate = Gate { app: state, owners };
    Router::new()
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn_with_state(gate, authenticate))
}

const SESSION_HEADER: &str = "mcp-session-id";

/// The server's address as clients name it: `--public-url`, else what this request says.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    match &state.info.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

async fn protected_resource(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Json<ProtectedResource> {
    Json(ProtectedResource {
        resource: format!("{}/mcp", base_url(&s, &headers)),
        resource_name: "Tater",
        bearer_methods_supported: vec!["header"],
    })
}

/// Authenticates as the REST API does (API key or Bearer token, `x-organization-id` among the
/// caller's memberships) and hands the caller to the MCP handler. A 401 names the metadata.
async fn authenticate(State(gate): State<Gate>, mut req: Request, next: Next) -> Response {
    let s = &gate.app;
    // Owned copies: the request body is not shared across the awaits below.
    let headers = req.headers().clone();
    let bucket = req.extensions().get::<TenantBucket>().cloned();
    // The organization's bucket is counted per tool call, by the tool's class.
    match resolve_caller(s, &headers, None).await {
        Ok(caller) => {
            let principal = caller.actor.audit_user_id();
            let session = headers
                .get(SESSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            // A session serves only whoever opened it; to anyone else it does not exist.
            if let Some(id) = &session
                && !gate.owners.may_use(id, &principal)
            {
                return Problem::not_found().into_response();
            }
            let closing = req.method() == Method::DELETE;
            req.extensions_mut().insert(caller);
            if let Some(bucket) = bucket {
                req.extensions_mut().insert(tool_limits(bucket));
            }
            let res = next.run(req).await;
            match (&session, res.headers().get(SESSION_HEADER)) {
                (None, Some(opened)) => {
                    if let Ok(id) = opened.to_str() {
                        gate.owners.opened(id, &principal).await;
                    }
                }
                (Some(id), _) if closing && res.status().is_success() => gate.owners.closed(id),
                _ => {}
            }
            res
        }
        Err(problem) => {
            let unauthorized = problem.status == StatusCode::UNAUTHORIZED;
            let mut res = problem.into_response();
            if unauthorized {
                let metadata = format!(
                    "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource\"",
                    base_url(s, &headers)
                );
                if let Ok(v) = HeaderValue::from_str(&metadata) {
                    res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
            }
            res
        }
    }
}

/// The organization's rate-limit buckets, for the MCP handler to count each call in the one
/// its tool belongs to.
fn tool_limits(bucket: TenantBucket) -> tater_mcp::ToolLimits {
    tater_mcp::ToolLimits(Arc::new(move |org, class| {
        let bucket = bucket.clone();
        Box::pin(async move {
            let category = match class {
                RateClass::General => Category::General,
                RateClass::Write => Category::Write,
                RateClass::Settings => Category::Settings,
            };
            bucket
                .check_as(org, category)
                .await
                .map_err(|v| TenantBucket::wait_secs(&v))
        })
    }))
}
