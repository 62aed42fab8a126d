//! Technical checks as data, shared by the server (which owns the catalog and serves it at
//! `GET /api/checks`) and the endpoint agent (which evaluates each check's [`Rule`]).
//!
//! A check: id, title, severity, rationale, remediation text, an optional remediation script,
//! the SP 800-53 controls it gives evidence for, the platforms it applies to, and its rule.

pub mod rule;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

pub use rule::{AccountTest, Expect, Missing, Rule};

/// How much a failing check matters; also its weight in the posture score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    /// Score weight: Critical 4, High 3, Medium 2, Low 1.
    pub fn weight(self) -> u32 {
        match self {
            Severity::Critical => 4,
            Severity::High => 3,
            Severity::Medium => 2,
            Severity::Low => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "Critical",
            Severity::High => "High",
            Severity::Medium => "Medium",
            Severity::Low => "Low",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// One check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Check {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub rationale: String,
    pub remediation: String,
    /// A shell script that fixes the finding, run only through the command channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation_script: Option<String>,
    /// SP 800-53 control ids (OSCAL form) this check gives evidence for.
    pub controls: Vec<String>,
    pub platforms: Vec<String>,
    /// How the agent decides; checks without a rule are reported by other means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("check file {name}: {reason}")]
pub struct CheckFileError {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckFile {
    version: u32,
    checks: Vec<Check>,
}

/// All known checks, by id.
#[derive(Debug)]
pub struct CheckCatalog {
    checks: Vec<Check>,
    index: HashMap<String, usize>,
}

/// The built-in check files.
pub const BUILTIN_CHECKS: &[(&str, &[u8])] = &[
    ("linux.json", include_bytes!("../data/linux.json")),
    ("windows.json", include_bytes!("../data/windows.json")),
];

impl CheckCatalog {
    /// The built-in checks, parsed once per process.
    pub fn builtin() -> Result<Arc<CheckCatalog>, Arc<CheckFileError>> {
        static BUILTIN: OnceLock<Result<Arc<CheckCatalog>, Arc<CheckFileError>>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                let mut all = Vec::new();
                for (name, bytes) in BUILTIN_CHECKS {
                    all.extend(Self::parse(name, bytes).map_err(Arc::new)?);
                }
                Ok(Arc::new(Self::new(all)))
            })
            .clone()
    }

    /// Reads a check file (`{"version": 1, "checks": [...]}`).
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Vec<Check>, CheckFileError> {
        let err = |reason: String| CheckFileError {
            name: name.to_owned(),
            reason,
        };
        let file: CheckFile = serde_json::from_slice(bytes).map_err(|e| err(e.to_string()))?;
        if file.version != 1 {
            return Err(err(format!("unsupported version {}", file.version)));
        }
        Ok(file.checks)
    }

    pub fn new(checks: Vec<Check>) -> Self {
        let index = checks
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        Self { checks, index }
    }

    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    pub fn get(&self, id: &str) -> Option<&Check> {
        self.index.get(id).map(|&i| &self.checks[i])
    }
}
