//! The JSON Lines export: a header line, the entries in sequence order (each followed by the
//! checkpoints taken at it), and a signed end line. Every line is one JSON object:
//!
//! * `{"export": {"format": "tater-audit-log", "version": 1, "tenantId", "filtered", "generatedAt"}}`
//! * `{"start": {"tenantId", "seq", "headHash", "timestamp", "keyId", "signature"}}` — only when
//!   the organization's retention period deleted its oldest entries: where the kept history
//!   begins (see `seal::HistoryStart`); it comes before the first entry
//! * an entry exactly as `GET /api/audit-log` shows it (it has a `seq`)
//! * `{"checkpoint": {"tenantId", "seq", "headHash", "timestamp", "keyId", "signature"}}`
//! * `{"end": {"tenantId", "filtered", "entries", "lastSeq", "headHash", "generatedAt", "keyId",
//!   "signature"}}` — signed over `export-end|tenantId|filtered|entries|lastSeq|headHash|generatedAt`,
//!   so cutting lines off the end of a file (and with them the end line) is noticed.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tater_domain::{OrgId, Timestamp};

use crate::{AuditKeys, Checkpoint, HistoryStart};

pub const FORMAT: &str = "tater-audit-log";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportHeader {
    pub format: String,
    pub version: u32,
    pub tenant_id: OrgId,
    /// Whether list filters were applied: then entries are not contiguous, and only each
    /// entry's own hash and signature can be checked, not the links between them.
    pub filtered: bool,
    pub generated_at: Timestamp,
}

impl ExportHeader {
    pub fn new(tenant_id: OrgId, filtered: bool, generated_at: Timestamp) -> Self {
        Self {
            format: FORMAT.into(),
            version: VERSION,
            tenant_id,
            filtered,
            generated_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportEnd {
    pub tenant_id: OrgId,
    pub filtered: bool,
    pub entries: u64,
    /// Sequence number and hash of the last exported entry (0 and the genesis hash if none).
    pub last_seq: i64,
    pub head_hash: String,
    pub generated_at: Timestamp,
    pub key_id: Option<String>,
    pub signature: Option<String>,
}

impl ExportEnd {
    pub fn new(
        header: &ExportHeader,
        entries: u64,
        last_seq: i64,
        head_hash: &str,
        keys: &AuditKeys,
    ) -> Self {
        let mut end = Self {
            tenant_id: header.tenant_id,
            filtered: header.filtered,
            entries,
            last_seq,
            head_hash: head_hash.to_owned(),
            generated_at: header.generated_at,
            key_id: None,
            signature: None,
        };
        if let Some(k) = keys.signing() {
            end.key_id = Some(k.id().to_owned());
            end.signature = Some(k.sign(&end.payload()));
        }
        end
    }

    pub fn payload(&self) -> String {
        format!(
            "export-end|{}|{}|{}|{}|{}|{}",
            self.tenant_id,
            self.filtered,
            self.entries,
            self.last_seq,
            self.head_hash,
            self.generated_at
        )
    }
}

/// One line of an export.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Header(ExportHeader),
    Start(HistoryStart),
    Entry(Value),
    Checkpoint(Checkpoint),
    End(ExportEnd),
}

impl Line {
    /// The line's JSON text, without the newline.
    pub fn to_json(&self) -> String {
        match self {
            Line::Header(h) => json!({ "export": h }).to_string(),
            Line::Start(s) => json!({ "start": s }).to_string(),
            Line::Entry(v) => v.to_string(),
            Line::Checkpoint(c) => json!({ "checkpoint": c }).to_string(),
            Line::End(e) => json!({ "end": e }).to_string(),
        }
    }

    /// Reads one line; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("not a JSON object: {e}"))?;
        let Value::Object(map) = &value else {
            return Err("not a JSON object".into());
        };
        let single = |key: &str| (map.len() == 1).then(|| map.get(key)).flatten().cloned();
        let typed = |key: &str, v: Value| -> Result<Self, String> {
            let bad = |e: serde_json::Error| format!("malformed {key} record: {e}");
            Ok(match key {
                "export" => Line::Header(serde_json::from_value(v).map_err(bad)?),
                "checkpoint" => Line::Checkpoint(serde_json::from_value(v).map_err(bad)?),
                "start" => Line::Start(serde_json::from_value(v).map_err(bad)?),
                _ => Line::End(serde_json::from_value(v).map_err(bad)?),
            })
        };
        for key in ["export", "start", "checkpoint", "end"] {
            if let Some(v) = single(key) {
                return typed(key, v);
            }
        }
        if map.get("seq").is_some_and(Value::is_i64) {
            Ok(Line::Entry(value))
        } else {
            Err(
                "neither an entry (no integer seq) nor an export, start, checkpoint or end record"
                    .into(),
            )
        }
    }
}

/// The CSV columns of the audit log export, in order.
pub const CSV_COLUMNS: [&str; 16] = [
    "id",
    "tenantId",
    "seq",
    "action",
    "entityType",
    "entityId",
    "userId",
    "upn",
    "oid",
    "timestamp",
    "via",
    "changes",
    "prevHash",
    "hash",
    "keyId",
    "signature",
];

/// An entry (as [`crate::entry_json`] shows it) as CSV cells: text as is, `changes` as JSON,
/// absent values empty.
pub fn csv_cells(entry: &Value) -> Vec<String> {
    CSV_COLUMNS
        .iter()
        .map(|c| match entry.get(c) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        })
        .collect()
}
