//! Tater's web application: server-rendered pages over the service layer. No SQL and no
//! policy here — every page calls a use case as the signed-in person, so the service
//! authorizes, scopes and audits it (`via: web`) exactly as it does a REST call.
//!
//! - `session.rs`: the session cookie, the signed-in extractor, the CSRF check on every post.
//! - `pages/`: one file per area (sign-in, dashboard, …), each a handful of handlers and the
//!   templates under `templates/` they render.
//! - `charts.rs`: SVG drawn on the server (no script, no inline style: the CSP stays strict).
//! - `error.rs`: what a refused or failed page shows.
//! - `assets.rs`: the stylesheet and icons, under content-hashed names.

pub mod analyst_stream;
pub mod assets;
mod charts;
mod error;
mod form;
mod pages;
mod schema_form;
mod session;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::http::Extensions;
use axum::response::Response;
use tater_domain::Actor;
use tater_service::Service;

pub use error::too_many_requests;
pub use session::{BACKGROUND_HEADER, SESSION_COOKIE, SIGN_IN_COOKIE};

/// Counts a signed-in page against its organization's rate-limit bucket. The server puts one
/// in every request it limits (this crate keeps no limiter of its own); `Err` carries the
/// seconds until the bucket has room again.
#[derive(Clone)]
pub struct OrgLimit(pub Arc<dyn Fn(tater_domain::OrgId) -> LimitCheck + Send + Sync>);

/// One check of an [`OrgLimit`]: `Err` carries the seconds to wait.
pub type LimitCheck = Pin<Box<dyn Future<Output = Result<(), u64>> + Send>>;

/// Where the application lives: pages under `/app`, the sign-in page among them.
pub const APP_PATH: &str = "/app";
/// The sign-in page (and form target).
pub const SIGN_IN_PATH: &str = "/app/sign-in";
/// "Sign in with Microsoft" (its start and its callback) lives under this path.
pub const ENTRA_SIGN_IN_PREFIX: &str = "/app/sign-in/entra";

/// What the pages need besides the service.
#[derive(Clone)]
pub struct WebInfo {
    pub version: &'static str,
    /// The database engine, as the start page names it.
    pub engine: &'static str,
    /// The demo account's address, when the demo organization is loaded.
    pub demo_email: Option<String>,
    /// The server's external address (`--public-url`), when set.
    pub public_url: Option<String>,
}

/// Serves a file a REST route makes (`GET` path with its query) as `Actor`, given the page
/// request's extensions (its rate-limit bucket): downloads run the same route as the API.
#[derive(Clone)]
#[allow(clippy::type_complexity)]
pub struct FileDispatch(
    pub  Arc<
        dyn Fn(Actor, String, Extensions) -> Pin<Box<dyn Future<Output = Response> + Send>>
            + Send
            + Sync,
    >,
);

/// The state of every page handler.
#[derive(Clone)]
pub struct Web {
    pub service: Service,
    pub info: Arc<WebInfo>,
    /// Downloads (exports); `None` offers none.
    pub files: Option<FileDispatch>,
    /// The path template of each file use case's `GET` route, by use case name: a file
    /// use case's page downloads through its REST route.
    pub file_paths: Arc<std::collections::HashMap<String, String>>,
}

/// The application's routes, ready to merge into the server's router (which adds the body
/// limit, time-out, rate limits and security headers every response gets).
pub fn router(web: Web) -> Router {
    pages::routes().with_state(web)
}
