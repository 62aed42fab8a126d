//! Verifying a log: each entry's hash and signature, the links between entries, checkpoints
//! and the export's end line. One [`Verifier`] serves the offline command (fed from a file)
//! and `GET /api/audit-log/verify` (fed from the database); it keeps constant memory apart
//! from the checkpoints not yet reached.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::BufRead;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use rayon::prelude::*;

use crate::export::{ExportEnd, ExportHeader, Line};
use crate::seal::{
    Canon, EntryFields, GENESIS_HASH, canonical_of, chain_hash, signature_payload_of,
};
use crate::{AuditKeys, Checkpoint, HistoryStart};
use tater_domain::Timestamp;

/// At most this many findings are listed (all are counted).
pub const MAX_FINDINGS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FindingKind {
    /// A line that is not a well-formed record.
    Malformed,
    /// An entry whose content does not match its own hash.
    Altered,
    /// A wrong signature, or an unsigned entry after signing began.
    BadSignature,
    /// Signed by a key the verifier was not given.
    UnknownKey,
    /// Missing, reordered, repeated or replaced entries.
    ChainBreak,
    /// A checkpoint that disagrees with the log, or is itself badly signed.
    CheckpointMismatch,
    /// Entries missing from the end.
    Truncated,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub kind: FindingKind,
    /// The first sequence number concerned, when there is one.
    pub seq: Option<i64>,
    pub message: String,
}

/// What verifying a log found (`ok` is false when anything is wrong).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub ok: bool,
    pub entries_checked: u64,
    pub signed: u64,
    pub unsigned: u64,
    /// Whether any key was at hand to check signatures.
    pub signatures_checked: bool,
    pub checkpoints: u64,
    /// Whether links between entries were checked (not for a filtered export).
    pub chain_checked: bool,
    pub last_seq: Option<i64>,
    pub head_hash: Option<String>,
    /// The first entry kept when the organization's retention period deleted the ones
    /// before it (`null`: the log is whole from entry 1).
    pub history_starts_at: Option<i64>,
    /// When those older entries were deleted.
    pub pruned_at: Option<Timestamp>,
    pub altered_entries: u64,
    pub bad_signatures: u64,
    pub unknown_keys: u64,
    pub chain_breaks: u64,
    pub checkpoint_mismatches: u64,
    pub truncated: bool,
    pub malformed_lines: u64,
    pub first_bad_seq: Option<i64>,
    pub findings: Vec<Finding>,
}

/// What one entry shows on its own, before its place in the chain is known: whether its
/// content matches its hash and its signature verifies. This is the costly part of verifying
/// (the canonical form, SHA-256, HMAC), so a reader can work it out for many entries at once
/// ([`verify_jsonl`] does, on every core) and feed the results to [`Verifier::checked_entry`]
/// in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFacts {
    seq: Option<i64>,
    tenant: String,
    prev: String,
    hash: String,
    hash_matches: bool,
    signature: Signature,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Signature {
    Unsigned,
    /// Signed, but no key was given to check it with.
    Unchecked,
    UnknownKey(String),
    Bad,
    Good,
}

impl Signature {
    /// The verdict on a `(keyId, signature)` pair over the payload `payload` makes.
    fn of(
        seal: (Option<&str>, Option<&str>),
        payload: impl FnOnce() -> String,
        keys: &AuditKeys,
    ) -> Self {
        match seal {
            (Some(key_id), Some(sig)) if keys.can_verify() => match keys.by_id(key_id) {
                None => Signature::UnknownKey(key_id.to_owned()),
                Some(k) if k.verifies(&payload(), sig) => Signature::Good,
                Some(_) => Signature::Bad,
            },
            (Some(_), Some(_)) => Signature::Unchecked,
            _ => Signature::Unsigned,
        }
    }
}

impl EntryFacts {
    fn new(
        fields: &EntryFields<'_>,
        prev: &str,
        hash: &str,
        seal: (Option<&str>, Option<&str>),
        keys: &AuditKeys,
    ) -> Self {
        Self {
            seq: Some(fields.seq),
            tenant: fields.tenant_id.to_owned(),
            prev: prev.to_owned(),
            hash: hash.to_owned(),
            hash_matches: chain_hash(prev, &fields.canonical()) == hash,
            signature: Signature::of(seal, || fields.signature_payload(), keys),
        }
    }

