//! A scan as the server takes it (`POST /api/agent/scans`).

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::scan::CheckResult;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanReport {
    /// Chosen here, so that retries of one report are stored once.
    pub scan_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub results: Vec<ReportedResult>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportedResult {
    pub check_id: String,
    pub status: &'static str,
    pub severity: &'static str,
    pub evidence: String,
}

/// The machine's time now (the agent's one clock), as RFC 3339.
pub fn now_rfc3339() -> String {
    now().format(&Rfc3339).unwrap_or_default()
}

/// Milliseconds since the epoch, for ordering spooled reports.
pub fn now_millis() -> i128 {
    now().unix_timestamp_nanos() / 1_000_000
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

impl ScanReport {
    pub fn new(started_at: String, results: &[CheckResult]) -> Self {
        Self {
            scan_id: uuid_v4(),
            started_at,
            finished_at: now_rfc3339(),
            results: results
                .iter()
                .map(|r| ReportedResult {
                    check_id: r.check_id.clone(),
                    status: r.status.as_str(),
                    severity: r.severity.as_str(),
                    evidence: r.evidence.clone(),
                })
                .collect(),
        }
    }
}

/// A random (version 4) UUID from the system's random source.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    if crate::os::random_bytes(&mut b).is_err() || b == [0u8; 16] {
        // No random source: fall back to the clock and process id, still unique per scan.
        let t = now().unix_timestamp_nanos().to_le_bytes();
        b.copy_from_slice(&t[..16]);
        b[0] ^= std::process::id() as u8;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
