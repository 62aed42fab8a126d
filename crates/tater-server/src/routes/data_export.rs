//! `GET /api/export` (OrgAdmin): "take all my data", assembled by the service
//! ([`tater_service::Service::export_organization`]) into a temporary file and streamed from
//! it here.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;

use crate::api_doc::{ApiRouter, Op};
use crate::error::{ApiResult, Problem};
use crate::extract::{ExportSlot, Params};
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    api.route(
        Op::get("/api/export", "data_export")
            .tag("organization")
            .ok(200, "A zip of JSON files with a manifest", None),
        get(export_all),
    )
}

/// Bytes per chunk of the response body.
const CHUNK: usize = 64 * 1024;

async fn export_all(
    State(s): State<AppState>,
    slot: ExportSlot,
    Params(p): Params,
) -> ApiResult<Response> {
    let ExportSlot { actor, permit } = slot;
    if let Some((k, _)) = p.first() {
        return Err(Problem::validation(
            tater_domain::ValidationErrors::single(k.as_str(), "unknown parameter").0,
        ));
    }
    let archive = s.service.export_organization(&actor).await?;
    Ok(permit.hold_until_sent(stream_file(archive)))
}

/// The archive as the response body, read from its file a chunk at a time.
pub(super) fn stream_file(archive: tater_service::OrgArchive) -> Response {
    let tater_service::OrgArchive {
        file,
        len,
        filename,
    } = archive;
    let file = tokio::fs::File::from_std(file);
    let body = futures::stream::unfold(Some(file), |f| async move {
        use tokio::io::AsyncReadExt;
        let mut f = f?;
        let mut buf = vec![0u8; CHUNK];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), Some(f)))
            }
            // The status is sent; a cut-short body is all that can signal it.
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut res = Response::new(Body::from_stream(body));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}
