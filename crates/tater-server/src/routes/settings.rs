//! Organization settings: `GET /api/settings` (members), `PUT /api/settings` (OrgAdmin), the
//! MCP tool policy `GET/PUT /api/settings/mcp` and the AI key and model
//! `GET/PUT/DELETE /api/settings/ai` (OrgAdmin), the retention periods
//! `GET /api/settings/retention` (Auditor and above) and `PUT` (OrgAdmin).

use axum::Json;
use axum::extract::State;
use axum::routing::get;

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, JsonBody};
use crate::state::AppState;
use tater_service::use_cases::{AiSettingsInput, OrgSettings};
use tater_service::{AiSettingsView, McpPolicy, RetentionPolicy, RetentionView};

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
        axum::routing::put(update_settings),
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
        axum::routing::put(update_mcp_policy),
    )
    .route(
        Op::get("/api/settings/retention", "retention_get")
            .tag("settings")
            .ok(200, "The retention periods as they apply", None),
        get(get_retention),
    )
    .route(
        Op::put("/api/settings/retention", "retention_update")
            .tag("settings")
            .ok(200, "The retention periods as they now apply", None),
        axum::routing::put(update_retention),
    )
    .route(
        Op::get("/api/settings/ai", "ai_settings_get")
            .tag("settings")
            .ok(200, "The AI configuration (never the key)", None),
        get(get_ai_settings),
    )
    .route(
        Op::put("/api/settings/ai", "ai_settings_update")
            .tag("settings")
            .ok(200, "The AI configuration as stored", None),
        axum::routing::put(put_ai_settings),
    )
    .route(
        Op::delete("/api/settings/ai", "ai_settings_delete")
            .tag("settings")
            .ok(
                200,
                "The AI configuration without the organization's key",
                None,
            ),
        axum::routing::delete(delete_ai_settings),
    )
}

async fn get_ai_settings(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<AiSettingsView>> {
    Ok(Json(s.service.get_ai_settings(&actor).await?))
}

async fn put_ai_settings(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(body): JsonBody<AiSettingsInput>,
) -> ApiResult<Json<AiSettingsView>> {
    Ok(Json(s.service.put_ai_settings(&actor, &body).await?))
}

async fn delete_ai_settings(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<AiSettingsView>> {
    Ok(Json(s.service.delete_ai_settings(&actor).await?))
}

async fn get_retention(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<RetentionView>> {
    Ok(Json(s.service.get_retention(&actor).await?))
}

async fn update_retention(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(body): JsonBody<RetentionPolicy>,
) -> ApiResult<Json<RetentionView>> {
    Ok(Json(s.service.update_retention(&actor, body).await?))
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