    /// Checks `entry` (as the API and the export show it) against its own hash and signature.
    pub fn of(entry: &Value, keys: &AuditKeys) -> Self {
        let text = |k: &str| {
            entry
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let seq = entry.get("seq").and_then(Value::as_i64);
        if seq.is_none() {
            // Malformed: nothing else is looked at.
            return Self {
                seq,
                tenant: String::new(),
                prev: String::new(),
                hash: String::new(),
                hash_matches: false,
                signature: Signature::Unsigned,
            };
        }
        let (prev, hash) = (text("prevHash"), text("hash"));
        let hash_matches = chain_hash(&prev, &canonical_of(entry)) == hash;
        let seal = (
            entry.get("keyId").and_then(Value::as_str),
            entry.get("signature").and_then(Value::as_str),
        );
        let signature = Signature::of(seal, || signature_payload_of(entry), keys);
        Self {
            seq,
            tenant: text("tenantId"),
            prev,
            hash,
            hash_matches,
            signature,
        }
    }
}

/// Walks one tenant's log in sequence order.
pub struct Verifier<'k> {
    keys: &'k AuditKeys,
    filtered: bool,
    tenant: Option<String>,
    last: Option<(i64, String)>,
    pending: BTreeMap<i64, Checkpoint>,
    seen_signed: bool,
    /// Whether the history start (if any) was unsigned: wrong once entries are signed.
    unsigned_start: bool,
    report: Report,
}

impl<'k> Verifier<'k> {
    /// `filtered`: the entries are a filtered selection, so gaps are expected.
    pub fn new(keys: &'k AuditKeys, filtered: bool) -> Self {
        Self {
            keys,
            filtered,
            tenant: None,
            last: None,
            pending: BTreeMap::new(),
            seen_signed: false,
            unsigned_start: false,
            report: Report {
                signatures_checked: keys.can_verify(),
                chain_checked: !filtered,
                ..Report::default()
            },
        }
    }

    fn find(&mut self, kind: FindingKind, seq: Option<i64>, message: String) {
        let r = &mut self.report;
        match kind {
            FindingKind::Malformed => r.malformed_lines += 1,
            FindingKind::Altered => r.altered_entries += 1,
            FindingKind::BadSignature => r.bad_signatures += 1,
            FindingKind::UnknownKey => r.unknown_keys += 1,
            FindingKind::ChainBreak => r.chain_breaks += 1,
            FindingKind::CheckpointMismatch => r.checkpoint_mismatches += 1,
            FindingKind::Truncated => r.truncated = true,
        }
        if let Some(s) = seq {
            r.first_bad_seq = Some(r.first_bad_seq.map_or(s, |f| f.min(s)));
        }
        if r.findings.len() < MAX_FINDINGS {
            r.findings.push(Finding { kind, seq, message });
        }
    }

    /// Records a malformed line (for file input).
    pub fn malformed(&mut self, line: u64, why: &str) {
        self.find(FindingKind::Malformed, None, format!("line {line}: {why}"));
    }

    /// Every entry and checkpoint must belong to the first tenant seen.
    fn same_tenant(&mut self, tenant: &str, seq: i64, what: &str) -> bool {
        match &self.tenant {
            None => {
                self.tenant = Some(tenant.to_owned());
                true
            }
            Some(t) if t == tenant => true,
            Some(_) => {
                let msg = format!("{what} at seq {seq} belongs to another tenant ({tenant})");
                self.find(FindingKind::ChainBreak, Some(seq), msg);
                false
            }
        }
    }

    /// Checks the next entry (as the API shows it).
    pub fn entry(&mut self, entry: &Value) {
        self.checked_entry(EntryFacts::of(entry, self.keys));
    }

