//! `tater audit verify`'s reader (`verify_jsonl`) over a signed export of 1,000,000 entries
//! with a checkpoint every 1,000, as `GET /api/audit-log/export` writes them (issue 20: under
//! 2 s on two cores). Prints the wall time, entries per second, the threads used and the
//! process's peak resident memory (the export is written to a file first, streaming, so the
//! peak is the verifier's).
//!
//! Run: `cargo bench -p tater-audit --bench verify` (`TATER_BENCH_VERIFY` sets the count).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark, not a service

use std::io::{BufReader, BufWriter, Write};
use std::time::Instant;

use serde_json::json;
use tater_audit::export::{ExportEnd, ExportHeader, Line};
use tater_audit::{AuditKeys, Checkpoint, GENESIS_HASH, entry_json, seal};
use tater_domain::{
    AuditAction, AuditDraft, AuditEntry, AuditId, AuditSeal, Channel, OrgId, Timestamp,
};

const KEY: &str = "benchmark-audit-signing-key-0123456789";

/// Peak resident memory of this process so far, in MiB (Linux `VmHWM`).
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn entry(org: OrgId, seq: i64) -> AuditEntry {
    AuditEntry {
        seq,
        tenant_id: org,
        draft: AuditDraft {
            id: AuditId::generate(),
            action: AuditAction::Update,
            entity_type: "poam".into(),
            entity_id: format!("01a24729-8203-76da-9a28-{seq:012}"),
            user_id: "01a24729-8203-76da-9a28-1653e0047ed9".into(),
            upn: Some("isso@acme.example".into()),
            oid: None,
            timestamp: Timestamp::from_millis(1_764_450_000_000 + seq),
            via: Channel::Web,
            changes: json!({
                "status": { "before": "Open", "after": "In Progress" },
                "title": { "before": "Patch the VPN concentrator", "after": "Patch the VPN concentrator (CVE-2026-1234)" },
            }),
        },
        seal: AuditSeal::default(),
    }
}

fn main() {
    let n: i64 = std::env::var("TATER_BENCH_VERIFY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let keys = AuditKeys::new(Some(KEY), &[]).unwrap();
    let org = OrgId::generate();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl");
    {
        let mut out = BufWriter::new(std::fs::File::create(&path).unwrap());
        let header = ExportHeader::new(org, false, Timestamp::from_millis(1_764_500_000_000));
        writeln!(out, "{}", Line::Header(header.clone()).to_json()).unwrap();
        let mut prev = GENESIS_HASH.to_owned();
        for s in 1..=n {
            let mut e = entry(org, s);
            e.seal = seal(&e, &prev, &keys);
            prev = e.seal.hash.clone();
            writeln!(out, "{}", entry_json(&e)).unwrap();
            if s % 1000 == 0 {
                let cp = Checkpoint::new(org, s, &prev, e.draft.timestamp, &keys);
                writeln!(out, "{}", Line::Checkpoint(cp).to_json()).unwrap();
            }
        }
        let end = ExportEnd::new(&header, n as u64, n, &prev, &keys);
        writeln!(out, "{}", Line::End(end).to_json()).unwrap();
    }
    let mib = std::fs::metadata(&path).unwrap().len() as f64 / 1024.0 / 1024.0;
    // Best of three, so a page-cache miss on the first read does not count.
    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let report =
            tater_audit::verify_jsonl(BufReader::new(std::fs::File::open(&path).unwrap()), &keys);
        best = best.min(started.elapsed().as_secs_f64());
        assert!(report.ok, "{:?}", report.findings.first());
        assert_eq!(report.entries_checked, n as u64);
    }
    println!("## verify_jsonl: {n} signed entries ({mib:.0} MiB), best of 3");
    println!("| wall time | entries/s | threads | peak RSS |");
    println!("|---|---|---|---|");
    println!(
        "| {best:.2} s | {:.0} | {} | {:.0} MiB |",
        n as f64 / best,
        std::thread::available_parallelism().map_or(1, |p| p.get()),
        peak_mib()
    );
}
