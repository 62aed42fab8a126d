//! Compliance posture and its trend.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use tater_domain::Role;

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, Params};
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    let s = |t: &str| json!({ "type": t });
    let read = Access::Role(Role::Viewer);
    api.route(
        Op::get("/api/posture", "posture", "Compliance posture from the latest scan of every active endpoint, risk acceptances applied")
            .tag("posture").access(read)
            .ok(200, "score, totals, byFramework, byFamily, byEndpoint, failing", Some(s("object"))),
        get(posture),
    )
    .route(
        Op::get("/api/posture/trend", "posture_trend", "One point per scan (raw counts at scan time) and the current resolved totals")
            .tag("posture").access(read)
            .query("from", s("string"), "inclusive start (RFC 3339 or YYYY-MM-DD)")
            .query("to", s("string"), "exclusive end")
            .query("limit", json!({ "type": "integer", "minimum": 1, "maximum": 5000, "default": 500 }), "points at most")
            .ok(200, "points and latest", Some(s("object"))),
        get(trend),
    )
}

async fn posture(State(s): State<AppState>, AuthActor(actor): AuthActor) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.posture(&actor).await?))
}

async fn trend(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    Params(p): Params,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.posture_trend(&actor, &p).await?))
}
