//! The one policy function: who may do what, for every channel (REST, MCP, AI, agent, jobs).

use crate::{Actor, Role};

/// Everything a caller can ask to do, at the granularity roles distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read the organization's records, catalog and posture.
    Read,
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
    /// List or create organizations, and other platform-operator work.
    CrossOrg,
}

impl Action {
    /// The least role that may perform the action.
    pub fn required_role(self) -> Role {
        match self {
            Action::Read | Action::ReadChecks => Role::Viewer,
            Action::ReadAudit => Role::Auditor,
            Action::WriteRecord => Role::Admin,
            Action::ManageSettings | Action::ManageMembers | Action::ManageKeys => Role::OrgAdmin,
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
            (ReadAudit, Role::Auditor),
            (WriteRecord, Role::Admin),
            (ManageSettings, Role::OrgAdmin),
            (ManageMembers, Role::OrgAdmin),
            (ManageKeys, Role::OrgAdmin),
            (CrossOrg, Role::SuperAdmin),
        ];
        for (action, least) in expect {
            for role in Role::ALL {
                assert_eq!(
                    authorize(&actor(role), action).is_ok(),
                    role >= least,
                    "{action:?} as {role}"
                );
            }
        }
    }
}