    /// Takes the next entry's [`EntryFacts`] (made with this verifier's keys) into the walk:
    /// its hash, its link to the entry before, its signature, a checkpoint waiting for it.
    pub fn checked_entry(&mut self, facts: EntryFacts) {
        let Some(seq) = facts.seq else {
            self.find(
                FindingKind::Malformed,
                None,
                "an entry without an integer seq".into(),
            );
            return;
        };
        self.report.entries_checked += 1;
        if !self.same_tenant(&facts.tenant, seq, "entry") {
            return;
        }
        if !facts.hash_matches {
            let msg = format!("entry {seq} does not match its hash: its content was altered");
            self.find(FindingKind::Altered, Some(seq), msg);
        }
        if !self.filtered {
            self.link(seq, &facts.prev);
        }
        self.signature(facts.signature, seq);
        if let Some(cp) = self.pending.remove(&seq) {
            self.compare_checkpoint(&cp, &facts.hash);
        }
        if self.last.as_ref().is_none_or(|(last, _)| seq > *last) {
            self.last = Some((seq, facts.hash));
        }
    }

    fn link(&mut self, seq: i64, prev: &str) {
        let (kind, at, msg) = match &self.last {
            None if seq == 1 && prev == GENESIS_HASH => return,
            None if seq == 1 => (
                FindingKind::ChainBreak,
                1,
                "entry 1 does not start the chain (its prevHash is not the genesis hash)".into(),
            ),
            None => (
                FindingKind::ChainBreak,
                1,
                format!("entries 1 to {} are missing", seq - 1),
            ),
            Some((last, last_hash)) if seq == last + 1 => {
                if prev == last_hash {
                    return;
                }
                (
                    FindingKind::ChainBreak,
                    seq,
                    format!(
                        "entry {seq} does not follow entry {last} (prevHash differs): an entry \
                         was replaced or inserted"
                    ),
                )
            }
            Some((last, _)) if seq > last + 1 => (
                FindingKind::ChainBreak,
                last + 1,
                if seq == last + 2 {
                    format!("entry {} is missing", last + 1)
                } else {
                    format!("entries {} to {} are missing", last + 1, seq - 1)
                },
            ),
            Some((last, _)) => (
                FindingKind::ChainBreak,
                seq,
                format!("entry {seq} is out of order or repeated (it comes after entry {last})"),
            ),
        };
        self.find(kind, Some(at), msg);
    }

    fn signature(&mut self, signature: Signature, seq: i64) {
        if let Signature::Unsigned = signature {
            self.report.unsigned += 1;
            if self.seen_signed && self.keys.can_verify() {
                let msg = format!("entry {seq} is unsigned although earlier entries are signed");
                self.find(FindingKind::BadSignature, Some(seq), msg);
            }
            return;
        }
        self.report.signed += 1;
        self.seen_signed = true;
        match signature {
            Signature::UnknownKey(key_id) => {
                let msg = format!("entry {seq} is signed with key {key_id}, which was not given");
                self.find(FindingKind::UnknownKey, Some(seq), msg);
            }
            Signature::Bad => {
                let msg = format!("entry {seq} has a bad signature");
                self.find(FindingKind::BadSignature, Some(seq), msg);
            }
            Signature::Unsigned | Signature::Unchecked | Signature::Good => {}
        }
    }

    /// Where the kept history starts (before any entry): the chain continues from the last
    /// deleted entry's hash instead of the genesis hash.
    pub fn start(&mut self, start: HistoryStart) {
        if self.last.is_some() || self.report.entries_checked > 0 || start.seq < 1 {
            let msg = format!(
                "the history start at seq {} is out of place (it must come first and follow \
                 at least one deleted entry)",
                start.seq
            );
            self.find(FindingKind::Malformed, Some(start.seq.max(1)), msg);
            return;
        }
        if !self.same_tenant(&start.tenant_id.to_string(), start.seq, "history start") {
            return;
        }
        let (key_id, sig) = (start.key_id.as_deref(), start.signature.as_deref());
        if let Some(why) =
            self.signature_problem("history start", start.seq, key_id, sig, &start.payload())
        {
            self.find(FindingKind::CheckpointMismatch, Some(start.seq), why);
        }
        // Half a seal is no seal: a start with a signature but no key id (or the reverse)
        // is judged unsigned once entries are known to be signed (see `finish`).
        self.unsigned_start = key_id.is_none() || sig.is_none();
        self.report.history_starts_at = Some(start.seq + 1);
        self.report.pruned_at = Some(start.timestamp);
        self.last = Some((start.seq, start.head_hash));
    }

