//! The registers' workflows beyond their declarations: a change advisory board's votes on a
//! change request (`POST/GET /api/change-requests/{id}/votes`) and applying an access
//! review's decisions (`POST /api/access-reviews/{id}/apply`).

use axum::Json;
use axum::extract::State;
use axum::routing::{get, post};
use tater_service::{ChangeVotes, VoteInput};

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, IdPath, JsonBody};
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    let path = "/api/change-requests/{id}/votes";
    api.route(
        Op::post(path, "change_request_votes_create")
            .tag("Change requests")
            .ok(200, "The round's votes and where they stand", None)
            .problem(
                409,
                "The change is not Submitted (NOT_SUBMITTED) or names no board (NO_BOARD)",
            ),
        post(vote),
    )
    .route(
        Op::get(path, "change_request_votes")
            .tag("Change requests")
            .ok(200, "The round's votes and where they stand", None),
        get(votes),
    )
    .route(
        Op::post("/api/access-reviews/{id}/apply", "access_review_apply")
            .tag("Access reviews")
            .ok(200, "Each item's outcome", None)
            .problem(409, "The review is not Completed yet (NOT_COMPLETED)"),
        post(apply_review),
    )
}

async fn apply_review(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<tater_service::ReviewApplied>> {
    Ok(Json(s.service.apply_access_review(&actor, &id).await?))
}

async fn vote(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<VoteInput>,
) -> ApiResult<Json<ChangeVotes>> {
    Ok(Json(s.service.vote_on_change(&actor, &id, &body).await?))
}

async fn votes(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<ChangeVotes>> {
    Ok(Json(s.service.change_votes(&actor, &id).await?))
}
