//! The system profile an SSP is built from: `GET /api/system-profile` (members),
//! `PUT /api/system-profile` (OrgAdmin, audited).

use axum::Json;
use axum::extract::State;
use axum::routing::{get, put};
use serde_json::{Value, json};
use tater_domain::modules::SYSTEM_PROFILE;

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, JsonBody};
use crate::state::AppState;
use tater_domain::Action;

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    // The record as the module declares it, marked `configured: true`; or, before an
    // OrgAdmin writes one, only `{"configured": false}`.
    let mut record = tater_domain::module::output_schema(&SYSTEM_PROFILE);
    record["properties"]["configured"] = json!({ "const": true });
    let schema = api.schema(
        "SystemProfile",
        json!({
            "oneOf": [
                record,
                {
                    "type": "object", "additionalProperties": false, "required": ["configured"],
                    "properties": { "configured": { "const": false } },
                },
            ],
        }),
    );
    let input = tater_domain::module::input_schema(&SYSTEM_PROFILE);
    api.route(
        Op::get(
            "/api/system-profile",
            "system_profile_get",
            "The system profile (or `{configured: false}`)",
        )
        .tag("federal")
        .access(Access::Action(Action::Read))
        .ok(200, "The profile", Some(schema.clone())),
        get(get_profile),
    )
    .route(
        Op::put(
            "/api/system-profile",
            "system_profile_put",
            "Create or replace the system profile (OrgAdmin; audited)",
        )
        .tag("federal")
        .access(Access::Action(Action::ManageSettings))
        .body(input)
        .ok(200, "The profile", Some(schema)),
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
