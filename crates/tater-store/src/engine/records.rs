//! Module records: the generic rows every declared module keeps.

use super::*;

pub(super) const RECORD_COLUMNS: &str =
    "id, data, version, created_at, updated_at, created_by, updated_by";
pub(super) fn record_from_row(row: &impl RowRead) -> Result<Record> {
    let Json(data): Json<Value> = row.try_get("data")?;
    let Value::Object(data) = data else {
        return Err(corrupt("record data is not an object"));
    };
    Ok(Record {
        meta: RecordMeta {
            id: parse_col(row, "id")?,
            version: row.try_get("version")?,
            created_at: ts(row, "created_at")?,
            updated_at: ts(row, "updated_at")?,
            created_by: row.try_get("created_by")?,
            updated_by: row.try_get("updated_by")?,
        },
        data,
    })
}

impl<D: Driver> EngineTenantTx<D> {
    /// After an update or delete touched no row: was the record deleted, or changed?
    async fn missing_or_changed(&mut self, module: &str, id: RecordId) -> StoreError {
        match self.get_record(module, id).await {
            Ok(Some(_)) => StoreError::Conflict("the record was changed by someone else".into()),
            Ok(None) => StoreError::NotFound,
            Err(e) => e,
        }
    }
}

#[async_trait]
impl<D: Driver> RecordsTx for EngineTenantTx<D> {
    async fn get_record(&mut self, module: &str, id: RecordId) -> Result<Option<Record>> {
        let lock = self.lock();
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM records \
             WHERE tenant_id = $1 AND module = $2 AND id = $3{lock}"
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(module)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    async fn list_records(&mut self, module: &str, query: &ListQuery) -> Result<Vec<Record>> {
        let mut b = SqlBuilder::new(
            D::KIND,
            format!("SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = $1 AND module = $2"),
            2,
        );
        push_conditions(&mut b, &query.filter);
        push_page(&mut b, query);
        let tenant = self.tenant();
        let q = D::query(&b.sql).bind(tenant).bind(module);
        let rows = bind_args::<D>(q, &b.args).fetch_all(&mut *self.tx).await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn page_records(
        &mut self,
        module: &str,
        query: &ListQuery,
        max_bytes: u64,
    ) -> Result<(Vec<Record>, bool)> {
        let tenant = self.tenant();
        // Where the driver stops at the first row that does not fit, one read.
        let mut b = SqlBuilder::new(
            D::KIND,
            format!(
                "SELECT {RECORD_COLUMNS}, size_bytes FROM records WHERE tenant_id = $1 AND module = $2"
            ),
            2,
        );
        push_conditions(&mut b, &query.filter);
        push_page(&mut b, query);
        let page = PageFit::new(query.limit, max_bytes);
        if let Some(read) = bind_args::<D>(D::query(&b.sql).bind(&tenant).bind(module), &b.args)
            .fetch_page(&mut *self.tx, page, "size_bytes")
        {
            let (rows, more) = read.await?;
            let records = rows.iter().map(record_from_row).collect::<Result<_>>()?;
            return Ok((records, more));
        }
        // Elsewhere, first the ids and sizes of the candidates, in page order; then only the
        // rows that fit are read whole.
        let mut b = SqlBuilder::new(
            D::KIND,
            "SELECT id, size_bytes FROM records WHERE tenant_id = $1 AND module = $2".to_owned(),
            2,
        );
        push_conditions(&mut b, &query.filter);
        push_page(&mut b, query);
        let sizing = bind_args::<D>(D::query(&b.sql).bind(&tenant).bind(module), &b.args);
        let (sized, n, more) =
            sizing_read::<D>(&mut *self.tx, sizing, query.limit, max_bytes).await?;
        if n == 0 {
            return Ok((Vec::new(), false));
        }
        let ids = ids_of(&sized[..n])?;
        let mut b = SqlBuilder::new(
            D::KIND,
            format!(
                "SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = $1 AND module = $2 AND id"
            ),
            2,
        );
        b.in_list(ids.iter().map(|id| Arg::Text(id.clone())));
        let rows = bind_args::<D>(D::query(&b.sql).bind(&tenant).bind(module), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut by_id: std::collections::HashMap<String, Record> = std::collections::HashMap::new();
        for row in &rows {
            let r = record_from_row(row)?;
            by_id.insert(r.meta.id.to_string(), r);
        }
        // In page order; a row deleted between the two reads is simply not there.
        Ok((ids.iter().filter_map(|id| by_id.remove(id)).collect(), more))
    }

    async fn count_grouped(
        &mut self,
        module: &str,
        field: &'static str,
        filter: &[tater_domain::module::Condition],
        limit: u32,
    ) -> Result<(Vec<(Option<String>, i64)>, i64)> {
        let key = text_expr(D::KIND, field);
        let mut b = SqlBuilder::new(
            D::KIND,
            format!(
                "SELECT {key} AS k, COUNT(*) AS n, CAST(SUM(COUNT(*)) OVER () AS BIGINT) AS total FROM records \
                 WHERE tenant_id = $1 AND module = $2"
            ),
            2,
        );
        push_conditions(&mut b, filter);
        b.push(" GROUP BY 1 ORDER BY 2 DESC, 1 NULLS LAST");
        let limit = b.arg(Arg::Int(i64::from(limit)));
        b.push(&format!(" LIMIT {limit}"));
        let tenant = self.tenant();
        let rows = bind_args::<D>(D::query(&b.sql).bind(tenant).bind(module), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut total = 0;
        let mut groups = Vec::with_capacity(rows.len());
        for row in &rows {
            total = row.try_get::<i64>("total")?;
            groups.push((
                row.try_get::<Option<String>>("k")?,
                row.try_get::<i64>("n")?,
            ));
        }
        Ok((groups, total))
    }

    async fn count_by(
        &mut self,
        module: &str,
        fields: &[&'static str],
    ) -> Result<Vec<(Vec<Option<i64>>, i64)>> {
        let exprs: Vec<String> = fields.iter().map(|f| integer_expr(D::KIND, f)).collect();
        let keys: Vec<String> = (1..=fields.len()).map(|i| i.to_string()).collect();
        let sql = format!(
            "SELECT {}, COUNT(*) AS n FROM records WHERE tenant_id = $1 AND module = $2 \
             GROUP BY {}",
            exprs.join(", "),
            keys.join(", ")
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .bind(module)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|row| {
                let mut key = Vec::with_capacity(fields.len());
                for i in 0..fields.len() {
                    key.push(row.try_get_at::<Option<i64>>(i)?);
                }
                Ok((key, row.try_get::<i64>("n")?))
            })
            .collect()
    }

    async fn insert_record(
        &mut self,
        module: &str,
        record: &Record,
        audit: &AuditDraft,
    ) -> Result<()> {
        let m = &record.meta;
        D::query(
            "INSERT INTO records (tenant_id, module, id, data, version, created_at, \
             updated_at, created_by, updated_by, size_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(self.tenant())
        .bind(module)
        .bind(m.id.to_string())
        .bind(Json(data_json(record)))
        .bind(m.version)
        .bind(m.created_at.millis())
        .bind(m.updated_at.millis())
        .bind(&m.created_by)
        .bind(&m.updated_by)
        .bind(json_size(&data_json(record)))
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn update_record(
        &mut self,
        module: &str,
        record: &Record,
        expected_version: i64,
        audit: &AuditDraft,
    ) -> Result<()> {
        let m = &record.meta;
        let done = D::query(
            "UPDATE records SET data = $4, version = $5, updated_at = $6, updated_by = $7, \
             size_bytes = $9 WHERE tenant_id = $1 AND module = $2 AND id = $3 AND version = $8",
        )
        .bind(self.tenant())
        .bind(module)
        .bind(m.id.to_string())
        .bind(Json(data_json(record)))
        .bind(m.version)
        .bind(m.updated_at.millis())
        .bind(&m.updated_by)
        .bind(expected_version)
        .bind(json_size(&data_json(record)))
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(self.missing_or_changed(module, m.id).await);
        }
        self.audited(audit).await
    }

    async fn delete_record(
        &mut self,
        module: &str,
        id: RecordId,
        expected_version: i64,
        audit: &AuditDraft,
    ) -> Result<()> {
        let done = D::query(
            "DELETE FROM records WHERE tenant_id = $1 AND module = $2 AND id = $3 \
             AND version = $4",
        )
        .bind(self.tenant())
        .bind(module)
        .bind(id.to_string())
        .bind(expected_version)
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(self.missing_or_changed(module, id).await);
        }
        self.audited(audit).await
    }

    async fn insert_transition(&mut self, module: &str, t: &RecordTransition) -> Result<()> {
        let snapshot = t.snapshot.clone().map(|m| Json(Value::Object(m)));
        D::query(
            "INSERT INTO record_transitions (tenant_id, module, record_id, id, from_state, \
             to_state, actor, at, comment, snapshot) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(self.tenant())
        .bind(module)
        .bind(t.record_id.to_string())
        .bind(t.id.to_string())
        .bind(&t.from)
        .bind(&t.to)
        .bind(&t.actor)
        .bind(t.at.millis())
        .bind(t.comment.clone())
        .bind(snapshot)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn list_transitions(
        &mut self,
        module: &str,
        record_id: RecordId,
        limit: u32,
    ) -> Result<Vec<RecordTransition>> {
        let rows = D::query(
            "SELECT id, record_id, from_state, to_state, actor, at, comment, \
             CASE WHEN snapshot IS NULL THEN 0 ELSE 1 END AS decision \
             FROM record_transitions WHERE tenant_id = $1 AND module = $2 AND record_id = $3 \
             ORDER BY at DESC, id DESC LIMIT $4",
        )
        .bind(self.tenant())
        .bind(module)
        .bind(record_id.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(|r| transition_from_row(r, false)).collect()
    }

    async fn get_transition(
        &mut self,
        module: &str,
        record_id: RecordId,
        id: TransitionId,
    ) -> Result<Option<RecordTransition>> {
        let row = D::query(
            "SELECT id, record_id, from_state, to_state, actor, at, comment, snapshot, \
             CASE WHEN snapshot IS NULL THEN 0 ELSE 1 END AS decision \
             FROM record_transitions WHERE tenant_id = $1 AND module = $2 AND record_id = $3 \
             AND id = $4",
        )
        .bind(self.tenant())
        .bind(module)
        .bind(record_id.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| transition_from_row(&r, true)).transpose()
    }

    async fn insert_comment(
        &mut self,
        module: &str,
        c: &RecordComment,
        audit: &AuditDraft,
    ) -> Result<()> {
        D::query(
            "INSERT INTO record_comments (tenant_id, module, record_id, id, author, at, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(self.tenant())
        .bind(module)
        .bind(c.record_id.to_string())
        .bind(c.id.to_string())
        .bind(&c.author)
        .bind(c.at.millis())
        .bind(&c.body)
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn put_vote(
        &mut self,
        module: &str,
        v: &crate::RecordVote,
        audit: &AuditDraft,
    ) -> Result<()> {
        D::query(
            "INSERT INTO record_votes (tenant_id, module, record_id, round, voter, cast_by, \
             vote, comment, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (tenant_id, module, record_id, round, voter) DO UPDATE SET \
             cast_by = excluded.cast_by, vote = excluded.vote, comment = excluded.comment, \
             at = excluded.at",
        )
        .bind(self.tenant())
        .bind(module)
        .bind(v.record_id.to_string())
        .bind(v.round.to_string())
        .bind(&v.voter)
        .bind(&v.cast_by)
        .bind(&v.vote)
        .bind(v.comment.clone())
        .bind(v.at.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn list_votes(
        &mut self,
        module: &str,
        record_id: RecordId,
        round: TransitionId,
    ) -> Result<Vec<crate::RecordVote>> {
        let rows = D::query(
            "SELECT record_id, round, voter, cast_by, vote, comment, at FROM record_votes \
             WHERE tenant_id = $1 AND module = $2 AND record_id = $3 AND round = $4 \
             ORDER BY at, voter",
        )
        .bind(self.tenant())
        .bind(module)
        .bind(record_id.to_string())
        .bind(round.to_string())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(vote_from_row).collect()
    }

    async fn page_all_votes(
        &mut self,
        after: Option<&crate::VoteKey>,
        limit: u32,
    ) -> Result<Vec<(String, crate::RecordVote)>> {
        // Keyset on the primary key's own order, so each page is an index range.
        let (module, record, round, voter) = after.map_or_else(Default::default, |k| {
            (
                k.module.clone(),
                k.record_id.to_string(),
                k.round.to_string(),
                k.voter.clone(),
            )
        });
        let rows = D::query(
            "SELECT module, record_id, round, voter, cast_by, vote, comment, at FROM record_votes \
             WHERE tenant_id = $1 AND (module, record_id, round, voter) > ($2, $3, $4, $5) \
             ORDER BY module, record_id, round, voter LIMIT $6",
        )
        .bind(self.tenant())
        .bind(module)
        .bind(record)
        .bind(round)
        .bind(voter)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("module")?, vote_from_row(r)?)))
            .collect()
    }

    async fn list_comments(
        &mut self,
        module: &str,
        record_id: RecordId,
        limit: u32,
    ) -> Result<Vec<RecordComment>> {
        let rows = D::query(
            "SELECT id, record_id, author, at, body FROM record_comments \
             WHERE tenant_id = $1 AND module = $2 AND record_id = $3 \
             ORDER BY at DESC, id DESC LIMIT $4",
        )
        .bind(self.tenant())
        .bind(module)
        .bind(record_id.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(comment_from_row).collect()
    }

    async fn page_all_transitions(
        &mut self,
        after: Option<TransitionId>,
        limit: u32,
    ) -> Result<Vec<(String, RecordTransition)>> {
        let rows = D::query(
            "SELECT module, id, record_id, from_state, to_state, actor, at, comment, snapshot, \
             CASE WHEN snapshot IS NULL THEN 0 ELSE 1 END AS decision \
             FROM record_transitions WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(self.tenant())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("module")?, transition_from_row(r, true)?)))
            .collect()
    }

    async fn page_all_comments(
        &mut self,
        after: Option<CommentId>,
        limit: u32,
    ) -> Result<Vec<(String, RecordComment)>> {
        let rows = D::query(
            "SELECT module, id, record_id, author, at, body FROM record_comments \
             WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(self.tenant())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("module")?, comment_from_row(r)?)))
            .collect()
    }
}

fn vote_from_row(r: &impl RowRead) -> Result<crate::RecordVote> {
    Ok(crate::RecordVote {
        record_id: parse_col(r, "record_id")?,
        round: parse_col(r, "round")?,
        voter: r.try_get("voter")?,
        cast_by: r.try_get("cast_by")?,
        vote: r.try_get("vote")?,
        comment: r.try_get("comment")?,
        at: ts(r, "at")?,
    })
}

fn comment_from_row(row: &impl RowRead) -> Result<RecordComment> {
    Ok(RecordComment {
        id: parse_col(row, "id")?,
        record_id: parse_col(row, "record_id")?,
        author: row.try_get("author")?,
        at: ts(row, "at")?,
        body: row.try_get("body")?,
    })
}

fn transition_from_row(row: &impl RowRead, with_snapshot: bool) -> Result<RecordTransition> {
    let snapshot = if with_snapshot {
        match row.try_get::<Option<Json<Value>>>("snapshot")? {
            Some(Json(Value::Object(m))) => Some(m),
            Some(_) => return Err(corrupt("transition snapshot is not an object")),
            None => None,
        }
    } else {
        None
    };
    Ok(RecordTransition {
        id: parse_col(row, "id")?,
        record_id: parse_col(row, "record_id")?,
        from: row.try_get("from_state")?,
        to: row.try_get("to_state")?,
        actor: row.try_get("actor")?,
        at: ts(row, "at")?,
        comment: row.try_get("comment")?,
        decision: row.try_get::<i32>("decision")? == 1,
        snapshot,
    })
}
