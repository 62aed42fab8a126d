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
        let sql = format!(
            "SELECT remote_execution, exception_approver FROM org_settings WHERE tenant_id = $1{lock}"
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(match row {
            Some(r) => crate::OrgSettings {
                remote_execution: r.try_get("remote_execution")?,
                exception_approver: r.try_get("exception_approver")?,
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
            "INSERT INTO org_settings (tenant_id, remote_execution, exception_approver, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO UPDATE SET \
             remote_execution = excluded.remote_execution, \
             exception_approver = excluded.exception_approver, updated_at = excluded.updated_at",
        )
        .bind(self.tenant())
        .bind(st.remote_execution)
        .bind(st.exception_approver.as_deref())
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn mcp_policy(&mut self) -> Result<Option<Value>> {
        let row = D::query("SELECT mcp_policy FROM org_settings WHERE tenant_id = $1")
            .bind(self.tenant())
            .fetch_optional(&mut *self.tx)
            .await?;
        let Some(text) = row
            .map(|r| r.try_get::<Option<String>>("mcp_policy"))
            .transpose()?
            .flatten()
        else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|_| corrupt("org_settings.mcp_policy"))
    }

    async fn put_mcp_policy(
        &mut self,
        policy: &Value,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()> {
        D::query(
            "INSERT INTO org_settings (tenant_id, remote_execution, mcp_policy, updated_at) \
             VALUES ($1, FALSE, $2, $3) ON CONFLICT (tenant_id) DO UPDATE SET \
             mcp_policy = excluded.mcp_policy, updated_at = excluded.updated_at",
        )
        .bind(self.tenant())
        .bind(policy.to_string())
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }
}
