//! The operator's usage view: per organization, grouped counts in a handful of queries (one
//! per measure, each an index scan), never a query per organization.

use std::collections::HashMap;

use super::*;
use crate::{OrgUsage, UsageTx};

/// `(tenant_id, n)` rows of a grouped count into `set`.
async fn grouped<D: Driver>(
    tx: &mut Conn<D>,
    sql: &str,
    usage: &mut HashMap<OrgId, OrgUsage>,
    set: fn(&mut OrgUsage, i64),
) -> Result<()> {
    for row in D::query(sql).fetch_all(tx).await? {
        let org: OrgId = parse_col(&row, "tenant_id")?;
        set(usage.entry(org).or_default(), row.try_get::<i64>("n")?);
    }
    Ok(())
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl<D: Driver> UsageTx for EngineIdentityTx<D> {
    async fn org_usage(&mut self) -> Result<HashMap<OrgId, OrgUsage>> {
        let mut usage: HashMap<OrgId, OrgUsage> = HashMap::new();
        let tx = &mut self.tx;
        grouped::<D>(
            tx,
            "SELECT tenant_id, COUNT(*) AS n FROM memberships GROUP BY tenant_id",
            &mut usage,
            |u, n| u.members = count(n),
        )
        .await?;
        grouped::<D>(
            tx,
            "SELECT tenant_id, COUNT(*) AS n FROM endpoints WHERE status = 'active' \
             GROUP BY tenant_id",
            &mut usage,
            |u, n| u.endpoints = count(n),
        )
        .await?;
        grouped::<D>(
            tx,
            "SELECT tenant_id, CAST(SUM(bytes) AS BIGINT) AS n FROM \
             (SELECT DISTINCT tenant_id, sha256, bytes FROM evidence_files) f GROUP BY tenant_id",
            &mut usage,
            |u, n| u.file_bytes = count(n),
        )
        .await?;
        grouped::<D>(
            tx,
            "SELECT tenant_id, last_seq AS n FROM audit_heads",
            &mut usage,
            |u, n| u.audit_entries = count(n),
        )
        .await?;
        grouped::<D>(
            tx,
            "SELECT h.tenant_id, a.ts AS n FROM audit_heads h \
             JOIN audit_log a ON a.tenant_id = h.tenant_id AND a.seq = h.last_seq",
            &mut usage,
            |u, n| u.last_activity = Some(Timestamp::from_millis(n)),
        )
        .await?;
        let rows = D::query(
            "SELECT tenant_id, module, COUNT(*) AS n FROM records \
             GROUP BY tenant_id, module ORDER BY tenant_id, module",
        )
        .fetch_all(tx)
        .await?;
        for row in rows {
            let org: OrgId = parse_col(&row, "tenant_id")?;
            let module: String = row.try_get("module")?;
            let n = count(row.try_get::<i64>("n")?);
            usage.entry(org).or_default().records.push((module, n));
        }
        Ok(usage)
    }
}
