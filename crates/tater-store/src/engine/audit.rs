//! The audit log: appending sealed entries, reading pages, checkpoints.

use super::*;
use crate::Engine;

pub(super) const AUDIT_COLUMNS: &str = "tenant_id, seq, id, action, entity_type, entity_id, user_id, upn, oid, \
     ts, via, changes, prev_hash, hash, key_id, signature";

/// `SELECT <columns> FROM audit_log` with the query's filters (tenant `$1`), unordered.
pub(super) fn audit_select<D: Driver>(columns: &str, q: &AuditQuery) -> SqlBuilder {
    let mut b = SqlBuilder::new(
        D::KIND,
        format!("SELECT {columns} FROM audit_log WHERE tenant_id = $1"),
        1,
    );
    let text_filters = [
        ("via", q.via.map(|v| v.as_str().to_owned())),
        ("user_id", q.user_id.clone()),
        ("entity_type", q.entity_type.clone()),
        ("entity_id", q.entity_id.clone()),
        ("action", q.action.map(|a| a.as_str().to_owned())),
    ];
    for (col, value) in text_filters {
        if let Some(v) = value {
            let p = b.arg(Arg::Text(v));
            b.push(&format!(" AND {col} = {p}"));
        }
    }
    let int_filters = [
        ("ts >=", q.from.map(Timestamp::millis)),
        ("ts <", q.to.map(Timestamp::millis)),
        ("seq <", q.before_seq),
        ("seq >", q.after_seq),
        ("seq <=", q.upto_seq),
    ];
    for (cmp, value) in int_filters {
        if let Some(v) = value {
            let p = b.arg(Arg::Int(v));
            b.push(&format!(" AND {cmp} {p}"));
        }
    }
    b
}

pub(super) fn audit_from_row(row: &impl RowRead) -> Result<AuditEntry> {
    let Json(changes): Json<Value> = row.try_get("changes")?;
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        tenant_id: parse_col(row, "tenant_id")?,
        draft: AuditDraft {
            id: parse_col(row, "id")?,
            action: parse_col(row, "action")?,
            entity_type: row.try_get("entity_type")?,
            entity_id: row.try_get("entity_id")?,
            user_id: row.try_get("user_id")?,
            upn: row.try_get("upn")?,
            oid: row.try_get("oid")?,
            timestamp: ts(row, "ts")?,
            via: parse_col(row, "via")?,
            changes,
        },
        seal: tater_domain::AuditSeal {
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
            key_id: row.try_get("key_id")?,
            signature: row.try_get("signature")?,
        },
    })
}