    /// Registers a checkpoint; it is compared with the entry of its sequence number, whether
    /// that entry was already seen (the export puts checkpoints right after it) or comes later.
    pub fn checkpoint(&mut self, cp: Checkpoint) {
        self.report.checkpoints += 1;
        if !self.same_tenant(&cp.tenant_id.to_string(), cp.seq, "checkpoint") {
            return;
        }
        let (key_id, sig) = (cp.key_id.as_deref(), cp.signature.as_deref());
        if let Some(why) = self.signature_problem("checkpoint", cp.seq, key_id, sig, &cp.payload())
        {
            self.find(FindingKind::CheckpointMismatch, Some(cp.seq), why);
        }
        match self.last.clone() {
            Some((seq, hash)) if seq == cp.seq => self.compare_checkpoint(&cp, &hash),
            Some((seq, _)) if cp.seq < seq => {
                let msg = format!(
                    "checkpoint at seq {} is out of place (after entry {seq})",
                    cp.seq
                );
                self.find(FindingKind::CheckpointMismatch, Some(cp.seq), msg);
            }
            _ => {
                self.pending.insert(cp.seq, cp);
            }
        }
    }

    /// What is wrong with the signature of a checkpoint or history start (`what`), if
    /// anything: unsigned once entries are signed, an unknown key, or a bad signature.
    fn signature_problem(
        &self,
        what: &str,
        seq: i64,
        key_id: Option<&str>,
        signature: Option<&str>,
        payload: &str,
    ) -> Option<String> {
        if !self.keys.can_verify() {
            return None;
        }
        let (Some(key_id), Some(sig)) = (key_id, signature) else {
            return self
                .seen_signed
                .then(|| format!("{what} at seq {seq} is unsigned"));
        };
        match self.keys.by_id(key_id) {
            None => Some(format!(
                "{what} at seq {seq} is signed with key {key_id}, which was not given"
            )),
            Some(k) if !k.verifies(payload, sig) => {
                Some(format!("{what} at seq {seq} has a bad signature"))
            }
            Some(_) => None,
        }
    }

    fn compare_checkpoint(&mut self, cp: &Checkpoint, hash: &str) {
        if cp.head_hash != hash {
            let msg = format!(
                "checkpoint of {} says entry {} had hash {}, the log has {hash}: the log was \
                 rewritten",
                cp.timestamp, cp.seq, cp.head_hash
            );
            self.find(FindingKind::CheckpointMismatch, Some(cp.seq), msg);
        }
    }

    /// Compares the end of what was read with a head recorded elsewhere (the database's
    /// head row, or an export's end line), named `source` in findings.
    pub fn head(&mut self, last_seq: i64, head_hash: &str, source: &str) {
        let (seq, hash) = self.last.clone().unwrap_or((0, GENESIS_HASH.to_owned()));
        if last_seq > seq {
            let msg = format!(
                "{source} says the log ends at entry {last_seq}, but it ends at {seq}: entries \
                 {} to {last_seq} were removed",
                seq + 1
            );
            self.find(FindingKind::Truncated, Some(seq + 1), msg);
        } else if last_seq != seq || head_hash != hash {
            let msg = format!(
                "{source} (entry {last_seq}, hash {head_hash}) does not match the log's last \
                 entry ({seq}, hash {hash})"
            );
            self.find(FindingKind::ChainBreak, Some(last_seq.min(seq).max(1)), msg);
        }
    }

    /// Checks an export's end line (count, head, signature).
    pub fn end(&mut self, end: &ExportEnd) {
        if end.entries != self.report.entries_checked {
            let msg = format!(
                "the end line counts {} entries, the file has {}",
                end.entries, self.report.entries_checked
            );
            let at = self.last.as_ref().map(|(s, _)| s + 1);
            self.find(FindingKind::Truncated, at, msg);
        }
        self.head(end.last_seq, &end.head_hash, "the end line");
        if self.keys.can_verify() {
            let good = match (&end.key_id, &end.signature) {
                (Some(id), Some(sig)) => self
                    .keys
                    .by_id(id)
                    .is_some_and(|k| k.verifies(&end.payload(), sig)),
                _ => !self.seen_signed,
            };
            if !good {
                self.find(
                    FindingKind::Truncated,
                    None,
                    "the end line's signature is bad or missing".into(),
                );
            }
        }
    }

