//! Technical checks: what the endpoint agent tests, with severity and the SP 800-53 controls
//! each check gives evidence for. The server owns this format and serves it (`GET /api/checks`).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::CatalogError;

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
#[serde(deny_unknown_fields)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub rationale: String,
    pub remediation: String,
    /// SP 800-53 control ids (OSCAL form) this check gives evidence for.
    pub controls: Vec<String>,
    pub platforms: Vec<String>,
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

const BUILTIN_CHECKS: &[(&str, &[u8])] =
    &[("linux.json", include_bytes!("../data/checks/linux.json"))];

impl CheckCatalog {
    /// The built-in checks, parsed once per process.
    pub fn builtin() -> Result<Arc<CheckCatalog>, Arc<CatalogError>> {
        static BUILTIN: OnceLock<Result<Arc<CheckCatalog>, Arc<CatalogError>>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                let mut all = Vec::new();
                for (name, bytes) in BUILTIN_CHECKS {
                    all.extend(Self::parse(name, bytes)?);
                }
                Ok(Arc::new(Self::new(all)))
            })
            .clone()
    }

    /// Reads a check file (`{"version": 1, "checks": [...]}`).
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Vec<Check>, Arc<CatalogError>> {
        let file: CheckFile = serde_json::from_slice(bytes).map_err(|e| {
            Arc::new(CatalogError::Parse {
                name: name.to_owned(),
                reason: e.to_string(),
            })
        })?;
        if file.version != 1 {
            return Err(Arc::new(CatalogError::Parse {
                name: name.to_owned(),
                reason: format!("unsupported version {}", file.version),
            }));
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
