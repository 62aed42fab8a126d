//! Cross-organization operations (SPEC T2): platform operators only.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use tater_domain::Role;

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::AuthActor;
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    let op = Op::get(
        "/api/organizations",
        "cross_org_list_organizations",
        "Cross-organization: every organization on this server",
    )
    .tag("platform")
    .access(Access::Role(Role::SuperAdmin))
    .ok(200, "All organizations", Some(json!({ "type": "object" })));
    api.route(op, get(list_all))
}

async fn list_all(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Value>> {
    let orgs = s.service.cross_org_list_organizations(&actor).await?;
    let items: Vec<Value> = orgs
        .iter()
        .map(|o| json!({ "id": o.id, "name": o.name, "entraTenantId": o.entra_tenant_id, "createdAt": o.created_at }))
        .collect();
    Ok(Json(json!({ "items": items })))
}
