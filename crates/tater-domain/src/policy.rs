//! The one policy function: who may do what, for every channel (REST, MCP, AI, agent, jobs).

use crate::scope::{Mode, SystemPurpose, TenantScope};
use crate::{Actor, OrgId, Principal, Role};

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
    /// Acknowledge a published policy: a member's own statement that they have read it, so
    /// only a person who signed in makes it (never an API key, an agent or the system).
    Acknowledge,
    /// Talk with the AI analyst: keep one's own conversations and decide the writes it
    /// proposes (each runs under its own action). People only: conversations belong to the
    /// member who holds them.
    Converse,
    /// Read one audit's snapshots with an auditor token (each read audited): auditor tokens
    /// only, and they may do nothing else.
    AuditorAccess,
}

impl Action {
    /// The least role that may perform the action.
    pub fn required_role(self) -> Role {
        match self {
            Action::ReadChecks | Action::AgentReport | Action::AuditorAccess => Role::Agent,
            Action::Read | Action::Acknowledge | Action::Converse => Role::Viewer,
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

impl Action {
    /// The action's name in the API document (`x-tater-action`) and in tool registries.
    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::ReadRecords(_) => "read-records",
            Action::ReadChecks => "read-checks",
            Action::ReadAudit => "read-audit",
            Action::WriteRecord => "write-record",
            Action::ManageSettings => "manage-settings",
            Action::ManageMembers => "manage-members",
            Action::ManageKeys => "manage-keys",
            Action::ExportAll => "export-all",
            Action::CrossOrg => "cross-org",
            Action::AgentReport => "agent-report",
            Action::AuditorAccess => "auditor-access",
            Action::Acknowledge => "acknowledge",
            Action::Converse => "converse",
        }
    }

    /// Whether the action changes anything: its transactions write (and lock what they read).
    pub fn mode(self) -> Mode {
        match self {
            Action::Read | Action::ReadRecords(_) | Action::ReadChecks | Action::ReadAudit => {
                Mode::Read
            }
            Action::WriteRecord
            | Action::ManageSettings
            | Action::ManageMembers
            | Action::ManageKeys
            | Action::ExportAll
            | Action::CrossOrg
            | Action::AgentReport
            | Action::Acknowledge
            | Action::Converse
            // Every read is audited: the entry is a write.
            | Action::AuditorAccess => Mode::Write,
        }
    }
}

/// What [`authorize`] hands out: the capability to open a transaction on one organization's
/// data, in the mode the action needs. The store opens tenant transactions only from a
/// permit, and a permit's fields are private, so a use case that skips `authorize` has no
/// way to reach tenant data — it does not compile:
///
/// ```compile_fail
/// use tater_domain::{Mode, Permit, TenantScope};
/// // Neither a permit nor a scope can be made by hand.
/// fn forged(scope: TenantScope) -> Permit {
///     Permit { scope, mode: Mode::Write, action: None, final_export: true }
/// }
/// ```
///
/// ```compile_fail
/// use tater_domain::{Actor, TenantScope};
/// fn scope_of(actor: &Actor) -> TenantScope {
///     TenantScope::of(actor)
/// }
/// ```
///
/// ```
/// use tater_domain::policy::{Action, authorize};
/// use tater_domain::{Actor, Channel, Email, Mode, OrgId, Principal, Role, UserId};
/// let viewer = Actor::authenticated(
///     Principal::User { id: UserId::generate(), email: Email::parse("v@example.com").unwrap(), oid: None },
///     OrgId::generate(),
///     Role::Viewer,
///     Channel::Web,
///     false,
/// );
/// let permit = authorize(&viewer, Action::Read).unwrap();
/// assert_eq!((permit.org(), permit.mode()), (viewer.org(), Mode::Read));
/// assert!(authorize(&viewer, Action::WriteRecord).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    scope: TenantScope,
    mode: Mode,
    /// `None` for a system operation's permit.
    action: Option<Action>,
    /// Given to the reads of an organization's full export (see `Actor::for_final_export`).
    final_export: bool,
}

impl Permit {
    /// A permit for named system work outside any request (operator tooling, test suites);
    /// an architecture test lists where production code may call it.
    pub fn system(org: OrgId, purpose: SystemPurpose, mode: Mode) -> Self {
        let _ = purpose;
        Self {
            scope: TenantScope::system(org),
            mode,
            action: None,
            final_export: false,
        }
    }

    /// The same permit for a transaction that only reads (a write action's use case that
    /// looks before it changes anything, or lists).
    pub fn read_only(&self) -> Self {
        Self {
            mode: Mode::Read,
            ..self.clone()
        }
    }

    pub fn scope(&self) -> TenantScope {
        self.scope
    }

    pub fn org(&self) -> OrgId {
        self.scope.org()
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The action authorized; `None` for a system permit.
    pub fn action(&self) -> Option<Action> {
        self.action
    }

    /// Whether this permit opens a terminated organization's data: only the organization's
    /// full export does, during the grace period before the data is deleted.
    pub fn opens_terminated(&self) -> bool {
        self.final_export || self.action == Some(Action::ExportAll)
    }
}

/// Refusal: the caller's role is below the action's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this needs the {required} role; you have {actual}")]
pub struct Denied {
    pub required: Role,
    pub actual: Role,
}

/// Decides whether `actor` may perform `action` in its organization, and if so hands out the
/// permit to open that organization's data in the action's mode.
pub fn authorize(actor: &Actor, action: Action) -> Result<Permit, Denied> {
    let required = action.required_role();
    // Reports come from endpoints; a person's role, however high, does not make one.
    if action == Action::AgentReport && actor.endpoint_id().is_none() {
        return Err(Denied {
            required,
            actual: actor.role(),
        });
    }
    // An acknowledgement speaks for the person who makes it; a conversation is a person's.
    if matches!(action, Action::Acknowledge | Action::Converse)
        && !matches!(actor.principal(), Principal::User { .. })
    {
        return Err(Denied {
            required,
            actual: actor.role(),
        });
    }
    // An auditor token opens its audit's snapshots and nothing else; nothing else opens them.
    if (action == Action::AuditorAccess) != actor.auditor_audit().is_some() {
        return Err(Denied {
            required,
            actual: actor.role(),
        });
    }
    if actor.role() >= required {
        Ok(Permit {
            scope: TenantScope::of(actor),
            mode: action.mode(),
            action: Some(action),
            final_export: actor.is_final_export(),
        })
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
            (AuditorAccess, Role::SuperAdmin),
            (ReadRecords(Role::Viewer), Role::Viewer),
            (ReadRecords(Role::Auditor), Role::Auditor),
            (ReadRecords(Role::Agent), Role::Viewer),
        ];
        for (action, least) in expect {
            for role in Role::ALL {
                let allowed = role >= least && action != AgentReport && action != AuditorAccess;
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
        assert!(authorize(&endpoint, AuditorAccess).is_err());
        // An auditor token reads its audit's snapshots, and nothing else.
        let auditor = Actor::authenticated(
            Principal::AuditorToken {
                id: crate::AuditorTokenId::generate(),
                audit: crate::RecordId::generate(),
                label: "Assessor LLP".into(),
            },
            OrgId::generate(),
            Role::Agent,
            Channel::Api,
            false,
        );
        for action in [
            Read,
            ReadRecords(Role::Viewer),
            ReadChecks,
            ReadAudit,
            AgentReport,
            WriteRecord,
            ManageKeys,
        ] {
            assert!(authorize(&auditor, action).is_err(), "{action:?}");
        }
        assert!(authorize(&auditor, AuditorAccess).is_ok());
    }
}
