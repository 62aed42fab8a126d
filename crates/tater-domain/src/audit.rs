//! Audit entries (SPEC L1): one per create, update, delete or status transition of any entity.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Actor, AuditId, Channel, OrgId, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditAction {
    Create,
    Update,
    Delete,
    /// A move in a module's status flow.
    Transition,
    /// A message sent about a record (a task reminder), changing nothing.
    Notify,
    /// A read that is itself recorded: an auditor token's every use.
    Read,
}

impl AuditAction {
    /// Every action, in the order filters offer them.
    pub const ALL: [AuditAction; 6] = [
        AuditAction::Create,
        AuditAction::Update,
        AuditAction::Delete,
        AuditAction::Transition,
        AuditAction::Notify,
        AuditAction::Read,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Update => "update",
            AuditAction::Delete => "delete",
            AuditAction::Transition => "transition",
            AuditAction::Notify => "notify",
            AuditAction::Read => "read",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action (expected create, update, delete, transition, notify or read)")]
pub struct UnknownAction;

impl FromStr for AuditAction {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "create" => Ok(AuditAction::Create),
            "update" => Ok(AuditAction::Update),
            "delete" => Ok(AuditAction::Delete),
            "transition" => Ok(AuditAction::Transition),
            "notify" => Ok(AuditAction::Notify),
            "read" => Ok(AuditAction::Read),
            _ => Err(UnknownAction),
        }
    }
}

/// Shown instead of the value of a secret field, before and after.
pub const REDACTED: &str = "[redacted]";

/// Where an entry's changes name the client software that caused them (MCP clients).
pub const CLIENT_KEY: &str = "_client";
/// Where an entry's changes name the AI analyst conversation that proposed them.
pub const CONVERSATION_KEY: &str = "_conversation";
/// What an entry's changes say of how they were made, kept whatever the field diff says.
const ATTRIBUTION_KEYS: [&str; 2] = [CLIENT_KEY, CONVERSATION_KEY];

fn client_json(c: &crate::actor::ClientInfo) -> Value {
    serde_json::json!({ "name": c.name, "version": c.version })
}

/// An audit entry before the store gives it its tenant sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditDraft {
    pub id: AuditId,
    pub action: AuditAction,
    pub entity_type: String,
    pub entity_id: String,
    pub user_id: String,
    pub upn: Option<String>,
    pub oid: Option<String>,
    pub timestamp: Timestamp,
    pub via: Channel,
    /// `{field: {"before": .., "after": ..}}`, secrets redacted.
    pub changes: Value,
}

impl AuditDraft {
    /// An entry attributed to `actor`, stamped with `now` and the actor's channel.
    pub fn new(
        actor: &Actor,
        action: AuditAction,
        entity_type: &str,
        entity_id: impl ToString,
        now: Timestamp,
    ) -> Self {
        let upn = actor.audit_upn();
        let mut changes = Map::new();
        if let Some(c) = actor.client() {
            changes.insert(CLIENT_KEY.into(), client_json(c));
        }
        if let Some(c) = actor.conversation() {
            changes.insert(CONVERSATION_KEY.into(), Value::String(c.to_string()));
        }
        Self {
            id: AuditId::generate(),
            action,
            entity_type: entity_type.to_owned(),
            entity_id: entity_id.to_string(),
            user_id: actor.audit_user_id(),
            upn: (!upn.is_empty()).then_some(upn),
            oid: actor.audit_oid(),
            timestamp: now,
            via: actor.channel(),
            changes: Value::Object(changes),
        }
    }

    /// Records the field-level difference between `before` and `after` (either may be absent
    /// for creates and deletes). Fields named in `secret` show as changed but never their value.
    pub fn with_changes(
        mut self,
        before: Option<&Value>,
        after: Option<&Value>,
        secret: &[&str],
    ) -> Self {
        let kept: Vec<(&str, Value)> = ATTRIBUTION_KEYS
            .iter()
            .filter_map(|k| self.changes.get(*k).map(|v| (*k, v.clone())))
            .collect();
        self.changes = diff(before, after, secret);
        if let Some(o) = self.changes.as_object_mut() {
            for (k, v) in kept {
                o.insert(k.into(), v);
            }
        }
        self
    }
}

impl AuditDraft {
    /// Adds what the field diff cannot say (a transition's comment, a snapshot's hash) under
    /// a key that starts with `_`, so it never reads as a field of the record.
    pub fn with_detail(mut self, key: &'static str, value: Value) -> Self {
        debug_assert!(key.starts_with('_'));
        if let Some(o) = self.changes.as_object_mut() {
            o.insert(key.into(), value);
        }
        self
    }
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Position in the tenant's log, 1-based, without gaps.
    pub seq: i64,
    pub tenant_id: OrgId,
    pub draft: AuditDraft,
    pub seal: AuditSeal,
}

/// What makes an entry tamper-evident (SPEC L2 and the hash chain); computed by `tater-audit`
/// when the store appends the entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditSeal {
    /// The previous entry's `hash` (64 zeros for the first entry of a tenant).
    pub prev_hash: String,
    /// Lowercase hex SHA-256 over `prev_hash` and the entry's canonical form.
    pub hash: String,
    /// Which signing key made `signature`; absent when no key was configured.
    pub key_id: Option<String>,
    /// Lowercase hex HMAC-SHA256 over `id|tenantId|action|entityType|entityId|userId|timestamp`.
    pub signature: Option<String>,
}

/// Field-level changes between two JSON objects.
pub fn diff(before: Option<&Value>, after: Option<&Value>, secret: &[&str]) -> Value {
    let empty = Map::new();
    let b = before.and_then(Value::as_object).unwrap_or(&empty);
    let a = after.and_then(Value::as_object).unwrap_or(&empty);
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Map::new();
    for key in keys {
        let (old, new) = (b.get(key), a.get(key));
        if old == new {
            continue;
        }
        let redact = secret.contains(&key.as_str());
        let show = |v: Option<&Value>| match v {
            None | Some(Value::Null) => Value::Null,
            Some(_) if redact => Value::String(REDACTED.into()),
            Some(v) => v.clone(),
        };
        let mut change = Map::new();
        if before.is_some() {
            change.insert("before".into(), show(old));
        }
        if after.is_some() {
            change.insert("after".into(), show(new));
        }
        out.insert(key.clone(), Value::Object(change));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_lists_changed_fields_and_redacts_secrets() {
        let before = json!({"title": "a", "same": 1, "passwordHash": "x"});
        let after = json!({"title": "b", "same": 1, "passwordHash": "y", "new": true});
        let d = diff(Some(&before), Some(&after), &["passwordHash"]);
        assert_eq!(
            d,
            json!({
                "new": {"before": null, "after": true},
                "passwordHash": {"before": REDACTED, "after": REDACTED},
                "title": {"before": "a", "after": "b"},
            })
        );
        let created = diff(None, Some(&json!({"k": 1})), &[]);
        assert_eq!(created, json!({"k": {"after": 1}}));
        let deleted = diff(Some(&json!({"k": 1})), None, &[]);
        assert_eq!(deleted, json!({"k": {"before": 1}}));
    }
}
