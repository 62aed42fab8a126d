//! What a record keeps besides its fields, links and comments — declared by its module
//! (`ModuleDef::holds`) — as its deletion counts it, asks for the role that removing it
//! needs, and names it in the deletion's audit entry. The rows go with the record (the
//! database cascades); file bytes go after the commit, once nothing holds them.

use tater_domain::module::{Holding, ModuleDef};
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, RecordId, Role};
use tater_store::TenantTx;

use crate::{Service, ServiceError, ServiceResult};

/// What deleting one record takes with it.
#[derive(Default)]
pub(crate) struct Held {
    /// For the deletion's audit entry: `(key, count)`, only what is there.
    pub details: Vec<(&'static str, usize)>,
    /// SHA-256s of the files attached, whose bytes may go after the commit.
    pub files: Vec<String>,
}

impl Held {
    fn note(&mut self, key: &'static str, count: usize) {
        if count > 0 {
            self.details.push((key, count));
        }
    }
}

fn org_admin(actor: &Actor, what: &str) -> ServiceResult<()> {
    if actor.role() >= Role::OrgAdmin {
        return Ok(());
    }
    Err(ServiceError::ForbiddenCode(
        "FORBIDDEN",
        format!("deleting this record removes {what}, which needs the OrgAdmin role"),
    ))
}

impl Service {
    /// What the record `id` of `def` holds, once `actor` may remove it all.
    pub(crate) async fn held_by(
        &self,
        tx: &mut dyn TenantTx,
        actor: &Actor,
        def: &ModuleDef,
        id: RecordId,
    ) -> ServiceResult<Held> {
        let mut held = Held::default();
        for holding in def.holds {
            match holding {
                Holding::AuditorAccess => {
                    let now = self.clock.now();
                    let (snapshots, tokens) =
                        crate::audit_snapshots::held_by_audit(&mut *tx, id, now).await?;
                    if snapshots + tokens > 0 {
                        // As giving an auditor access is.
                        authorize(actor, Action::ManageKeys)?;
                    }
                    held.note("_snapshotsRemoved", snapshots);
                    held.note("_auditorTokensRevoked", tokens);
                }
                Holding::Files => {
                    held.files = Service::files_of(&mut *tx, id).await?;
                    held.note("_filesRemoved", held.files.len());
                }
                Holding::PublishedVersions => {
                    // Versions are numbered from 1 without gaps: the newest's number is the count.
                    let versions = tx
                        .policy_versions(id, 1)
                        .await?
                        .first()
                        .map_or(0, |v| v.version as usize);
                    let acknowledgements: i64 = tx
                        .acknowledgement_counts(id, false)
                        .await?
                        .iter()
                        .map(|(_, n)| n)
                        .sum();
                    if versions > 0 {
                        org_admin(actor, "its published versions and their acknowledgements")?;
                    }
                    held.note("_versionsRemoved", versions);
                    held.note(
                        "_acknowledgementsRemoved",
                        usize::try_from(acknowledgements).unwrap_or(usize::MAX),
                    );
                }
            }
        }
        Ok(held)
    }
}
