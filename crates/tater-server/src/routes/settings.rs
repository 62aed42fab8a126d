//! Organization settings: `GET /api/settings` (members), `PUT /api/settings` (OrgAdmin).

use axum::Json;
use axum::extract::State;
use axum::routing::{get, put};
use serde_json::{Value, json};

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, JsonBody};
use crate::state::AppState;
use tater_domain::Action;

pub fn routes(api: ApiRouter) -> ApiRouter {
    let schema = json!({
        "type": "object", "additionalProperties": false, "required": ["remoteExecution"],
        "properties": { "remoteExecution": { "type": "boolean", "description": "Admins may run scripts on endpoints (off by default)" } },
    });
    api.route(
        Op::get(
            "/api/settings",
            "settings_get",
            "The organization's settings",
        )
        .tag("settings")
        .access(Access::Action(Action::Read))
        .ok(200, "Settings", Some(schema.clone())),
        get(get_settings),
    )
    .route(
        Op::put(
            "/api/settings",
            "settings_update",
            "Change the organization's settings (audited)",
        )
        .tag("settings")
        .access(Access::Action(Action::ManageSettings))
        .body(schema.clone())
        .ok(200, "Settings", Some(schema)),
        put(update_settings),
    )
}

async fn get_settings(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.get_settings(&actor).await?))
}

async fn update_settings(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.update_settings(&actor, &body).await?))
}
