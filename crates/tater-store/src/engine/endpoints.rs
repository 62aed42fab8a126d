//! Enrolled endpoints and their enrollment tokens.

use super::*;

pub(super) const TOKEN_COLUMNS: &str = "tenant_id, id, token_hash, prefix, label, single_use, uses, \
     created_at, expires_at, revoked_at, created_by, hostnames";
pub(super) const ENDPOINT_COLUMNS: &str = "tenant_id, id, hostname, os, os_version, arch, agent_version, \
     tags, status, credential_hash, credential_prefix, enrolled_at, last_seen_at, last_scan_id, \
     reenroll_allowed_until, version, created_at, updated_at";
pub(super) fn token_from_row(row: &impl RowRead) -> Result<EnrollmentToken> {
    Ok(EnrollmentToken {
        id: parse_col(row, "id")?,
        org: parse_col(row, "tenant_id")?,
        token_hash: row.try_get("token_hash")?,
        prefix: row.try_get("prefix")?,
        label: row.try_get("label")?,
        single_use: row.try_get("single_use")?,
        uses: row.try_get("uses")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        revoked_at: opt_ts(row, "revoked_at")?,
        created_by: row.try_get("created_by")?,
        hostnames: row
            .try_get::<Option<Json<Vec<String>>>>("hostnames")?
            .map(|Json(h)| h),
    })
}

