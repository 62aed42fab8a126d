//! API keys of the active organization (OrgAdmin). The secret is returned once, on creation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use tater_service::use_cases::CreateApiKey;
use tater_service::{ApiKeyView, CreatedApiKey, Items};

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, IdPath, JsonBody};
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    api.route(
        Op::get("/api/api-keys", "api_keys_list")
            .tag("api keys")
            .ok(200, "Keys (never their secrets)", None),
        get(list),
    )
    .route(
        Op::post("/api/api-keys", "api_keys_create")
            .tag("api keys")
            .ok(201, "The key (field `key`) and its record", None),
        post(create_key),
    )
    .route(
        Op::delete("/api/api-keys/{id}", "api_keys_revoke")
            .tag("api keys")
            .ok(204, "Revoked", None),
        delete(revoke),
    )
}

async fn list(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Items<ApiKeyView>>> {
    Ok(Json(s.service.list_api_keys(&actor).await?))
}

async fn create_key(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(body): JsonBody<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let created = s
        .service
        .create_api_key(&actor, &body.name, body.role, body.expires_at)
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn revoke(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    s.service.revoke_api_key(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
