//! Files attached to evidence records. The bytes go to the file store ([`BlobStore`]) under
//! `<organization>/<sha256>`, spooled and hashed on the way in (never held in memory, refused
//! past the configured size); a row per attachment, audited, says which record, name and
//! type. A download is checked against the recorded SHA-256 before a byte is sent. Files
//! change with their record: only while it is a draft. Bytes no attachment refers to any
//! more are removed.

use bytes::Bytes;
use futures::Stream;
use futures::stream::BoxStream;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use tater_blobs::{BlobError, BlobStore};
use tater_domain::modules::EVIDENCE;
use tater_domain::policy::{Action, authorize};
use tater_domain::{
    Actor, AuditAction, AuditDraft, EvidenceFile, FileId, OrgId, RecordId, Timestamp,
    ValidationErrors,
};

use crate::records::check_editable;
use crate::records::parse_id;
use crate::{Items, Service, ServiceError, ServiceResult};

/// The most files one evidence record carries.
pub const MAX_FILES_PER_EVIDENCE: u32 = 50;
/// How long an upload's claim on its bytes lasts if the server dies before it ends (longer
/// than any upload may take).
const UPLOAD_CLAIM_SECS: i64 = 2 * 3600;
/// The default upload limit: 50 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;
/// The media types accepted unless the operator names others. HTML and SVG are among them:
/// scanner reports come as HTML, and downloads are served so that no file runs in Tater's
/// origin (an attachment, `nosniff`, a sandboxing CSP).
pub const DEFAULT_FILE_TYPES: &[&str] = &[
    "application/pdf",
    "text/plain",
    "text/csv",
    "text/html",
    "text/markdown",
    "application/json",
    "application/xml",
    "text/xml",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/svg+xml",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/octet-stream",
];

/// Where files go and what is accepted.
#[derive(Clone, Debug)]
pub struct FilesConfig {
    /// `None`: this server keeps no files (uploads answer 503).
    pub store: Option<BlobStore>,
    pub max_bytes: u64,
    /// Media type essences (`text/html`), or `type/*`, or `*/*`.
    pub allowed_types: Vec<String>,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            store: None,
            max_bytes: DEFAULT_MAX_FILE_BYTES,
            allowed_types: DEFAULT_FILE_TYPES.iter().map(|t| (*t).to_owned()).collect(),
        }
    }
}

/// A file as clients see it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceFileView {
    pub id: String,
    /// The evidence record it is attached to.
    pub evidence: String,
    pub name: String,
    pub media_type: String,
    pub bytes: i64,
    /// Lowercase hex SHA-256 of its bytes, checked again on every download.
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: Timestamp,
}

fn file_view(f: &EvidenceFile) -> EvidenceFileView {
    EvidenceFileView {
        id: f.id.to_string(),
        evidence: f.evidence.to_string(),
        name: f.name.clone(),
        media_type: f.media_type.clone(),
        bytes: f.bytes,
        sha256: f.sha256.clone(),
        uploaded_by: f.uploaded_by.clone(),
        uploaded_at: f.uploaded_at,
    }
}

/// A download: the file's record and its bytes, already checked against its hash.
pub struct OpenedFile {
    pub file: EvidenceFileView,
    pub body: BoxStream<'static, Result<Bytes, BlobError>>,
}

pub(crate) fn blob_key(org: OrgId, sha256: &str) -> String {
    format!("{org}/{sha256}")
}

/// The name without any directory, on one line, 1–255 characters.
fn file_name(raw: &str) -> ServiceResult<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    if base.is_empty()
        || base == "."
        || base == ".."
        || base.chars().count() > 255
        || raw.chars().any(char::is_control)
    {
        return Err(ValidationErrors::single(
            "name",
            "must be a file name of 1 to 255 characters on one line",
        )
        .into());
    }
    Ok(base.to_owned())
}

fn too_many_files() -> ServiceError {
    ServiceError::ConflictCode(
        "TOO_MANY_FILES",
        format!("an evidence record carries at most {MAX_FILES_PER_EVIDENCE} files"),
    )
}

fn blob_failed(e: BlobError, limit: u64) -> ServiceError {
    match e {
        BlobError::TooLarge { .. } => ServiceError::TooLargeCode(
            "FILE_TOO_LARGE",
            format!("the file is larger than this server accepts ({limit} bytes)"),
        ),
        BlobError::Body(why) => ServiceError::BadRequest(format!("the upload failed: {why}")),
        other => ServiceError::Internal(other.into()),
    }
}

impl Service {
    fn blobs(&self) -> ServiceResult<&BlobStore> {
        self.files.store.as_ref().ok_or_else(|| {
            ServiceError::UnavailableCode(
                "FILES_UNAVAILABLE",
                "this server keeps no files (no file store configured)".into(),
            )
        })
    }

