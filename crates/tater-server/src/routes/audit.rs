//! The audit trail (SPEC L1–L3): the log, its export and its verification.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tater_audit::export::{CSV_COLUMNS, Line, csv_cells};
use tater_service::AuditExport;

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::{ApiResult, Problem};
use crate::extract::{AuthActor, ExportSlot, Params};
use crate::state::AppState;
use tater_domain::Action;

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
            "prevHash": { "type": "string", "description": "the previous entry's hash (64 zeros for the first)" },
            "hash": { "type": "string", "description": "hex SHA-256 of prevHash and the canonical entry" },
            "keyId": { "type": ["string", "null"], "description": "the signing key's id" },
            "signature": { "type": ["string", "null"], "description": "hex HMAC-SHA256 of id|tenantId|action|entityType|entityId|userId|timestamp" },
        },
    });
    let op = Op::get("/api/audit-log", "audit_log", "The organization's audit log, newest first")
        .tag("audit")
        .access(Access::Action(Action::ReadAudit))
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
    let filters = |op: Op| {
        op.tag("audit")
            .access(Access::Action(Action::ReadAudit))
            .query(
                "via",
                json!({ "enum": ["web", "mcp", "copilot", "claude", "agent", "api", "cron"] }),
                "channel",
            )
            .query("userId", s("string"), "actor's user id")
            .query("entityType", s("string"), "entity type")
            .query("entityId", s("string"), "entity id")
            .query(
                "action",
                json!({ "enum": ["create", "update", "delete"] }),
                "kind of change",
            )
            .query("from", s("string"), "inclusive start")
            .query("to", s("string"), "exclusive end")
    };
    let export = filters(Op::get(
        "/api/audit-log/export",
        "audit_log_export",
        "The whole audit log, oldest first, streamed: JSON Lines (header, entries, checkpoints, signed end line) for `tater audit verify`, or CSV",
    ))
    .query("format", json!({ "enum": ["jsonl", "csv"] }), "jsonl (default) or csv")
    .ok(200, "The export", None);
    let verify = Op::get(
        "/api/audit-log/verify",
        "audit_log_verify",
        "Verifies the organization's audit log in the database: hashes, chain, signatures, checkpoints, head",
    )
    .tag("audit")
    .access(Access::Action(Action::ReadAudit))
    .ok(200, "The verification report (ok is false when anything is wrong)", Some(json!({ "type": "object" })));
    api.route(op, get(audit_log))
        .route(export, get(audit_export))
        .route(verify, get(audit_verify))
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Jsonl,
    Csv,
}

/// Streams the export. Filters are checked and the head read before the response starts, so
/// bad input is still a proper error status.
async fn audit_export(
    State(s): State<AppState>,
    slot: ExportSlot,
    Params(p): Params,
) -> ApiResult<Response> {
    let ExportSlot { actor, permit } = slot;
    let format = match p
        .iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.as_str())
    {
        None | Some("jsonl") => Format::Jsonl,
        Some("csv") => Format::Csv,
        Some(_) => {
            return Err(Problem::validation(
                tater_domain::ValidationErrors::single("format", "must be jsonl or csv").0,
            ));
        }
    };
    let filters: Vec<(String, String)> = p.into_iter().filter(|(k, _)| k != "format").collect();
    let export = s.service.export_audit(&actor, &filters).await?;
    let head = match format {
        Format::Csv => {
            let mut out = tater_export::UTF8_BOM.as_bytes().to_vec();
            out.extend(tater_export::encode_row(
                CSV_COLUMNS.iter().map(|c| (*c).to_owned()),
            ));
            out
        }
        Format::Jsonl => Vec::new(),
    };
    let first = futures::stream::once(async move { Ok::<_, std::io::Error>(head) });
    let rest = futures::stream::unfold(export, move |mut export: AuditExport| async move {
        match export.next_lines().await {
            Ok(Some(lines)) => Some((Ok(encode(&lines, format)), export)),
            Ok(None) => None,
            Err(e) => {
                // The status is already sent; cutting the stream short leaves the file
                // without its end line, which `tater audit verify` reports as truncated.
                tracing::error!(error = %e, "audit export stopped");
                None
            }
        }
    });
    let (content_type, name) = match format {
        Format::Jsonl => ("application/x-ndjson", "audit-log.jsonl"),
        Format::Csv => ("text/csv; charset=utf-8", "audit-log.csv"),
    };
    let body = Body::from_stream(futures::StreamExt::chain(first, rest));
    let res = (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response();
    Ok(permit.hold_until_sent(res))
}

fn encode(lines: &[Line], format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        match (format, line) {
            (Format::Jsonl, line) => {
                out.extend(line.to_json().into_bytes());
                out.push(b'\n');
            }
            (Format::Csv, Line::Entry(e)) => {
                let cells = csv_cells(e)
                    .into_iter()
                    .map(|c| tater_export::neutralise(&c));
                out.extend(tater_export::encode_row(cells));
            }
            (Format::Csv, _) => {}
        }
    }
    out
}

async fn audit_verify(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Value>> {
    let report = s.service.verify_audit(&actor).await?;
    Ok(Json(serde_json::to_value(report).unwrap_or(Value::Null)))
}

async fn audit_log(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    Params(p): Params,
) -> ApiResult<Json<tater_service::Page>> {
    Ok(Json(s.service.audit_log(&actor, &p).await?))
}
