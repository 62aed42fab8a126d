//! The risk register's 5×5 heat map.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use tater_domain::ValidationErrors;

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::{ApiResult, Problem};
use crate::extract::{AuthActor, Params};
use crate::state::AppState;
use tater_domain::Action;

pub fn routes(api: ApiRouter) -> ApiRouter {
    let op = Op::get("/api/risks/heat-map", "risks_heat_map", "Counts of risks on the 5×5 likelihood × impact grid")
        .tag("Risks")
        .access(Access::Action(Action::ReadRecords(tater_domain::modules::RISKS.read_role)))
        .query("kind", json!({ "type": "string", "enum": ["inherent", "residual"], "default": "inherent" }), "inherent or residual ratings")
        .ok(200, "cells[likelihood-1][impact-1] = count", Some(json!({
            "type": "object",
            "properties": {
                "kind": { "type": "string" },
                "cells": { "type": "array", "items": { "type": "array", "items": { "type": "integer" } } },
                "total": { "type": "integer" },
                "unscored": { "type": "integer" },
            },
        })));
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