    /// The report, after checking that no checkpoint points past the end.
    pub fn finish(mut self) -> Report {
        let (last_seq, _) = self.last.clone().unwrap_or((0, GENESIS_HASH.to_owned()));
        if self.unsigned_start && self.seen_signed && self.keys.can_verify() {
            let at = self.report.history_starts_at;
            let msg = "the history start is unsigned although the entries are signed: the start \
                       of the log may have been cut off"
                .to_owned();
            self.find(FindingKind::CheckpointMismatch, at, msg);
        }
        let pending = std::mem::take(&mut self.pending);
        for cp in pending.values() {
            if self.filtered {
                continue;
            }
            if cp.seq > last_seq {
                let msg = format!(
                    "checkpoint of {} says the log had {} entries, it ends at {last_seq}: \
                     entries after {last_seq} were removed",
                    cp.timestamp, cp.seq
                );
                self.find(FindingKind::Truncated, Some(last_seq + 1), msg);
            } else {
                let msg = format!("checkpoint at seq {} has no entry in the log", cp.seq);
                self.find(FindingKind::CheckpointMismatch, Some(cp.seq), msg);
            }
        }
        let mut report = self.report;
        report.last_seq = self.last.as_ref().map(|(s, _)| *s);
        report.head_hash = self.last.map(|(_, h)| h);
        report.ok = report.findings.is_empty();
        report
    }
}

/// Lines read and prepared at a time: enough to keep every core busy, few enough that memory
/// stays flat (a few MiB) however long the file is.
const BATCH_LINES: usize = 4096;

/// A line of an export, parsed and, for an entry, checked on its own ([`EntryFacts`]).
enum Prepared {
    Blank,
    Malformed(String),
    Header(ExportHeader),
    Start(HistoryStart),
    Entry(EntryFacts),
    Checkpoint(Checkpoint),
    End(ExportEnd),
}

/// An entry line in its usual shape, read without building a JSON tree (most lines, and most
/// of the cost of verifying). A line of any other shape (a field of another type, a missing
/// or repeated field) does not deserialize here and is read as a [`Line`], which judges it
/// the same way, only slower. Unknown fields are refused too: serde would skip their values
/// without checking them as strictly as a full parse does (an unpaired surrogate, `1e400`,
/// nesting past the limit), so such a line must meet the general reader (found by review).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EntryLine<'a> {
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow, default = "Canon::missing")]
    changes: Canon<'a>,
    #[serde(borrow)]
    entity_id: Cow<'a, str>,
    #[serde(borrow)]
    entity_type: Cow<'a, str>,
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    oid: Option<Cow<'a, str>>,
    seq: i64,
    #[serde(borrow)]
    tenant_id: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow, default)]
    upn: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user_id: Cow<'a, str>,
    #[serde(borrow)]
    via: Cow<'a, str>,
    #[serde(borrow)]
    prev_hash: Cow<'a, str>,
    #[serde(borrow)]
    hash: Cow<'a, str>,
    #[serde(borrow, default)]
    key_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    signature: Option<Cow<'a, str>>,
}

impl EntryLine<'_> {
    fn fields(&self) -> EntryFields<'_> {
        EntryFields {
            action: &self.action,
            changes: &self.changes,
            entity_id: &self.entity_id,
            entity_type: &self.entity_type,
            id: &self.id,
            oid: self.oid.as_deref(),
            seq: self.seq,
            tenant_id: &self.tenant_id,
            timestamp: &self.timestamp,
            upn: self.upn.as_deref(),
            user_id: &self.user_id,
            via: &self.via,
        }
    }

    fn facts(&self, keys: &AuditKeys) -> EntryFacts {
        let seal = (self.key_id.as_deref(), self.signature.as_deref());
        EntryFacts::new(&self.fields(), &self.prev_hash, &self.hash, seal, keys)
    }
}

