//! The audit trail (SPEC L1–L3): the log, its export and its verification.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use tater_audit::export::{CSV_COLUMNS, Line, csv_cells};
use tater_service::AuditExport;

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, ExportSlot, QueryInput};
use crate::state::AppState;
use tater_service::use_cases::{AuditExportInput, AuditFileFormat, AuditQuery};

pub fn routes(api: ApiRouter) -> ApiRouter {
    let op = Op::get("/api/audit-log", "audit_log")
        .tag("audit")
        .ok(200, "A page of entries", None);
    let export = Op::get("/api/audit-log/export", "audit_log_export")
        .tag("audit")
        .ok(200, "The export", None);
    let verify = Op::get("/api/audit-log/verify", "audit_log_verify")
        .tag("audit")
        .ok(
            200,
            "The verification report (ok is false when anything is wrong)",
            None,
        );
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
    QueryInput(input): QueryInput<AuditExportInput>,
) -> ApiResult<Response> {
    let ExportSlot { actor, permit } = slot;
    let format = match input.format {
        None | Some(AuditFileFormat::Jsonl) => Format::Jsonl,
        Some(AuditFileFormat::Csv) => Format::Csv,
    };
    let export = s.service.export_audit(&actor, &input.filters).await?;
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
    QueryInput(q): QueryInput<AuditQuery>,
) -> ApiResult<Json<tater_service::Page<tater_audit::EntryView>>> {
    Ok(Json(s.service.audit_log(&actor, &q).await?))
}
