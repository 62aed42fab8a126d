//! `GET /api/export` (OrgAdmin): "take all my data". A zip with every container of the
//! organization as JSON — each module, controls with overlays, endpoints, current scan
//! results, the command channel's jobs, the system profile, settings, members, API keys,
//! enrollment tokens and SIEM destinations (never their secrets), the audit log as the signed JSON Lines export `tater audit verify` checks —
//! and a `manifest.json` saying what each file holds.
//!
//! Pages are read one at a time and handed to a blocking task that compresses them into a
//! temporary file, so memory stays flat however much the organization holds; the finished
//! archive is then streamed from that file. The export is audited (a `data-export` created).

use std::io::{Seek, SeekFrom, Write};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};
use tater_domain::Actor;
use tater_export::{ListEncoder, ListFormat};
use tater_service::{ExportList, OnePage, PagedSource};
use tokio::sync::mpsc;
use zip::write::SimpleFileOptions;

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

/// What the request handler hands the zip writer.
enum Part {
    /// Start a file of this name.
    File(String),
    Bytes(Vec<u8>),
}

/// Parts in flight between the readers and the compressor (each at most a page).
const IN_FLIGHT: usize = 8;
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
    s.service.authorize_data_export(&actor)?;
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let writer = tokio::task::spawn_blocking(move || write_zip(rx));
    let mut archive = Archive {
        tx,
        files: Map::new(),
    };
    let filled = fill(&s, &actor, &mut archive).await;
    let summary = Value::Object(archive.files.clone());
    let org_name = s.service.org_name(&actor).await.unwrap_or_default();
    let manifest = json!({
        "organization": { "id": actor.org(), "name": org_name },
        "exportedAt": s.service.now(),
        "exportedBy": actor.audit_upn(),
        "taterVersion": env!("CARGO_PKG_VERSION"),
        "files": summary,
    });
    let manifested = match filled {
        Ok(()) => archive.file("manifest.json", pretty(&manifest)).await,
        Err(e) => Err(e),
    };
    drop(archive);
    let written = writer
        .await
        .map_err(|e| internal(&format!("export writer: {e}")))?;
    manifested?;
    let file = written.map_err(|e| internal(&format!("writing the export archive: {e}")))?;
    s.service.record_data_export(&actor, summary).await?;
    let filename = format!(
        "tater-export-{}-{}.zip",
        actor.org(),
        tater_domain::time::format_date(s.service.now().date())
    );
    Ok(permit.hold_until_sent(stream_file(file, &filename).await?))
}

fn internal(message: &str) -> Problem {
    tracing::error!(message, "data export failed");
    Problem::from_status(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
}

fn pretty(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap_or_default()
}

/// The files of the archive as they are written, and how many items each holds.
struct Archive {
    tx: mpsc::Sender<Part>,
    files: Map<String, Value>,
}

impl Archive {
    async fn send(&self, part: Part) -> ApiResult<()> {
        self.tx
            .send(part)
            .await
            .map_err(|_| internal("the export writer stopped"))
    }

    /// A whole file at once (small ones: profile, settings, manifest).
    async fn file(&mut self, name: &str, bytes: Vec<u8>) -> ApiResult<()> {
        self.send(Part::File(name.to_owned())).await?;
        self.send(Part::Bytes(bytes)).await
    }

    /// A list as a JSON array, written a page at a time.
    async fn array(&mut self, name: &str, mut pages: Box<dyn PagedSource + '_>) -> ApiResult<()> {
        self.send(Part::File(name.to_owned())).await?;
        let mut encoder = ListEncoder::new(ListFormat::Json, &[]);
        self.send(Part::Bytes(encoder.head())).await?;
        let mut count = 0usize;
        while let Some(items) = pages.next_page().await? {
            count += items.len();
            self.send(Part::Bytes(encoder.page(&items))).await?;
        }
        self.send(Part::Bytes(encoder.tail())).await?;
        self.files
            .insert(name.to_owned(), json!({ "items": count }));
        Ok(())
    }
}

/// Every container, in a fixed order.
async fn fill(s: &AppState, actor: &Actor, archive: &mut Archive) -> ApiResult<()> {
    for def in tater_domain::modules::ALL {
        let query = s.service.list_query(def, &[], &[])?;
        let export = s.service.export_records(actor, def, query)?;
        archive
            .array(&format!("{}.json", def.name), Box::new(export))
            .await?;
    }
    for list in ExportList::ALL {
        let export = s.service.export_list(actor, list, Vec::new())?;
        archive
            .array(&format!("{}.json", list.name()), Box::new(export))
            .await?;
    }
    let profile = s.service.get_system_profile(actor).await?;
    archive
        .file("system-profile.json", pretty(&profile))
        .await?;
    let settings = s.service.get_settings(actor).await?;
    archive.file("settings.json", pretty(&settings)).await?;
    let lists = [
        (
            "api-keys.json",
            tater_service::to_values(&s.service.list_api_keys(actor).await?.items)?,
        ),
        (
            "enrollment-tokens.json",
            tater_service::to_values(&s.service.list_enrollment_tokens(actor).await?)?,
        ),
        (
            "siem-destinations.json",
            s.service.list_destinations(actor).await?,
        ),
    ];
    for (name, items) in lists {
        archive.array(name, Box::new(OnePage(Some(items)))).await?;
    }
    audit_log(s, actor, archive).await
}

/// The audit log in the signed JSON Lines form of `GET /api/audit-log/export`.
async fn audit_log(s: &AppState, actor: &Actor, archive: &mut Archive) -> ApiResult<()> {
    let mut export = s.service.export_audit(actor, &[]).await?;
    archive
        .send(Part::File("audit-log.jsonl".to_owned()))
        .await?;
    let mut entries = 0u64;
    while let Some(lines) = export.next_lines().await? {
        let mut chunk = Vec::new();
        for line in &lines {
            if matches!(line, tater_audit::export::Line::Entry(_)) {
                entries += 1;
            }
            chunk.extend(line.to_json().into_bytes());
            chunk.push(b'\n');
        }
        archive.send(Part::Bytes(chunk)).await?;
    }
    archive
        .files
        .insert("audit-log.jsonl".into(), json!({ "items": entries }));
    Ok(())
}

/// The compressor: runs on a blocking thread, writes the archive to an unnamed temporary file
/// and returns it rewound.
fn write_zip(mut rx: mpsc::Receiver<Part>) -> std::io::Result<std::fs::File> {
    let mut zip = zip::ZipWriter::new(tempfile::tempfile()?);
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    while let Some(part) = rx.blocking_recv() {
        match part {
            Part::File(name) => zip.start_file(name, options)?,
            Part::Bytes(bytes) => zip.write_all(&bytes)?,
        }
    }
    let mut file = zip.finish()?;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

async fn stream_file(file: std::fs::File, filename: &str) -> ApiResult<Response> {
    let len = file
        .metadata()
        .map_err(|e| internal(&format!("export archive: {e}")))?
        .len();
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
    Ok(res)
}
