//! The reader of `tater audit verify`: a JSON Lines export from anywhere (an auditor's copy, a
//! tampered file). Invariants: no panic, and a file that is not a complete, intact export is
//! never reported as verified.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tater_audit::export::Line;
use tater_audit::{AuditKeys, verify_jsonl};

/// The key the seed exports in `corpus/audit_export` were signed with (scripts/fuzz says how
/// they were made), so mutations reach the signature and checkpoint checks.
const KEY: &str = "fuzz-audit-signing-key-0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let Ok(keys) = AuditKeys::new(Some(KEY), &[]) else {
        return;
    };
    let report = verify_jsonl(data, &keys);
    if report.ok {
        // Whatever verifies must at least be an export: its first line is the header.
        let first = data.split(|b| *b == b'\n').next().unwrap_or_default();
        let header = std::str::from_utf8(first).ok().map(Line::parse);
        assert!(
            matches!(header, Some(Ok(Line::Header(_)))),
            "verified without an export header"
        );
    }
});
