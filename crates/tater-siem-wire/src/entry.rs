//! The fields of an audit entry that forwarding needs, borrowed from its JSON view (the same
//! object the API and the export show), so every format starts from one representation.

use serde_json::Value;
use tater_domain::AuditEntry;

/// Borrowed fields of an entry.
#[derive(Debug, Clone)]
pub struct EntryView<'a> {
    pub id: &'a str,
    pub tenant_id: &'a str,
    pub seq: i64,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: &'a str,
    pub user_id: &'a str,
    pub upn: Option<&'a str>,
    pub timestamp: &'a str,
    pub timestamp_ms: i64,
    pub via: &'a str,
    pub changes: &'a Value,
}

/// An entry with its JSON view, owned, ready to format.
#[derive(Debug, Clone)]
pub struct Event {
    pub json: Value,
    pub timestamp_ms: i64,
}

impl Event {
    pub fn of(entry: &AuditEntry) -> Self {
        Self {
            json: tater_audit::entry_json(entry),
            timestamp_ms: entry.draft.timestamp.millis(),
        }
    }

    pub fn view(&self) -> EntryView<'_> {
        let s = |k: &str| self.json.get(k).and_then(Value::as_str).unwrap_or_default();
        EntryView {
            id: s("id"),
            tenant_id: s("tenantId"),
            seq: self
                .json
                .get("seq")
                .and_then(Value::as_i64)
                .unwrap_or_default(),
            action: s("action"),
            entity_type: s("entityType"),
            entity_id: s("entityId"),
            user_id: s("userId"),
            upn: self.json.get("upn").and_then(Value::as_str),
            timestamp: s("timestamp"),
            timestamp_ms: self.timestamp_ms,
            via: s("via"),
            changes: self.json.get("changes").unwrap_or(&Value::Null),
        }
    }
}
