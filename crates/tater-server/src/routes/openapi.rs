//! The API document.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use crate::api_doc::{ApiRouter, Op};
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    api.route(
        Op::get("/api/openapi.json", "openapi")
            .summary("This document (OpenAPI 3.1)")
            .outside_registry()
            .ok(
                200,
                "OpenAPI 3.1 document",
                Some(json!({ "type": "object" })),
            ),
        get(openapi),
    )
}

async fn openapi(State(s): State<AppState>) -> Json<Value> {
    Json(s.info.openapi.get().cloned().unwrap_or(Value::Null))
}