    /// Whether files of `media_type` are accepted; its essence (lower case) if so.
    fn accepted_type(&self, media_type: &str) -> ServiceResult<String> {
        let essence = media_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let (kind, _) = essence.split_once('/').unwrap_or(("", ""));
        let allowed = self.files.allowed_types.iter().any(|t| {
            t == "*/*" || *t == essence || t.strip_suffix("/*").is_some_and(|k| k == kind)
        });
        if essence.is_empty() || !allowed {
            return Err(ServiceError::UnsupportedCode(
                "UNSUPPORTED_FILE_TYPE",
                format!(
                    "files of type '{essence}' are not accepted here (accepted: {})",
                    self.files.allowed_types.join(", ")
                ),
            ));
        }
        Ok(essence)
    }

    /// The evidence record, which must still be a draft for its files to change.
    async fn draft_evidence(&self, actor: &Actor, id: RecordId) -> ServiceResult<()> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let record = tx
            .get_record(EVIDENCE.name, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        check_editable(&EVIDENCE, &record)?;
        // Refused before a byte is read, not after the whole file was kept.
        let held = tx.evidence_files(id, MAX_FILES_PER_EVIDENCE).await?;
        if held.len() >= MAX_FILES_PER_EVIDENCE as usize {
            return Err(too_many_files());
        }
        Ok(())
    }

