//! Roles, ordered from least to most privileged.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A member's role in an organization. The derived order is the privilege order:
/// `Viewer < Auditor < Admin < OrgAdmin < SuperAdmin`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An endpoint agent's credential: reports scans and reads the check catalog, nothing
    /// else. Never a member's role.
    Agent,
    /// Reads the organization's records (SPEC A4 calls this role "Reader").
    Viewer,
    /// Reads, plus the audit log.
    Auditor,
    /// Every record write in its organization.
    Admin,
    /// Settings, members and API keys of its organization.
    OrgAdmin,
    /// Cross-organization operations.
    SuperAdmin,
}

impl Role {
    /// The roles a member can hold (every role but `Agent`).
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Auditor,
        Role::Admin,
        Role::OrgAdmin,
        Role::SuperAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Viewer => "viewer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::OrgAdmin => "orgadmin",
            Role::SuperAdmin => "superadmin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role (expected viewer, auditor, admin, orgadmin or superadmin)")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "viewer" | "reader" => Ok(Role::Viewer),
            "auditor" => Ok(Role::Auditor),
            "admin" => Ok(Role::Admin),
            "orgadmin" => Ok(Role::OrgAdmin),
            "superadmin" => Ok(Role::SuperAdmin),
            _ => Err(UnknownRole),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_privilege_order() {
        let mut sorted = Role::ALL;
        sorted.sort();
        assert_eq!(sorted, Role::ALL);
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!("Reader".parse::<Role>(), Ok(Role::Viewer));
    }
}
