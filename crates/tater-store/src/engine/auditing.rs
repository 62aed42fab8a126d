//! Audits' snapshots and auditor tokens, and the files evidence carries.

use tater_domain::{AuditSnapshot, AuditorToken, AuditorTokenId, EvidenceFile, FileId, SnapshotId};

use super::*;

pub(super) const AUDITOR_TOKEN_COLUMNS: &str = "id, tenant_id, record_id, label, token_hash, \
     prefix, created_by, created_at, expires_at, revoked_at";
const SNAPSHOT_COLUMNS: &str = "id, record_id, taken_at, taken_by, sha256";
const FILE_COLUMNS: &str =
    "id, record_id, name, media_type, bytes, sha256, uploaded_by, uploaded_at";

fn file_from_row(row: &impl RowRead) -> Result<EvidenceFile> {
    Ok(EvidenceFile {
        id: parse_col(row, "id")?,
        evidence: parse_col(row, "record_id")?,
        name: row.try_get("name")?,
        media_type: row.try_get("media_type")?,
        bytes: row.try_get("bytes")?,
        sha256: row.try_get("sha256")?,
        uploaded_by: row.try_get("uploaded_by")?,
        uploaded_at: ts(row, "uploaded_at")?,
    })
}

pub(super) fn auditor_token_from_row(row: &impl RowRead) -> Result<AuditorToken> {
    Ok(AuditorToken {
        id: parse_col(row, "id")?,
        org: parse_col(row, "tenant_id")?,
        audit: parse_col(row, "record_id")?,
        label: row.try_get("label")?,
        token_hash: row.try_get("token_hash")?,
        prefix: row.try_get("prefix")?,
        created_by: row.try_get("created_by")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        revoked_at: opt_ts(row, "revoked_at")?,
    })
}

fn snapshot_from_row(row: &impl RowRead) -> Result<AuditSnapshot> {
    Ok(AuditSnapshot {
        id: parse_col(row, "id")?,
        audit: parse_col(row, "record_id")?,
        taken_at: ts(row, "taken_at")?,
        taken_by: row.try_get("taken_by")?,
        sha256: row.try_get("sha256")?,
        body: None,
    })
}

