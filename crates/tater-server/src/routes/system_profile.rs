//! The system profile an SSP is built from: `GET /api/system-profile` (members),
//! `PUT /api/system-profile` (OrgAdmin, audited).

use axum::Json;
use axum::extract::State;
use axum::routing::{get, put};
use serde_json::{Value, json};
use tater_domain::modules::SYSTEM_PROFILE;

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, JsonBody};
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    // The record as the module declares it, marked `configured: true`; or, before an
    // OrgAdmin writes one, only `{"configured": false}`.
    let mut record = tater_domain::module::output_schema(&SYSTEM_PROFILE);
    record["properties"]["configured"] = json!({ "const": true });
    api.route(
        Op::get("/api/system-profile", "system_profile_get")
            .tag("federal")
            .ok(200, "The profile", None),
        get(get_profile),
    )
    .route(
        Op::put("/api/system-profile", "system_profile_put")
            .tag("federal")
            .ok(200, "The profile", None),
        put(put_profile),
    )
}

async fn get_profile(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.get_system_profile(&actor).await?))
}

async fn put_profile(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.put_system_profile(&actor, &body).await?))
}
