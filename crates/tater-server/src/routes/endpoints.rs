//! Endpoints and their agents: enrollment tokens (Admin), enrollment and scan reports (agents),
//! the inventory and scans (readers).

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};
use tater_service::{
    CreatedEnrollmentToken, EndpointDetail, EndpointView, EnrollRequest, EnrollmentTokenView,
    Items, Page,
};

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{API_KEY_HEADER, AuthActor, IdPath, Input, JsonBody, QueryInput};
use crate::state::AppState;
use tater_domain::Action;
use tater_service::use_cases::{
    CreateEnrollmentToken, EndpointsQuery, ScanResultsQuery, UpdateEndpointTags,
};

/// Scan reports carry up to 16 KiB of evidence per result; they get a larger body limit.
pub const SCAN_BODY_LIMIT: usize = 16 * 1024 * 1024;

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    let s = |t: &str| json!({ "type": t });
    let enrolled_doc = api.schema_of::<tater_service::Enrolled>();
    let scan_doc = api.schema_of::<tater_service::IngestedScan>();
    let agent = Access::Action(Action::AgentReport);
    let enroll_body = json!({
        "type": "object", "additionalProperties": false,
        "required": ["token", "hostname", "os", "osVersion", "arch", "agentVersion"],
        "properties": {
            "token": s("string"), "hostname": s("string"), "os": s("string"), "osVersion": s("string"),
            "arch": s("string"), "agentVersion": s("string"),
        },
    });
    let scan_body = json!({
        "type": "object", "additionalProperties": false, "required": ["scanId", "startedAt", "finishedAt", "results"],
        "properties": {
            "scanId": { "type": "string", "format": "uuid", "description": "chosen by the agent; a retry with the same id is stored once" },
            "startedAt": s("string"), "finishedAt": s("string"),
            "results": { "type": "array", "maxItems": 5000, "items": {
                "type": "object", "additionalProperties": false, "required": ["checkId", "status"],
                "properties": {
                    "checkId": s("string"),
                    "status": { "enum": ["Pass", "Fail", "Manual Review", "Skip", "Error", "Not Applicable"] },
                    "evidence": { "type": "string", "maxLength": 16384 },
                    "severity": { "enum": ["Critical", "High", "Medium", "Low"] },
                },
            } },
        },
    });
    api.route(
        Op::post("/api/enrollment-tokens", "enrollment_tokens_create").tag("endpoints").ok(201, "The token (field `token`)", None),
        post(create_token),
    )
    .route(
        Op::get("/api/enrollment-tokens", "enrollment_tokens_list").tag("endpoints").ok(200, "Tokens", None),
        get(list_tokens),
    )
    .route(
        Op::delete("/api/enrollment-tokens/{id}", "enrollment_tokens_revoke").tag("endpoints").ok(204, "Revoked", None),
        delete(revoke_token),
    )
    .route(
        Op::post("/api/agent/enroll", "agent_enroll").summary("Enroll an endpoint with a token; returns its agent credential once. A hostname already enrolled needs the endpoint's current credential in X-API-Key, or an Admin's allowance (409 ENDPOINT_EXISTS otherwise); a retired endpoint stays retired").outside_registry().tag("agent").body(enroll_body).ok(201, "The endpoint and its agent credential (shown once)", Some(enrolled_doc)),
        post(enroll),
    )
    .route(
        Op::post("/api/agent/heartbeat", "agent_heartbeat").summary("An agent says it is alive (agent credential); updates the endpoint's last contact").outside_registry().tag("agent").access(agent).ok(204, "Noted", None),
        post(heartbeat),
    )
    .route(
        Op::post("/api/agent/scans", "agent_report_scan").summary("Report a scan (agent credential); retries with the same scanId are stored once").outside_registry().tag("agent").access(agent).body(scan_body).ok(201, "Stored (200: already stored)", Some(scan_doc)),
        post(report_scan).layer(DefaultBodyLimit::max(SCAN_BODY_LIMIT)),
    )
    .route(
        Op::get("/api/endpoints", "endpoints_list").tag("endpoints")
            .ok(200, "A page of endpoints", None),
        get(list_endpoints),
    )
    .route(
        Op::get("/api/endpoints/{id}", "endpoints_get").tag("endpoints").ok(200, "The endpoint", None),
        get(get_endpoint),
    )
    .route(
        Op::put("/api/endpoints/{id}", "endpoints_update").tag("endpoints")
            .ok(200, "The endpoint", None),
        axum::routing::put(update_endpoint),
    )
    .route(
        Op::post("/api/endpoints/{id}/retire", "endpoints_retire").tag("endpoints").ok(200, "The endpoint", None),
        post(retire_endpoint),
    )
    .route(
        Op::post("/api/endpoints/{id}/allow-reenroll", "endpoints_allow_reenroll").tag("endpoints").ok(200, "The endpoint, with reenrollAllowedUntil", None),
        post(allow_reenroll),
    )
    .route(
        Op::delete("/api/endpoints/{id}", "endpoints_delete").tag("endpoints").ok(204, "Deleted", None),
        delete(delete_endpoint),
    )
    .route(
        Op::get("/api/scans/{id}", "scans_get").tag("endpoints").ok(200, "The scan", None),
        get(get_scan),
    )
    .route(
        Op::get("/api/scan-results", "scan_results_list").tag("endpoints")
            .ok(200, "A page of results", None),
        get(list_scan_results),
    )
}

