//! Organization settings (OrgAdmin, audited): feature switches that are off until turned on.

use serde_json::{Value, json};
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, AuditAction, AuditDraft, TargetStatus, ValidationErrors};
use tater_store::OrgSettings;

use crate::{Service, ServiceResult};

pub fn settings_view(s: &OrgSettings) -> Value {
    json!({ "remoteExecution": s.remote_execution })
}

impl Service {
    /// The active organization's settings (any member may read them).
    pub async fn get_settings(&self, actor: &Actor) -> ServiceResult<Value> {
        let permit = authorize(actor, Action::Read)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        Ok(settings_view(&tx.settings().await?))
    }

    /// Replaces the settings: `{"remoteExecution": bool}`. OrgAdmin; audited when it changes.
    pub async fn update_settings(&self, actor: &Actor, body: &Value) -> ServiceResult<Value> {
        let permit = authorize(actor, Action::ManageSettings)?;
        let obj = body
            .as_object()
            .ok_or_else(|| ValidationErrors::single("body", "must be a JSON object"))?;
        let mut errors = ValidationErrors::new();
        for key in obj.keys().filter(|k| k.as_str() != "remoteExecution") {
            errors.add(key.as_str(), "is not a setting");
        }
        let remote = match obj.get("remoteExecution") {
            Some(Value::Bool(b)) => *b,
            _ => {
                errors.add("remoteExecution", "must be true or false");
                false
            }
        };
        errors.into_result(())?;
        let new = OrgSettings {
            remote_execution: remote,
        };
        let mut tx = self.store.tenant(&permit).await?;
        let old = tx.settings().await?;
        if old != new {
            let now = self.now();
            let audit = AuditDraft::new(actor, AuditAction::Update, "settings", actor.org(), now)
                .with_changes(Some(&settings_view(&old)), Some(&settings_view(&new)), &[]);
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
