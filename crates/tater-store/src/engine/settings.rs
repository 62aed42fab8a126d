//! An organization's settings document.

use super::*;

#[async_trait]
impl<D: Driver> SettingsTx for EngineTenantTx<D> {
    async fn settings(&mut self) -> Result<crate::OrgSettings> {
        // Locked in write transactions: a job created, or a command handed out, under
        // the switch's protection cannot interleave with the switch being turned off.
        let lock = if self.mode == Mode::Write {
            D::LOCK
        } else {
            ""
        };
        let sql = format!("SELECT remote_execution FROM org_settings WHERE tenant_id = $1{lock}");
        let row = D::query(&sql)
            .bind(self.tenant())
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(match row {
            Some(r) => crate::OrgSettings {
                remote_execution: r.try_get("remote_execution")?,
            },
            None => crate::OrgSettings::default(),
        })
    }

    async fn put_settings(
        &mut self,
        st: &crate::OrgSettings,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()> {
        D::query(
            "INSERT INTO org_settings (tenant_id, remote_execution, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET remote_execution = excluded.remote_execution, \
             updated_at = excluded.updated_at",
        )
        .bind(self.tenant())
        .bind(st.remote_execution)
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }
}
