//! Running the checks: each within a time budget, in catalog order, never writing anything.

use std::time::{Duration, Instant};

use serde::Serialize;
use tater_checks::{Check, Severity};

use crate::eval::{Status, evaluate};
use crate::root::Root;

/// The longest one check may take.
pub const CHECK_BUDGET: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub check_id: String,
    pub title: String,
    pub status: Status,
    pub severity: Severity,
    /// The SP 800-53 controls the check gives evidence for, so an offline result says what
    /// it covers without the server's catalog.
    pub controls: Vec<String>,
    pub evidence: String,
    pub duration_ms: u64,
}

/// Runs `checks` (those for the root's platform) under `root`.
pub fn run(checks: &[Check], root: &Root) -> Vec<CheckResult> {
    let platform = root.platform();
    checks
        .iter()
        .filter(|c| c.platforms.iter().any(|p| p == platform))
        .map(|c| {
            let started = Instant::now();
            let outcome = match &c.rule {
                Some(rule) => evaluate(rule, root, started + CHECK_BUDGET),
                None => crate::eval::Outcome {
                    status: Status::Skip,
                    evidence: "this agent has no rule for the check".into(),
                },
            };
            CheckResult {
                check_id: c.id.clone(),
                title: c.title.clone(),
                status: outcome.status,
                severity: c.severity,
                controls: c.controls.clone(),
                evidence: cap(outcome.evidence),
                duration_ms: started.elapsed().as_millis() as u64,
            }
        })
        .collect()
}

/// Evidence is kept under the server's 16 KiB limit.
fn cap(mut s: String) -> String {
    const MAX: usize = 8 * 1024;
    if s.len() > MAX {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}
