//! Scans: what an agent found on one endpoint at one time.

use std::fmt;
use std::str::FromStr;

use crate::{EndpointId, OrgId, ScanId, Timestamp};

/// The outcome of one check on one endpoint.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum CheckStatus {
    Pass,
    Fail,
    #[serde(rename = "Manual Review")]
    ManualReview,
    Skip,
    Error,
    #[serde(rename = "Not Applicable")]
    NotApplicable,
}

impl CheckStatus {
    pub const ALL: [CheckStatus; 6] = [
        CheckStatus::Pass,
        CheckStatus::Fail,
        CheckStatus::ManualReview,
        CheckStatus::Skip,
        CheckStatus::Error,
        CheckStatus::NotApplicable,
    ];

    /// As agents report it and the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "Pass",
            CheckStatus::Fail => "Fail",
            CheckStatus::ManualReview => "Manual Review",
            CheckStatus::Skip => "Skip",
            CheckStatus::Error => "Error",
            CheckStatus::NotApplicable => "Not Applicable",
        }
    }
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of: Pass, Fail, Manual Review, Skip, Error, Not Applicable")]
pub struct UnknownStatus;

impl FromStr for CheckStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CheckStatus::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(UnknownStatus)
    }
}

/// A stored scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    pub id: ScanId,
    pub org: OrgId,
    pub endpoint: EndpointId,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub received_at: Timestamp,
    /// Raw counts at scan time, by status.
    pub counts: Counts,
}

/// One result of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanResult {
    pub check_id: String,
    pub status: CheckStatus,
    /// As reported by the agent (the check catalog's severity unless overridden).
    pub severity: String,
    pub evidence: String,
}

/// Results per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub pass: i64,
    pub fail: i64,
    pub manual_review: i64,
    pub skip: i64,
    pub error: i64,
    pub not_applicable: i64,
}

impl Counts {
    pub fn add(&mut self, status: CheckStatus) {
        match status {
            CheckStatus::Pass => self.pass += 1,
            CheckStatus::Fail => self.fail += 1,
            CheckStatus::ManualReview => self.manual_review += 1,
            CheckStatus::Skip => self.skip += 1,
            CheckStatus::Error => self.error += 1,
            CheckStatus::NotApplicable => self.not_applicable += 1,
        }
    }

    pub fn of(results: &[ScanResult]) -> Self {
        let mut c = Counts::default();
        for r in results {
            c.add(r.status);
        }
        c
    }
}

/// The id a scan is stored under: the agent's scan id is unique only on its endpoint, so the
/// stored id is derived from both (UUIDv5 in the endpoint's namespace). Another endpoint that
/// reports the same scan id stores a scan of its own and learns nothing about the first.
pub fn stored_scan_id(endpoint: crate::EndpointId, agent_scan_id: crate::ScanId) -> crate::ScanId {
    crate::ScanId::from_uuid(uuid::Uuid::new_v5(
        &endpoint.as_uuid(),
        agent_scan_id.as_uuid().as_bytes(),
    ))
}
