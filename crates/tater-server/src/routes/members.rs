//! Members of the active organization (OrgAdmin).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, IdPath, Input, JsonBody};
use crate::state::AppState;
use tater_service::use_cases::{ChangeRole, InviteMember};
use tater_service::{InvitationView, Items, MemberView};

pub fn routes(api: ApiRouter) -> ApiRouter {
    api.route(
        Op::get("/api/members", "members_list")
            .tag("members")
            .ok(200, "Members", None),
        get(list),
    )
    .route(
        Op::post("/api/members", "members_invite")
            .tag("members")
            .ok(202, "Invited (pending until the person accepts)", None),
        post(invite_member),
    )
    .route(
        Op::get("/api/members/invitations", "members_invitations")
            .tag("members")
            .ok(200, "Invitations", None),
        get(list_invitations),
    )
    .route(
        Op::delete("/api/members/invitations/{id}", "members_invitation_revoke")
            .tag("members")
            .ok(204, "Withdrawn", None)
            .problem(409, "The invitation is no longer pending: accepted, declined, revoked or expired (CONFLICT)"),
        delete(revoke_invitation),
    )
    .route(
        Op::put("/api/members/{id}", "members_change_role")
            .tag("members")
            .ok(200, "Changed", None),
        put(change_role),
    )
    .route(
        Op::delete("/api/members/{id}", "members_remove")
            .tag("members")
            .ok(204, "Removed", None),
        delete(remove),
    )
}

async fn list(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Items<MemberView>>> {
    let items = s.service.list_members(&actor).await?;
    Ok(Json(Items { items }))
}

async fn list_invitations(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Items<InvitationView>>> {
    let items = s.service.list_invitations(&actor).await?;
    Ok(Json(Items { items }))
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
    JsonBody(body): JsonBody<InviteMember>,
) -> ApiResult<(StatusCode, Json<InvitationView>)> {
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
    Input(body): Input<ChangeRole>,
) -> ApiResult<Json<MemberView>> {
    Ok(Json(
        s.service
            .change_member_role(&actor, &body.id, body.role)
            .await?,
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