#[async_trait]
impl<D: Driver> AuditingTx for EngineTenantTx<D> {
    async fn insert_audit_snapshot(
        &mut self,
        s: &AuditSnapshot,
        body: &str,
        audit: &AuditDraft,
    ) -> Result<()> {
        D::query(
            "INSERT INTO audit_snapshots (tenant_id, record_id, id, taken_at, taken_by, sha256, \
             body) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(self.tenant())
        .bind(s.audit.to_string())
        .bind(s.id.to_string())
        .bind(s.taken_at.millis())
        .bind(&s.taken_by)
        .bind(&s.sha256)
        .bind(body)
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn audit_snapshots(&mut self, audit: RecordId, limit: u32) -> Result<Vec<AuditSnapshot>> {
        let rows = D::query(&format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM audit_snapshots WHERE tenant_id = $1 \
             AND record_id = $2 ORDER BY taken_at DESC, id DESC LIMIT $3"
        ))
        .bind(self.tenant())
        .bind(audit.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(snapshot_from_row).collect()
    }

    async fn audit_snapshot(&mut self, id: SnapshotId) -> Result<Option<(AuditSnapshot, String)>> {
        let row = D::query(&format!(
            "SELECT {SNAPSHOT_COLUMNS}, body FROM audit_snapshots WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(self.tenant())
        .bind(id.to_string())
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| Ok((snapshot_from_row(&r)?, r.try_get("body")?)))
            .transpose()
    }

    async fn insert_auditor_token(&mut self, t: &AuditorToken, audit: &AuditDraft) -> Result<()> {
        D::query(
            "INSERT INTO auditor_tokens (tenant_id, record_id, id, label, token_hash, prefix, \
             created_by, created_at, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(self.tenant())
        .bind(t.audit.to_string())
        .bind(t.id.to_string())
        .bind(&t.label)
        .bind(&t.token_hash)
        .bind(&t.prefix)
        .bind(&t.created_by)
        .bind(t.created_at.millis())
        .bind(t.expires_at.millis())
        .bind(t.revoked_at.map(Timestamp::millis))
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn auditor_tokens(&mut self, audit: RecordId) -> Result<Vec<AuditorToken>> {
        let rows = D::query(&format!(
            "SELECT {AUDITOR_TOKEN_COLUMNS} FROM auditor_tokens WHERE tenant_id = $1 \
             AND record_id = $2 ORDER BY created_at DESC, id DESC"
        ))
        .bind(self.tenant())
        .bind(audit.to_string())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(auditor_token_from_row).collect()
    }

    async fn revoke_auditor_token(
        &mut self,
        id: AuditorTokenId,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()> {
        let done = D::query(
            "UPDATE auditor_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 \
             AND revoked_at IS NULL",
        )
        .bind(self.tenant())
        .bind(id.to_string())
        .bind(at.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audit_if_touched(done.rows_affected(), audit).await
    }

    async fn insert_evidence_file(&mut self, f: &EvidenceFile, audit: &AuditDraft) -> Result<()> {
        D::query(
            "INSERT INTO evidence_files (tenant_id, record_id, id, name, media_type, bytes, \
             sha256, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(self.tenant())
        .bind(f.evidence.to_string())
        .bind(f.id.to_string())
        .bind(&f.name)
        .bind(&f.media_type)
        .bind(f.bytes)
        .bind(&f.sha256)
        .bind(&f.uploaded_by)
        .bind(f.uploaded_at.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn evidence_files(
        &mut self,
        evidence: RecordId,
        limit: u32,
    ) -> Result<Vec<EvidenceFile>> {
        let rows = D::query(&format!(
            "SELECT {FILE_COLUMNS} FROM evidence_files WHERE tenant_id = $1 AND record_id = $2 \
             ORDER BY uploaded_at, id LIMIT $3"
        ))
        .bind(self.tenant())
        .bind(evidence.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(file_from_row).collect()
    }

    async fn evidence_file(&mut self, id: FileId) -> Result<Option<EvidenceFile>> {
        let row = D::query(&format!(
            "SELECT {FILE_COLUMNS} FROM evidence_files WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(self.tenant())
        .bind(id.to_string())
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(file_from_row).transpose()
    }

    async fn delete_evidence_file(&mut self, id: FileId, audit: &AuditDraft) -> Result<()> {
        let done = D::query("DELETE FROM evidence_files WHERE tenant_id = $1 AND id = $2")
            .bind(self.tenant())
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await?;
        self.audit_if_touched(done.rows_affected(), audit).await
    }

    async fn file_references(&mut self, sha256: &str) -> Result<i64> {
        let row = D::query(
            "SELECT COUNT(*) AS n FROM evidence_files WHERE tenant_id = $1 AND sha256 = $2",
        )
        .bind(self.tenant())
        .bind(sha256)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.try_get("n")?)
    }

    async fn begin_blob_upload(&mut self, sha256: &str, until: Timestamp) -> Result<()> {
        D::query(
            "INSERT INTO file_blobs (tenant_id, sha256, uploads, pending_until) \
             VALUES ($1, $2, 1, $3) ON CONFLICT (tenant_id, sha256) DO UPDATE \
             SET uploads = file_blobs.uploads + 1, pending_until = excluded.pending_until",
        )
        .bind(self.tenant())
        .bind(sha256)
        .bind(until.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn end_blob_upload(&mut self, sha256: &str) -> Result<()> {
        D::query(
            "UPDATE file_blobs SET uploads = uploads - 1 \
             WHERE tenant_id = $1 AND sha256 = $2 AND uploads > 0",
        )
        .bind(self.tenant())
        .bind(sha256)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn claim_unused_blob(&mut self, sha256: &str, now: Timestamp) -> Result<bool> {
        // The row exists from here on, so locking it holds off any upload of these bytes.
        D::query(
            "INSERT INTO file_blobs (tenant_id, sha256) VALUES ($1, $2) \
             ON CONFLICT (tenant_id, sha256) DO NOTHING",
        )
        .bind(self.tenant())
        .bind(sha256)
        .execute(&mut *self.tx)
        .await?;
        let row = D::query(&format!(
            "SELECT uploads, pending_until FROM file_blobs \
             WHERE tenant_id = $1 AND sha256 = $2{}",
            D::LOCK
        ))
        .bind(self.tenant())
        .bind(sha256)
        .fetch_one(&mut *self.tx)
        .await?;
        let uploads: i64 = row.try_get("uploads")?;
        let pending = opt_ts(&row, "pending_until")?;
        let uploading = uploads > 0 && pending.is_some_and(|until| until > now);
        if uploading || self.file_references(sha256).await? > 0 {
            return Ok(false);
        }
        D::query("DELETE FROM file_blobs WHERE tenant_id = $1 AND sha256 = $2")
            .bind(self.tenant())
            .bind(sha256)
            .execute(&mut *self.tx)
            .await?;
        Ok(true)
    }
}