fn prepare(text: &str, keys: &AuditKeys) -> Prepared {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Prepared::Blank;
    }
    // Only an object: serde would also read a struct from a JSON array, which is no record.
    if trimmed.starts_with('{')
        && let Ok(line) = serde_json::from_str::<EntryLine<'_>>(text)
    {
        return Prepared::Entry(line.facts(keys));
    }
    match Line::parse(text) {
        Err(why) => Prepared::Malformed(why),
        Ok(Line::Header(h)) => Prepared::Header(h),
        Ok(Line::Start(s)) => Prepared::Start(s),
        Ok(Line::Entry(e)) => Prepared::Entry(EntryFacts::of(&e, keys)),
        Ok(Line::Checkpoint(cp)) => Prepared::Checkpoint(cp),
        Ok(Line::End(end)) => Prepared::End(end),
    }
}

/// Verifies a JSON Lines export read from `input`. I/O errors end the walk and are reported
/// as malformed input (the file could not be read to its end).
///
/// Lines are parsed, hashed and signature-checked in batches on every core (each entry
/// carries the hash it follows, so it can be checked alone); the walk that links them,
/// matches checkpoints and reads the end line then takes the results in file order.
pub fn verify_jsonl(input: impl BufRead, keys: &AuditKeys) -> Report {
    let mut lines = input.lines();
    let mut verifier: Option<Verifier<'_>> = None;
    let mut walk = Walk::default();
    let mut batch: Vec<String> = Vec::with_capacity(BATCH_LINES);
    let mut read_error = None;
    loop {
        batch.clear();
        while batch.len() < BATCH_LINES {
            match lines.next() {
                Some(Ok(text)) => batch.push(text),
                Some(Err(e)) => {
                    read_error = Some(e);
                    break;
                }
                None => break,
            }
        }
        let prepared: Vec<Prepared> = batch.par_iter().map(|t| prepare(t, keys)).collect();
        for p in prepared {
            // The first line says whether the export is a filtered selection.
            let v = verifier.get_or_insert_with(|| {
                Verifier::new(keys, matches!(&p, Prepared::Header(h) if h.filtered))
            });
            walk.take(v, p);
        }
        if read_error.is_some() || batch.len() < BATCH_LINES {
            break;
        }
    }
    let mut v = verifier.unwrap_or_else(|| Verifier::new(keys, false));
    if let Some(e) = read_error {
        v.malformed(walk.line + 1, &format!("cannot be read: {e}"));
    }
    if !walk.ended {
        let last = v.last.as_ref().map_or(0, |(s, _)| *s);
        let msg = format!("the file has no end line: it was cut off after entry {last}");
        v.find(FindingKind::Truncated, Some(last + 1), msg);
    }
    v.finish()
}

/// Where [`verify_jsonl`] is in the file: the line number, and whether the end line was read.
#[derive(Default)]
struct Walk {
    line: u64,
    ended: bool,
}

