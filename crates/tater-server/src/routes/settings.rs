//! Organization settings: `GET /api/settings` (members), `PUT /api/settings` (OrgAdmin), and
//! the MCP tool policy `GET/PUT /api/settings/mcp` (OrgAdmin).

use axum::Json;
use axum::extract::State;
use axum::routing::{get, put};

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, JsonBody};
use crate::state::AppState;
use tater_service::McpPolicy;
use tater_service::use_cases::OrgSettings;

pub fn routes(api: ApiRouter) -> ApiRouter {
    api.route(
        Op::get("/api/settings", "settings_get")
            .tag("settings")
            .ok(200, "Settings", None),
        get(get_settings),
    )
    .route(
        Op::put("/api/settings", "settings_update")
            .tag("settings")
            .ok(200, "Settings", None),
        put(update_settings),
    )
    .route(
        Op::get("/api/settings/mcp", "mcp_policy_get")
            .tag("settings")
            .ok(200, "The MCP tool policy", None),
        get(get_mcp_policy),
    )
    .route(
        Op::put("/api/settings/mcp", "mcp_policy_update")
            .tag("settings")
            .ok(200, "The MCP tool policy as stored", None),
        put(update_mcp_policy),
    )
}

async fn get_mcp_policy(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<McpPolicy>> {
    Ok(Json(s.service.get_mcp_policy(&actor).await?))
}

async fn update_mcp_policy(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(body): JsonBody<McpPolicy>,
) -> ApiResult<Json<McpPolicy>> {
    Ok(Json(s.service.update_mcp_policy(&actor, body).await?))
}

async fn get_settings(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<OrgSettings>> {
    Ok(Json(s.service.get_settings(&actor).await?))
}

async fn update_settings(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(body): JsonBody<OrgSettings>,
) -> ApiResult<Json<OrgSettings>> {
    Ok(Json(s.service.update_settings(&actor, &body).await?))
}
