//! The risk register's 5×5 heat map.

use axum::Json;
use axum::extract::State;
use axum::routing::get;

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, QueryInput};
use crate::state::AppState;
use tater_service::use_cases::{HeatMapQuery, RatingKind};

pub fn routes(api: ApiRouter) -> ApiRouter {
    let op = Op::get("/api/risks/heat-map", "risks_heat_map")
        .tag("Risks")
        .ok(200, "cells[likelihood-1][impact-1] = count", None);
    api.route(op, get(heat_map))
}

async fn heat_map(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    QueryInput(q): QueryInput<HeatMapQuery>,
) -> ApiResult<Json<tater_service::HeatMapView>> {
    let residual = matches!(q.kind, Some(RatingKind::Residual));
    Ok(Json(
        s.service.risk_heat_map(&actor, residual).await?.view(),
    ))
}
