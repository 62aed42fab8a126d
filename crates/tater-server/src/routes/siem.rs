//! SIEM destinations (SPEC L4, OrgAdmin): syslog receivers and webhooks that get every audit
//! entry of the organization, with delivery status, a test button and dead letters.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::Value;

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, IdPath, JsonBody};
use crate::state::AppState;
use tater_service::{DeadLetterView, DestinationView, Items, Replayed, TestDelivery};

pub fn routes(api: ApiRouter) -> ApiRouter {
    let tag = "siem";
    api.route(
        Op::get("/api/siem-destinations", "siem_destinations_list")
            .tag(tag)
            .ok(200, "Destinations", None),
        get(list_destinations),
    )
    .route(
        Op::post("/api/siem-destinations", "siem_destinations_create")
            .tag(tag)
            .ok(201, "The destination", None),
        post(create),
    )
    .route(
        Op::get("/api/siem-destinations/{id}", "siem_destinations_get")
            .tag(tag)
            .ok(200, "The destination", None),
        get(get_one),
    )
    .route(
        Op::put("/api/siem-destinations/{id}", "siem_destinations_update")
            .tag(tag)
            .ok(200, "The destination", None),
        axum::routing::put(update),
    )
    .route(
        Op::delete("/api/siem-destinations/{id}", "siem_destinations_delete")
            .tag(tag)
            .ok(204, "Deleted", None),
        axum::routing::delete(remove),
    )
    .route(
        Op::post("/api/siem-destinations/{id}/test", "siem_destinations_test")
            .tag(tag)
            .ok(200, "`{delivered, eventId, error?}`", None),
        post(test),
    )
    .route(
        Op::get(
            "/api/siem-destinations/{id}/dead-letters",
            "siem_destinations_dead_letters",
        )
        .tag(tag)
        .ok(200, "Dead letters by sequence number", None),
        get(dead_letters),
    )
    .route(
        Op::post(
            "/api/siem-destinations/{id}/dead-letters/replay",
            "siem_destinations_replay",
        )
        .tag(tag)
        .ok(200, "`{replayed}`", None),
        post(replay),
    )
}

async fn list_destinations(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Items<DestinationView>>> {
    let items = s.service.list_destinations(&actor).await?;
    Ok(Json(Items { items }))
}

async fn create(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<DestinationView>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.service.create_destination(&actor, &body).await?),
    ))
}

async fn get_one(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<DestinationView>> {
    Ok(Json(s.service.get_destination(&actor, &id).await?))
}

async fn update(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<DestinationView>> {
    Ok(Json(
        s.service.update_destination(&actor, &id, &body).await?,
    ))
}

async fn remove(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    s.service.delete_destination(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn test(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<TestDelivery>> {
    Ok(Json(s.service.test_destination(&actor, &id).await?))
}

async fn dead_letters(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<Items<DeadLetterView>>> {
    let items = s.service.dead_letters(&actor, &id).await?;
    Ok(Json(Items { items }))
}

async fn replay(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<Replayed>> {
    Ok(Json(s.service.replay_dead_letters(&actor, &id).await?))
}
