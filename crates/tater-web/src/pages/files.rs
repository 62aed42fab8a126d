//! An evidence record's upload form: `multipart/form-data` from the record's page, read as it
//! arrives — the session's CSRF token first (nothing is stored before it checks), then the
//! file, streamed into the same use case the REST upload calls (its size and type limits,
//! its audit entry). Downloads need nothing here: they are the registry's file use cases.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::Redirect;
use futures::TryStreamExt;
use tater_domain::modules::EVIDENCE;

use crate::Web;
use crate::error::{PageError, PageResult};
use crate::session::{STALE_FORM, Signed, same_origin};

/// The longest CSRF field read (a token is far shorter).
const CSRF_FIELD_MAX: u64 = 512;

/// Where an evidence record's form uploads a file.
pub fn upload_path(id: &str) -> String {
    format!("/app/{}/{id}/files", EVIDENCE.name)
}

/// `POST /app/evidence/{id}/files`: the form's file, attached to the record; then its files.
pub async fn upload(
    State(web): State<Web>,
    signed: Signed,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> PageResult<Redirect> {
    same_origin(&headers, &web)?;
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| multer::parse_boundary(t).ok())
        .ok_or_else(|| PageError::bad_request("The upload is not a multipart form."))?;
    // Only the two fields the form has, the token's bounded; the file's size is the use
    // case's own limit (`--evidence-max-bytes`), checked as it streams.
    let constraints = multer::Constraints::new()
        .allowed_fields(vec!["_csrf", "file"])
        .size_limit(multer::SizeLimit::new().for_field("_csrf", CSRF_FIELD_MAX));
    let mut form =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let refused = || PageError::forbidden(STALE_FORM);
    let csrf = form.next_field().await.map_err(|_| refused())?;
    let csrf = match csrf {
        Some(field) if field.name() == Some("_csrf") => {
            field.text().await.map_err(|_| refused())?
        }
        _ => return Err(refused()),
    };
    if !signed.caller.csrf_matches(&csrf) {
        return Err(refused());
    }
    let file = form
        .next_field()
        .await
        .map_err(|_| PageError::bad_request("The upload ended before its file."))?
        .filter(|f| f.name() == Some("file"))
        .ok_or_else(|| PageError::bad_request("Choose a file to upload."))?;
    let name = file.file_name().unwrap_or_default().to_owned();
    let media_type = file.content_type().map_or_else(
        || "application/octet-stream".to_owned(),
        ToString::to_string,
    );
    let bytes = file.map_err(|e| e.to_string());
    web.service
        .attach_evidence_file(&signed.actor, &id, &name, &media_type, bytes)
        .await?;
    Ok(Redirect::to(&format!(
        "{}/list_evidence_files?id={id}",
        super::actions::PATH
    )))
}
