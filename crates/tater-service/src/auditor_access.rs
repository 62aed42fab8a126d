//! Auditor access: a time-limited, read-only token for one audit that an outside auditor
//! uses to read the audit's snapshots and download their evidence packages — nothing else,
//! nothing after it is revoked or expires, every use audited as `auditor-token:<id>`.
//! Members (Admin and above) download the same packages.

use std::io::{Seek, Write};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tater_domain::modules::AUDITS;
use tater_domain::policy::{Action, authorize};
use tater_domain::{
    Actor, AuditAction, AuditDraft, AuditSnapshot, AuditorToken, AuditorTokenId, RecordId,
    SnapshotId, Timestamp, ValidationErrors,
};
use tater_export::CsvExport;
use zip::write::SimpleFileOptions;

use crate::audit_snapshots::{
    MAX_SNAPSHOTS, SnapshotView, StoredSnapshot, audit_record, audit_summary, sha256_hex,
    snapshot_view, stored_snapshot,
};
use crate::records::parse_id;
use crate::secrets::{AUDITOR_TOKEN_PREFIX, display_prefix, generate_secret, hash_api_key};
use crate::{Items, OrgArchive, Service, ServiceError, ServiceResult};

/// The longest an auditor token lasts.
pub const MAX_AUDITOR_TOKEN_DAYS: i64 = 90;

/// What an OrgAdmin asks for: who the token is for, and for how many days.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateAuditorToken {
    /// Who it is for (the firm, the assessor); their reads are audited under this name.
    #[schemars(length(min = 1, max = 200))]
    pub label: String,
    /// Days until it stops working (1–90, default 14).
    #[schemars(range(min = 1, max = 90))]
    pub expires_in_days: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditorTokenStatus {
    Active,
    Expired,
    Revoked,
}

/// An auditor token as members see it (never its secret).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditorTokenView {
    pub id: String,
    pub audit: String,
    pub label: String,
    /// The secret's first characters, to tell tokens apart.
    pub prefix: String,
    pub status: AuditorTokenStatus,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A token just made: its secret is shown this once.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CreatedAuditorToken {
    #[serde(flatten)]
    pub view: AuditorTokenView,
    /// Give it to the auditor (`Authorization: Bearer <token>` on `/api/auditor`); shown
    /// this once, never stored.
    pub token: String,
}

/// What an auditor token opens: its audit and the audit's snapshots.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditorAuditView {
    pub audit: Value,
    /// Newest first, without bodies: read one at `/api/auditor/snapshots/{id}`.
    pub snapshots: Vec<SnapshotView>,
}

fn token_view(t: &AuditorToken, now: Timestamp) -> AuditorTokenView {
    let status = if t.revoked_at.is_some() {
        AuditorTokenStatus::Revoked
    } else if t.expires_at <= now {
        AuditorTokenStatus::Expired
    } else {
        AuditorTokenStatus::Active
    };
    AuditorTokenView {
        id: t.id.to_string(),
        audit: t.audit.to_string(),
        label: t.label.clone(),
        prefix: t.prefix.clone(),
        status,
        created_by: t.created_by.clone(),
        created_at: t.created_at,
        expires_at: t.expires_at,
        revoked_at: t.revoked_at,
    }
}

/// The audit an auditor-token actor opens (the policy has let only such actors through).
fn audit_of(actor: &Actor) -> ServiceResult<RecordId> {
    actor
        .auditor_audit()
        .ok_or(ServiceError::Unauthorized("an auditor token is required"))
}