impl Walk {
    fn take(&mut self, v: &mut Verifier<'_>, p: Prepared) {
        self.line += 1;
        let n = self.line;
        if matches!(p, Prepared::Blank) {
            return;
        }
        if self.ended {
            v.malformed(n, "comes after the end line");
            return;
        }
        match p {
            Prepared::Blank => {}
            Prepared::Malformed(why) => v.malformed(n, &why),
            Prepared::Header(_) if n == 1 => {}
            Prepared::Header(_) => v.malformed(n, "a second header"),
            _ if n == 1 => v.malformed(1, "the file does not start with the export header"),
            Prepared::Start(s) => v.start(s),
            Prepared::Entry(facts) => v.checked_entry(facts),
            Prepared::Checkpoint(cp) => v.checkpoint(cp),
            Prepared::End(end) => {
                v.end(&end);
                self.ended = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::tests::entry;
    use crate::{HistoryStart, entry_json, seal};
    use tater_domain::{AuditEntry, OrgId};

    /// A sealed log of `n` entries of one tenant.
    fn log(n: i64, keys: &AuditKeys) -> Vec<AuditEntry> {
        let tenant = OrgId::generate();
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let mut e = entry(seq);
                e.tenant_id = tenant;
                e.seal = seal(&e, &prev, keys);
                prev = e.seal.hash.clone();
                e
            })
            .collect()
    }

    fn verify(start: Option<HistoryStart>, entries: &[AuditEntry], keys: &AuditKeys) -> Report {
        let mut v = Verifier::new(keys, false);
        if let Some(s) = start {
            v.start(s);
        }
        for e in entries {
            v.entry(&entry_json(e));
        }
        v.finish()
    }

    #[test]
    fn a_pruned_log_verifies_from_its_signed_start() {
        let keys = AuditKeys::new(Some("k".repeat(32).as_str()), &[]).unwrap();
        let entries = log(5, &keys);
        let cut = &entries[1];
        let at = Timestamp::from_millis(1_800_000_000_000);
        let start = HistoryStart::new(cut.tenant_id, 2, &cut.seal.hash, at, &keys);
        let report = verify(Some(start.clone()), &entries[2..], &keys);
        assert!(report.ok, "{:?}", report.findings);
        assert_eq!(report.history_starts_at, Some(3));
        assert_eq!(report.pruned_at, Some(at));
        assert_eq!(report.entries_checked, 3);

        // Without the start, the missing entries are a chain break.
        let bare = verify(None, &entries[2..], &keys);
        assert!(!bare.ok);
        assert_eq!(bare.chain_breaks, 1);

        // A start that cuts more than was deleted, or points at another hash, breaks the link.
        let wrong = HistoryStart::new(cut.tenant_id, 2, &entries[0].seal.hash, at, &keys);
        assert_eq!(verify(Some(wrong), &entries[2..], &keys).chain_breaks, 1);

        // Made without the key: unsigned, or signed with a forged signature.
        let mut unsigned = start.clone();
        (unsigned.key_id, unsigned.signature) = (None, None);
        let r = verify(Some(unsigned), &entries[2..], &keys);
        assert_eq!(r.checkpoint_mismatches, 1, "{:?}", r.findings);
        // Half a seal (found by review): a signature without a key id, or a key id without
        // one, passed as signed before any entry had been seen.
        for (key_id, signature) in [(None, Some("x".to_owned())), (start.key_id.clone(), None)] {
            let mut half = start.clone();
            (half.key_id, half.signature) = (key_id, signature);
            let r = verify(Some(half), &entries[2..], &keys);
            assert!(!r.ok, "{:?}", r.findings);
            assert_eq!(r.checkpoint_mismatches, 1, "{:?}", r.findings);
        }
        let mut forged = start.clone();
        forged.seq = 1;
        forged.head_hash = entries[0].seal.hash.clone();
        let r = verify(Some(forged), &entries[1..], &keys);
        assert_eq!(r.checkpoint_mismatches, 1, "{:?}", r.findings);

        // A start after the entries is out of place.
        let mut v = Verifier::new(&keys, false);
        v.entry(&entry_json(&entries[2]));
        v.start(start);
        assert_eq!(v.finish().malformed_lines, 1);
    }

    #[test]
    fn an_export_with_a_start_line_verifies() {
        let keys = AuditKeys::new(Some("k".repeat(32).as_str()), &[]).unwrap();
        let entries = log(4, &keys);
        let tenant = entries[0].tenant_id;
        let at = Timestamp::from_millis(1_800_000_000_000);
        let header = crate::export::ExportHeader::new(tenant, false, at);
        let start = HistoryStart::new(tenant, 1, &entries[0].seal.hash, at, &keys);
        let last = &entries[3];
        let end = crate::export::ExportEnd::new(&header, 3, 4, &last.seal.hash, &keys);
        let mut lines = vec![Line::Header(header), Line::Start(start)];
        lines.extend(entries[1..].iter().map(|e| Line::Entry(entry_json(e))));
        lines.push(Line::End(end));
        let text: String = lines.iter().map(|l| l.to_json() + "\n").collect();
        let report = verify_jsonl(text.as_bytes(), &keys);
        assert!(report.ok, "{:?}", report.findings);
        assert_eq!(report.history_starts_at, Some(2));
    }

    /// The fast reader of entry lines and the general one see every line alike: the same
    /// hash verdict, signature verdict and fields, for lines as exported, with escapes, with
    /// optional fields absent, tampered, re-signed with another key, or of another shape.
    #[test]
    fn the_fast_reader_judges_every_entry_as_the_general_one() {
        let keys = AuditKeys::new(Some("k".repeat(32).as_str()), &[]).unwrap();
        let other = AuditKeys::new(Some("o".repeat(32).as_str()), &[]).unwrap();
        let mut lines: Vec<String> = Vec::new();
        for (i, mut e) in log(3, &keys).into_iter().enumerate() {
            if i == 1 {
                e.draft.upn = None;
                e.draft.oid = Some("oid \u{e9}\\ \"q\"".into());
                e.seal = seal(&e, &e.seal.prev_hash.clone(), &keys);
            }
            let json = entry_json(&e);
            lines.push(json.to_string());
            let mut tampered = json.clone();
            tampered["entityId"] = "another".into();
            lines.push(tampered.to_string());
            let mut unsigned = json.clone();
            unsigned.as_object_mut().unwrap().remove("signature");
            lines.push(unsigned.to_string());
            let mut nulls = json.clone();
            nulls["upn"] = Value::Null;
            nulls["keyId"] = Value::Null;
            lines.push(nulls.to_string());
            let mut numeric = json.clone();
            numeric["action"] = 5.into();
            lines.push(numeric.to_string());
            let resealed = seal(&e, &e.seal.prev_hash.clone(), &other);
            let mut foreign = json.clone();
            foreign["signature"] = resealed.signature.into();
            lines.push(foreign.to_string());
        }
        // `changes` of every JSON shape, written as raw text: repeated keys (the last counts),
        // escapes, numbers of each kind, nesting, other types, and absent.
        let json = entry_json(&log(1, &keys)[0]);
        for raw in [
            r#"{"b":1,"a":[1,2.5,-3,1e3,18446744073709551615],"c":{"y":null,"x":true}}"#,
            r#"{"a":1,"b":0,"a":2}"#,
            r#"{"k\u00e9y":"v\n\"","":{},"\ud83d\ude00":"\u0001"}"#,
            r#"{"z":{"a":{"b":{"c":[{"d":1,"c":2}]}}}}"#,
            "[]",
            r#""text""#,
            "null",
        ] {
            let mut v = json.clone();
            v["changes"] = "PLACEHOLDER".into();
            lines.push(v.to_string().replace(r#""PLACEHOLDER""#, raw));
        }
        let mut absent = json.clone();
        absent.as_object_mut().unwrap().remove("changes");
        lines.push(absent.to_string());
        let fast_count = lines.len();
        // Lines as exported take the fast path (or the comparison below would prove nothing).
        assert!(serde_json::from_str::<EntryLine<'_>>(&lines[0]).is_ok());
        assert!(serde_json::from_str::<EntryLine<'_>>(&lines[6]).is_ok());
        for text in &lines[fast_count - 8..fast_count] {
            assert!(
                serde_json::from_str::<EntryLine<'_>>(text).is_ok(),
                "{text}"
            );
        }
        lines.push(r#"{"seq": 1, "hash": "x"}"#.into());
        for text in &lines {
            let value: Value = serde_json::from_str(text).unwrap();
            if let Ok(line) = serde_json::from_str::<EntryLine<'_>>(text) {
                let (fast, general) = (line.fields().canonical(), canonical_of(&value));
                assert_eq!(fast, general, "canonical forms differ for {text}");
                let (fast, general) = (
                    line.fields().signature_payload(),
                    signature_payload_of(&value),
                );
                assert_eq!(fast, general, "signed payloads differ for {text}");
            }
            let general = EntryFacts::of(&value, &keys);
            match prepare(text, &keys) {
                Prepared::Entry(fast) => assert_eq!(fast, general, "{text}"),
                _ => panic!("not read as an entry: {text}"),
            }
        }
        // An extra field the general reader refuses outright is not skipped past here.
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for extra in [r#""\ud800""#, "1e400", deep.as_str()] {
            let text = lines[0].replacen('{', &format!(r#"{{"x":{extra},"#), 1);
            assert!(Line::parse(&text).is_err(), "{text}");
            assert!(
                matches!(prepare(&text, &keys), Prepared::Malformed(_)),
                "{text}"
            );
        }
        // A JSON array never reads as an entry, whatever serde would make of it.
        let array = format!("[{}]", lines[0]);
        assert!(matches!(prepare(&array, &keys), Prepared::Malformed(_)));
    }
}
