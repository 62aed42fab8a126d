//! The router: one module per resource, each adding its documented routes.

mod agent_releases;
mod ai;
mod api_keys;
mod audit;
mod audits;
mod auth;
mod config_docs;
mod controls;
mod data_export;
mod endpoints;
mod evidence_files;
mod health;
mod home;
mod identity_verification;
mod invitations;
mod jobs;
mod list_export;
mod mcp;
mod members;
mod modules;
mod openapi;
mod orgs;
mod policies;
mod posture;
mod register_workflows;
mod risks;
mod settings;
mod siem;
mod ssp;
mod system_profile;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::api_doc::ApiRouter;
use crate::error::Problem;
use crate::middleware::request_context;
use crate::rate_limit::{RateLimiter, rate_limit};
use crate::state::AppState;

/// Limits of the HTTP surface.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub body_bytes: usize,
    pub request_timeout: Duration,
    /// An evidence file upload's deadline: it carries up to `--evidence-max-bytes` (its
    /// spool also gives up on a client that sends nothing for a minute).
    pub upload_timeout: Duration,
}

/// Whether the request uploads an evidence file (`POST /api/evidence/{id}/files`, or the
/// web form's `POST /app/evidence/{id}/files`).
fn is_upload(req: &axum::extract::Request) -> bool {
    let path = req.uri().path();
    req.method() == axum::http::Method::POST
        && (path.starts_with("/api/evidence/") || path.starts_with("/app/evidence/"))
        && path.ends_with("/files")
        && path.matches('/').count() == 4
}

/// Every request ends by its deadline with `408`: the general one, or an upload's.
async fn deadline(
    axum::extract::State(limits): axum::extract::State<HttpLimits>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let limit = if is_upload(&req) {
        limits.upload_timeout
    } else {
        limits.request_timeout
    };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

/// The web application (`tater-web`): pages, not API operations, so outside the document.
fn web_app(state: &AppState, files: Arc<mcp::FileRoutes>) -> Router {
    // Downloads run the REST export routes as the session's person.
    let routes = files.clone();
    let dispatch = tater_web::FileDispatch(Arc::new(move |actor, path, extensions| {
        let files = routes.clone();
        Box::pin(async move {
            let bucket = extensions.get::<crate::rate_limit::TenantBucket>().cloned();
            files.serve_as(actor, &path, bucket, None).await
        })
    }));
    let file_paths = Arc::new(files.paths().clone());
    tater_web::router(tater_web::Web {
        files: Some(dispatch),
        file_paths,
        service: state.service.clone(),
        info: Arc::new(tater_web::WebInfo {
            version: env!("CARGO_PKG_VERSION"),
            engine: home::engine_label(state.info.engine),
            demo_email: state.info.demo_email.clone(),
            public_url: state.info.public_url.clone(),
        }),
    })
}

/// Every documented route, with the OpenAPI document they make.
fn documented() -> anyhow::Result<(Router<AppState>, serde_json::Value)> {
    let mut api = ApiRouter::new();
    api = home::routes(api);
    api = health::routes(api);
    api = auth::routes(api);
    api = identity_verification::routes(api);
    for def in tater_domain::modules::ALL {
        api = modules::routes(api, def);
    }
    api = audits::routes(api);
    api = evidence_files::routes(api);
    api = policies::routes(api);
    api = config_docs::routes(api);
    api = risks::routes(api);
    api = register_workflows::routes(api);
    api = controls::routes(api);
    api = list_export::routes(api);
    api = data_export::routes(api);
    api = endpoints::routes(api);
    api = agent_releases::routes(api);
    api = posture::routes(api);
    api = audit::routes(api);
    api = members::routes(api);
    api = invitations::routes(api);
    api = api_keys::routes(api);
    api = siem::routes(api);
    api = settings::routes(api);
    api = ai::routes(api);
    api = system_profile::routes(api);
    api = ssp::routes(api);
    api = jobs::routes(api);
    api = orgs::routes(api);
    api = openapi::routes(api);
    api = mcp::routes(api);
    api.finish()
        .map_err(|e| anyhow::anyhow!("routes do not match the use cases: {e}"))
}

/// The whole application: documented routes, fallbacks and the layers every request passes.
/// Fails when a route does not match the use-case registry.
pub fn router(
    state: AppState,
    limits: HttpLimits,
    limiter: Arc<RateLimiter>,
    mcp_config: &tater_mcp::McpConfig,
) -> anyhow::Result<Router> {
    let (router, doc) = documented()?;
    let _ = state.info.openapi.set(doc.clone());
    // The same routes again, for the MCP server to serve files through (a second copy, so
    // that nothing the application holds refers back to the router that holds it).
    let (inner, _) = documented()?;
    // A file tool's export runs under the same timeout and panic guard as a REST request.
    let inner = inner
        .with_state(state.clone())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(CatchPanicLayer::new());
    let files = Arc::new(mcp::FileRoutes::new(inner, &doc));
    let router = router.merge(mcp::endpoint(state.clone(), mcp_config, files.clone()));
    let web = web_app(&state, files.clone());
    Ok(router
        .fallback(|| async { Problem::from_status(StatusCode::NOT_FOUND) })
        .with_state(state)
        .merge(web)
        // The layers every request passes, outermost first, as ONE layer: `Router::layer`
        // boxes each layer it is given around every route, and every request then clones
        // each box again (an allocation) at each level of the stack, deeper levels once per
        // level above them; one stack is one box a route (issue 20).
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn(request_context))
                // Inside the request context, so a 429 is a problem with a request id and
                // headers.
                .layer(axum::middleware::from_fn_with_state(limiter, rate_limit))
                .layer(CatchPanicLayer::new())
                .layer(axum::middleware::from_fn_with_state(limits, deadline))
                .layer(DefaultBodyLimit::max(limits.body_bytes))
                // For download links, which fetch their file through the same routes.
                .layer(axum::Extension(files)),
        ))
}
