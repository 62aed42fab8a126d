//! The audit trail (SPEC L1, L3).

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
    let entry = json!({
        "type": "object",
        "properties": {
            "id": s("string"), "tenantId": s("string"), "seq": s("integer"),
            "action": { "enum": ["create", "update", "delete"] },
            "entityType": s("string"), "entityId": s("string"), "userId": s("string"),
            "upn": { "type": ["string", "null"] }, "oid": { "type": ["string", "null"] },
            "timestamp": { "type": "string", "description": "ISO 8601 UTC with milliseconds" },
            "via": { "enum": ["web", "mcp", "copilot", "claude", "agent", "api", "cron"] },
            "changes": { "type": "object", "description": "{field: {before, after}}, secrets redacted" },
        },
    });
    let op = Op::get("/api/audit-log", "audit_log", "The organization's audit log, newest first")
        .tag("audit")
        .access(Access::Role(Role::Auditor))
        .query("via", json!({ "enum": ["web", "mcp", "copilot", "claude", "agent", "api", "cron"] }), "channel")
        .query("userId", s("string"), "actor's user id (or system:<name>)")
        .query("entityType", s("string"), "e.g. poam, risk, config-doc, user, membership, api-key, organization")
        .query("entityId", s("string"), "id of the changed entity")
        .query("action", json!({ "enum": ["create", "update", "delete"] }), "kind of change")
        .query("from", s("string"), "inclusive start (RFC 3339 or YYYY-MM-DD)")
        .query("to", s("string"), "exclusive end (RFC 3339 or YYYY-MM-DD)")
        .query("limit", json!({ "type": "integer", "minimum": 1, "maximum": 500 }), "page size")
        .query("cursor", s("string"), "nextCursor of the previous page")
        .ok(200, "A page of entries", Some(json!({ "type": "object", "properties": { "items": { "type": "array", "items": entry }, "nextCursor": { "type": ["string", "null"] } } })));
    api.route(op, get(audit_log))
}

async fn audit_log(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    Params(p): Params,
) -> ApiResult<Json<Value>> {
    let page = s.service.audit_log(&actor, &p).await?;
    Ok(Json(
        json!({ "items": page.items, "nextCursor": page.next_cursor }),
    ))
}
