//! Verifying a log: each entry's hash and signature, the links between entries, checkpoints
//! and the export's end line. One [`Verifier`] serves the offline command (fed from a file)
//! and `GET /api/audit-log/verify` (fed from the database); it keeps constant memory apart
//! from the checkpoints not yet reached.

use std::collections::BTreeMap;
use std::io::BufRead;

use serde::Serialize;
use serde_json::Value;

use crate::export::{ExportEnd, Line};
use crate::seal::{GENESIS_HASH, canonical_of, chain_hash, signature_payload_of};
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
        let text = |k: &str| {
            entry
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let Some(seq) = entry.get("seq").and_then(Value::as_i64) else {
            self.find(
                FindingKind::Malformed,
                None,
                "an entry without an integer seq".into(),
            );
            return;
        };
        self.report.entries_checked += 1;
        if !self.same_tenant(&text("tenantId"), seq, "entry") {
            return;
        }
        let (prev, hash) = (text("prevHash"), text("hash"));
        if chain_hash(&prev, &canonical_of(entry)) != hash {
            let msg = format!("entry {seq} does not match its hash: its content was altered");
            self.find(FindingKind::Altered, Some(seq), msg);
        }
        if !self.filtered {
            self.link(seq, &prev);
        }
        self.signature(entry, seq);
        if let Some(cp) = self.pending.remove(&seq) {
            self.compare_checkpoint(&cp, &hash);
        }
        if self.last.as_ref().is_none_or(|(last, _)| seq > *last) {
            self.last = Some((seq, hash));
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

    fn signature(&mut self, entry: &Value, seq: i64) {
        let key_id = entry.get("keyId").and_then(Value::as_str);
        let signature = entry.get("signature").and_then(Value::as_str);
        let (Some(key_id), Some(signature)) = (key_id, signature) else {
            self.report.unsigned += 1;
            if self.seen_signed && self.keys.can_verify() {
                let msg = format!("entry {seq} is unsigned although earlier entries are signed");
                self.find(FindingKind::BadSignature, Some(seq), msg);
            }
            return;
        };
        self.report.signed += 1;
        self.seen_signed = true;
        if !self.keys.can_verify() {
            return;
        }
        match self.keys.by_id(key_id) {
            None => {
                let msg = format!("entry {seq} is signed with key {key_id}, which was not given");
                self.find(FindingKind::UnknownKey, Some(seq), msg);
            }
            Some(k) if !k.verifies(&signature_payload_of(entry), signature) => {
                let msg = format!("entry {seq} has a bad signature");
                self.find(FindingKind::BadSignature, Some(seq), msg);
            }
            Some(_) => {}
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
        self.unsigned_start = sig.is_none();
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

/// Verifies a JSON Lines export read from `input`. I/O errors end the walk and are reported
/// as malformed input (the file could not be read to its end).
pub fn verify_jsonl(input: impl BufRead, keys: &AuditKeys) -> Report {
    let mut lines = input.lines();
    let first = lines.next();
    let filtered = match first.as_ref().map(|l| l.as_deref().map(Line::parse)) {
        Some(Ok(Ok(Line::Header(h)))) => h.filtered,
        _ => false,
    };
    let mut v = Verifier::new(keys, filtered);
    let mut ended = false;
    let all = first.into_iter().chain(lines);
    for (n, line) in (1u64..).zip(all) {
        let text = match line {
            Ok(t) => t,
            Err(e) => {
                v.malformed(n, &format!("cannot be read: {e}"));
                break;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        if ended {
            v.malformed(n, "comes after the end line");
            continue;
        }
        match Line::parse(&text) {
            Err(why) => v.malformed(n, &why),
            Ok(Line::Header(_)) if n == 1 => {}
            Ok(Line::Header(_)) => v.malformed(n, "a second header"),
            Ok(_) if n == 1 => {
                v.malformed(1, "the file does not start with the export header");
            }
            Ok(Line::Start(s)) => v.start(s),
            Ok(Line::Entry(e)) => v.entry(&e),
            Ok(Line::Checkpoint(cp)) => v.checkpoint(cp),
            Ok(Line::End(end)) => {
                v.end(&end);
                ended = true;
            }
        }
    }
    if !ended {
        let last = v.last.as_ref().map_or(0, |(s, _)| *s);
        let msg = format!("the file has no end line: it was cut off after entry {last}");
        v.find(FindingKind::Truncated, Some(last + 1), msg);
    }
    v.finish()
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
}
