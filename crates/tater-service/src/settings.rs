//! Organization settings (OrgAdmin, audited): feature switches that are off until turned on.

use serde_json::{Value, json};
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, AuditAction, AuditDraft, TargetStatus};
use tater_store::OrgSettings;

use crate::{Service, ServiceResult};

pub fn settings_view(s: &OrgSettings) -> crate::use_cases::OrgSettings {
    crate::use_cases::OrgSettings {
        remote_execution: s.remote_execution,
    }
}

/// The settings as an audit entry records them.
fn audited(s: &OrgSettings) -> Value {
    json!({ "remoteExecution": s.remote_execution })
}

impl Service {
    /// The active organization's settings (any member may read them).
    pub async fn get_settings(
        &self,
        actor: &Actor,
    ) -> ServiceResult<crate::use_cases::OrgSettings> {
        let permit = authorize(actor, Action::Read)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        Ok(settings_view(&tx.settings().await?))
    }

    /// Replaces the settings. OrgAdmin; audited when it changes. Turning remote execution off
    /// also cancels the commands still queued.
    pub async fn update_settings(
        &self,
        actor: &Actor,
        input: &crate::use_cases::OrgSettings,
    ) -> ServiceResult<crate::use_cases::OrgSettings> {
        let permit = authorize(actor, Action::ManageSettings)?;
        let new = OrgSettings {
            remote_execution: input.remote_execution,
        };
        let mut tx = self.store.tenant(&permit).await?;
        let old = tx.settings().await?;
        if old != new {
            let now = self.now();
            let audit = AuditDraft::new(actor, AuditAction::Update, "settings", actor.org(), now)
                .with_changes(Some(&audited(&old)), Some(&audited(&new)), &[]);
            tx.put_settings(&new, now, &audit).await?;
            if old.remote_execution && !new.remote_execution {
                // The switch also stops what is queued, in the same transaction: no agent
                // can fetch a command once the change is committed.
                let reason = format!("remote execution was turned off by {}", actor.audit_upn());
                crate::jobs::end_pending(
                    &mut *tx,
                    actor,
                    None,
                    None,
                    TargetStatus::Cancelled,
                    &reason,
                    now,
                )
                .await?;
            }
            tx.commit().await?;
        }
        Ok(settings_view(&new))
    }
}
