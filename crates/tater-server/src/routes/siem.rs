//! SIEM destinations (SPEC L4, OrgAdmin): syslog receivers and webhooks that get every audit
//! entry of the organization, with delivery status, a test button and dead letters.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, IdPath, JsonBody};
use crate::state::AppState;
use tater_domain::Action;

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    let s = |t: &str| json!({ "type": t });
    let dest = api.schema(
        "SiemDestination",
        json!({
            "type": "object",
            "description": "A destination's settings (never its secret) and delivery status",
            "properties": {
                "id": s("string"), "type": { "enum": ["syslog", "webhook"] }, "name": s("string"), "enabled": s("boolean"),
                "host": s("string"), "port": s("integer"), "transport": { "enum": ["udp", "tcp", "tls"] },
                "facility": s("integer"), "appName": s("string"), "caCert": s("string"),
                "url": s("string"), "secretSet": s("boolean"),
                "delivery": { "type": "object", "properties": {
                    "state": { "enum": ["ok", "delivering", "retrying", "failing", "disabled"] },
                    "pending": s("integer"), "lagSeconds": { "type": ["integer", "null"] }, "delivered": s("integer"),
                    "deadLetters": s("integer"), "lastSuccessAt": { "type": ["string", "null"] },
                    "lastError": { "type": ["string", "null"] }, "failingSince": { "type": ["string", "null"] },
                    "nextAttemptAt": { "type": ["string", "null"] },
                } },
                "version": s("integer"), "createdAt": s("string"), "updatedAt": s("string"),
            },
        }),
    );
    let body = json!({
        "oneOf": [
            { "type": "object", "additionalProperties": false, "required": ["type", "name", "host", "port", "transport"],
              "properties": { "type": { "const": "syslog" }, "name": { "type": "string", "maxLength": 100 },
                "host": s("string"), "port": { "type": "integer", "minimum": 1, "maximum": 65535 },
                "transport": { "enum": ["udp", "tcp", "tls"] }, "facility": { "type": "integer", "minimum": 0, "maximum": 23, "default": 13 },
                "appName": { "type": "string", "maxLength": 48, "default": "tater" },
                "caCert": { "type": "string", "description": "PEM CA to trust for tls instead of the public roots" },
                "enabled": s("boolean"), "version": s("integer") } },
            { "type": "object", "additionalProperties": false, "required": ["type", "name", "url"],
              "properties": { "type": { "const": "webhook" }, "name": { "type": "string", "maxLength": 100 },
                "url": { "type": "string", "description": "https (a public address, or one the operator allowlisted)" },
                "secret": { "type": "string", "minLength": 16, "maxLength": 256, "description": "required on create; kept when left out of an update" },
                "enabled": s("boolean"), "version": s("integer") } },
        ],
    });
    let admin = Access::Action(Action::ManageSettings);
    let list = json!({ "type": "object", "properties": { "items": { "type": "array", "items": dest.clone() } } });
    let tag = "siem";
    api.route(
        Op::get("/api/siem-destinations", "siem_destinations_list", "SIEM destinations and how delivery to each is going").tag(tag).access(admin)
            .ok(200, "Destinations", Some(list)),
        get(list_destinations),
    )
    .route(
        Op::post("/api/siem-destinations", "siem_destinations_create", "Add a syslog or webhook destination; a refused address answers 400 with the reason").tag(tag).access(admin)
            .body(body.clone()).ok(201, "The destination", Some(dest.clone())),
        post(create),
    )
    .route(
        Op::get("/api/siem-destinations/{id}", "siem_destinations_get", "One destination").tag(tag).access(admin).path_id()
            .ok(200, "The destination", Some(dest.clone())),
        get(get_one),
    )
    .route(
        Op::put("/api/siem-destinations/{id}", "siem_destinations_update", "Replace a destination's settings (send `version` to refuse overwriting a concurrent change)").tag(tag).access(admin).path_id()
            .body(body).ok(200, "The destination", Some(dest)),
        axum::routing::put(update),
    )
    .route(
        Op::delete("/api/siem-destinations/{id}", "siem_destinations_delete", "Delete a destination and its queue").tag(tag).access(admin).path_id()
            .ok(204, "Deleted", None),
        axum::routing::delete(remove),
    )
    .route(
        Op::post("/api/siem-destinations/{id}/test", "siem_destinations_test", "Send a test event now and say whether it was accepted").tag(tag).access(admin).path_id()
            .ok(200, "`{delivered, eventId, error?}`", Some(json!({ "type": "object" }))),
        post(test),
    )
    .route(
        Op::get("/api/siem-destinations/{id}/dead-letters", "siem_destinations_dead_letters", "Entries the destination refused for good").tag(tag).access(admin).path_id()
            .ok(200, "Dead letters by sequence number", Some(json!({ "type": "object" }))),
        get(dead_letters),
    )
    .route(
        Op::post("/api/siem-destinations/{id}/dead-letters/replay", "siem_destinations_replay", "Queue the dead letters again").tag(tag).access(admin).path_id()
            .ok(200, "`{replayed}`", Some(json!({ "type": "object" }))),
        post(replay),
    )
}

async fn list_destinations(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "items": s.service.list_destinations(&actor).await? }),
    ))
}

async fn create(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.service.create_destination(&actor, &body).await?),
    ))
}

async fn get_one(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.get_destination(&actor, &id).await?))
}

async fn update(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
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
) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.test_destination(&actor, &id).await?))
}

async fn dead_letters(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "items": s.service.dead_letters(&actor, &id).await? }),
    ))
}

async fn replay(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.replay_dead_letters(&actor, &id).await?))
}
