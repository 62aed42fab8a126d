//! The risk register's 5×5 heat map.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde_json::Value;
use tater_domain::ValidationErrors;

use crate::api_doc::{ApiRouter, Op};
use crate::error::{ApiResult, Problem};
use crate::extract::{AuthActor, Params};
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    let op = Op::get("/api/risks/heat-map", "risks_heat_map")
        .tag("Risks")
        .ok(200, "cells[likelihood-1][impact-1] = count", None);
    api.route(op, get(heat_map))
}

async fn heat_map(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    Params(p): Params,
) -> ApiResult<Json<Value>> {
    let mut residual = false;
    for (k, v) in &p {
        match (k.as_str(), v.as_str()) {
            ("kind", "inherent") => residual = false,
            ("kind", "residual") => residual = true,
            ("kind", _) => {
                return Err(Problem::validation(
                    ValidationErrors::single("kind", "must be inherent or residual").0,
                ));
            }
            (other, _) => {
                return Err(Problem::validation(
                    ValidationErrors::single(other, "unknown parameter").0,
                ));
            }
        }
    }
    Ok(Json(
        s.service.risk_heat_map(&actor, residual).await?.to_json(),
    ))
}
