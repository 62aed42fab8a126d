//! The invitee's side: invitations addressed to the caller's account, in every organization.
//! No organization needs to be selected (a person invited into their first organization has
//! none yet).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthIdentity, IdPath};
use crate::state::AppState;
use tater_service::{Items, Joined, ReceivedInvitation};

pub fn routes(api: ApiRouter) -> ApiRouter {
    api.route(
        Op::get("/api/invitations", "invitations_mine")
            .tag("identity")
            .ok(200, "Invitations", None),
        get(mine),
    )
    .route(
        Op::post("/api/invitations/{id}/accept", "invitations_accept")
            .tag("identity")
            .ok(200, "`{orgId, orgName, role}`", None)
            .problem(
                409,
                "The invitation is no longer pending, or you are already a member (CONFLICT)",
            ),
        post(accept),
    )
    .route(
        Op::post("/api/invitations/{id}/decline", "invitations_decline")
            .tag("identity")
            .ok(204, "Declined", None)
            .problem(409, "The invitation is no longer pending (CONFLICT)"),
        post(decline),
    )
}

async fn mine(
    State(s): State<AppState>,
    who: AuthIdentity,
) -> ApiResult<Json<Items<ReceivedInvitation>>> {
    let items = s.service.my_invitations(&who.identity).await?;
    Ok(Json(Items { items }))
}

async fn accept(
    State(s): State<AppState>,
    who: AuthIdentity,
    IdPath(id): IdPath,
) -> ApiResult<Json<Joined>> {
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