/// Appends one entry to the tenant's log, taking the next sequence number and sealing
/// it (chain hash, signature; `tater-audit`). On PostgreSQL the upsert locks the
/// tenant's head row, so concurrent writers of one tenant queue here: sequence numbers
/// have no gaps and each entry links to the one before it. Every
/// `checkpoint_every`-th entry also gets a checkpoint.
pub(super) async fn append_audit<D: Driver>(
    conn: &mut Conn<D>,
    settings: &AuditSettings,
    tenant: OrgId,
    d: &AuditDraft,
) -> Result<()> {
    let tenant_text = tenant.to_string();
    let head = D::query(
        "INSERT INTO audit_heads (tenant_id, last_seq, head_hash) VALUES ($1, 1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET last_seq = audit_heads.last_seq + 1 \
         RETURNING last_seq, head_hash",
    )
    .bind(&tenant_text)
    .bind(tater_audit::GENESIS_HASH)
    .fetch_one(&mut *conn)
    .await?;
    let mut entry = AuditEntry {
        seq: head.try_get("last_seq")?,
        tenant_id: tenant,
        draft: d.clone(),
        seal: Default::default(),
    };
    let prev: String = head.try_get("head_hash")?;
    entry.seal = tater_audit::seal(&entry, &prev, &settings.keys);
    // Counted as appended (a transaction rolled back later un-writes it; those are rare).
    metrics::counter!("tater_audit_entries_written_total").increment(1);
    // The entry, the head's new hash and the SIEM outbox (one row per enabled destination)
    // in one statement on PostgreSQL: the head stays locked until the commit, so each round
    // trip here is time every other writer of the tenant waits. SQLite has no data-changing
    // `WITH` (and no round trips): three statements there.
    const ENTRY: &str = "INSERT INTO audit_log (tenant_id, seq, id, action, entity_type, entity_id, \
         user_id, upn, oid, ts, via, changes, prev_hash, hash, key_id, signature, size_bytes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)";
    const HEAD: &str = "UPDATE audit_heads SET head_hash = $14 WHERE tenant_id = $1";
    const OUTBOX: &str = "INSERT INTO siem_outbox (tenant_id, destination_id, seq, created_at) \
         SELECT tenant_id, id, $2, $10 FROM siem_destinations WHERE tenant_id = $1 AND enabled";
    let statements = match D::KIND {
        Engine::Postgres => vec![format!(
            "WITH entry AS ({ENTRY}), head AS ({HEAD}) {OUTBOX}"
        )],
        Engine::Sqlite => vec![ENTRY.to_owned(), HEAD.to_owned(), OUTBOX.to_owned()],
    };
    for sql in &statements {
        // Every statement gets all parameters; SQLite lets a statement leave some unused.
        D::query(sql)
            .bind(&tenant_text)
            .bind(entry.seq)
            .bind(d.id.to_string())
            .bind(d.action.as_str())
            .bind(&d.entity_type)
            .bind(&d.entity_id)
            .bind(&d.user_id)
            .bind(&d.upn)
            .bind(&d.oid)
            .bind(d.timestamp.millis())
            .bind(d.via.as_str())
            .bind(Json(&d.changes))
            .bind(&entry.seal.prev_hash)
            .bind(&entry.seal.hash)
            .bind(&entry.seal.key_id)
            .bind(&entry.seal.signature)
            .bind(json_size(&d.changes))
            .execute(&mut *conn)
            .await?;
    }
    if settings.checkpoint_every > 0 && entry.seq % settings.checkpoint_every == 0 {
        let cp = tater_audit::Checkpoint::new(
            tenant,
            entry.seq,
            &entry.seal.hash,
            d.timestamp,
            &settings.keys,
        );
        insert_checkpoint::<D>(&mut *conn, &cp).await?;
    }
    Ok(())
}

