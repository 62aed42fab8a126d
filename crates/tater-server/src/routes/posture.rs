//! Compliance posture and its trend.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::Value;

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, JsonBody, QueryInput};
use crate::state::AppState;
use tater_service::use_cases::PoamFromControl;
use tater_service::use_cases::{Paging, TrendQuery};

pub fn routes(api: ApiRouter) -> ApiRouter {
    api.route(
        Op::get("/api/posture", "posture")
            .tag("posture")
            .ok(200, "score, totals, byFramework, byFamily, the first page of byEndpoint (byEndpointNextCursor continues it at /api/posture/endpoints), failing", None),
        get(posture),
    )
    .route(
        Op::get("/api/posture/endpoints", "posture_endpoints")
            .tag("posture")
            .ok(200, "items and nextCursor", None),
        get(endpoints),
    )
    .route(
        Op::get("/api/posture/trend", "posture_trend")
            .tag("posture")
            .ok(200, "points and latest", None),
        get(trend),
    )
    .route(
        Op::post("/api/poam/from-control", "poam_from_control")
            .tag("POAM items")
            .ok(201, "The POAM item", None),
        post(from_control),
    )
    .route(
        Op::post("/api/tasks/from-control", "tasks_from_control")
            .tag("tasks")
            .ok(201, "The task, linked to the control", None),
        post(task_from_control),
    )
}

async fn task_from_control(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(b): JsonBody<tater_service::use_cases::TaskFromControl>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let task = s
        .service
        .task_from_control(
            &actor,
            &b.control,
            b.assignee.as_deref(),
            b.due_date.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(task)))
}

async fn from_control(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(b): JsonBody<PoamFromControl>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let item = s
        .service
        .poam_from_control(&actor, &b.control, b.scheduled_completion.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(item)))
}

async fn posture(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<tater_service::PostureView>> {
    Ok(Json(s.service.posture(&actor).await?))
}

async fn endpoints(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    QueryInput(q): QueryInput<Paging>,
) -> ApiResult<Json<tater_service::Page<tater_service::EndpointPosture>>> {
    Ok(Json(s.service.posture_endpoints(&actor, &q).await?))
}

async fn trend(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    QueryInput(q): QueryInput<TrendQuery>,
) -> ApiResult<Json<tater_service::PostureTrend>> {
    Ok(Json(s.service.posture_trend(&actor, &q).await?))
}
