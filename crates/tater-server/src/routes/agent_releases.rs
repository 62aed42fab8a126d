//! Agent self-update (SPEC G2): the version document and the downloads, without credentials
//! (a release is public; its SHA-256 and optional Ed25519 signature make it trustworthy).

use std::net::{IpAddr, Ipv4Addr};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json};
use serde_json::json;
use tater_store::ReleaseKey;

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::QueryInput;
use crate::gate::ClientIp;
use crate::state::AppState;

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    let doc = api.schema_of::<tater_service::AgentVersion>();
    api.route(
        Op::get("/api/agent/version", "agent_version")
            .summary("The newest agent version and its downloads (no credentials)")
            .outside_registry()
            .tag("agent")
            .ok(200, "The version document", Some(doc)),
        get(version),
    )
    .route(
        Op::get(
            "/api/agent/download/{version}/{os}/{arch}",
            "agent_download",
        )
        .summary("An agent binary (no credentials); verify it against the version document")
        .outside_registry()
        .tag("agent")
        .path_param("version", "e.g. 1.2.3")
        .path_param("os", "linux")
        .path_param("arch", "x86_64")
        .query(
            "kind",
            json!({ "type": "string", "enum": ["exe", "msi"], "default": "exe" }),
            "exe: the agent binary; msi: the Windows installer",
        )
        .ok_content(
            "application/octet-stream",
            json!({ "type": "string", "format": "binary" }),
        ),
        get(download),
    )
}

async fn version(State(s): State<AppState>) -> ApiResult<Json<tater_service::AgentVersion>> {
    Ok(Json(s.service.agent_version().await?))
}

/// Which artifact of a version/OS/architecture a download asks for.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct DownloadQuery {
    kind: Option<ArtifactKind>,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
enum ArtifactKind {
    Exe,
    Msi,
}

/// Bytes per frame of a download: slices of the shared buffer, so no copy is made per client.
const FRAME_BYTES: usize = 64 * 1024;

async fn download(
    State(s): State<AppState>,
    client: Option<Extension<ClientIp>>,
    Path((version, os, arch)): Path<(String, String, String)>,
    QueryInput(query): QueryInput<DownloadQuery>,
) -> ApiResult<Response> {
    // Set by the rate-limit layer, which every route but /healthz passes.
    let ip = client.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |Extension(c)| {
        c.cap_key()
    });
    // Counted before any work: a refused client costs a map lookup.
    let permit = match s.gates.downloads.acquire(ip) {
        Ok(p) => p,
        Err(refused) => {
            tracing::info!(%ip, "agent download refused: too many at once from this address");
            return Ok(refused.into_response());
        }
    };
    let kind = match query.kind {
        Some(ArtifactKind::Msi) => "msi",
        Some(ArtifactKind::Exe) | None => tater_service::DEFAULT_KIND,
    };
    let key = ReleaseKey {
        version,
        os,
        arch,
        kind: kind.to_owned(),
    };
    let (release, content) = s.service.agent_download(&key).await?;
    let name = tater_service::download_file_name(&release.key);
    let len = content.len();
    // The permit lives as long as the body: until the last byte is sent or the client leaves.
    let frames = futures::stream::iter((0..len).step_by(FRAME_BYTES).map(move |at| {
        let _held = &permit;
        Ok::<_, std::io::Error>(content.slice(at..len.min(at + FRAME_BYTES)))
    }));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (
                header::HeaderName::from_static("x-content-sha256"),
                release.sha256,
            ),
        ],
        Body::from_stream(frames),
    )
        .into_response())
}
