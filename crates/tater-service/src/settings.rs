//! Organization settings (OrgAdmin, audited): feature switches that are off until turned on.

use serde_json::{Value, json};
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, AuditAction, AuditDraft, Email, Role, TargetStatus, ValidationErrors};
use tater_store::{OrgSettings, TenantTx};

use crate::{Service, ServiceResult};

pub fn settings_view(s: &OrgSettings) -> crate::use_cases::OrgSettings {
    crate::use_cases::OrgSettings {
        remote_execution: s.remote_execution,
        exception_approver: s.exception_approver.clone(),
        ai_enabled: Some(s.ai_enabled),
    }
}

/// The settings as an audit entry records them.
fn audited(s: &OrgSettings) -> Value {
    json!({
        "remoteExecution": s.remote_execution,
        "exceptionApprover": s.exception_approver,
        "aiEnabled": s.ai_enabled,
    })
}

/// The designated exception approver as given: a member's address (normalised), or nobody
/// for an empty one.
async fn exception_approver(tx: &mut dyn TenantTx, given: &str) -> ServiceResult<Option<String>> {
    let given = given.trim();
    if given.is_empty() {
        return Ok(None);
    }
    let field = "exceptionApprover";
    let email = Email::parse(given)
        .map_err(|_| ValidationErrors::single(field, "must be an e-mail address"))?;
    let member = tx
        .members()
        .await?
        .into_iter()
        .find(|(_, u)| u.email == email);
    match member {
        Some((m, _)) if m.role >= Role::Admin => Ok(Some(email.as_str().to_owned())),
        Some(_) => Err(ValidationErrors::single(
            field,
            "must be a member with the Admin role or above (approving is a write)",
        )
        .into()),
        None => {
            Err(ValidationErrors::single(field, "must be a member of this organization").into())
        }
    }
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
        let mut tx = self.store.tenant(&permit).await?;
        let old = tx.settings().await?;
        let approver = match input.exception_approver.as_deref() {
            // Left out: unchanged, so a client that knows only the switch keeps it.
            None => old.exception_approver.clone(),
            Some(given) => exception_approver(&mut *tx, given).await?,
        };
        let new = OrgSettings {
            remote_execution: input.remote_execution,
            exception_approver: approver,
            ai_enabled: input.ai_enabled.unwrap_or(old.ai_enabled),
        };
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
