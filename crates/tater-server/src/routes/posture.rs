//! Compliance posture and its trend.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, JsonBody, Params};
use crate::state::AppState;
use tater_domain::Action;

pub fn routes(api: ApiRouter) -> ApiRouter {
    let s = |t: &str| json!({ "type": t });
    let read = Access::Action(Action::Read);
    api.route(
        Op::get("/api/posture", "posture", "Compliance posture from the latest scan of every active endpoint, risk acceptances applied")
            .tag("posture").access(read)
            .ok(200, "score, totals, byFramework, byFamily, the first page of byEndpoint (byEndpointNextCursor continues it at /api/posture/endpoints), failing", Some(s("object"))),
        get(posture),
    )
    .route(
        Op::get("/api/posture/endpoints", "posture_endpoints", "The posture of each active endpoint, by hostname, a page at a time")
            .tag("posture").access(read)
            .query("limit", json!({ "type": "integer", "minimum": 1, "maximum": 500, "default": 50 }), "page size")
            .query("cursor", s("string"), "nextCursor of the previous page, or byEndpointNextCursor of /api/posture")
            .ok(200, "items and nextCursor", Some(s("object"))),
        get(endpoints),
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
    .route(
        Op::post("/api/poam/from-control", "poam_from_control", "Create a POAM item for a failing control, from its failed checks, endpoints and evidence")
            .tag("POAM items").access(Access::Action(Action::WriteRecord))
            .body(json!({
                "type": "object", "additionalProperties": false, "required": ["control"],
                "properties": { "control": s("string"), "scheduledCompletion": { "type": "string", "format": "date" } },
            }))
            .ok(201, "The POAM item", Some(s("object"))),
        post(from_control),
    )
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FromControl {
    control: String,
    scheduled_completion: Option<String>,
}

async fn from_control(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(b): JsonBody<FromControl>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let item = s
        .service
        .poam_from_control(&actor, &b.control, b.scheduled_completion.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(item)))
}

async fn posture(State(s): State<AppState>, AuthActor(actor): AuthActor) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.posture(&actor).await?))
}

async fn endpoints(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    Params(p): Params,
) -> ApiResult<Json<tater_service::Page>> {
    Ok(Json(s.service.posture_endpoints(&actor, &p).await?))
}

async fn trend(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    Params(p): Params,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.posture_trend(&actor, &p).await?))
}
