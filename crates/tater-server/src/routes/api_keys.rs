//! API keys of the active organization (OrgAdmin). The secret is returned once, on creation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::json;
use tater_domain::{Role, Timestamp};
use tater_service::{ApiKeyView, CreatedApiKey, Items};

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, IdPath, JsonBody};
use crate::state::AppState;
use tater_domain::Action;

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    let listed = api.schema_of::<Items<ApiKeyView>>();
    let created = api.schema_of::<CreatedApiKey>();
    let create = json!({
        "type": "object", "additionalProperties": false, "required": ["name"],
        "properties": {
            "name": { "type": "string", "maxLength": 100 },
            "role": { "type": "string", "enum": ["viewer", "auditor", "admin", "orgadmin", "superadmin"], "description": "lower the key's role below yours" },
            "expiresAt": { "type": "string", "description": "RFC 3339, in the future, within five years" },
        },
    });
    let admin = Access::Action(Action::ManageKeys);
    api.route(
        Op::get(
            "/api/api-keys",
            "api_keys_list",
            "API keys that can act in the organization",
        )
        .tag("api keys")
        .access(admin)
        .ok(200, "Keys (never their secrets)", Some(listed)),
        get(list),
    )
    .route(
        Op::post(
            "/api/api-keys",
            "api_keys_create",
            "Create an API key for yourself, bound to the organization; the key is shown once",
        )
        .tag("api keys")
        .access(admin)
        .body(create)
        .ok(201, "The key (field `key`) and its record", Some(created)),
        post(create_key),
    )
    .route(
        Op::delete(
            "/api/api-keys/{id}",
            "api_keys_revoke",
            "Revoke a key, with immediate effect",
        )
        .tag("api keys")
        .access(admin)
        .path_id()
        .ok(204, "Revoked", None),
        delete(revoke),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateBody {
    name: String,
    role: Option<Role>,
    expires_at: Option<Timestamp>,
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
    JsonBody(body): JsonBody<CreateBody>,
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