/// Seals the entries written before audit sealing existed (migration 0004 left their
/// hash empty). They are a prefix of each tenant's log, so each tenant's chain starts at
/// its first entry and the head row gets the last hash. Runs at start-up; a no-op once
/// done.
pub(crate) async fn seal_legacy_entries<D: Driver>(
    conn: &mut Conn<D>,
    settings: &AuditSettings,
) -> Result<u64> {
    let rows = D::query(
        "SELECT tenant_id, seq, id, action, entity_type, entity_id, user_id, upn, oid, \
         ts, via, changes, prev_hash, hash, key_id, signature FROM audit_log \
         WHERE hash = '' ORDER BY tenant_id, seq",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut prev: Option<(OrgId, String)> = None;
    for row in &rows {
        let mut entry = audit_from_row(row)?;
        let prev_hash = match &prev {
            Some((t, h)) if *t == entry.tenant_id => h.clone(),
            _ => tater_audit::GENESIS_HASH.to_owned(),
        };
        entry.seal = tater_audit::seal(&entry, &prev_hash, &settings.keys);
        D::query(
            "UPDATE audit_log SET prev_hash = $3, hash = $4, key_id = $5, signature = $6 \
             WHERE tenant_id = $1 AND seq = $2",
        )
        .bind(entry.tenant_id.to_string())
        .bind(entry.seq)
        .bind(&entry.seal.prev_hash)
        .bind(&entry.seal.hash)
        .bind(&entry.seal.key_id)
        .bind(&entry.seal.signature)
        .execute(&mut *conn)
        .await?;
        D::query("UPDATE audit_heads SET head_hash = $2 WHERE tenant_id = $1 AND last_seq = $3")
            .bind(entry.tenant_id.to_string())
            .bind(&entry.seal.hash)
            .bind(entry.seq)
            .execute(&mut *conn)
            .await?;
        prev = Some((entry.tenant_id, entry.seal.hash));
    }
    if !rows.is_empty() {
        tracing::info!(
            entries = rows.len(),
            "sealed audit entries written before the hash chain existed"
        );
    }
    Ok(rows.len() as u64)
}

pub(super) async fn insert_checkpoint<D: Driver>(
    conn: &mut Conn<D>,
    cp: &tater_audit::Checkpoint,
) -> Result<()> {
    D::query(
        "INSERT INTO audit_checkpoints (tenant_id, seq, head_hash, ts, key_id, signature) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, seq) DO NOTHING",
    )
    .bind(cp.tenant_id.to_string())
    .bind(cp.seq)
    .bind(&cp.head_hash)
    .bind(cp.timestamp.millis())
    .bind(&cp.key_id)
    .bind(&cp.signature)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) fn checkpoint_from_row(row: &impl RowRead) -> Result<tater_audit::Checkpoint> {
    Ok(tater_audit::Checkpoint {
        tenant_id: parse_col(row, "tenant_id")?,
        seq: row.try_get("seq")?,
        head_hash: row.try_get("head_hash")?,
        timestamp: ts(row, "ts")?,
        key_id: row.try_get("key_id")?,
        signature: row.try_get("signature")?,
    })
}

pub(super) async fn append_audits<D: Driver>(
    conn: &mut Conn<D>,
    audit: &AuditSettings,
    audits: &[(OrgId, AuditDraft)],
) -> Result<()> {
    for (org, d) in audits {
        append_audit::<D>(&mut *conn, audit, *org, d).await?;
    }
    Ok(())
}

#[async_trait]
impl<D: Driver> AuditTx for EngineTenantTx<D> {
    async fn list_audit(&mut self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let mut b = audit_select::<D>(AUDIT_COLUMNS, q);
        let order = if q.ascending { "ASC" } else { "DESC" };
        b.push(&format!(
            " ORDER BY seq {order} LIMIT {}",
            u64::from(q.limit) + 1
        ));
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn page_audit(
        &mut self,
        q: &AuditQuery,
        max_bytes: u64,
    ) -> Result<(Vec<AuditEntry>, bool)> {
        let order = if q.ascending { "ASC" } else { "DESC" };
        let page_order = format!(" ORDER BY seq {order} LIMIT {}", u64::from(q.limit) + 1);
        // Where the driver stops at the first entry that does not fit, one read.
        let mut b = audit_select::<D>(&format!("{AUDIT_COLUMNS}, size_bytes"), q);
        b.push(&page_order);
        if let Some(read) = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_page(
                &mut *self.tx,
                PageFit::new(q.limit, max_bytes),
                "size_bytes",
            )
        {
            let (rows, more) = read.await?;
            let entries = rows.iter().map(audit_from_row).collect::<Result<_>>()?;
            return Ok((entries, more));
        }
        // Elsewhere, the sizes first, then the entries that fit.
        let mut b = audit_select::<D>("seq, size_bytes", q);
        b.push(&page_order);
        let sizing = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args);
        let (sized, n, more) = sizing_read::<D>(&mut *self.tx, sizing, q.limit, max_bytes).await?;
        if n == 0 {
            return Ok((Vec::new(), false));
        }
        // The entries between the first and the last that fit: sequence numbers are
        // fixed once written, so the second read returns exactly those.
        let first: i64 = sized[0].try_get("seq")?;
        let last: i64 = sized[n - 1].try_get("seq")?;
        let mut b = audit_select::<D>(AUDIT_COLUMNS, q);
        let lo = b.arg(Arg::Int(first.min(last)));
        let hi = b.arg(Arg::Int(first.max(last)));
        b.push(&format!(
            " AND seq >= {lo} AND seq <= {hi} ORDER BY seq {order} LIMIT {n}"
        ));
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        Ok((
            rows.iter()
                .map(audit_from_row)
                .collect::<Result<Vec<_>>>()?,
            more,
        ))
    }

    async fn audit_head(&mut self) -> Result<(i64, String)> {
        let row = D::query("SELECT last_seq, head_hash FROM audit_heads WHERE tenant_id = $1")
            .bind(self.tenant())
            .fetch_optional(&mut *self.tx)
            .await?;
        match row {
            Some(r) => Ok((r.try_get("last_seq")?, r.try_get("head_hash")?)),
            None => Ok((0, tater_audit::GENESIS_HASH.to_owned())),
        }
    }

    async fn audit_checkpoints(
        &mut self,
        after_seq: i64,
        upto_seq: i64,
    ) -> Result<Vec<tater_audit::Checkpoint>> {
        let rows = D::query(
            "SELECT tenant_id, seq, head_hash, ts, key_id, signature FROM audit_checkpoints \
             WHERE tenant_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
        )
        .bind(self.tenant())
        .bind(after_seq)
        .bind(upto_seq)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(checkpoint_from_row).collect()
    }

    async fn record_event(&mut self, audit: &AuditDraft) -> Result<()> {
        self.audited(audit).await
    }

    async fn audit_start(&mut self) -> Result<Option<tater_audit::HistoryStart>> {
        let row = D::query(
            "SELECT tenant_id, seq, head_hash, ts, key_id, signature FROM audit_starts \
             WHERE tenant_id = $1",
        )
        .bind(self.tenant())
        .fetch_optional(&mut *self.tx)
        .await?;
        // The same columns as a checkpoint's.
        Ok(row
            .map(|r| checkpoint_from_row(&r))
            .transpose()?
            .map(|c| tater_audit::HistoryStart {
                tenant_id: c.tenant_id,
                seq: c.seq,
                head_hash: c.head_hash,
                timestamp: c.timestamp,
                key_id: c.key_id,
                signature: c.signature,
            }))
    }

    async fn prune_audit(
        &mut self,
        before: Timestamp,
        now: Timestamp,
    ) -> Result<Option<crate::AuditPruned>> {
        self.unaudited_write()?;
        let tenant = self.tenant();
        // The cut: the newest entry written before `before` that no SIEM destination still
        // waits for (a pending entry or a dead letter that may be replayed stays, and so
        // does everything after it).
        let cut: Option<i64> = D::query(
            "SELECT MAX(seq) AS cut FROM audit_log WHERE tenant_id = $1 AND ts < $2 \
             AND seq < COALESCE((SELECT MIN(seq) FROM siem_outbox WHERE tenant_id = $1), \
             9223372036854775807)",
        )
        .bind(&tenant)
        .bind(before.millis())
        .fetch_one(&mut *self.tx)
        .await?
        .try_get("cut")?;
        let Some(cut) = cut else {
            return Ok(None);
        };
        let hash: String = D::query("SELECT hash FROM audit_log WHERE tenant_id = $1 AND seq = $2")
            .bind(&tenant)
            .bind(cut)
            .fetch_one(&mut *self.tx)
            .await?
            .try_get("hash")?;
        let start =
            tater_audit::HistoryStart::new(self.scope.org(), cut, &hash, now, &self.audit.keys);
        D::query(
            "INSERT INTO audit_starts (tenant_id, seq, head_hash, ts, key_id, signature) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id) DO UPDATE SET \
             seq = excluded.seq, head_hash = excluded.head_hash, ts = excluded.ts, \
             key_id = excluded.key_id, signature = excluded.signature",
        )
        .bind(&tenant)
        .bind(start.seq)
        .bind(&start.head_hash)
        .bind(start.timestamp.millis())
        .bind(&start.key_id)
        .bind(&start.signature)
        .execute(&mut *self.tx)
        .await?;
        // Checkpoints before the cut refer to entries that are gone; one at the cut agrees
        // with the start and stays.
        D::query("DELETE FROM audit_checkpoints WHERE tenant_id = $1 AND seq < $2")
            .bind(&tenant)
            .bind(cut)
            .execute(&mut *self.tx)
            .await?;
        let deleted = D::query("DELETE FROM audit_log WHERE tenant_id = $1 AND seq <= $2")
            .bind(&tenant)
            .bind(cut)
            .execute(&mut *self.tx)
            .await?
            .rows_affected();
        Ok(Some(crate::AuditPruned {
            through_seq: cut,
            entries: deleted,
        }))
    }
}