    /// Attaches a file to a draft evidence record (Admin and above): `body` is read in
    /// chunks, at most the configured size.
    pub async fn attach_evidence_file<S, E>(
        &self,
        actor: &Actor,
        evidence: &str,
        name: &str,
        media_type: &str,
        body: S,
    ) -> ServiceResult<EvidenceFileView>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let permit = authorize(actor, Action::WriteRecord)?;
        let evidence: RecordId = parse_id(evidence)?;
        let blobs = self.blobs()?;
        let name = file_name(name)?;
        let media_type = self.accepted_type(media_type)?;
        self.draft_evidence(actor, evidence).await?;
        let limit = self.files.max_bytes;
        let spooled = BlobStore::spool(body, limit)
            .await
            .map_err(|e| blob_failed(e, limit))?;
        let (sha256, bytes) = (spooled.sha256.clone(), spooled.bytes);
        // Counted as under way before the bytes go in: a removal of the same content now
        // leaves them alone, and one that started first has finished deleting them.
        let mut tx = self.store.tenant(&permit).await?;
        let until = self.clock.now().plus_seconds(UPLOAD_CLAIM_SECS);
        tx.begin_blob_upload(&sha256, until).await?;
        tx.commit().await?;
        let file = EvidenceFile {
            id: FileId::generate(),
            evidence,
            name,
            media_type,
            bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
            sha256: sha256.clone(),
            uploaded_by: actor.audit_user_id(),
            uploaded_at: self.clock.now(),
        };
        let recorded = self
            .record_upload(actor, &permit, blobs, spooled, &file)
            .await;
        if recorded.is_err() {
            // Nothing holds what was kept: give back the claim and the bytes (best effort).
            if let Ok(mut tx) = self.store.tenant(&permit).await
                && tx.end_blob_upload(&sha256).await.is_ok()
            {
                let _ = tx.commit().await;
            }
            self.forget_blobs(actor, vec![sha256]).await;
        }
        recorded.map(|()| file_view(&file))
    }

    /// Keeps the bytes and records the attachment, its upload ending with the record.
    async fn record_upload(
        &self,
        actor: &Actor,
        permit: &tater_domain::Permit,
        blobs: &BlobStore,
        spooled: tater_blobs::Spooled,
        file: &EvidenceFile,
    ) -> ServiceResult<()> {
        let limit = self.files.max_bytes;
        blobs
            .keep(&blob_key(actor.org(), &file.sha256), spooled)
            .await
            .map_err(|e| blob_failed(e, limit))?;
        let after = json!({
            "evidence": file.evidence.to_string(),
            "name": file.name,
            "mediaType": file.media_type,
            "bytes": file.bytes,
            "sha256": file.sha256,
        });
        let entry = AuditDraft::new(
            actor,
            AuditAction::Create,
            "evidence-file",
            file.id,
            file.uploaded_at,
        )
        .with_changes(None, Some(&after), &[]);
        let mut tx = self.store.tenant(permit).await?;
        // Checked again where it is written, the record locked: it may have moved on
        // meanwhile, and a move waits for this.
        let record = tx
            .get_record(EVIDENCE.name, file.evidence)
            .await?
            .ok_or(ServiceError::NotFound)?;
        check_editable(&EVIDENCE, &record)?;
        let held = tx
            .evidence_files(file.evidence, MAX_FILES_PER_EVIDENCE)
            .await?;
        if held.len() >= MAX_FILES_PER_EVIDENCE as usize {
            return Err(too_many_files());
        }
        tx.insert_evidence_file(file, &entry).await?;
        tx.end_blob_upload(&file.sha256).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An evidence record's files, oldest first.
    pub async fn list_evidence_files(
        &self,
        actor: &Actor,
        evidence: &str,
    ) -> ServiceResult<Items<EvidenceFileView>> {
        let permit = authorize(actor, Action::ReadRecords(EVIDENCE.read_role))?;
        let evidence: RecordId = parse_id(evidence)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        tx.get_record(EVIDENCE.name, evidence)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let files = tx.evidence_files(evidence, MAX_FILES_PER_EVIDENCE).await?;
        Ok(Items {
            items: files.iter().map(file_view).collect(),
        })
    }

    /// A file's bytes, checked against the SHA-256 recorded at upload as they are read: the
    /// last chunk waits for the check, so a file changed in the store is never received whole.
    pub async fn open_evidence_file(
        &self,
        actor: &Actor,
        evidence: &str,
        file: &str,
    ) -> ServiceResult<OpenedFile> {
        let permit = authorize(actor, Action::ReadRecords(EVIDENCE.read_role))?;
        let (evidence, id): (RecordId, FileId) = (parse_id(evidence)?, parse_id(file)?);
        let blobs = self.blobs()?;
        let file = {
            let mut tx = self.store.tenant(&permit.read_only()).await?;
            tx.evidence_file(id)
                .await?
                .filter(|f| f.evidence == evidence)
                .ok_or(ServiceError::NotFound)?
        };
        let body = blobs
            .read_verified(&blob_key(actor.org(), &file.sha256), &file.sha256)
            .await
            .map_err(|e| match e {
                BlobError::NotFound => ServiceError::Internal(anyhow::anyhow!(
                    "file {id}: its bytes are missing from the file store"
                )),
                other => ServiceError::Internal(other.into()),
            })?;
        Ok(OpenedFile {
            file: file_view(&file),
            body,
        })
    }

    /// Removes a file from a draft evidence record (Admin and above), and its bytes when no
    /// other attachment holds them.
    pub async fn remove_evidence_file(
        &self,
        actor: &Actor,
        evidence: &str,
        file: &str,
    ) -> ServiceResult<()> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let (evidence, id): (RecordId, FileId) = (parse_id(evidence)?, parse_id(file)?);
        let mut tx = self.store.tenant(&permit).await?;
        let record = tx
            .get_record(EVIDENCE.name, evidence)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let file = tx
            .evidence_file(id)
            .await?
            .filter(|f| f.evidence == evidence)
            .ok_or(ServiceError::NotFound)?;
        check_editable(&EVIDENCE, &record)?;
        let before = json!({
            "evidence": evidence.to_string(),
            "name": file.name,
            "sha256": file.sha256,
        });
        let entry = AuditDraft::new(
            actor,
            AuditAction::Delete,
            "evidence-file",
            id,
            self.clock.now(),
        )
        .with_changes(Some(&before), None, &[]);
        tx.delete_evidence_file(id, &entry).await?;
        tx.commit().await?;
        self.forget_blobs(actor, vec![file.sha256]).await;
        Ok(())
    }

    /// The SHA-256s an evidence record's files hold (read before the record is deleted).
    pub(crate) async fn files_of(
        tx: &mut dyn tater_store::TenantTx,
        evidence: RecordId,
    ) -> ServiceResult<Vec<String>> {
        let files = tx.evidence_files(evidence, MAX_FILES_PER_EVIDENCE).await?;
        Ok(files.into_iter().map(|f| f.sha256).collect())
    }

    /// Removes the bytes of `shas` that no attachment of the organization holds any more and
    /// no upload is putting back. Best effort: a failure leaves bytes behind (logged), never an
    /// attachment without bytes.
    pub(crate) async fn forget_blobs(&self, actor: &Actor, shas: Vec<String>) {
        let Some(blobs) = self.files.store.as_ref() else {
            return;
        };
        let Ok(permit) = authorize(actor, Action::WriteRecord) else {
            return;
        };
        for sha in shas {
            let forgotten: ServiceResult<()> = async {
                let mut tx = self.store.tenant(&permit).await?;
                // The bytes are deleted while their row is locked: an upload of the same
                // content waits, then finds them gone and writes them again.
                if tx.claim_unused_blob(&sha, self.clock.now()).await? {
                    blobs
                        .delete(&blob_key(actor.org(), &sha))
                        .await
                        .map_err(|e| ServiceError::Internal(e.into()))?;
                }
                tx.commit().await?;
                Ok(())
            }
            .await;
            if let Err(e) = forgotten {
                tracing::warn!(error = %e, sha, "removing unused file bytes failed");
            }
        }
    }
}

/// Shared by the server's configuration and the tests.
pub fn files_config(store: Option<BlobStore>, max_bytes: u64, types: Option<&str>) -> FilesConfig {
    let allowed_types = match types {
        Some(list) => list
            .split(',')
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect(),
        None => FilesConfig::default().allowed_types,
    };
    FilesConfig {
        store,
        max_bytes,
        allowed_types,
    }
}
