//! Members of the active organization (OrgAdmin).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};
use tater_domain::Role;

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, IdPath, JsonBody};
use crate::state::AppState;
use tater_domain::Action;

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    let roles = json!({ "type": "string", "enum": ["viewer", "auditor", "admin", "orgadmin", "superadmin"] });
    let member = api.schema(
        "Member",
        json!({
            "type": "object",
            "properties": {
                "userId": { "type": "string" }, "email": { "type": "string" }, "displayName": { "type": ["string", "null"] },
                "role": roles, "entraLinked": { "type": "boolean" }, "hasPassword": { "type": "boolean" },
                "createdAt": { "type": "string" }, "updatedAt": { "type": "string" },
            },
        }),
    );
    let invite = json!({
        "type": "object", "additionalProperties": false, "required": ["email", "role"],
        "properties": { "email": { "type": "string" }, "role": roles },
    });
    let change = json!({ "type": "object", "additionalProperties": false, "required": ["role"], "properties": { "role": roles } });
    let invitation = api.schema(
        "Invitation",
        json!({
            "type": "object",
            "properties": {
                "id": { "type": "string" }, "email": { "type": "string" }, "role": roles,
                "status": { "enum": ["pending", "accepted", "declined", "revoked", "expired"] },
                "invitedBy": { "type": "string" }, "createdAt": { "type": "string" },
                "expiresAt": { "type": "string" }, "decidedAt": { "type": ["string", "null"] },
            },
        }),
    );
    let admin = Access::Action(Action::ManageMembers);
    api.route(
        Op::get("/api/members", "members_list", "Members of the organization").tag("members").access(admin)
            .ok(200, "Members", Some(json!({ "type": "object", "properties": { "items": { "type": "array", "items": member.clone() } } }))),
        get(list),
    )
    .route(
        Op::post("/api/members", "members_invite", "Invite a person by email with a role (never above your own). Nobody joins until they accept: the answer is the pending invitation, the same whether or not the address has an account").tag("members").access(admin)
            .body(invite).ok(202, "Invited (pending until the person accepts)", Some(invitation.clone())),
        post(invite_member),
    )
    .route(
        Op::get("/api/members/invitations", "members_invitations", "The organization's invitations, newest first, with their status").tag("members").access(admin)
            .ok(200, "Invitations", Some(json!({ "type": "object", "properties": { "items": { "type": "array", "items": invitation } } }))),
        get(list_invitations),
    )
    .route(
        Op::delete("/api/members/invitations/{id}", "members_invitation_revoke", "Withdraw a pending invitation").tag("members").access(admin)
            .path_id().ok(204, "Withdrawn", None),
        delete(revoke_invitation),
    )
    .route(
        Op::put("/api/members/{id}", "members_change_role", "Change a member's role; the last OrgAdmin cannot be demoted").tag("members").access(admin)
            .path_id().body(change).ok(200, "Changed", Some(member)),
        put(change_role),
    )
    .route(
        Op::delete("/api/members/{id}", "members_remove", "Remove a member; the last OrgAdmin cannot be removed").tag("members").access(admin)
            .path_id().ok(204, "Removed", None),
        delete(remove),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    email: String,
    role: Role,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: Role,
}

async fn list(State(s): State<AppState>, AuthActor(actor): AuthActor) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "items": s.service.list_members(&actor).await? }),
    ))
}

async fn list_invitations(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "items": s.service.list_invitations(&actor).await? }),
    ))
}

async fn revoke_invitation(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    s.service.revoke_invitation(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn invite_member(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(body): JsonBody<InviteBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(
            s.service
                .invite_member(&actor, &body.email, body.role)
                .await?,
        ),
    ))
}

async fn change_role(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<RoleBody>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        s.service.change_member_role(&actor, &id, body.role).await?,
    ))
}

async fn remove(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    s.service.remove_member(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
