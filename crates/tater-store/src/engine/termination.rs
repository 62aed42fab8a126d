//! Terminating and deleting an organization. Every tenant table names its organization in
//! `tenant_id` and its foreign keys cascade from `organizations` (scan results on PostgreSQL
//! follow their scans by a trigger, migration 0036), so deleting the organization's row
//! deletes the tenant; the tables are found in the database's own catalog
//! (not a list kept by hand, which a new table would slip past), counted before, and checked
//! empty after. Accounts that belonged to the organization alone go with it.

use super::*;
use crate::{OrgDeletion, StoredCertificate, TerminationTx};

/// Tables holding rows of an organization outside a `tenant_id` column.
const OTHER_OWNED: &[(&str, &str)] = &[
    ("page_views", "org_id = $1"),
    ("web_sessions", "org_id = $1 OR bound_org_id = $1"),
];

/// Users who are members of the organization, or invited by it, and of nothing else.
const ACCOUNTS_ALONE: &str = "SELECT id FROM users WHERE \
     (id IN (SELECT user_id FROM memberships WHERE tenant_id = $1) \
      OR id IN (SELECT user_id FROM invitations WHERE tenant_id = $1 AND user_id IS NOT NULL)) \
     AND id NOT IN (SELECT user_id FROM memberships WHERE tenant_id <> $1) \
     AND id NOT IN (SELECT user_id FROM invitations WHERE tenant_id <> $1 AND user_id IS NOT NULL)";

/// The tables with a `tenant_id` column, from the catalog.
async fn tenant_tables<D: Driver>(tx: &mut Conn<D>) -> Result<Vec<String>> {
    let sql = match D::KIND {
        crate::Engine::Sqlite => {
            "SELECT m.name AS name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = 'tenant_id' ORDER BY m.name"
        }
        crate::Engine::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND column_name = 'tenant_id' \
             ORDER BY table_name"
        }
    };
    let rows = D::query(sql).fetch_all(tx).await?;
    let names: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("name"))
        .collect::<std::result::Result<_, _>>()?;
    // Names are interpolated into statements below: only plain identifiers pass.
    for name in &names {
        if !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(StoreError::Corrupt(format!(
                "unexpected table name {name:?}"
            )));
        }
    }
    Ok(names)
}

async fn count<D: Driver>(
    tx: &mut Conn<D>,
    table: &str,
    condition: &str,
    org: &str,
) -> Result<u64> {
    let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {condition}");
    let row = D::query(&sql).bind(org).fetch_one(tx).await?;
    Ok(u64::try_from(row.try_get::<i64>("n")?).unwrap_or(0))
}

fn certificate_from_row(r: &impl RowRead) -> Result<StoredCertificate> {
    Ok(StoredCertificate {
        org: parse_col(r, "org_id")?,
        org_name: r.try_get("org_name")?,
        payload: r.try_get("payload")?,
        signature: r.try_get("signature")?,
        key_id: r.try_get("key_id")?,
        deleted_at: ts(r, "deleted_at")?,
    })
}

#[async_trait]
impl<D: Driver> TerminationTx for EngineIdentityTx<D> {
    async fn set_org_termination(
        &mut self,
        org: OrgId,
        terminated: Option<(Timestamp, Timestamp)>,
        audit: &AuditDraft,
    ) -> Result<()> {
        let done = D::query(
            "UPDATE organizations SET terminated_at = $2, delete_after = $3, updated_at = $4 \
             WHERE id = $1",
        )
        .bind(org.to_string())
        .bind(terminated.map(|(at, _)| at.millis()))
        .bind(terminated.map(|(_, after)| after.millis()))
        .bind(audit.timestamp.millis())
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        append_audit::<D>(&mut self.tx, &self.audit, org, audit).await
    }

    async fn orgs_due_for_deletion(&mut self, now: Timestamp, limit: u32) -> Result<Vec<Org>> {
        let sql = format!(
            "SELECT {ORG_COLUMNS} FROM organizations WHERE terminated_at IS NOT NULL \
             AND delete_after <= $1 ORDER BY delete_after, id LIMIT {limit}"
        );
        let rows = D::query(&sql)
            .bind(now.millis())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(org_from_row).collect()
    }

    async fn org_file_digests(&mut self, org: OrgId) -> Result<Vec<String>> {
        let rows = D::query(
            "SELECT sha256 FROM evidence_files WHERE tenant_id = $1 \
             UNION SELECT sha256 FROM file_blobs WHERE tenant_id = $1 ORDER BY sha256",
        )
        .bind(org.to_string())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String>("sha256").map_err(Into::into))
            .collect()
    }

    async fn delete_org(&mut self, org: OrgId) -> Result<OrgDeletion> {
        let id = org.to_string();
        let tables = tenant_tables::<D>(&mut self.tx).await?;
        let mut rows = Vec::new();
        for table in &tables {
            rows.push((
                table.clone(),
                count::<D>(&mut self.tx, table, "tenant_id = $1", &id).await?,
            ));
        }
        for (table, condition) in OTHER_OWNED {
            rows.push((
                table.to_string(),
                count::<D>(&mut self.tx, table, condition, &id).await?,
            ));
        }
        let alone = D::query(ACCOUNTS_ALONE)
            .bind(&id)
            .fetch_all(&mut *self.tx)
            .await?;
        for user in &alone {
            D::query("DELETE FROM users WHERE id = $1")
                .bind(user.try_get::<String>("id")?)
                .execute(&mut *self.tx)
                .await?;
        }
        rows.push(("users".to_owned(), alone.len() as u64));
        for (table, condition) in OTHER_OWNED {
            let sql = format!("DELETE FROM {table} WHERE {condition}");
            D::query(&sql).bind(&id).execute(&mut *self.tx).await?;
        }
        let gone = D::query("DELETE FROM organizations WHERE id = $1")
            .bind(&id)
            .execute(&mut *self.tx)
            .await?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        rows.push(("organizations".to_owned(), 1));
        for table in &tables {
            if count::<D>(&mut self.tx, table, "tenant_id = $1", &id).await? > 0 {
                return Err(StoreError::Corrupt(format!(
                    "{table} still holds rows of the deleted organization (a foreign key \
                     or trigger that does not cascade)"
                )));
            }
        }
        rows.retain(|(_, n)| *n > 0);
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(OrgDeletion { rows })
    }

    async fn insert_deletion_certificate(&mut self, c: &StoredCertificate) -> Result<()> {
        D::query(
            "INSERT INTO deletion_certificates \
             (org_id, org_name, payload, signature, key_id, deleted_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(c.org.to_string())
        .bind(&c.org_name)
        .bind(&c.payload)
        .bind(&c.signature)
        .bind(&c.key_id)
        .bind(c.deleted_at.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn deletion_certificate(&mut self, org: OrgId) -> Result<Option<StoredCertificate>> {
        let row = D::query(
            "SELECT org_id, org_name, payload, signature, key_id, deleted_at \
             FROM deletion_certificates WHERE org_id = $1",
        )
        .bind(org.to_string())
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(certificate_from_row).transpose()
    }
}
