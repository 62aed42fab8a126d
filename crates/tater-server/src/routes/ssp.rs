//! `GET /api/ssp?format=oscal-json|docx`: the System Security Plan.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::api_doc::{ApiRouter, Op};
use crate::error::{ApiResult, Problem};
use crate::extract::{ExportSlot, Params};
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    api.route(
        Op::get("/api/ssp", "ssp_get")
            .tag("federal")
            .ok(
                200,
                "An OSCAL `system-security-plan` document, or the Word document",
                None,
            )
            .ok_content(
                "application/json",
                json!({
                    "type": "object",
                    "required": ["system-security-plan"],
                    "properties": { "system-security-plan": {
                        "type": "object",
                        "description": "An OSCAL 1.2.1 system security plan; NIST's oscal_ssp_schema.json validates the whole document",
                    } },
                }),
            ),
        get(ssp),
    )
}

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

async fn ssp(
    State(s): State<AppState>,
    slot: ExportSlot,
    Params(p): Params,
) -> ApiResult<Response> {
    let ExportSlot { actor, permit } = slot;
    let mut docx = false;
    for (k, v) in &p {
        match (k.as_str(), v.as_str()) {
            ("format", "oscal-json") => docx = false,
            ("format", "docx") => docx = true,
            ("format", _) => return Err(invalid("format", "must be oscal-json or docx")),
            (other, _) => return Err(invalid(other, "unknown parameter")),
        }
    }
    if !docx {
        let doc = Json(s.service.ssp_oscal(&actor).await?).into_response();
        return Ok(permit.hold_until_sent(doc));
    }
    let bytes = s.service.ssp_docx(&actor).await?;
    let filename = format!(
        "ssp-{}.docx",
        tater_domain::time::format_date(s.service.now().date())
    );
    let mut res = Response::new(Body::from(bytes));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(DOCX));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(permit.hold_until_sent(res))
}

fn invalid(field: &str, message: &str) -> Problem {
    Problem::validation(tater_domain::ValidationErrors::single(field, message).0)
}