impl Service {
    /// Makes a token for `audit` (OrgAdmin: it opens the organization's evidence to someone
    /// outside it). The secret is in the answer only.
    pub async fn create_auditor_token(
        &self,
        actor: &Actor,
        audit: &str,
        input: &CreateAuditorToken,
    ) -> ServiceResult<CreatedAuditorToken> {
        let permit = authorize(actor, Action::ManageKeys)?;
        let audit_id: RecordId = parse_id(audit)?;
        let mut errors = ValidationErrors::new();
        let label = input.label.trim();
        if label.is_empty() || label.chars().count() > 200 || label.chars().any(char::is_control) {
            errors.add("label", "must be 1 to 200 characters on one line");
        }
        let days = input.expires_in_days.unwrap_or(14);
        if !(1..=MAX_AUDITOR_TOKEN_DAYS).contains(&days) {
            errors.add(
                "expiresInDays",
                format!("must be from 1 to {MAX_AUDITOR_TOKEN_DAYS}"),
            );
        }
        errors.into_result(())?;
        let now = self.clock.now();
        let secret = generate_secret(AUDITOR_TOKEN_PREFIX);
        let token = AuditorToken {
            id: AuditorTokenId::generate(),
            org: actor.org(),
            audit: audit_id,
            label: label.to_owned(),
            token_hash: hash_api_key(&secret),
            prefix: display_prefix(&secret),
            created_by: actor.audit_user_id(),
            created_at: now,
            expires_at: now.plus_seconds(days * 86_400),
            revoked_at: None,
        };
        let after = json!({
            "audit": audit_id.to_string(),
            "label": token.label,
            "prefix": token.prefix,
            "expiresAt": token.expires_at,
        });
        let entry = AuditDraft::new(actor, AuditAction::Create, "auditor-token", token.id, now)
            .with_changes(None, Some(&after), &[]);
        let mut tx = self.store.tenant(&permit).await?;
        audit_record(&mut *tx, audit_id).await?;
        tx.insert_auditor_token(&token, &entry).await?;
        tx.commit().await?;
        Ok(CreatedAuditorToken {
            view: token_view(&token, now),
            token: secret,
        })
    }

    /// The audit's tokens, newest first (OrgAdmin).
    pub async fn list_auditor_tokens(
        &self,
        actor: &Actor,
        audit: &str,
    ) -> ServiceResult<Items<AuditorTokenView>> {
        let permit = authorize(actor, Action::ManageKeys)?;
        let audit_id: RecordId = parse_id(audit)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        audit_record(&mut *tx, audit_id).await?;
        let now = self.clock.now();
        let items = tx.auditor_tokens(audit_id).await?;
        Ok(Items {
            items: items.iter().map(|t| token_view(t, now)).collect(),
        })
    }

