//! "Take all my data" (`GET /api/export`, and every other channel): a zip with every
//! container of the organization as JSON — each module, controls with overlays, endpoints,
//! the links between records and to controls, comments, status-flow moves (decisions with
//! their snapshots), board votes, current scan results, the command channel's jobs, the system profile, settings, members,
//! API keys, enrollment tokens and SIEM destinations (never their secrets), audits' snapshots
//! and auditor tokens, policies' published versions with their acknowledgements, the audit log as
//! the signed JSON Lines export `tater audit verify` checks — and a `manifest.json` saying
//! what each file holds.
//!
//! Pages are read one at a time and handed to a blocking task that compresses them into an
//! unnamed temporary file, so memory stays flat however much the organization holds; the
//! channel then sends that file. The export is audited (a `data-export` created). Each list
//! in it comes from the ordinary list and export use cases, which check their own permission
//! as well.

use std::io::{Seek, SeekFrom, Write};

use serde_json::{Map, Value, json};
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, AuditAction, AuditDraft};
use tater_export::{ListEncoder, ListFormat};
use tokio::sync::mpsc;
use zip::write::SimpleFileOptions;

use crate::record_history_export::{History, HistoryExport};
use crate::{ExportList, OnePage, PagedSource, Service, ServiceError, ServiceResult};

/// The audit entity type of a full export.
pub const DATA_EXPORT_ENTITY: &str = "data-export";

/// A finished export: the archive in an unnamed temporary file (gone when dropped), rewound.
pub struct OrgArchive {
    pub file: std::fs::File,
    pub len: u64,
    /// `tater-export-<org>-<date>.zip`.
    pub filename: String,
}

/// What the request handler hands the zip writer.
enum Part {
    /// Start a file of this name.
    File(String),
    Bytes(Vec<u8>),
}

