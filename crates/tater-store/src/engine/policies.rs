//! Policies' published versions and the members' acknowledgements of them.

use tater_domain::time::{format_date, parse_date};
use tater_domain::{PolicyAcknowledgement, PolicyVersion, UserId};

use super::*;

const VERSION_COLUMNS: &str = "record_id, version, title, category, owner, effective_date, \
     approved_by, approved_at, transition_id, sha256, retired_at";
const ACK_COLUMNS: &str = "record_id, version, user_id, email, at";

fn version_no(row: &impl RowRead, col: &str) -> Result<u32> {
    u32::try_from(row.try_get::<i64>(col)?).map_err(|_| corrupt(col))
}

fn version_from_row(row: &impl RowRead, body: String) -> Result<PolicyVersion> {
    let effective: String = row.try_get("effective_date")?;
    Ok(PolicyVersion {
        policy: parse_col(row, "record_id")?,
        version: version_no(row, "version")?,
        title: row.try_get("title")?,
        category: row.try_get("category")?,
        owner: row.try_get("owner")?,
        body,
        effective_date: parse_date(&effective).map_err(|_| corrupt("effective_date"))?,
        approved_by: row.try_get("approved_by")?,
        approved_at: ts(row, "approved_at")?,
        transition: parse_col(row, "transition_id")?,
        sha256: row.try_get("sha256")?,
        retired_at: opt_ts(row, "retired_at")?,
    })
}

fn acknowledgement_from_row(row: &impl RowRead) -> Result<PolicyAcknowledgement> {
    Ok(PolicyAcknowledgement {
        policy: parse_col(row, "record_id")?,
        version: version_no(row, "version")?,
        user: parse_col(row, "user_id")?,
        email: row.try_get("email")?,
        at: ts(row, "at")?,
    })
}

#[async_trait]
impl<D: Driver> PoliciesTx for EngineTenantTx<D> {
    async fn insert_policy_version(&mut self, v: &PolicyVersion) -> Result<()> {
        D::query(
            "INSERT INTO policy_versions (tenant_id, record_id, version, title, category, owner, \
             body, effective_date, approved_by, approved_at, transition_id, sha256) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(self.tenant())
        .bind(v.policy.to_string())
        .bind(i64::from(v.version))
        .bind(&v.title)
        .bind(&v.category)
        .bind(&v.owner)
        .bind(&v.body)
        .bind(format_date(v.effective_date))
        .bind(&v.approved_by)
        .bind(v.approved_at.millis())
        .bind(v.transition.to_string())
        .bind(&v.sha256)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn policy_versions(
        &mut self,
        policy: RecordId,
        limit: u32,
    ) -> Result<Vec<PolicyVersion>> {
        let rows = D::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM policy_versions WHERE tenant_id = $1 \
             AND record_id = $2 ORDER BY version DESC LIMIT $3"
        ))
        .bind(self.tenant())
        .bind(policy.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| version_from_row(r, String::new()))
            .collect()
    }

    async fn policy_version(
        &mut self,
        policy: RecordId,
        version: u32,
    ) -> Result<Option<PolicyVersion>> {
        let row = D::query(&format!(
            "SELECT {VERSION_COLUMNS}, body FROM policy_versions WHERE tenant_id = $1 \
             AND record_id = $2 AND version = $3"
        ))
        .bind(self.tenant())
        .bind(policy.to_string())
        .bind(i64::from(version))
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| version_from_row(&r, r.try_get("body")?))
            .transpose()
    }

    async fn retire_policy_versions(&mut self, policy: RecordId, at: Timestamp) -> Result<u64> {
        let done = D::query(
            "UPDATE policy_versions SET retired_at = $3 WHERE tenant_id = $1 AND record_id = $2 \
             AND retired_at IS NULL",
        )
        .bind(self.tenant())
        .bind(policy.to_string())
        .bind(at.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    async fn acknowledgement_counts(
        &mut self,
        policy: RecordId,
        members_only: bool,
    ) -> Result<Vec<(u32, i64)>> {
        let members = if members_only {
            " AND EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = a.tenant_id \
             AND m.user_id = a.user_id)"
        } else {
            ""
        };
        let rows = D::query(&format!(
            "SELECT a.version, COUNT(*) AS n FROM policy_acknowledgements a \
             WHERE a.tenant_id = $1 AND a.record_id = $2{members} GROUP BY a.version"
        ))
        .bind(self.tenant())
        .bind(policy.to_string())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| Ok((version_no(r, "version")?, r.try_get::<i64>("n")?)))
            .collect()
    }

    async fn insert_policy_acknowledgement(
        &mut self,
        ack: &PolicyAcknowledgement,
        audit: &AuditDraft,
    ) -> Result<bool> {
        let done = D::query(
            "INSERT INTO policy_acknowledgements (tenant_id, record_id, version, user_id, email, \
             at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(self.tenant())
        .bind(ack.policy.to_string())
        .bind(i64::from(ack.version))
        .bind(ack.user.to_string())
        .bind(&ack.email)
        .bind(ack.at.millis())
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        self.audited(audit).await?;
        Ok(true)
    }

    async fn policy_acknowledgements(
        &mut self,
        policy: RecordId,
        version: u32,
        limit: u32,
    ) -> Result<Vec<PolicyAcknowledgement>> {
        let rows = D::query(&format!(
            "SELECT {ACK_COLUMNS} FROM policy_acknowledgements \
             WHERE tenant_id = $1 AND record_id = $2 AND version = $3 \
             ORDER BY at, user_id LIMIT $4"
        ))
        .bind(self.tenant())
        .bind(policy.to_string())
        .bind(i64::from(version))
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(acknowledgement_from_row).collect()
    }

    async fn acknowledgement_of(
        &mut self,
        policy: RecordId,
        version: u32,
        user: UserId,
    ) -> Result<Option<PolicyAcknowledgement>> {
        let row = D::query(&format!(
            "SELECT {ACK_COLUMNS} FROM policy_acknowledgements WHERE tenant_id = $1 \
             AND record_id = $2 AND version = $3 AND user_id = $4"
        ))
        .bind(self.tenant())
        .bind(policy.to_string())
        .bind(i64::from(version))
        .bind(user.to_string())
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(acknowledgement_from_row).transpose()
    }

    async fn unacknowledged_in_force(
        &mut self,
        user: UserId,
        limit: u32,
    ) -> Result<Vec<PolicyVersion>> {
        let rows = D::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM policy_versions v WHERE v.tenant_id = $1 \
             AND v.retired_at IS NULL \
             AND v.version = (SELECT MAX(w.version) FROM policy_versions w \
                 WHERE w.tenant_id = v.tenant_id AND w.record_id = v.record_id) \
             AND NOT EXISTS (SELECT 1 FROM policy_acknowledgements a \
                 WHERE a.tenant_id = v.tenant_id AND a.record_id = v.record_id \
                 AND a.version = v.version AND a.user_id = $2) \
             ORDER BY v.title, v.record_id LIMIT $3"
        ))
        .bind(self.tenant())
        .bind(user.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| version_from_row(r, String::new()))
            .collect()
    }
}
