//! Command-channel jobs: a script (or a check's remediation) to run on endpoints, and how it
//! went on each. A job keeps a copy of what it runs, so editing the script later does not
//! change what a job did.

use std::fmt;
use std::str::FromStr;

use crate::{EndpointId, OrgId, RecordId, Timestamp};

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: RecordId,
    pub org: OrgId,
    pub name: String,
    /// The library script and the version that ran (`None` for a check's remediation).
    pub script_id: Option<RecordId>,
    pub script_version: Option<i64>,
    /// The check whose remediation this is, if any.
    pub check_id: Option<String>,
    pub language: String,
    pub run_as: String,
    pub timeout_secs: i64,
    pub content: String,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// Where a job stands on one endpoint.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum TargetStatus {
    /// Waiting for the agent to fetch it.
    Pending,
    /// Fetched by the agent, not yet reported.
    Sent,
    Succeeded,
    Failed,
    TimedOut,
    /// The endpoint would not run it (its configuration forbids remote scripts, ...).
    Refused,
    /// Stopped before delivery: by an Admin, or because the organization turned remote
    /// execution off (the reason says which).
    Cancelled,
    /// Not fetched by the agent within the job lifetime (`--job-ttl-hours`).
    Expired,
}

impl TargetStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetStatus::Pending => "pending",
            TargetStatus::Sent => "sent",
            TargetStatus::Succeeded => "succeeded",
            TargetStatus::Failed => "failed",
            TargetStatus::TimedOut => "timedOut",
            TargetStatus::Refused => "refused",
            TargetStatus::Cancelled => "cancelled",
            TargetStatus::Expired => "expired",
        }
    }

    /// The statuses an agent may report (the server alone cancels and expires).
    pub fn is_reportable(self) -> bool {
        matches!(
            self,
            TargetStatus::Succeeded
                | TargetStatus::Failed
                | TargetStatus::TimedOut
                | TargetStatus::Refused
        )
    }
}

impl fmt::Display for TargetStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TargetStatus {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        [
            TargetStatus::Pending,
            TargetStatus::Sent,
            TargetStatus::Succeeded,
            TargetStatus::Failed,
            TargetStatus::TimedOut,
            TargetStatus::Refused,
            TargetStatus::Cancelled,
            TargetStatus::Expired,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
        .ok_or(())
    }
}

/// Where a job stands on one endpoint (shown as stored).
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobTarget {
    #[serde(rename = "endpointId")]
    pub endpoint: EndpointId,
    pub hostname: String,
    pub status: TargetStatus,
    pub exit_code: Option<i64>,
    /// At most 64 KiB, as the agent reported it.
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub duration_ms: Option<i64>,
    /// Why it was refused, cancelled or expired.
    pub reason: Option<String>,
    pub sent_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

impl JobTarget {
    pub fn pending(endpoint: EndpointId, hostname: String) -> Self {
        Self {
            endpoint,
            hostname,
            status: TargetStatus::Pending,
            exit_code: None,
            stdout: None,
            stderr: None,
            duration_ms: None,
            reason: None,
            sent_at: None,
            finished_at: None,
        }
    }
}
