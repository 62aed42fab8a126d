//! Agent self-update (SPEC G2): the version document and the downloads, without credentials
//! (a release is public; its SHA-256 and optional Ed25519 signature make it trustworthy).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    let doc = json!({
        "type": "object",
        "properties": {
            "version": { "type": ["string", "null"], "description": "the newest published version" },
            "artifacts": { "type": "array", "items": { "type": "object", "properties": {
                "os": { "type": "string" }, "arch": { "type": "string" },
                "url": { "type": "string", "description": "download path, relative to the server" },
                "sha256": { "type": "string" }, "size": { "type": "integer" },
                "signature": { "type": ["string", "null"], "description": "base64 Ed25519 over the binary" },
            } } },
        },
    });
    api.route(
        Op::get(
            "/api/agent/version",
            "agent_version",
            "The newest agent version and its downloads (no credentials)",
        )
        .tag("agent")
        .ok(200, "The version document", Some(doc)),
        get(version),
    )
    .route(
        Op::get(
            "/api/agent/download/{version}/{os}/{arch}",
            "agent_download",
            "An agent binary (no credentials); verify it against the version document",
        )
        .tag("agent")
        .path_param("version", "e.g. 1.2.3")
        .path_param("os", "linux")
        .path_param("arch", "x86_64")
        .ok_content(
            "application/octet-stream",
            json!({ "type": "string", "format": "binary" }),
        ),
        get(download),
    )
}

async fn version(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.agent_version().await?))
}

async fn download(
    State(s): State<AppState>,
    Path((version, os, arch)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let (release, content) = s.service.agent_download(&version, &os, &arch).await?;
    let name = format!(
        "tater-agent-{}-{}-{}",
        release.version, release.os, release.arch
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (
                header::HeaderName::from_static("x-content-sha256"),
                release.sha256,
            ),
        ],
        Body::from(content),
    )
        .into_response())
}
