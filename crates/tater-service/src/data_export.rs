//! "Take all my data" (`GET /api/export`): who may, and the audit entry it leaves. The server
//! assembles the archive from the ordinary list and export use cases, each of which checks
//! its own permission as well.

use serde_json::Value;
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, AuditAction, AuditDraft};

use crate::{Service, ServiceResult};

/// The audit entity type of a full export.
pub const DATA_EXPORT_ENTITY: &str = "data-export";

impl Service {
    /// Refuses anyone below OrgAdmin before any data is read.
    pub fn authorize_data_export(&self, actor: &Actor) -> ServiceResult<()> {
        authorize(actor, Action::ExportAll)?;
        Ok(())
    }

    /// Records that `actor` took a full export (`summary`: what it held), as the creation of
    /// a `data-export` with its own id. Returns that id.
    pub async fn record_data_export(&self, actor: &Actor, summary: Value) -> ServiceResult<String> {
        let permit = authorize(actor, Action::ExportAll)?;
        let id = tater_domain::RecordId::generate().to_string();
        let mut draft = AuditDraft::new(
            actor,
            AuditAction::Create,
            DATA_EXPORT_ENTITY,
            &id,
            self.now(),
        );
        draft.changes = serde_json::json!({ "contents": { "before": null, "after": summary } });
        let mut tx = self.store.tenant(&permit).await?;
        tx.record_event(&draft).await?;
        tx.commit().await?;
        Ok(id)
    }
}
