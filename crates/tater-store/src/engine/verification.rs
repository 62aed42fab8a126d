//! Identity verification by emailed code: the codes issued for an API key and the key's
//! verified window. Part of the identity transaction (keys are the user's, across
//! organizations); each change writes the audit entries it is given.

use super::*;
use tater_domain::{IdentityCode, IdentityCodeId};

const CODE_COLUMNS: &str = "id, api_key_id, code_hash, created_at, expires_at, attempts, used_at";

fn code_from_row(r: &impl RowRead) -> Result<IdentityCode> {
    Ok(IdentityCode {
        id: parse_col(r, "id")?,
        key: parse_col(r, "api_key_id")?,
        code_hash: r.try_get("code_hash")?,
        created_at: ts(r, "created_at")?,
        expires_at: ts(r, "expires_at")?,
        attempts: r.try_get("attempts")?,
        used_at: opt_ts(r, "used_at")?,
    })
}

#[async_trait]
impl<D: Driver> VerificationTx for EngineIdentityTx<D> {
    async fn delete_identity_codes_expired_before(&mut self, before: Timestamp) -> Result<u64> {
        let done = D::query("DELETE FROM identity_codes WHERE expires_at < $1")
            .bind(before.millis())
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected())
    }

    async fn lock_api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1{}",
            D::LOCK
        );
        let row = D::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn codes_issued_since(&mut self, key: ApiKeyId, since: Timestamp) -> Result<i64> {
        let row = D::query(
            "SELECT COUNT(*) AS n FROM identity_codes WHERE api_key_id = $1 AND created_at >= $2",
        )
        .bind(key.to_string())
        .bind(since.millis())
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.try_get("n")?)
    }

    async fn codes_issued_for_user_since(&mut self, user: UserId, since: Timestamp) -> Result<i64> {
        let row = D::query(
            "SELECT COUNT(*) AS n FROM identity_codes c JOIN api_keys k ON k.id = c.api_key_id \
             WHERE k.user_id = $1 AND c.created_at >= $2",
        )
        .bind(user.to_string())
        .bind(since.millis())
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.try_get("n")?)
    }

    async fn insert_identity_code(
        &mut self,
        code: &IdentityCode,
        audits: &[(OrgId, AuditDraft)],
    ) -> Result<()> {
        D::query(
            "INSERT INTO identity_codes (id, api_key_id, code_hash, created_at, expires_at, \
             attempts, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(code.id.to_string())
        .bind(code.key.to_string())
        .bind(&code.code_hash)
        .bind(code.created_at.millis())
        .bind(code.expires_at.millis())
        .bind(code.attempts)
        .bind(code.used_at.map(Timestamp::millis))
        .execute(&mut *self.tx)
        .await?;
        append_audits::<D>(&mut self.tx, &self.audit, audits).await
    }

    async fn latest_identity_code(&mut self, key: ApiKeyId) -> Result<Option<IdentityCode>> {
        let sql = format!(
            "SELECT {CODE_COLUMNS} FROM identity_codes WHERE api_key_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        );
        let row = D::query(&sql)
            .bind(key.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(code_from_row).transpose()
    }

    async fn count_code_attempt(
        &mut self,
        code: IdentityCodeId,
        audits: &[(OrgId, AuditDraft)],
    ) -> Result<()> {
        D::query("UPDATE identity_codes SET attempts = attempts + 1 WHERE id = $1")
            .bind(code.to_string())
            .execute(&mut *self.tx)
            .await?;
        append_audits::<D>(&mut self.tx, &self.audit, audits).await
    }

    async fn record_audits(&mut self, audits: &[(OrgId, AuditDraft)]) -> Result<()> {
        append_audits::<D>(&mut self.tx, &self.audit, audits).await
    }

    async fn verify_api_key(
        &mut self,
        code: IdentityCodeId,
        at: Timestamp,
        until: Timestamp,
        audits: &[(OrgId, AuditDraft)],
    ) -> Result<()> {
        // A code is used once: a second use of the same one finds nothing to update.
        let row = D::query(
            "UPDATE identity_codes SET attempts = attempts + 1, used_at = $2 \
             WHERE id = $1 AND used_at IS NULL RETURNING api_key_id",
        )
        .bind(code.to_string())
        .bind(at.millis())
        .fetch_optional(&mut *self.tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let key: String = row.try_get("api_key_id")?;
        D::query("UPDATE api_keys SET verified_at = $2, verified_until = $3 WHERE id = $1")
            .bind(key)
            .bind(at.millis())
            .bind(until.millis())
            .execute(&mut *self.tx)
            .await?;
        append_audits::<D>(&mut self.tx, &self.audit, audits).await
    }
}
