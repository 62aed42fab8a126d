//! What an audit keeps beyond its record — frozen snapshots of its scope, and the read-only
//! tokens that let an outside auditor read them — and the files evidence carries.

use serde_json::Value;

use crate::{AuditorTokenId, FileId, OrgId, RecordId, SnapshotId, Timestamp};

/// The control results, overlays and evidence list of an audit's scope as they stood at
/// `taken_at`. Never changed once taken; it goes only with its audit.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditSnapshot {
    pub id: SnapshotId,
    pub audit: RecordId,
    pub taken_at: Timestamp,
    /// Audit `userId` of whoever took it.
    pub taken_by: String,
    /// Lowercase hex SHA-256 of `body` as stored (its compact JSON text), so the audit
    /// entry that records the snapshot vouches for its content.
    pub sha256: String,
    /// `None` when listed: a list of snapshots does not read every body.
    pub body: Option<Value>,
}

/// A time-limited, read-only credential scoped to one audit's snapshots, for an auditor
/// outside the organization. Stored as the SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditorToken {
    pub id: AuditorTokenId,
    pub org: OrgId,
    pub audit: RecordId,
    /// Who it is for (the firm, the assessor): the audit `upn` of its reads.
    pub label: String,
    /// Lowercase hex SHA-256 of the secret.
    pub token_hash: String,
    /// The secret's first characters, to tell tokens apart.
    pub prefix: String,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl AuditorToken {
    /// Whether it still opens its audit's snapshots at `now`.
    pub fn usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A file attached to an evidence record: its bytes are kept by content (SHA-256) in the
/// organization's part of the file store, so the same file attached twice is stored once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceFile {
    pub id: FileId,
    pub evidence: RecordId,
    /// The name it was uploaded under (no directories).
    pub name: String,
    /// The media type it was uploaded as (its essence, lower case).
    pub media_type: String,
    pub bytes: i64,
    /// Lowercase hex SHA-256 of its bytes.
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: Timestamp,
}
