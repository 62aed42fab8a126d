//! Sealing an entry: its canonical form, its link in the tenant's hash chain, its signature;
//! and checkpoints over the chain.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tater_domain::{AuditAction, AuditEntry, AuditId, AuditSeal, Channel, OrgId, Timestamp};

use crate::AuditKeys;

/// The `prevHash` of a tenant's first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields the chain hash covers, in canonical (sorted) order.
pub const CANONICAL_FIELDS: [&str; 12] = [
    "action",
    "changes",
    "entityId",
    "entityType",
    "id",
    "oid",
    "seq",
    "tenantId",
    "timestamp",
    "upn",
    "userId",
    "via",
];

/// The fields L2 signs, in order.
pub const SIGNED_FIELDS: [&str; 7] = [
    "id",
    "tenantId",
    "action",
    "entityType",
    "entityId",
    "userId",
    "timestamp",
];

/// An entry as the API and the export show it: the entry's fields and its seal.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "AuditEntry")]
pub struct EntryView {
    pub id: AuditId,
    pub tenant_id: OrgId,
    /// Position in the organization's log, 1-based, without gaps.
    pub seq: i64,
    pub action: AuditAction,
    pub entity_type: String,
    pub entity_id: String,
    pub user_id: String,
    pub upn: Option<String>,
    pub oid: Option<String>,
    /// ISO 8601 UTC with milliseconds.
    pub timestamp: Timestamp,
    pub via: Channel,
    /// `{field: {before, after}}`, secrets redacted.
    pub changes: Value,
    /// The previous entry's hash (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 of prevHash and the canonical entry.
    pub hash: String,
    /// The signing key's id.
    pub key_id: Option<String>,
    /// Hex HMAC-SHA256 of id|tenantId|action|entityType|entityId|userId|timestamp.
    pub signature: Option<String>,
}

impl From<&AuditEntry> for EntryView {
    fn from(e: &AuditEntry) -> Self {
        let d = &e.draft;
        Self {
            id: d.id,
            tenant_id: e.tenant_id,
            seq: e.seq,
            action: d.action,
            entity_type: d.entity_type.clone(),
            entity_id: d.entity_id.clone(),
            user_id: d.user_id.clone(),
            upn: d.upn.clone(),
            oid: d.oid.clone(),
            timestamp: d.timestamp,
            via: d.via,
            changes: d.changes.clone(),
            prev_hash: e.seal.prev_hash.clone(),
            hash: e.seal.hash.clone(),
            key_id: e.seal.key_id.clone(),
            signature: e.seal.signature.clone(),
        }
    }
}

/// [`EntryView`] as JSON (what export lines and signature checks read).
pub fn entry_json(e: &AuditEntry) -> Value {
    // A struct of strings, numbers and a JSON value always serializes.
    serde_json::to_value(EntryView::from(e)).unwrap_or(Value::Null)
}

/// The string L2 signs: `id|tenantId|action|entityType|entityId|userId|timestamp`, each field
/// exactly as the API returns it.
pub fn signature_payload(e: &AuditEntry) -> String {
    signature_payload_of(&entry_json(e))
}

/// [`signature_payload`] of an entry as JSON (an API answer or an export line), taking each
/// field's text as it appears there.
pub fn signature_payload_of(entry: &Value) -> String {
    let mut out = String::with_capacity(256);
    for (i, f) in SIGNED_FIELDS.iter().enumerate() {
        if i > 0 {
            out.push('|');
        }
        match entry.get(f) {
            Some(Value::String(s)) => out.push_str(s),
            Some(Value::Null) | None => {}
            Some(other) => out.push_str(&other.to_string()),
        }
    }
    out
}

/// The entry's canonical form, which the chain hash covers: the JSON object of the
/// [`CANONICAL_FIELDS`] with keys sorted (at every depth, by code point) and no whitespace —
/// what `python3 -c 'import json,sys; print(json.dumps(obj, sort_keys=True,
/// separators=(",",":"), ensure_ascii=False))'` prints for the same fields. The seal itself
/// (hashes, key id, signature) is not part of it.
pub fn canonical(e: &AuditEntry) -> String {
    canonical_of(&entry_json(e))
}

