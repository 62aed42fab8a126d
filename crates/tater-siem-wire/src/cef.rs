//! CEF (ArcSight Common Event Format) lines for audit entries (SPEC L4, L5).
//!
//! `CEF:0|TATER|Tater|<version>|<entityType>.<action>|<name>|<severity>|<extension>`
//!
//! Injection defence: header fields escape `\` and `|` (and cannot hold line breaks, which
//! become spaces); extension values escape `\`, `=`, LF and CR; extension keys are constants.
//! Every user-supplied string (UPNs, ids, titles) travels only in extension values, so a CEF
//! parser reads back exactly what was written.

use serde_json::Value;

use crate::entry::EntryView;

pub const VENDOR: &str = "TATER";
pub const PRODUCT: &str = "Tater";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Escapes a header field: `\` first, then `|`; line breaks are not allowed there.
pub fn escape_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an extension value: `\` first, then `=`, LF and CR.
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// Entity types whose changes touch who can do what; their entries rank higher.
const SECURITY_ENTITIES: &[&str] = &[
    "api-key",
    "membership",
    "user",
    "organization",
    "enrollment-token",
    "siem-destination",
    "endpoint",
    "auditor-token",
];

/// CEF severity 0–10: routine record changes 3, deletions 5, security-relevant changes 6,
/// security-relevant deletions 8.
pub fn severity(entity_type: &str, action: &str) -> u8 {
    let security = SECURITY_ENTITIES.contains(&entity_type);
    match (security, action) {
        (true, "delete") => 8,
        (true, _) => 6,
        (false, "delete") => 5,
        (false, _) => 3,
    }
}

/// The extension keys, in the order they are written; the values come from the entry.
pub const EXTENSION_KEYS: [&str; 17] = [
    "rt",
    "suser",
    "suid",
    "act",
    "externalId",
    "cs1Label",
    "cs1",
    "cs2Label",
    "cs2",
    "cs3Label",
    "cs3",
    "cs4Label",
    "cs4",
    "cn1Label",
    "cn1",
    "outcome",
    "msg",
];

/// The CEF line for an entry (without a line terminator).
pub fn line(e: &EntryView<'_>) -> String {
    let header = [
        "CEF:0".to_owned(),
        escape_header(VENDOR),
        escape_header(PRODUCT),
        escape_header(VERSION),
        escape_header(&format!("{}.{}", e.entity_type, e.action)),
        escape_header(&format!("{} {}", e.entity_type, e.action)),
        severity(e.entity_type, e.action).to_string(),
    ]
    .join("|");
    let values = extension_values(e);
    let ext: Vec<String> = EXTENSION_KEYS
        .iter()
        .zip(values.iter())
        .map(|(k, v)| format!("{k}={}", escape_value(v)))
        .collect();
    format!("{header}|{}", ext.join(" "))
}

/// The extension values in [`EXTENSION_KEYS`] order, unescaped.
pub fn extension_values(e: &EntryView<'_>) -> [String; 17] {
    [
        e.timestamp_ms.to_string(),
        e.upn.unwrap_or_default().to_owned(),
        e.user_id.to_owned(),
        e.action.to_owned(),
        e.id.to_owned(),
        "tenantId".into(),
        e.tenant_id.to_owned(),
        "via".into(),
        e.via.to_owned(),
        "entityType".into(),
        e.entity_type.to_owned(),
        "entityId".into(),
        e.entity_id.to_owned(),
        "seq".into(),
        e.seq.to_string(),
        "success".into(),
        message(e),
    ]
}

/// A one-line human summary: who did what to which entity, with the changed fields and, for
/// records with a title or name, that title.
pub fn message(e: &EntryView<'_>) -> String {
    let who = e.upn.unwrap_or(e.user_id);
    let did = match e.action {
        "create" => "created",
        "update" => "updated",
        "delete" => "deleted",
        "transition" => "moved",
        "notify" => "notified about",
        "read" => "read",
        other => other,
    };
    let mut msg = format!("{who} {did} {} {}", e.entity_type, e.entity_id);
    if let Value::Object(changes) = e.changes {
        let title = ["title", "name"].iter().find_map(|k| {
            let c = changes.get(*k)?;
            c.get("after")
                .or_else(|| c.get("before"))
                .and_then(Value::as_str)
        });
        if let Some(t) = title {
            msg.push_str(&format!(" \"{t}\""));
        }
        if !changes.is_empty() {
            let fields: Vec<&str> = changes.keys().map(String::as_str).collect();
            msg.push_str(&format!(" (fields: {})", fields.join(", ")));
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_as_a_past_tense() {
        let changes = serde_json::json!({});
        let said = |action: &str| {
            message(&EntryView {
                id: "e",
                tenant_id: "t",
                seq: 1,
                action,
                entity_type: "finding",
                entity_id: "f1",
                user_id: "u",
                upn: Some("ann@example.com"),
                timestamp: "2026-12-04T00:00:00.000Z",
                timestamp_ms: 0,
                via: "api",
                changes: &changes,
            })
        };
        for (action, phrase) in [
            ("create", "created"),
            ("update", "updated"),
            ("delete", "deleted"),
            ("transition", "moved"),
            ("notify", "notified about"),
            ("read", "read"),
        ] {
            assert_eq!(said(action), format!("ann@example.com {phrase} finding f1"));
        }
        assert_eq!(
            severity("auditor-token", "create"),
            severity("api-key", "create")
        );
    }

    #[test]
    fn escaping_follows_the_two_rule_sets() {
        assert_eq!(escape_header(r"a|b\c"), r"a\|b\\c");
        assert_eq!(escape_header("a\nb"), "a b");
        assert_eq!(escape_value("a=b\\c\nd\re|f"), "a\\=b\\\\c\\nd\\re|f");
    }

    #[test]
    fn deletions_of_credentials_rank_highest() {
        assert_eq!(severity("api-key", "delete"), 8);
        assert_eq!(severity("risk", "update"), 3);
    }
}
