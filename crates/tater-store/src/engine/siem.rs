//! SIEM destinations (tenant side) and the delivery worker's cross-tenant transaction.

use super::*;

pub(super) const DESTINATION_COLUMNS: &str = "d.tenant_id, d.id, d.name, d.kind, d.config, d.secret_enc, \
     d.enabled, d.version, d.created_at, d.updated_at, d.delivered, d.last_success_at, \
     d.last_error, d.last_error_at, d.failing_since, d.attempts, d.next_attempt_at, \
     (SELECT COUNT(*) FROM siem_outbox o WHERE o.tenant_id = d.tenant_id \
      AND o.destination_id = d.id AND o.state = 'pending') AS pending, \
     (SELECT MIN(o.created_at) FROM siem_outbox o WHERE o.tenant_id = d.tenant_id \
      AND o.destination_id = d.id AND o.state = 'pending') AS oldest_pending_at, \
     (SELECT COUNT(*) FROM siem_outbox o WHERE o.tenant_id = d.tenant_id \
      AND o.destination_id = d.id AND o.state = 'dead') AS dead_letters";

pub(super) fn destination_from_row(row: &impl RowRead) -> Result<(Destination, DeliveryState)> {
    let Json(config): Json<Value> = row.try_get("config")?;
    let kind: String = row.try_get("kind")?;
    let d = Destination {
        id: parse_col(row, "id")?,
        org: parse_col(row, "tenant_id")?,
        name: row.try_get("name")?,
        kind: kind.parse().map_err(|_| corrupt("kind"))?,
        config,
        secret_enc: row.try_get("secret_enc")?,
        enabled: row.try_get("enabled")?,
        version: row.try_get("version")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    };
    let next: i64 = row.try_get("next_attempt_at")?;
    let state = DeliveryState {
        pending: row.try_get("pending")?,
        oldest_pending_at: opt_ts(row, "oldest_pending_at")?,
        dead_letters: row.try_get("dead_letters")?,
        delivered: row.try_get("delivered")?,
        last_success_at: opt_ts(row, "last_success_at")?,
        last_error: row.try_get("last_error")?,
        last_error_at: opt_ts(row, "last_error_at")?,
        failing_since: opt_ts(row, "failing_since")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: (next > 0).then(|| Timestamp::from_millis(next)),
    };
    Ok((d, state))
}

/// The delivery worker's cross-tenant transaction (SPEC T2: a named system operation).
pub struct EngineDeliveryTx<D: Driver> {
    pub(crate) tx: D::Tx,
}