/// [`canonical`] of an entry as JSON; a missing field counts as `null`.
pub fn canonical_of(entry: &Value) -> String {
    // CANONICAL_FIELDS is already in sorted order, so the top level is written directly.
    let mut out = Vec::with_capacity(512);
    out.push(b'{');
    for (i, field) in CANONICAL_FIELDS.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(field, &mut out);
        out.push(b':');
        write_sorted(entry.get(field).unwrap_or(&Value::Null), &mut out);
    }
    out.push(b'}');
    // serde_json writes valid UTF-8 only.
    String::from_utf8(out).unwrap_or_default()
}

/// Any JSON value in the same canonical form: compact, object keys sorted at every depth
/// (Python's `json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`).
pub fn canonical_json(v: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    write_sorted(v, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// A JSON value read only to be written in canonical form: strings borrowed from the input
/// where it has no escapes, objects kept as lists, so no map (and no hashing of keys) is built
/// for each entry's `changes`. [`Canon::write`] writes the same bytes as the canonical form of
/// the same text read as a `serde_json::Value` (a repeated key keeps its last value, as there).
#[derive(Debug, Clone)]
pub(crate) enum Canon<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(Cow<'a, str>),
    Array(Vec<Canon<'a>>),
    Object(Vec<(Cow<'a, str>, Canon<'a>)>),
}

impl Canon<'_> {
    /// A field that is not there counts as `null`, as in [`canonical_of`].
    pub(crate) fn missing() -> Self {
        Canon::Null
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            Canon::Null => out.extend_from_slice(b"null"),
            Canon::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Canon::Number(n) => {
                let _ = serde_json::to_writer(&mut *out, n);
            }
            Canon::Str(s) => write_str(s, out),
            Canon::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Canon::Object(members) => {
                // A stable sort keeps repeated keys in input order: the last one counts.
                let mut sorted: Vec<&(Cow<'_, str>, Canon<'_>)> = members.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                out.push(b'{');
                let mut first = true;
                for (i, (k, v)) in sorted.iter().map(|m| (&m.0, &m.1)).enumerate() {
                    if sorted.get(i + 1).is_some_and(|next| next.0 == *k) {
                        continue;
                    }
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    write_str(k, out);
                    out.push(b':');
                    v.write(out);
                }
                out.push(b'}');
            }
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Canon<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CanonVisitor)
    }
}

struct CanonVisitor;

impl<'de> serde::de::Visitor<'de> for CanonVisitor {
    type Value = Canon<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Canon::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Canon::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Canon::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Canon::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Canon::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
        // JSON text has no NaN or infinity; serde_json's own Value writes them as null.
        Ok(serde_json::Number::from_f64(n).map_or(Canon::Null, Canon::Number))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Canon::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Canon::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Canon::Str(Cow::Owned(s)))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Canon::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<Canon<'de>>()? {
            let Canon::Str(key) = key else {
                return Err(serde::de::Error::custom(
                    "an object key that is not a string",
                ));
            };
            members.push((key, map.next_value()?));
        }
        Ok(Canon::Object(members))
    }
}

/// An entry's fields, borrowed from wherever they were read, for a reader that has them without
/// a JSON tree (the export reader's fast path, `verify.rs`). Writes the same bytes as
/// [`canonical_of`] and [`signature_payload_of`] of the same entry.
pub(crate) struct EntryFields<'a> {
    pub action: &'a str,
    pub changes: &'a Canon<'a>,
    pub entity_id: &'a str,
    pub entity_type: &'a str,
    pub id: &'a str,
    pub oid: Option<&'a str>,
    pub seq: i64,
    pub tenant_id: &'a str,
    pub timestamp: &'a str,
    pub upn: Option<&'a str>,
    pub user_id: &'a str,
    pub via: &'a str,
}

