//! The control catalog with the organization's overlays (SPEC D1).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use serde_json::{Value, json};
use tater_domain::module::input_schema;
use tater_domain::modules::CONTROL_OVERLAYS;

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, IdPath, JsonBody, Params};
use crate::state::AppState;
use tater_domain::Action;

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    let s = |t: &str| json!({ "type": t });
    let control = api.schema(
        "Control",
        json!({
            "type": "object",
            "description": "A catalog control merged with the organization's overlay; provenance says, per field, catalog / organization / default / unset.",
            "properties": {
                "id": s("string"), "label": s("string"), "title": s("string"), "family": s("string"), "familyTitle": s("string"),
                "parent": { "type": ["string", "null"] }, "withdrawn": s("boolean"), "statement": s("string"), "guidance": s("string"),
                "source": s("string"), "frameworks": { "type": "array", "items": s("string") },
                "params": { "type": "array", "items": s("object") },
                "applicability": s("string"), "implementationStatus": { "type": ["string", "null"] },
                "narrative": { "type": ["string", "null"] }, "responsibleRoles": { "type": "array", "items": s("string") },
                "owner": { "type": ["string", "null"] }, "notes": { "type": ["string", "null"] }, "justification": { "type": ["string", "null"] },
                "provenance": s("object"), "overlay": { "type": ["object", "null"] },
            },
        }),
    );
    let overlay = api.schema("ControlOverlayInput", input_schema(&CONTROL_OVERLAYS));
    let read = Access::Action(Action::Read);
    let write = Access::Action(Action::WriteRecord);
    let list = Op::get("/api/controls", "controls_list", "Controls with the organization's overlays")
        .tag("controls")
        .access(read)
        .query("framework", s("string"), "framework id (GET /api/frameworks)")
        .query("family", s("string"), "control family, e.g. ac")
        .query("status", json!({ "enum": ["unset", "implemented", "partial", "planned", "alternative", "not-applicable"] }), "implementation status from the overlay")
        .query("applicability", json!({ "enum": ["applicable", "not-applicable"] }), "applicability from the overlay")
        .query("withdrawn", s("boolean"), "withdrawn controls only, or none")
        .query("q", s("string"), "text in id, label, title or statement")
        .query("limit", json!({ "type": "integer", "minimum": 1, "maximum": 500 }), "page size")
        .query("cursor", s("string"), "nextCursor of the previous page")
        .ok(200, "A page of controls", Some(json!({ "type": "object", "properties": { "items": { "type": "array", "items": control.clone() }, "nextCursor": { "type": ["string", "null"] } } })));
    api.route(
        Op::get(
            "/api/checks",
            "checks_list",
            "Technical checks the agent runs, with severity and mapped controls",
        )
        .tag("controls")
        .access(Access::Action(Action::ReadChecks))
        .ok(200, "Checks", Some(json!({ "type": "object" }))),
        get(checks),
    )
    .route(
        Op::get(
            "/api/frameworks",
            "frameworks_list",
            "Frameworks (SP 800-53 Rev 5 and its baselines)",
        )
        .tag("controls")
        .access(read)
        .ok(200, "Frameworks", Some(json!({ "type": "object" }))),
        get(frameworks),
    )
    .route(list, get(list_controls))
    .route(
        Op::get(
            "/api/controls/{id}",
            "controls_get",
            "One control (ac-2.1 or AC-2(1)) with the organization's overlay",
        )
        .tag("controls")
        .access(read)
        .path_id()
        .ok(200, "The control", Some(control.clone())),
        get(get_control),
    )
    .route(
        Op::put(
            "/api/controls/{id}/overlay",
            "controls_put_overlay",
            "Tailor a control for this organization",
        )
        .tag("controls")
        .access(write)
        .path_id()
        .body(overlay)
        .ok(200, "The control with its new overlay", Some(control)),
        put(put_overlay),
    )
    .route(
        Op::delete(
            "/api/controls/{id}/overlay",
            "controls_delete_overlay",
            "Remove this organization's tailoring of a control",
        )
        .tag("controls")
        .access(write)
        .path_id()
        .ok(204, "Removed", None),
        delete(delete_overlay),
    )
}

async fn checks(State(s): State<AppState>, AuthActor(actor): AuthActor) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "items": s.service.list_checks(&actor)? })))
}

async fn frameworks(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "items": s.service.list_frameworks(&actor)? })))
}

async fn list_controls(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    Params(p): Params,
) -> ApiResult<Json<tater_service::Page>> {
    Ok(Json(s.service.list_controls(&actor, &p).await?))
}

async fn get_control(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.get_control(&actor, &id).await?))
}

async fn put_overlay(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
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
