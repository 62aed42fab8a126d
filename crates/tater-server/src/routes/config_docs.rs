//! `PUT /api/config-docs`: create or replace a configuration document by its title (the use
//! case the trust page names `upsert_config_doc`).

use axum::Json;
use axum::extract::State;
use axum::routing::put;
use serde_json::Value;

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, JsonBody};
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    api.route(
        Op::put("/api/config-docs", "config_docs_upsert")
            .tag("Configuration documents")
            .ok(200, "The document as stored (created or replaced)", None),
        put(upsert),
    )
}

async fn upsert(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.upsert_config_doc(&actor, &body).await?))
}