impl EntryFields<'_> {
    /// [`canonical_of`], field by field in [`CANONICAL_FIELDS`] order.
    pub(crate) fn canonical(&self) -> String {
        let text = |s: Option<&str>, out: &mut Vec<u8>| match s {
            Some(s) => write_str(s, out),
            None => out.extend_from_slice(b"null"),
        };
        let mut out = Vec::with_capacity(512);
        for (i, field) in CANONICAL_FIELDS.iter().enumerate() {
            out.push(if i == 0 { b'{' } else { b',' });
            write_str(field, &mut out);
            out.push(b':');
            match *field {
                "action" => text(Some(self.action), &mut out),
                "changes" => self.changes.write(&mut out),
                "entityId" => text(Some(self.entity_id), &mut out),
                "entityType" => text(Some(self.entity_type), &mut out),
                "id" => text(Some(self.id), &mut out),
                "oid" => text(self.oid, &mut out),
                "seq" => out.extend_from_slice(self.seq.to_string().as_bytes()),
                "tenantId" => text(Some(self.tenant_id), &mut out),
                "timestamp" => text(Some(self.timestamp), &mut out),
                "upn" => text(self.upn, &mut out),
                "userId" => text(Some(self.user_id), &mut out),
                "via" => text(Some(self.via), &mut out),
                // Not a field this type has: missing, as `canonical_of` writes a missing one.
                _ => out.extend_from_slice(b"null"),
            }
        }
        out.push(b'}');
        String::from_utf8(out).unwrap_or_default()
    }

    /// [`signature_payload_of`], from the same fields.
    pub(crate) fn signature_payload(&self) -> String {
        [
            self.id,
            self.tenant_id,
            self.action,
            self.entity_type,
            self.entity_id,
            self.user_id,
            self.timestamp,
        ]
        .join("|")
    }
}

/// A JSON string, escaped as serde_json escapes (the same as Python's `json.dumps` with
/// `ensure_ascii=False`).
fn write_str(s: &str, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Compact JSON with object keys sorted, whatever order the map kept them in (PostgreSQL's
/// JSONB reorders keys, so stored order cannot be relied on).
fn write_sorted(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(k, out);
                out.push(b':');
                write_sorted(&map[k], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_sorted(item, out);
            }
            out.push(b']');
        }
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

/// `SHA-256(prev_hash ‖ canonical)` as lowercase hex; `prev_hash` is taken as its 64 ASCII hex
/// digits, so `printf '%s%s' "$prev" "$canonical" | sha256sum` reproduces it.
pub fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    hex::encode(
        Sha256::new()
            .chain_update(prev_hash.as_bytes())
            .chain_update(canonical.as_bytes())
            .finalize(),
    )
}

/// Seals an entry that follows `prev_hash` in its tenant's log: the chain hash, and the
/// signature when a signing key is configured. `entry.seal` is ignored and replaced.
pub fn seal(entry: &AuditEntry, prev_hash: &str, keys: &AuditKeys) -> AuditSeal {
    let view = entry_json(entry);
    let hash = chain_hash(prev_hash, &canonical_of(&view));
    let (key_id, signature) = sign(keys, &signature_payload_of(&view));
    AuditSeal {
        prev_hash: prev_hash.to_owned(),
        hash,
        key_id,
        signature,
    }
}

/// A signed statement that a tenant's log held `seq` entries, the last with hash `head_hash`,
/// at `timestamp`. An auditor who keeps one can later prove the log was not truncated or
/// rewritten before that point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checkpoint {
    pub tenant_id: OrgId,
    pub seq: i64,
    pub head_hash: String,
    pub timestamp: Timestamp,
    pub key_id: Option<String>,
    pub signature: Option<String>,
}

impl Checkpoint {
    /// A checkpoint of the head `(seq, head_hash)`, signed when a key is configured.
    pub fn new(
        tenant_id: OrgId,
        seq: i64,
        head_hash: &str,
        timestamp: Timestamp,
        keys: &AuditKeys,
    ) -> Self {
        let mut cp = Self {
            tenant_id,
            seq,
            head_hash: head_hash.to_owned(),
            timestamp,
            key_id: None,
            signature: None,
        };
        (cp.key_id, cp.signature) = sign(keys, &cp.payload());
        cp
    }

    /// What the checkpoint signature covers: `checkpoint|tenantId|seq|headHash|timestamp`.
    pub fn payload(&self) -> String {
        format!(
            "checkpoint|{}|{}|{}|{}",
            self.tenant_id, self.seq, self.head_hash, self.timestamp
        )
    }
}

