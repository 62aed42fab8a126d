//! Sign-in and the caller's own account.

use axum::Json;
use axum::extract::State;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use tater_service::{LoginToken, MeView};

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthIdentity, JsonBody};
use crate::state::AppState;

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    let login_body = json!({
        "type": "object",
        "required": ["email", "password"],
        "additionalProperties": false,
        "properties": { "email": { "type": "string" }, "password": { "type": "string" } },
    });
    let token = api.schema_of::<LoginToken>();
    api.route(
        Op::post("/api/auth/login", "login").summary("Sign in with email and password").outside_registry()
        .tag("identity")
        .body(login_body)
        .problem(401, "Wrong email or password (UNAUTHORIZED); which one is never said")
        .ok(200, "A session token", Some(token.clone())),
        post(login),
    )
    .route(
        Op::get("/api/me", "me")
        .tag("identity")
        .ok(200, "Account", None),
        get(me),
    )
    .route(
        Op::post("/api/auth/logout-all", "logout_everywhere").summary("Sign out everywhere: every earlier session token stops working").outside_registry()
            .tag("identity").access(Access::Signed).ok(204, "Signed out", None),
        post(logout_all),
    )
    .route(
        Op::post("/api/auth/password", "change_password").summary("Change your password (signs out other sessions); returns a new token").outside_registry()
            .tag("identity").access(Access::Signed)
            .body(json!({
                "type": "object", "additionalProperties": false, "required": ["currentPassword", "newPassword"],
                "properties": { "currentPassword": { "type": "string" }, "newPassword": { "type": "string", "minLength": 12 } },
            }))
            .ok(200, "A new session token", Some(token)),
        post(change_password),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(
    State(s): State<AppState>,
    JsonBody(body): JsonBody<LoginBody>,
) -> ApiResult<Json<LoginToken>> {
    Ok(Json(s.service.login(&body.email, &body.password).await?))
}

/// Works without an organization selected, so a client can discover its memberships; the
/// active organization is shown when one is chosen (or is the only one).
async fn me(State(s): State<AppState>, who: AuthIdentity) -> ApiResult<Json<MeView>> {
    let active = who.identity.actor(who.org_header.as_deref()).ok();
    Ok(Json(s.service.me(&who.identity, active.as_ref()).await?))
}

async fn logout_all(
    State(s): State<AppState>,
    who: AuthIdentity,
) -> ApiResult<axum::http::StatusCode> {
    s.service.logout_everywhere(&who.identity).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(s): State<AppState>,
    who: AuthIdentity,
    JsonBody(body): JsonBody<PasswordBody>,
) -> ApiResult<Json<LoginToken>> {
    let token = s
        .service
        .change_password(&who.identity, &body.current_password, &body.new_password)
        .await?;
    Ok(Json(token))
}