/// Parts in flight between the readers and the compressor (each at most a page).
const IN_FLIGHT: usize = 8;
impl Service {
    /// Everything the organization holds, as a zip archive. Refuses anyone below OrgAdmin
    /// before any data is read.
    pub async fn export_organization(&self, actor: &Actor) -> ServiceResult<OrgArchive> {
        authorize(actor, Action::ExportAll)?;
        // The export reads through the ordinary use cases; marked, so that a terminated
        // organization's OrgAdmins can still take it during the grace period.
        let exporter = actor.for_final_export().ok_or_else(|| {
            ServiceError::Forbidden(tater_domain::policy::Denied {
                required: Action::ExportAll.required_role(),
                actual: actor.role(),
            })
        })?;
        let actor = &exporter;
        let (tx, rx) = mpsc::channel(IN_FLIGHT);
        let writer = tokio::task::spawn_blocking(move || write_zip(rx));
        let mut archive = Archive {
            tx,
            files: Map::new(),
        };
        let filled = fill(self, actor, &mut archive).await;
        let summary = Value::Object(archive.files.clone());
        let org_name = self.org_name(actor).await.unwrap_or_default();
        let manifest = json!({
            "organization": { "id": actor.org(), "name": org_name },
            "exportedAt": self.now(),
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
        let len = file
            .metadata()
            .map_err(|e| internal(&format!("export archive: {e}")))?
            .len();
        self.record_data_export(actor, summary).await?;
        let filename = format!(
            "tater-export-{}-{}.zip",
            actor.org(),
            tater_domain::time::format_date(self.now().date())
        );
        Ok(OrgArchive {
            file,
            len,
            filename,
        })
    }

    /// Records that `actor` took a full export (`summary`: what it held), as the creation of
    /// a `data-export` with its own id. Returns that id.
    async fn record_data_export(&self, actor: &Actor, summary: Value) -> ServiceResult<String> {
        let permit = authorize(actor, Action::ExportAll)?;
        let id = tater_domain::RecordId::generate().to_string();
        let draft = AuditDraft::new(
            actor,
            AuditAction::Create,
            DATA_EXPORT_ENTITY,
            &id,
            self.now(),
        )
        .with_changes(
            Some(&serde_json::json!({})),
            Some(&serde_json::json!({ "contents": summary })),
            &[],
        );
        let mut tx = self.store.tenant(&permit).await?;
        tx.record_event(&draft).await?;
        tx.commit().await?;
        Ok(id)
    }
}

fn internal(message: &str) -> ServiceError {
    ServiceError::Internal(anyhow::anyhow!("data export: {message}"))
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
    async fn send(&self, part: Part) -> ServiceResult<()> {
        self.tx
            .send(part)
            .await
            .map_err(|_| internal("the export writer stopped"))
    }

    /// A whole file at once (small ones: profile, settings, manifest).
    async fn file(&mut self, name: &str, bytes: Vec<u8>) -> ServiceResult<()> {
        self.send(Part::File(name.to_owned())).await?;
        self.send(Part::Bytes(bytes)).await
    }

    /// A list as a JSON array, written a page at a time.
    async fn array(
        &mut self,
        name: &str,
        mut pages: Box<dyn PagedSource + '_>,
    ) -> ServiceResult<()> {
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
async fn fill(s: &Service, actor: &Actor, archive: &mut Archive) -> ServiceResult<()> {
    for def in tater_domain::modules::ALL {
        let query = s.list_query(def, &[], &[])?;
        let export = s.export_records(actor, def, query)?;
        archive
            .array(&format!("{}.json", def.name), Box::new(export))
            .await?;
    }
    for history in [
        History::Links(None),
        History::Comments(None),
        History::Transitions(None),
        History::Votes(None),
    ] {
        let name = history.file_name();
        let export = HistoryExport::new(s, actor, history)?;
        archive.array(name, Box::new(export)).await?;
    }
    for list in ExportList::ALL {
        let export = s.export_list(actor, list, Vec::new())?;
        archive
            .array(&format!("{}.json", list.name()), Box::new(export))
            .await?;
    }
    let profile = s.get_system_profile(actor).await?;
    archive
        .file("system-profile.json", pretty(&profile))
        .await?;
    let settings = serde_json::to_value(s.get_settings(actor).await?)
        .map_err(|e| internal(&format!("settings: {e}")))?;
    archive.file("settings.json", pretty(&settings)).await?;
    let lists = [
        (
            "api-keys.json",
            crate::to_values(&s.list_api_keys(actor).await?.items)?,
        ),
        (
            "enrollment-tokens.json",
            crate::to_values(&s.list_enrollment_tokens(actor).await?)?,
        ),
        (
            "siem-destinations.json",
            crate::to_values(&s.list_destinations(actor).await?)?,
        ),
    ];
    for (name, items) in lists {
        archive.array(name, Box::new(OnePage(Some(items)))).await?;
    }
    auditing(s, actor, archive).await?;
    let versions = crate::policy_versions::PolicyVersionExport::new(s, actor).await?;
    archive
        .array("policy-versions.json", Box::new(versions))
        .await?;
    audit_log(s, actor, archive).await
}

/// Audits' snapshots (with their bodies, one at a time) and auditor tokens (never secrets).
async fn auditing(s: &Service, actor: &Actor, archive: &mut Archive) -> ServiceResult<()> {
    let snapshots = crate::audit_snapshots::SnapshotExport::new(s, actor).await?;
    archive
        .array("audit-snapshots.json", Box::new(snapshots))
        .await?;
    let mut tokens = Vec::new();
    for id in s
        .all_record_ids(actor, &tater_domain::modules::AUDITS)
        .await?
    {
        tokens.extend(crate::to_values(
            &s.list_auditor_tokens(actor, &id.to_string()).await?.items,
        )?);
    }
    archive
        .array("auditor-tokens.json", Box::new(OnePage(Some(tokens))))
        .await
}

/// The audit log in the signed JSON Lines form of `GET /api/audit-log/export`.
async fn audit_log(s: &Service, actor: &Actor, archive: &mut Archive) -> ServiceResult<()> {
    let mut export = s.export_audit(actor, &Default::default()).await?;
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