pub(super) fn endpoint_from_row(row: &impl RowRead) -> Result<Endpoint> {
    let Json(tags): Json<Vec<String>> = row.try_get("tags")?;
    Ok(Endpoint {
        id: parse_col(row, "id")?,
        org: parse_col(row, "tenant_id")?,
        hostname: row.try_get("hostname")?,
        os: row.try_get("os")?,
        os_version: row.try_get("os_version")?,
        arch: row.try_get("arch")?,
        agent_version: row.try_get("agent_version")?,
        tags,
        status: row.try_get("status")?,
        credential_hash: row.try_get("credential_hash")?,
        credential_prefix: row.try_get("credential_prefix")?,
        enrolled_at: ts(row, "enrolled_at")?,
        last_seen_at: opt_ts(row, "last_seen_at")?,
        last_scan_id: parse_opt_col(row, "last_scan_id")?,
        reenroll_allowed_until: opt_ts(row, "reenroll_allowed_until")?,
        version: row.try_get("version")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

#[async_trait]
impl<D: Driver> EndpointsTx for EngineTenantTx<D> {
    async fn delete_enrollment_tokens_ended_before(&mut self, before: Timestamp) -> Result<u64> {
        let done = D::query(
            "DELETE FROM enrollment_tokens WHERE tenant_id = $1 \
             AND (expires_at < $2 OR revoked_at < $2)",
        )
        .bind(self.tenant())
        .bind(before.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    async fn endpoint_named(&mut self, hostname: &str) -> Result<Option<Endpoint>> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE tenant_id = $1 AND hostname = $2"
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(hostname)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    async fn enrollment_tokens(&mut self) -> Result<Vec<EnrollmentToken>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM enrollment_tokens WHERE tenant_id = $1 ORDER BY created_at DESC, id"
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn insert_enrollment_token(
        &mut self,
        t: &EnrollmentToken,
        audit: &AuditDraft,
    ) -> Result<()> {
        D::query(
            "INSERT INTO enrollment_tokens (tenant_id, id, token_hash, prefix, label, single_use, \
             uses, created_at, expires_at, revoked_at, created_by, hostnames) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(self.tenant())
        .bind(t.id.to_string())
        .bind(&t.token_hash)
        .bind(&t.prefix)
        .bind(&t.label)
        .bind(t.single_use)
        .bind(t.uses)
        .bind(t.created_at.millis())
        .bind(t.expires_at.millis())
        .bind(t.revoked_at.map(Timestamp::millis))
        .bind(&t.created_by)
        .bind(t.hostnames.as_ref().map(Json))
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn revoke_enrollment_token(
        &mut self,
        id: EnrollmentTokenId,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()> {
        let done = D::query(
            "UPDATE enrollment_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 \
             AND revoked_at IS NULL",
        )
        .bind(self.tenant())
        .bind(id.to_string())
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audit_if_touched(done.rows_affected(), audit).await
    }

    async fn endpoints(&mut self, q: &EndpointQuery) -> Result<Vec<Endpoint>> {
        let mut b = SqlBuilder::new(
            D::KIND,
            format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE tenant_id = $1"),
            1,
        );
        if let Some(status) = &q.status {
            let p = b.arg(Arg::Text(status.clone()));
            b.push(&format!(" AND status = {p}"));
        }
        if let Some(text) = &q.q {
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let p = b.arg(Arg::Text(format!("%{escaped}%")));
            b.push(&format!(" AND hostname LIKE {p} ESCAPE '\\'"));
        }
        let hostname = bytewise(D::KIND, "hostname");
        if let Some(after) = &q.after_hostname {
            let p = b.arg(Arg::Text(after.clone()));
            b.push(&format!(" AND {hostname} > {p}"));
        }
        b.push(&format!(
            " ORDER BY {hostname} LIMIT {}",
            u64::from(q.limit) + 1
        ));
        let query = D::query(&b.sql).bind(self.tenant());
        let rows = bind_args::<D>(query, &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(endpoint_from_row).collect()
    }

    async fn endpoint_totals(&mut self, seen_since: Timestamp) -> Result<EndpointTotals> {
        let row = D::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS active, \
             CAST(COUNT(last_scan_id) AS BIGINT) AS reporting, \
             CAST(COALESCE(SUM(CASE WHEN last_seen_at IS NULL OR last_seen_at < $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS stale \
             FROM endpoints WHERE tenant_id = $1 AND status = 'active'",
        )
        .bind(self.tenant())
        .bind(seen_since.millis())
        .fetch_one(&mut *self.tx)
        .await?;
        let count = |name: &str| -> Result<u64> {
            let n: i64 = row.try_get(name)?;
            u64::try_from(n).map_err(|_| corrupt("endpoint count"))
        };
        Ok(EndpointTotals {
            active: count("active")?,
            reporting: count("reporting")?,
            stale: count("stale")?,
        })
    }

    async fn endpoint(&mut self, id: EndpointId) -> Result<Option<Endpoint>> {
        let sql =
            format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE tenant_id = $1 AND id = $2");
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    async fn update_endpoint(
        &mut self,
        e: &Endpoint,
        expected_version: i64,
        audit: &AuditDraft,
    ) -> Result<()> {
        let tenant = self.tenant();
        // Row, counters, audit head: the order `endpoint_state` describes.
        let before = endpoint_state::<D>(
            &mut self.tx,
            &tenant,
            &e.id.to_string(),
            RowLock::UpdateKeys,
        )
        .await?;
        let done = D::query(
            "UPDATE endpoints SET tags = $3, status = $4, credential_hash = $5, credential_prefix = $6, \
             version = $7, updated_at = $8, reenroll_allowed_until = $10 \
             WHERE tenant_id = $1 AND id = $2 AND version = $9",
        )
        .bind(&tenant)
        .bind(e.id.to_string())
        .bind(Json(&e.tags))
        .bind(&e.status)
        .bind(&e.credential_hash)
        .bind(&e.credential_prefix)
        .bind(e.version)
        .bind(e.updated_at.millis())
        .bind(expected_version)
        .bind(e.reenroll_allowed_until.map(Timestamp::millis))
        .execute(&mut *self.tx)
        .await?;
        let Some((status, latest, _)) = before.filter(|_| done.rows_affected() > 0) else {
            return Err(match self.endpoint(e.id).await {
                Ok(Some(_)) => {
                    StoreError::Conflict("the endpoint was changed by someone else".into())
                }
                Ok(None) => StoreError::NotFound,
                Err(err) => err,
            });
        };
        follow_status::<D>(
            &mut self.tx,
            &tenant,
            &e.id.to_string(),
            latest.as_deref(),
            status == "active",
            e.status == "active",
        )
        .await?;
        self.audited(audit).await
    }

    async fn delete_endpoint(&mut self, id: EndpointId, audit: &AuditDraft) -> Result<()> {
        let tenant = self.tenant();
        let (status, latest, _) =
            endpoint_state::<D>(&mut self.tx, &tenant, &id.to_string(), RowLock::UpdateKeys)
                .await?
                .ok_or(StoreError::NotFound)?;
        follow_status::<D>(
            &mut self.tx,
            &tenant,
            &id.to_string(),
            latest.as_deref(),
            status == "active",
            false,
        )
        .await?;
        D::query("DELETE FROM endpoints WHERE tenant_id = $1 AND id = $2")
            .bind(&tenant)
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await?;
        self.audited(audit).await
    }
}
