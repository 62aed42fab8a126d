//! Files attached to evidence records: the upload streams its body to the service (its own
//! size limit, not the 1 MiB body limit of other routes); a download is sent as an attachment
//! that no browser renders in Tater's origin (`nosniff`, a sandboxing CSP), with its SHA-256.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{delete, get, post};
use base64::Engine;
use futures::TryStreamExt;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;
use tater_domain::Action;
use tater_service::{EvidenceFileView, Items};

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::{ApiResult, Problem};
use crate::extract::{AuthActor, IdPath, Params, TwoIds};
use crate::middleware::FILE_CONTENT_SECURITY_POLICY;
use crate::state::AppState;

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    let files = "/api/evidence/{id}/files";
    let made = api.schema_of::<EvidenceFileView>();
    api.route(
        Op::get(files, "evidence_files_list")
            .tag("evidence")
            .ok(200, "The record's files, oldest first", None),
        get(list),
    )
    .route(
        Op::post(files, "evidence_files_upload")
            .outside_registry()
            .summary("Attach a file to a draft evidence record: the body is the file's bytes, its Content-Type the file's type; at most --evidence-max-bytes (audited)")
            .tag("evidence")
            .access(Access::Action(Action::WriteRecord))
            .path_id()
            .required_query(
                "name",
                json!({ "type": "string", "minLength": 1, "maxLength": 255 }),
                "The file's name (no directories)",
            )
            .file_body()
            .problem(413, "Larger than this server accepts (FILE_TOO_LARGE)")
            .problem(415, "A type this server does not accept (UNSUPPORTED_FILE_TYPE)")
            .problem(409, "The record is decided (RECORD_DECIDED) or carries 50 files (TOO_MANY_FILES)")
            .ok(201, "The file, with its SHA-256", Some(made)),
        post(upload),
    )
    .route(
        Op::get(&format!("{files}/{{fileId}}"), "evidence_files_download")
            .tag("evidence")
            .ok(200, "The file's bytes, as an attachment", None),
        get(download),
    )
    .route(
        Op::delete(&format!("{files}/{{fileId}}"), "evidence_files_delete")
            .tag("evidence")
            .problem(409, "The record is decided (RECORD_DECIDED): files change only while it is a draft")
            .ok(204, "Removed", None),
        delete(remove),
    )
}

async fn list(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<Items<EvidenceFileView>>> {
    Ok(Json(s.service.list_evidence_files(&actor, &id).await?))
}

async fn upload(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    Params(params): Params,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<EvidenceFileView>)> {
    let mut name = None;
    for (k, v) in params {
        match k.as_str() {
            "name" if name.is_none() => name = Some(v),
            _ => {
                return Err(Problem::validation(
                    tater_domain::ValidationErrors::single(
                        k.as_str(),
                        "unknown or repeated parameter",
                    )
                    .0,
                ));
            }
        }
    }
    let Some(name) = name else {
        return Err(Problem::validation(
            tater_domain::ValidationErrors::single("name", "is required: ?name=<file name>").0,
        ));
    };
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    let made = s
        .service
        .attach_evidence_file(&actor, &id, &name, media_type, body.into_data_stream())
        .await?;
    Ok((StatusCode::CREATED, Json(made)))
}

async fn download(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    TwoIds(id, file): TwoIds,
) -> ApiResult<Response> {
    let opened = s.service.open_evidence_file(&actor, &id, &file).await?;
    let f = opened.file;
    let body = opened.body.map_err(|e| {
        // The last chunk was held back: the client never gets a whole altered file.
        tracing::error!(error = %e, "an evidence file failed its check while being sent");
        std::io::Error::other(e)
    });
    let mut res = Response::new(Body::from_stream(body));
    let h = res.headers_mut();
    let typed = HeaderValue::from_str(&f.media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, typed);
    if let Ok(len) = u64::try_from(f.bytes) {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    // Always an attachment, never rendered inline.
    let ascii: String = f
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(&f.name, NON_ALPHANUMERIC)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(FILE_CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // RFC 9530: the representation's SHA-256, checked before the first byte was sent.
    if let Ok(raw) = hex::decode(&f.sha256) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        if let Ok(v) = HeaderValue::from_str(&format!("sha-256=:{b64}:")) {
            h.insert("repr-digest", v);
        }
    }
    Ok(res)
}

async fn remove(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    TwoIds(id, file): TwoIds,
) -> ApiResult<StatusCode> {
    s.service.remove_evidence_file(&actor, &id, &file).await?;
    Ok(StatusCode::NO_CONTENT)
}