#[async_trait]
impl<D: Driver> DeliveryTx for EngineDeliveryTx<D> {
    async fn queue_depths(&mut self, limit: u32) -> Result<Vec<crate::QueueDepth>> {
        let rows = D::query(
            "SELECT d.tenant_id, o.name, d.id, COUNT(x.seq) AS pending, \
                    MIN(x.created_at) AS oldest \
             FROM siem_destinations d \
             JOIN organizations o ON o.id = d.tenant_id \
             LEFT JOIN siem_outbox x ON x.tenant_id = d.tenant_id \
                  AND x.destination_id = d.id AND x.state = 'pending' \
             WHERE d.enabled \
             GROUP BY d.tenant_id, o.name, d.id ORDER BY d.tenant_id, d.id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                let oldest: Option<i64> = r.try_get("oldest")?;
                Ok(crate::QueueDepth {
                    org: parse_col(r, "tenant_id")?,
                    org_name: r.try_get("name")?,
                    destination: parse_col(r, "id")?,
                    pending: r.try_get("pending")?,
                    oldest: oldest.map(Timestamp::from_millis),
                })
            })
            .collect()
    }

    async fn claim_due(
        &mut self,
        owner: &str,
        now: Timestamp,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<DueDestination>> {
        let sql = format!(
            "UPDATE siem_destinations SET lease_owner = $1, lease_until = $2 \
             WHERE (tenant_id, id) IN (SELECT d.tenant_id, d.id FROM siem_destinations d \
             WHERE d.enabled AND d.next_attempt_at <= $3 \
             AND (d.lease_until IS NULL OR d.lease_until < $3 OR d.lease_owner = $1) \
             AND EXISTS (SELECT 1 FROM siem_outbox o WHERE o.tenant_id = d.tenant_id \
             AND o.destination_id = d.id AND o.state = 'pending') \
             AND NOT EXISTS (SELECT 1 FROM organizations g WHERE g.id = d.tenant_id \
             AND g.terminated_at IS NOT NULL) \
             ORDER BY d.next_attempt_at LIMIT $4{}) \
             RETURNING tenant_id, id, kind, config, secret_enc, attempts, failing_since",
            D::SKIP_LOCKED
        );
        let rows = D::query(&sql)
            .bind(owner)
            .bind(now.millis() + lease_ms)
            .bind(now.millis())
            .bind(i64::from(limit))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                let Json(config): Json<Value> = r.try_get("config")?;
                let kind: String = r.try_get("kind")?;
                Ok(DueDestination {
                    org: parse_col(r, "tenant_id")?,
                    id: parse_col(r, "id")?,
                    kind: kind.parse().map_err(|_| corrupt("kind"))?,
                    config,
                    secret_enc: r.try_get("secret_enc")?,
                    attempts: r.try_get("attempts")?,
                    failing_since: opt_ts(r, "failing_since")?,
                })
            })
            .collect()
    }

    async fn pending(
        &mut self,
        org: OrgId,
        id: DestinationId,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        let rows = D::query(
            "SELECT a.tenant_id, a.seq, a.id, a.action, a.entity_type, a.entity_id, a.user_id, \
             a.upn, a.oid, a.ts, a.via, a.changes, a.prev_hash, a.hash, a.key_id, a.signature \
             FROM siem_outbox o JOIN audit_log a ON a.tenant_id = o.tenant_id AND a.seq = o.seq \
             WHERE o.tenant_id = $1 AND o.destination_id = $2 AND o.state = 'pending' \
             ORDER BY o.seq LIMIT $3",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn delivered(
        &mut self,
        org: OrgId,
        id: DestinationId,
        through_seq: i64,
        count: i64,
        now: Timestamp,
    ) -> Result<()> {
        // The destination row first, then its outbox rows: the order deleting a
        // destination takes them in, so the two never wait on each other.
        D::query(
            "UPDATE siem_destinations SET delivered = delivered + $3, last_success_at = $4, \
             attempts = 0, failing_since = NULL, next_attempt_at = 0 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(count)
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        D::query(
            "DELETE FROM siem_outbox WHERE tenant_id = $1 AND destination_id = $2 \
             AND state = 'pending' AND seq <= $3",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(through_seq)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn failed(
        &mut self,
        org: OrgId,
        id: DestinationId,
        seq: i64,
        error: &str,
        now: Timestamp,
        retry_at: Timestamp,
    ) -> Result<()> {
        // The destination row first, then its outbox rows: the order deleting a
        // destination takes them in, so the two never wait on each other.
        D::query(
            "UPDATE siem_destinations SET attempts = attempts + 1, last_error = $3, \
             last_error_at = $4, failing_since = COALESCE(failing_since, $4), \
             next_attempt_at = $5 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(error)
        .bind(now.millis())
        .bind(retry_at.millis())
        .execute(&mut *self.tx)
        .await?;
        D::query(
            "UPDATE siem_outbox SET attempts = attempts + 1, last_error = $4 \
             WHERE tenant_id = $1 AND destination_id = $2 AND seq = $3",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(seq)
        .bind(error)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn dead(
        &mut self,
        org: OrgId,
        id: DestinationId,
        seq: i64,
        error: &str,
        now: Timestamp,
    ) -> Result<()> {
        // The destination row first, then its outbox rows: the order deleting a
        // destination takes them in, so the two never wait on each other.
        D::query(
            "UPDATE siem_destinations SET last_error = $3, last_error_at = $4 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(error)
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        D::query(
            "UPDATE siem_outbox SET state = 'dead', attempts = attempts + 1, last_error = $4, \
             dead_at = $5 WHERE tenant_id = $1 AND destination_id = $2 AND seq = $3",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(seq)
        .bind(error)
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn release_all(&mut self, owner: &str) -> Result<u64> {
        let done = D::query(
            "UPDATE siem_destinations SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1",
        )
        .bind(owner)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    async fn release(&mut self, org: OrgId, id: DestinationId, owner: &str) -> Result<()> {
        D::query(
            "UPDATE siem_destinations SET lease_owner = NULL, lease_until = NULL \
             WHERE tenant_id = $1 AND id = $2 AND lease_owner = $3",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(owner)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        crate::driver::Commit::commit(self.tx).await?;
        Ok(())
    }
}

#[async_trait]
impl<D: Driver> SiemTx for EngineTenantTx<D> {
    async fn delete_dead_letters_before(&mut self, before: Timestamp) -> Result<u64> {
        let done = D::query(
            "DELETE FROM siem_outbox WHERE tenant_id = $1 AND state = 'dead' AND dead_at < $2",
        )
        .bind(self.tenant())
        .bind(before.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    async fn insert_destination(&mut self, d: &Destination, audit: &AuditDraft) -> Result<()> {
        D::query(
            "INSERT INTO siem_destinations (tenant_id, id, name, kind, config, secret_enc, \
             enabled, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(self.tenant())
        .bind(d.id.to_string())
        .bind(&d.name)
        .bind(d.kind.as_str())
        .bind(Json(&d.config))
        .bind(&d.secret_enc)
        .bind(d.enabled)
        .bind(d.version)
        .bind(d.created_at.millis())
        .bind(d.updated_at.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn update_destination(
        &mut self,
        d: &Destination,
        expected_version: i64,
        audit: &AuditDraft,
    ) -> Result<()> {
        self.lock_audit_head().await?;
        // A changed destination is tried again at once.
        let done = D::query(
            "UPDATE siem_destinations SET name = $3, config = $4, secret_enc = $5, enabled = $6, \
             version = $7, updated_at = $8, next_attempt_at = 0, attempts = 0 \
             WHERE tenant_id = $1 AND id = $2 AND version = $9",
        )
        .bind(self.tenant())
        .bind(d.id.to_string())
        .bind(&d.name)
        .bind(Json(&d.config))
        .bind(&d.secret_enc)
        .bind(d.enabled)
        .bind(d.version)
        .bind(d.updated_at.millis())
        .bind(expected_version)
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(match self.destination(d.id).await? {
                Some(_) => {
                    StoreError::Conflict("the destination was changed by someone else".into())
                }
                None => StoreError::NotFound,
            });
        }
        self.audited(audit).await
    }

    async fn delete_destination(&mut self, id: DestinationId, audit: &AuditDraft) -> Result<()> {
        self.lock_audit_head().await?;
        let done = D::query("DELETE FROM siem_destinations WHERE tenant_id = $1 AND id = $2")
            .bind(self.tenant())
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.audited(audit).await
    }

    async fn destinations(&mut self) -> Result<Vec<(Destination, DeliveryState)>> {
        let sql = format!(
            "SELECT {DESTINATION_COLUMNS} FROM siem_destinations d WHERE d.tenant_id = $1 \
             ORDER BY lower(d.name)"
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(destination_from_row).collect()
    }

    async fn destination(
        &mut self,
        id: DestinationId,
    ) -> Result<Option<(Destination, DeliveryState)>> {
        let sql = format!(
            "SELECT {DESTINATION_COLUMNS} FROM siem_destinations d \
             WHERE d.tenant_id = $1 AND d.id = $2{}",
            if self.mode == Mode::Write {
                D::LOCK
            } else {
                ""
            }
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(destination_from_row).transpose()
    }

    async fn dead_letters(&mut self, id: DestinationId, limit: u32) -> Result<Vec<DeadLetter>> {
        let rows = D::query(
            "SELECT seq, attempts, last_error, dead_at FROM siem_outbox \
             WHERE tenant_id = $1 AND destination_id = $2 AND state = 'dead' ORDER BY seq LIMIT $3",
        )
        .bind(self.tenant())
        .bind(id.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeadLetter {
                    seq: r.try_get("seq")?,
                    attempts: r.try_get("attempts")?,
                    last_error: r.try_get("last_error")?,
                    dead_at: opt_ts(r, "dead_at")?,
                })
            })
            .collect()
    }

    async fn replay_dead_letters(&mut self, id: DestinationId, audit: &AuditDraft) -> Result<u64> {
        let done = D::query(
            "UPDATE siem_outbox SET state = 'pending', attempts = 0, dead_at = NULL \
             WHERE tenant_id = $1 AND destination_id = $2 AND state = 'dead'",
        )
        .bind(self.tenant())
        .bind(id.to_string())
        .execute(&mut *self.tx)
        .await?;
        D::query(
            "UPDATE siem_destinations SET next_attempt_at = 0 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(self.tenant())
        .bind(id.to_string())
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() > 0 {
            self.audited(audit).await?;
        }
        Ok(done.rows_affected())
    }
}
