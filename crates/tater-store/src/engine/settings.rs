//! An organization's settings document.

use super::*;

#[async_trait]
impl<D: Driver> SettingsTx for EngineTenantTx<D> {
    async fn settings(&mut self) -> Result<crate::OrgSettings> {
        // Locked in write transactions: a job created, or a command handed out, under
        // the switch's protection cannot interleave with the switch being turned off.
        let lock = self.lock();
        let sql = format!(
            "SELECT remote_execution, exception_approver, ai_enabled FROM org_settings \
             WHERE tenant_id = $1{lock}"
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(match row {
            Some(r) => crate::OrgSettings {
                remote_execution: r.try_get("remote_execution")?,
                exception_approver: r.try_get("exception_approver")?,
                ai_enabled: r.try_get("ai_enabled")?,
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
            "INSERT INTO org_settings \
             (tenant_id, remote_execution, exception_approver, ai_enabled, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id) DO UPDATE SET \
             remote_execution = excluded.remote_execution, \
             exception_approver = excluded.exception_approver, \
             ai_enabled = excluded.ai_enabled, updated_at = excluded.updated_at",
        )
        .bind(self.tenant())
        .bind(st.remote_execution)
        .bind(st.exception_approver.as_deref())
        .bind(st.ai_enabled)
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn settings_doc(&mut self, doc: crate::SettingsDoc) -> Result<Option<Value>> {
        // The column name comes from the enum, never from input.
        let col = doc.column();
        let sql = format!("SELECT {col} FROM org_settings WHERE tenant_id = $1");
        let row = D::query(&sql)
            .bind(self.tenant())
            .fetch_optional(&mut *self.tx)
            .await?;
        let Some(text) = row
            .map(|r| r.try_get::<Option<String>>(col))
            .transpose()?
            .flatten()
        else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|_| corrupt("org_settings document"))
    }

    async fn put_settings_doc(
        &mut self,
        doc: crate::SettingsDoc,
        value: &Value,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()> {
        let col = doc.column();
        let sql = format!(
            "INSERT INTO org_settings (tenant_id, remote_execution, {col}, updated_at) \
             VALUES ($1, FALSE, $2, $3) ON CONFLICT (tenant_id) DO UPDATE SET \
             {col} = excluded.{col}, updated_at = excluded.updated_at"
        );
        D::query(&sql)
            .bind(self.tenant())
            .bind(value.to_string())
            .bind(now.millis())
            .execute(&mut *self.tx)
            .await?;
        self.audited(audit).await
    }

    async fn ai_settings(&mut self) -> Result<crate::AiSettings> {
        let row = D::query(
            "SELECT ai_key_enc, ai_key_last4, ai_key_set_at, ai_model FROM org_settings \
             WHERE tenant_id = $1",
        )
        .bind(self.tenant())
        .fetch_optional(&mut *self.tx)
        .await?;
        let Some(r) = row else {
            return Ok(crate::AiSettings::default());
        };
        let sealed: Option<String> = r.try_get("ai_key_enc")?;
        let key = match sealed {
            Some(sealed) => Some(crate::AiKey {
                sealed,
                last4: r
                    .try_get::<Option<String>>("ai_key_last4")?
                    .unwrap_or_default(),
                set_at: Timestamp::from_millis(
                    r.try_get::<Option<i64>>("ai_key_set_at")?
                        .unwrap_or_default(),
                ),
            }),
            None => None,
        };
        Ok(crate::AiSettings {
            key,
            model: r.try_get("ai_model")?,
        })
    }

    async fn put_ai_settings(
        &mut self,
        ai: &crate::AiSettings,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()> {
        let key = ai.key.as_ref();
        D::query(
            "INSERT INTO org_settings \
             (tenant_id, remote_execution, ai_key_enc, ai_key_last4, ai_key_set_at, ai_model, \
              updated_at) \
             VALUES ($1, FALSE, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id) DO UPDATE SET \
             ai_key_enc = excluded.ai_key_enc, ai_key_last4 = excluded.ai_key_last4, \
             ai_key_set_at = excluded.ai_key_set_at, ai_model = excluded.ai_model, \
             updated_at = excluded.updated_at",
        )
        .bind(self.tenant())
        .bind(key.map(|k| k.sealed.as_str()))
        .bind(key.map(|k| k.last4.as_str()))
        .bind(key.map(|k| k.set_at.millis()))
        .bind(ai.model.as_deref())
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }
}