/// The key id and signature of `payload` with the signing key, if one is configured.
fn sign(keys: &AuditKeys, payload: &str) -> (Option<String>, Option<String>) {
    match keys.signing() {
        Some(k) => (Some(k.id().to_owned()), Some(k.sign(payload))),
        None => (None, None),
    }
}

/// A signed statement that a tenant's log was pruned by its retention period: entries 1 to
/// `seq` were deleted at `timestamp`, and entry `seq` had hash `head_hash`. The history kept
/// starts at entry `seq + 1`, whose `prevHash` is `head_hash`; a verifier starts the chain
/// there instead of at the genesis hash. Signed like a checkpoint, so deleting the start of
/// a log is only possible with the signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HistoryStart {
    pub tenant_id: OrgId,
    /// The last entry deleted.
    pub seq: i64,
    /// That entry's hash.
    pub head_hash: String,
    /// When the entries were deleted.
    pub timestamp: Timestamp,
    pub key_id: Option<String>,
    pub signature: Option<String>,
}

impl HistoryStart {
    /// The start after deleting entries up to `seq` (whose hash was `head_hash`).
    pub fn new(
        tenant_id: OrgId,
        seq: i64,
        head_hash: &str,
        timestamp: Timestamp,
        keys: &AuditKeys,
    ) -> Self {
        let mut start = Self {
            tenant_id,
            seq,
            head_hash: head_hash.to_owned(),
            timestamp,
            key_id: None,
            signature: None,
        };
        (start.key_id, start.signature) = sign(keys, &start.payload());
        start
    }

    /// What its signature covers: `history-start|tenantId|seq|headHash|timestamp`.
    pub fn payload(&self) -> String {
        format!(
            "history-start|{}|{}|{}|{}",
            self.tenant_id, self.seq, self.head_hash, self.timestamp
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;
    use tater_domain::{AuditAction, AuditDraft, AuditId, Channel};

    pub(crate) fn entry(seq: i64) -> AuditEntry {
        AuditEntry {
            seq,
            tenant_id: OrgId::generate(),
            draft: AuditDraft {
                id: AuditId::generate(),
                action: AuditAction::Update,
                entity_type: "poam".into(),
                entity_id: "e|1".into(),
                user_id: "u1".into(),
                upn: Some("a@b.c".into()),
                oid: None,
                timestamp: Timestamp::from_millis(1_764_450_253_123),
                via: Channel::Web,
                changes: json!({"z": {"after": 1}, "a": {"before": "x\n\"y\"", "after": null}}),
            },
            seal: AuditSeal::default(),
        }
    }

    #[test]
    fn canonical_form_sorts_keys_at_every_depth() {
        let e = entry(7);
        let c = canonical(&e);
        assert!(c.starts_with(r#"{"action":"update","changes":{"a":{"after":null,"before":"x\n\"y\""},"z":{"after":1}},"entityId":"e|1""#), "{c}");
        assert!(c.contains(r#""seq":7,"#), "{c}");
        assert!(
            c.contains(r#""timestamp":"2025-11-29T21:04:13.123Z""#),
            "{c}"
        );
        assert!(
            c.ends_with(r#""upn":"a@b.c","userId":"u1","via":"web"}"#),
            "{c}"
        );
    }

    #[test]
    fn the_payload_joins_the_fields_with_pipes() {
        let e = entry(1);
        let p = signature_payload(&e);
        assert_eq!(p.split('|').count(), 8, "entity id contains a pipe: {p}");
        assert!(p.ends_with("|u1|2025-11-29T21:04:13.123Z"));
    }

    #[test]
    fn sealing_links_to_the_previous_hash() {
        let keys = AuditKeys::new(Some("k".repeat(32).as_str()), &[]).unwrap();
        let e = entry(1);
        let s = seal(&e, GENESIS_HASH, &keys);
        assert_eq!(s.prev_hash, GENESIS_HASH);
        assert_eq!(s.hash.len(), 64);
        assert_ne!(seal(&e, &s.hash, &keys).hash, s.hash);
        assert_eq!(s.key_id.as_deref(), keys.signing().map(|k| k.id()));
        assert!(
            keys.signing()
                .unwrap()
                .verifies(&signature_payload(&e), s.signature.as_deref().unwrap())
        );
        assert_eq!(seal(&e, GENESIS_HASH, &AuditKeys::none()).signature, None);
    }
}