    /// Revokes a token with immediate effect (OrgAdmin).
    pub async fn revoke_auditor_token(
        &self,
        actor: &Actor,
        audit: &str,
        token: &str,
    ) -> ServiceResult<()> {
        let permit = authorize(actor, Action::ManageKeys)?;
        let (audit_id, id): (RecordId, AuditorTokenId) = (parse_id(audit)?, parse_id(token)?);
        let mut tx = self.store.tenant(&permit).await?;
        let held = tx.auditor_tokens(audit_id).await?;
        let Some(current) = held.iter().find(|t| t.id == id) else {
            return Err(ServiceError::NotFound);
        };
        if current.revoked_at.is_some() {
            return Err(ServiceError::NotFound);
        }
        let now = self.clock.now();
        let before = json!({ "audit": audit_id.to_string(), "label": current.label });
        let entry = AuditDraft::new(actor, AuditAction::Delete, "auditor-token", id, now)
            .with_changes(Some(&before), None, &[]);
        tx.revoke_auditor_token(id, now, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An auditor's first read: the audit and its snapshots. Audited.
    pub async fn auditor_audit(&self, actor: &Actor) -> ServiceResult<AuditorAuditView> {
        let permit = authorize(actor, Action::AuditorAccess)?;
        let audit_id = audit_of(actor)?;
        let (record, snapshots) = {
            let mut tx = self.store.tenant(&permit.read_only()).await?;
            let record = audit_record(&mut *tx, audit_id).await?;
            (record, tx.audit_snapshots(audit_id, MAX_SNAPSHOTS).await?)
        };
        let now = self.clock.now();
        let entry = AuditDraft::new(actor, AuditAction::Read, AUDITS.entity_type, audit_id, now)
            .with_detail(
                "_read",
                json!({ "what": "audit", "snapshots": snapshots.len() }),
            );
        self.record_read(&permit, &entry).await?;
        Ok(AuditorAuditView {
            audit: audit_summary(&record),
            snapshots: snapshots.iter().map(snapshot_view).collect(),
        })
    }

    /// One of the token's audit's snapshots, with its body. Audited.
    pub async fn auditor_snapshot(
        &self,
        actor: &Actor,
        snapshot: &str,
    ) -> ServiceResult<SnapshotView> {
        let permit = authorize(actor, Action::AuditorAccess)?;
        let audit_id = audit_of(actor)?;
        let id: SnapshotId = parse_id(snapshot)?;
        let stored = {
            let mut tx = self.store.tenant(&permit.read_only()).await?;
            stored_snapshot(&mut *tx, audit_id, id).await?
        };
        let entry = read_entry(actor, &stored.snapshot, "snapshot", self.clock.now());
        self.record_read(&permit, &entry).await?;
        Ok(snapshot_view(&stored.snapshot))
    }

    /// The evidence package of one of the token's audit's snapshots. Audited.
    pub async fn auditor_package(
        &self,
        actor: &Actor,
        snapshot: &str,
    ) -> ServiceResult<OrgArchive> {
        let permit = authorize(actor, Action::AuditorAccess)?;
        let audit_id = audit_of(actor)?;
        self.packaged(actor, &permit, audit_id, parse_id(snapshot)?)
            .await
    }

    /// The evidence package of a snapshot, for a member (Admin and above). Audited like an
    /// auditor's download: the package leaves the organization.
    pub async fn snapshot_package(
        &self,
        actor: &Actor,
        audit: &str,
        snapshot: &str,
    ) -> ServiceResult<OrgArchive> {
        let permit = authorize(actor, Action::WriteRecord)?;
        self.packaged(actor, &permit, parse_id(audit)?, parse_id(snapshot)?)
            .await
    }

    /// Reads the snapshot (checked against its hash) in a read-only transaction, records the
    /// download in a short write, and zips it off the request's thread.
    async fn packaged(
        &self,
        actor: &Actor,
        permit: &tater_domain::Permit,
        audit_id: RecordId,
        id: SnapshotId,
    ) -> ServiceResult<OrgArchive> {
        let (record, stored) = {
            let mut tx = self.store.tenant(&permit.read_only()).await?;
            let record = audit_record(&mut *tx, audit_id).await?;
            (record, stored_snapshot(&mut *tx, audit_id, id).await?)
        };
        let entry = read_entry(actor, &stored.snapshot, "package", self.clock.now());
        self.record_read(permit, &entry).await?;
        let generated_at = self.clock.now();
        tokio::task::spawn_blocking(move || package(&record, stored, generated_at))
            .await
            .map_err(|e| ServiceError::Internal(e.into()))?
    }

    /// Writes the audit entry of a read (its own short write transaction: the read itself
    /// held no lock).
    async fn record_read(
        &self,
        permit: &tater_domain::Permit,
        entry: &AuditDraft,
    ) -> ServiceResult<()> {
        let mut tx = self.store.tenant(permit).await?;
        tx.record_event(entry).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The zip: the snapshot exactly as stored (its SHA-256 is the snapshot's and its audit
/// entry's), the control status report and evidence list as CSV, and a manifest with every
/// file's SHA-256 and the audit entry that recorded the snapshot.
fn package(
    audit: &tater_domain::module::Record,
    stored: StoredSnapshot,
    generated_at: Timestamp,
) -> ServiceResult<OrgArchive> {
    let StoredSnapshot {
        mut snapshot,
        text,
        recorded,
    } = stored;
    let body = snapshot.body.take().unwrap_or(Value::Null);
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("control-status.csv", control_status_csv(&body)),
        ("evidence.csv", evidence_csv(&body)),
    ];
    drop(body);
    let text = text.into_bytes();
    let listed =
        std::iter::once(("snapshot.json", &text)).chain(files.iter().map(|(n, b)| (*n, b)));
    let manifest = json!({
        "format": "tater-evidence-package/1",
        "generatedAt": generated_at,
        "audit": audit_summary(audit),
        "snapshot": {
            "id": snapshot.id.to_string(),
            "takenAt": snapshot.taken_at,
            "takenBy": snapshot.taken_by,
            "sha256": snapshot.sha256,
        },
        // The entry of the organization's hash-chained audit log that recorded the snapshot
        // with its SHA-256: the organization can show the chain vouches for this copy.
        "recordedBy": {
            "auditEntryId": recorded.draft.id.to_string(),
            "seq": recorded.seq,
            "hash": recorded.seal.hash,
        },
        "files": listed.map(|(name, bytes)| json!({
            "name": name,
            "bytes": bytes.len(),
            "sha256": sha256_hex(bytes),
        })).collect::<Vec<_>>(),
    });
    let manifest =
        serde_json::to_vec_pretty(&manifest).map_err(|e| ServiceError::Internal(e.into()))?;
    let zipped = || -> zip::result::ZipResult<std::fs::File> {
        let mut zip = zip::ZipWriter::new(tempfile::tempfile()?);
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644);
        zip.start_file("snapshot.json", options)?;
        zip.write_all(&text)?;
        for (name, bytes) in &files {
            zip.start_file(*name, options)?;
            zip.write_all(bytes)?;
        }
        zip.start_file("manifest.json", options)?;
        zip.write_all(&manifest)?;
        let mut file = zip.finish()?;
        file.rewind()?;
        Ok(file)
    };
    let file = zipped().map_err(|e| ServiceError::Internal(e.into()))?;
    let len = file
        .metadata()
        .map_err(|e| ServiceError::Internal(e.into()))?
        .len();
    Ok(OrgArchive {
        file,
        len,
        filename: format!(
            "tater-evidence-package-{}-{}.zip",
            snapshot.audit,
            tater_domain::time::format_date(snapshot.taken_at.date())
        ),
    })
}

/// The audit entry of a read through an auditor token (or a member's package download).
fn read_entry(actor: &Actor, snapshot: &AuditSnapshot, what: &str, now: Timestamp) -> AuditDraft {
    AuditDraft::new(actor, AuditAction::Read, "audit-snapshot", snapshot.id, now).with_detail(
        "_read",
        json!({ "what": what, "audit": snapshot.audit.to_string(), "sha256": snapshot.sha256 }),
    )
}

const CONTROL_COLUMNS: &[&str] = &[
    "id",
    "label",
    "title",
    "family",
    "score",
    "pass",
    "fail",
    "override",
    "manualReview",
    "notApplicable",
    "implementationStatus",
    "applicability",
    "evidence",
];

/// One row per control in scope: its results, its overlay's status and how much evidence.
fn control_status_csv(body: &Value) -> Vec<u8> {
    let rows: Vec<Value> = items(body, "controls")
        .map(|c| {
            let results = &c["results"];
            let overlay = &c["overlay"];
            json!({
                "id": c["id"], "label": c["label"], "title": c["title"], "family": c["family"],
                "score": results["score"], "pass": results["totals"]["pass"],
                "fail": results["totals"]["fail"], "override": results["totals"]["override"],
                "manualReview": results["totals"]["manualReview"],
                "notApplicable": results["totals"]["notApplicable"],
                "implementationStatus": overlay["implementationStatus"],
                "applicability": overlay["applicability"],
                "evidence": c["evidence"].as_array().map_or(0, Vec::len),
            })
        })
        .collect();
    let csv = CsvExport::with_columns(CONTROL_COLUMNS);
    let mut out = csv.header();
    out.extend(csv.rows(&rows));
    out
}

const EVIDENCE_COLUMNS: &[&str] = &[
    "id",
    "title",
    "status",
    "collectedBy",
    "collectedOn",
    "validUntil",
    "expired",
    "controls",
    "source",
];

fn evidence_csv(body: &Value) -> Vec<u8> {
    let rows: Vec<Value> = items(body, "evidence").cloned().collect();
    let csv = CsvExport::with_columns(EVIDENCE_COLUMNS);
    let mut out = csv.header();
    out.extend(csv.rows(&rows));
    out
}

fn items<'a>(body: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    body.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}
