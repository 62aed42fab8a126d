//! Links between records, and between a record and a control.

use super::*;

const LINK_COLUMNS: &str = "id, a_module, a_id, b_module, b_id, b_control, created_by, at";

fn link_from_row(row: &impl RowRead) -> Result<RecordLink> {
    let a = LinkEnd::Record {
        module: row.try_get("a_module")?,
        id: parse_col(row, "a_id")?,
    };
    let b = match (
        row.try_get::<Option<String>>("b_module")?,
        parse_opt_col::<RecordId>(row, "b_id")?,
        row.try_get::<Option<String>>("b_control")?,
    ) {
        (Some(module), Some(id), None) => LinkEnd::Record { module, id },
        (None, None, Some(control)) => LinkEnd::Control(control),
        _ => return Err(corrupt("a link's far end")),
    };
    Ok(RecordLink {
        id: parse_col(row, "id")?,
        a,
        b,
        created_by: row.try_get("created_by")?,
        at: ts(row, "at")?,
    })
}

/// `(module, id)` of a record end.
fn record_end(end: &LinkEnd) -> Result<(&str, String)> {
    match end {
        LinkEnd::Record { module, id } => Ok((module, id.to_string())),
        LinkEnd::Control(_) => Err(corrupt("a link's first end must be a record")),
    }
}

#[async_trait]
impl<D: Driver> LinksTx for EngineTenantTx<D> {
    async fn insert_link(&mut self, link: &RecordLink, audit: &AuditDraft) -> Result<()> {
        let (a_module, a_id) = record_end(&link.a)?;
        let (b_module, b_id, b_control) = match &link.b {
            LinkEnd::Record { module, id } => (Some(module.as_str()), Some(id.to_string()), None),
            LinkEnd::Control(control) => (None, None, Some(control.as_str())),
        };
        let done = D::query(
            "INSERT INTO record_links (tenant_id, id, a_module, a_id, b_module, b_id, b_control, \
             created_by, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(self.tenant())
        .bind(link.id.to_string())
        .bind(a_module)
        .bind(a_id)
        .bind(b_module)
        .bind(b_id)
        .bind(b_control)
        .bind(&link.created_by)
        .bind(link.at.millis())
        .execute(&mut *self.tx)
        .await;
        match done.map_err(StoreError::from) {
            Err(StoreError::Conflict(_)) => {
                return Err(StoreError::Conflict("the two are linked already".into()));
            }
            other => other?,
        };
        self.audited(audit).await
    }

    async fn get_link(&mut self, id: LinkId) -> Result<Option<RecordLink>> {
        let row = D::query(&format!(
            "SELECT {LINK_COLUMNS} FROM record_links WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(self.tenant())
        .bind(id.to_string())
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| link_from_row(&r)).transpose()
    }

    async fn delete_link(&mut self, id: LinkId, audit: &AuditDraft) -> Result<()> {
        let done = D::query("DELETE FROM record_links WHERE tenant_id = $1 AND id = $2")
            .bind(self.tenant())
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.audited(audit).await
    }

    async fn list_links(&mut self, end: &LinkEnd, limit: u32) -> Result<Vec<RecordLink>> {
        let order = "ORDER BY at DESC, id DESC";
        let rows = match end {
            LinkEnd::Record { module, id } => {
                let sql = format!(
                    "SELECT {LINK_COLUMNS} FROM record_links WHERE tenant_id = $1 \
                     AND ((a_module = $2 AND a_id = $3) OR (b_module = $2 AND b_id = $3)) \
                     {order} LIMIT $4"
                );
                D::query(&sql)
                    .bind(self.tenant())
                    .bind(module.as_str())
                    .bind(id.to_string())
                    .bind(i64::from(limit))
                    .fetch_all(&mut *self.tx)
                    .await?
            }
            LinkEnd::Control(control) => {
                let sql = format!(
                    "SELECT {LINK_COLUMNS} FROM record_links WHERE tenant_id = $1 \
                     AND b_control = $2 {order} LIMIT $3"
                );
                D::query(&sql)
                    .bind(self.tenant())
                    .bind(control.as_str())
                    .bind(i64::from(limit))
                    .fetch_all(&mut *self.tx)
                    .await?
            }
        };
        rows.iter().map(link_from_row).collect()
    }

    async fn control_links_of(
        &mut self,
        module: &str,
        limit: u32,
    ) -> Result<Vec<(RecordId, String)>> {
        // A control is always the far end (`b`): `RecordLink::new` puts the record first.
        let rows = D::query(
            "SELECT a_id, b_control FROM record_links WHERE tenant_id = $1 AND a_module = $2 \
             AND b_control IS NOT NULL ORDER BY a_id, b_control LIMIT $3",
        )
        .bind(self.tenant())
        .bind(module)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| Ok((parse_col(r, "a_id")?, r.try_get("b_control")?)))
            .collect()
    }

    async fn page_all_links(
        &mut self,
        after: Option<LinkId>,
        limit: u32,
    ) -> Result<Vec<RecordLink>> {
        let rows = D::query(&format!(
            "SELECT {LINK_COLUMNS} FROM record_links WHERE tenant_id = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        ))
        .bind(self.tenant())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(link_from_row).collect()
    }
}
