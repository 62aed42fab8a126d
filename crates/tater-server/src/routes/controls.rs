//! The control catalog with the organization's overlays (SPEC D1).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use serde_json::Value;

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, IdPath, JsonBody, QueryInput};
use crate::state::AppState;
use tater_service::use_cases::ControlsQuery;
use tater_service::{CheckView, ControlView, FrameworkView, Items, LinkList};

pub fn routes(api: ApiRouter) -> ApiRouter {
    let list = Op::get("/api/controls", "controls_list")
        .tag("controls")
        .ok(200, "A page of controls", None);
    api.route(
        Op::get("/api/checks", "checks_list")
            .tag("controls")
            .ok(200, "Checks", None),
        get(checks),
    )
    .route(
        Op::get("/api/frameworks", "frameworks_list")
            .tag("controls")
            .ok(200, "Frameworks", None),
        get(frameworks),
    )
    .route(list, get(list_controls))
    .route(
        Op::get("/api/controls/{id}", "controls_get")
            .tag("controls")
            .ok(200, "The control", None),
        get(get_control),
    )
    .route(
        Op::get("/api/controls/{id}/links", "controls_links")
            .tag("controls")
            .ok(200, "The records linked to the control, newest first", None),
        get(control_links),
    )
    .route(
        Op::put("/api/controls/{id}/overlay", "controls_put_overlay")
            .tag("controls")
            .ok(200, "The control with its new overlay", None),
        put(put_overlay),
    )
    .route(
        Op::delete("/api/controls/{id}/overlay", "controls_delete_overlay")
            .tag("controls")
            .ok(204, "Removed", None),
        delete(delete_overlay),
    )
}

async fn checks(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Items<CheckView>>> {
    Ok(Json(Items {
        items: s.service.list_checks(&actor)?,
    }))
}

async fn frameworks(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Items<FrameworkView>>> {
    Ok(Json(Items {
        items: s.service.list_frameworks(&actor)?,
    }))
}

async fn list_controls(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    QueryInput(q): QueryInput<ControlsQuery>,
) -> ApiResult<Json<tater_service::Page<ControlView>>> {
    Ok(Json(s.service.list_controls(&actor, &q).await?))
}

async fn get_control(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<ControlView>> {
    Ok(Json(s.service.get_control(&actor, &id).await?))
}

async fn control_links(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<LinkList>> {
    Ok(Json(s.service.list_control_links(&actor, &id).await?))
}

async fn put_overlay(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<ControlView>> {
    Ok(Json(s.service.put_overlay(&actor, &id, &body).await?))
}

async fn delete_overlay(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    s.service.delete_overlay(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