async fn list_scan_results(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    QueryInput(q): QueryInput<ScanResultsQuery>,
) -> ApiResult<Json<tater_service::Page<tater_service::LatestResultView>>> {
    Ok(Json(s.service.list_scan_results(&actor, &q).await?))
}

async fn create_token(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(b): JsonBody<CreateEnrollmentToken>,
) -> ApiResult<(StatusCode, Json<CreatedEnrollmentToken>)> {
    let created = s
        .service
        .create_enrollment_token(
            &actor,
            &b.label,
            b.expires_in_hours,
            b.single_use,
            b.hostnames.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list_tokens(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Items<EnrollmentTokenView>>> {
    let items = s.service.list_enrollment_tokens(&actor).await?;
    Ok(Json(Items { items }))
}

async fn revoke_token(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    s.service.revoke_enrollment_token(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn enroll(
    State(s): State<AppState>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<EnrollRequest>,
) -> ApiResult<(StatusCode, Json<tater_service::Enrolled>)> {
    // An agent re-enrolling its own machine proves continuity with its current credential.
    // Sent twice, which copy counts would be a guess: refused, as everywhere else.
    let presented = crate::extract::header_str(&headers, API_KEY_HEADER)?;
    let enrolled = s.service.enroll(&req, presented).await?;
    Ok((StatusCode::CREATED, Json(enrolled)))
}

async fn heartbeat(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<StatusCode> {
    s.service.agent_heartbeat(&actor)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn report_scan(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<tater_service::IngestedScan>)> {
    let ingested = s.service.ingest_scan(&actor, &body).await?;
    let (status, stored) = if ingested.created {
        (StatusCode::CREATED, "stored")
    } else {
        (StatusCode::OK, "repeat")
    };
    metrics::counter!("tater_agent_reports_total", "result" => stored).increment(1);
    Ok((status, Json(ingested.scan)))
}

async fn list_endpoints(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    QueryInput(q): QueryInput<EndpointsQuery>,
) -> ApiResult<Json<Page<EndpointView>>> {
    Ok(Json(s.service.list_endpoints(&actor, &q).await?))
}

async fn get_endpoint(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<EndpointDetail>> {
    Ok(Json(s.service.get_endpoint(&actor, &id).await?))
}

async fn update_endpoint(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    Input(b): Input<UpdateEndpointTags>,
) -> ApiResult<Json<EndpointView>> {
    Ok(Json(
        s.service
            .update_endpoint_tags(&actor, &b.id, &b.tags, b.version)
            .await?,
    ))
}

async fn allow_reenroll(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<EndpointView>> {
    Ok(Json(s.service.allow_reenroll(&actor, &id).await?))
}

async fn retire_endpoint(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<EndpointView>> {
    Ok(Json(s.service.retire_endpoint(&actor, &id).await?))
}

async fn delete_endpoint(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    s.service.delete_endpoint(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_scan(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<tater_service::ScanDetail>> {
    Ok(Json(s.service.get_scan(&actor, &id).await?))
}
