//! The SIEM wire formats (`tater_siem_wire`): CEF lines and RFC 5424 messages built from audit
//! entries whose strings (UPNs, entity ids, changed fields, titles) users choose.
//!
//! Invariants, from the encoder's own promises (cef.rs, syslog.rs):
//! * no raw line break anywhere in a CEF line or a syslog message;
//! * a CEF reader splitting on unescaped `|` and `=` gets back exactly the header fields and
//!   the extension values that were written (so no value can forge a field);
//! * the syslog header keeps its seven fields and the octet count is the message's length.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tater_domain::{AuditAction, AuditDraft, AuditEntry, AuditId, Channel, OrgId, Timestamp};
use tater_siem_wire::{Event, cef, syslog};
use uuid::Uuid;

#[derive(Debug, Arbitrary)]
struct Input {
    entry_id: u128,
    tenant: u128,
    seq: i64,
    action: u8,
    via: u8,
    entity_type: String,
    entity_id: String,
    user_id: String,
    upn: Option<String>,
    millis: i64,
    /// The entry's `changes`: JSON when it parses, else one string field.
    changes: String,
    hostname: String,
    app_name: String,
    facility: u8,
}

fuzz_target!(|input: Input| {
    let changes = serde_json::from_str(&input.changes)
        .unwrap_or_else(|_| serde_json::json!({ "title": { "after": input.changes } }));
    let entry = AuditEntry {
        seq: input.seq,
        tenant_id: OrgId::from_uuid(Uuid::from_u128(input.tenant)),
        draft: AuditDraft {
            id: AuditId::from_uuid(Uuid::from_u128(input.entry_id)),
            action: AuditAction::ALL[usize::from(input.action) % AuditAction::ALL.len()],
            entity_type: input.entity_type,
            entity_id: input.entity_id,
            user_id: input.user_id,
            upn: input.upn,
            oid: None,
            // Inside the years the JSON view can print (0000–9999).
            timestamp: Timestamp::from_millis(input.millis.rem_euclid(253_402_300_799_000)),
            via: Channel::ALL[usize::from(input.via) % Channel::ALL.len()],
            changes,
        },
        seal: Default::default(),
    };
    let event = Event::of(&entry);
    let view = event.view();

    let line = cef::line(&view);
    assert!(!line.contains(['\n', '\r']), "line break in a CEF line: {line:?}");
    let fields = split_unescaped(&line, '|', 7);
    assert_eq!(fields.len(), 8, "header fields: {line:?}");
    let flat = |s: String| s.replace(['\r', '\n'], " ");
    assert_eq!(
        unescape(&fields[4]),
        flat(format!("{}.{}", view.entity_type, view.action))
    );
    assert_eq!(
        unescape(&fields[5]),
        flat(format!("{} {}", view.entity_type, view.action))
    );
    let read_back = extension(&fields[7]);
    let written = cef::extension_values(&view);
    assert_eq!(read_back.len(), cef::EXTENSION_KEYS.len(), "{line:?}");
    for ((key, value), (want_key, want_value)) in
        read_back.iter().zip(cef::EXTENSION_KEYS.iter().zip(written.iter()))
    {
        assert_eq!(key, want_key, "{line:?}");
        assert_eq!(value, want_value, "{line:?}");
    }

    let header = syslog::SyslogHeader {
        facility: input.facility,
        app_name: input.app_name,
        hostname: input.hostname,
    };
    let message = syslog::message(&header, &view);
    assert!(!message.contains(&b'\n') && !message.contains(&b'\r'));
    let text = String::from_utf8(message.clone()).expect("a syslog message is UTF-8");
    // PRI+VERSION, TIMESTAMP, HOSTNAME, APP-NAME, PROCID, MSGID, then the structured data.
    let fields: Vec<&str> = text.splitn(7, ' ').collect();
    assert_eq!(fields.len(), 7, "{text:?}");
    assert!(fields[1..6].iter().all(|f| !f.is_empty()), "{text:?}");
    assert!(fields[6].starts_with("[tater@32473 "), "syslog header fields: {text:?}");
    let framed = syslog::octet_counted(&message);
    let (count, rest) = framed.split_at(framed.iter().position(|b| *b == b' ').unwrap_or(0));
    let count: usize = std::str::from_utf8(count).unwrap_or("").parse().unwrap_or(usize::MAX);
    assert_eq!(count, rest.len() - 1);
});

/// Splits on `sep` not preceded by an escaping backslash, at most `max` times.
fn split_unescaped(s: &str, sep: char, max: usize) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for c in s.chars() {
        let last = parts.len() - 1;
        if escaped {
            parts[last].push(c);
            escaped = false;
        } else if c == '\\' {
            parts[last].push(c);
            escaped = true;
        } else if c == sep && last < max {
            parts.push(String::new());
        } else {
            parts[last].push(c);
        }
    }
    parts
}

/// Reverses CEF escaping (header and extension escapes alike).
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Reads `key=value` pairs the way a CEF receiver does: a key is the word before an unescaped
/// `=`, and its value runs to the space before the next key.
fn extension(ext: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = ext.chars().collect();
    let mut equals = Vec::new();
    let mut escaped = false;
    for (i, c) in chars.iter().enumerate() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '=') => equals.push(i),
            _ => {}
        }
    }
    let key_start = |eq: usize| {
        chars[..eq]
            .iter()
            .rposition(|c| *c == ' ')
            .map_or(0, |p| p + 1)
    };
    let mut pairs = Vec::new();
    for (n, eq) in equals.iter().enumerate() {
        let start = key_start(*eq);
        let end = equals.get(n + 1).map_or(chars.len(), |next| key_start(*next) - 1);
        let key: String = chars[start..*eq].iter().collect();
        let value: String = chars[eq + 1..end.max(eq + 1)].iter().collect();
        pairs.push((key, unescape(&value)));
    }
    pairs
}
