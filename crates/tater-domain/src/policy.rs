//! The one policy function: who may do what, for every channel (REST, MCP, AI, agent, jobs).

use crate::{Actor, Role};

/// Everything a caller can ask to do, at the granularity roles distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read the organization's records, catalog and posture.
    Read,
    /// Read a module's records, or the command channel's jobs: the declaration says from
    /// which role up (`ModuleDef::read_role`).
    ReadRecords(Role),
    /// Read the check catalog (people, and endpoint agents deciding what to run).
    ReadChecks,
    /// Read the audit log.
    ReadAudit,
    /// Create, update or delete a record of a module.
    WriteRecord,
    /// Change organization settings.
    ManageSettings,
    /// Invite, change or remove members.
    ManageMembers,
    /// Create or revoke API keys.
    ManageKeys,
    /// Take a copy of everything the organization holds (`GET /api/export`).
    ExportAll,
    /// List or create organizations, and other platform-operator work.
    CrossOrg,
    /// Report scans and heartbeats: endpoint agents only, never people.
    AgentReport,
}

impl Action {
    /// The least role that may perform the action.
    pub fn required_role(self) -> Role {
        match self {
            Action::ReadChecks | Action::AgentReport => Role::Agent,
            Action::Read => Role::Viewer,
            // Never below Viewer, whatever a declaration says.
            Action::ReadRecords(role) => role.max(Role::Viewer),
            Action::ReadAudit => Role::Auditor,
            Action::WriteRecord => Role::Admin,
            Action::ManageSettings
            | Action::ManageMembers
            | Action::ManageKeys
            | Action::ExportAll => Role::OrgAdmin,
            Action::CrossOrg => Role::SuperAdmin,
        }
    }
}

/// Refusal: the caller's role is below the action's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this needs the {required} role; you have {actual}")]
pub struct Denied {
    pub required: Role,
    pub actual: Role,
}

/// Decides whether `actor` may perform `action` in its organization.
pub fn authorize(actor: &Actor, action: Action) -> Result<(), Denied> {
    let required = action.required_role();
    // Reports come from endpoints; a person's role, however high, does not make one.
    if action == Action::AgentReport && actor.endpoint_id().is_none() {
        return Err(Denied {
            required,
            actual: actor.role(),
        });
    }
    if actor.role() >= required {
        Ok(())
    } else {
        Err(Denied {
            required,
            actual: actor.role(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Channel, Email, OrgId, Principal, UserId};

    fn actor(role: Role) -> Actor {
        Actor::authenticated(
            Principal::User {
                id: UserId::generate(),
                email: Email::parse("a@example.com").unwrap(),
                oid: None,
            },
            OrgId::generate(),
            role,
            Channel::Web,
            false,
        )
    }

    #[test]
    fn matrix() {
        use Action::*;
        let expect = [
            (Read, Role::Viewer),
            (ReadChecks, Role::Viewer),
            (AgentReport, Role::SuperAdmin),
            (ReadAudit, Role::Auditor),
            (WriteRecord, Role::Admin),
            (ManageSettings, Role::OrgAdmin),
            (ManageMembers, Role::OrgAdmin),
            (ManageKeys, Role::OrgAdmin),
            (CrossOrg, Role::SuperAdmin),
            (ReadRecords(Role::Viewer), Role::Viewer),
            (ReadRecords(Role::Auditor), Role::Auditor),
            (ReadRecords(Role::Agent), Role::Viewer),
        ];
        for (action, least) in expect {
            for role in Role::ALL {
                let allowed = role >= least && action != AgentReport;
                assert_eq!(
                    authorize(&actor(role), action).is_ok(),
                    allowed,
                    "{action:?} as {role}"
                );
            }
        }
        // An endpoint may report and read checks, and nothing else.
        let endpoint = Actor::authenticated(
            Principal::Endpoint {
                id: crate::EndpointId::generate(),
                hostname: "web-01".into(),
            },
            OrgId::generate(),
            Role::Agent,
            Channel::Agent,
            true,
        );
        for action in [
            Read,
            ReadAudit,
            WriteRecord,
            ManageSettings,
            ManageMembers,
            ManageKeys,
            CrossOrg,
        ] {
            assert!(authorize(&endpoint, action).is_err(), "{action:?}");
        }
        assert!(authorize(&endpoint, AgentReport).is_ok());
        assert!(authorize(&endpoint, ReadChecks).is_ok());
    }
}
