//! The invitee's side: invitations addressed to the caller's account, in every organization.
//! No organization needs to be selected (a person invited into their first organization has
//! none yet).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthIdentity, IdPath};
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    let received = json!({
        "type": "object",
        "properties": {
            "id": { "type": "string" }, "orgId": { "type": "string" }, "orgName": { "type": "string" },
            "role": { "type": "string" }, "invitedBy": { "type": "string" },
            "createdAt": { "type": "string" }, "expiresAt": { "type": "string" },
        },
    });
    api.route(
        Op::get("/api/invitations", "invitations_mine", "Open invitations addressed to your account, in every organization").tag("identity").access(Access::Signed)
            .ok(200, "Invitations", Some(json!({ "type": "object", "properties": { "items": { "type": "array", "items": received } } }))),
        get(mine),
    )
    .route(
        Op::post("/api/invitations/{id}/accept", "invitations_accept", "Join the organization with the invited role (not with a key bound to another organization); audited there").tag("identity").access(Access::Signed).path_id()
            .ok(200, "`{orgId, orgName, role}`", Some(json!({ "type": "object" }))),
        post(accept),
    )
    .route(
        Op::post("/api/invitations/{id}/decline", "invitations_decline", "Turn an invitation down; the organization sees it declined").tag("identity").access(Access::Signed).path_id()
            .ok(204, "Declined", None),
        post(decline),
    )
}

async fn mine(State(s): State<AppState>, who: AuthIdentity) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "items": s.service.my_invitations(&who.identity).await? }),
    ))
}

async fn accept(
    State(s): State<AppState>,
    who: AuthIdentity,
    IdPath(id): IdPath,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.accept_invitation(&who.identity, &id).await?))
}

async fn decline(
    State(s): State<AppState>,
    who: AuthIdentity,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    s.service.decline_invitation(&who.identity, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
