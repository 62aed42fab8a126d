//! `GET /api/ssp?format=oscal-json`: the System Security Plan.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use tater_domain::Role;

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::{ApiResult, Problem};
use crate::extract::{AuthActor, Params};
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    api.route(
        Op::get("/api/ssp", "ssp_get", "The System Security Plan as OSCAL 1.2.1 JSON (deterministic UUIDs: unchanged data gives identical bytes)")
            .tag("federal")
            .access(Access::Role(Role::Viewer))
            .query("format", json!({ "enum": ["oscal-json"] }), "oscal-json (default)")
            .ok(200, "An OSCAL `system-security-plan` document", Some(json!({ "type": "object" }))),
        get(ssp),
    )
}

async fn ssp(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    Params(p): Params,
) -> ApiResult<Json<Value>> {
    for (k, v) in &p {
        let ok = k == "format" && v == "oscal-json";
        if !ok {
            let (field, message) = if k == "format" {
                ("format", "must be oscal-json")
            } else {
                (k.as_str(), "unknown parameter")
            };
            return Err(Problem::validation(
                tater_domain::ValidationErrors::single(field, message).0,
            ));
        }
    }
    Ok(Json(s.service.ssp_oscal(&actor).await?))
}
