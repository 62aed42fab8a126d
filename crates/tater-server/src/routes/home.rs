//! The server-rendered start page and its stylesheet.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tater_store::Engine;

use crate::api_doc::{ApiRouter, Op};
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    api.route(
        Op::get("/", "home")
            .summary("Start page: what is running and how to sign in")
            .outside_registry()
            .tag("pages")
            .ok_content("text/html", json!({ "type": "string" })),
        get(home),
    )
    .route(
        Op::get("/assets/tater.css", "stylesheet")
            .summary("Stylesheet of the pages")
            .outside_registry()
            .tag("pages")
            .ok_content("text/css", json!({ "type": "string" })),
        get(stylesheet),
    )
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    version: &'a str,
    engine: &'a str,
    demo_email: Option<&'a str>,
    modules: Vec<(&'a str, &'a str)>,
}

async fn home(State(s): State<AppState>) -> ApiResult<Html<String>> {
    let page = HomePage {
        version: env!("CARGO_PKG_VERSION"),
        engine: engine_label(s.info.engine),
        demo_email: s.info.demo_email.as_deref(),
        modules: tater_domain::modules::ALL
            .iter()
            .map(|m| (m.name, m.plural))
            .collect(),
    };
    page.render().map(Html).map_err(|e| {
        tracing::error!(error = %e, "rendering the start page");
        Problem::from_status(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
    })
}

/// The database engine as pages name it.
pub(crate) fn engine_label(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "SQLite (embedded)",
        Engine::Postgres => "PostgreSQL",
    }
}

async fn stylesheet() -> Response {
    let Some(css) = tater_web::assets::by_name("tater.css") else {
        return Problem::from_status(axum::http::StatusCode::NOT_FOUND).into_response();
    };
    let mut res = css.bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}
