//! Script jobs and the commands agents take from them.

use super::*;

pub(super) const JOB_COLUMNS: &str = "id, tenant_id, name, script_id, script_version, check_id, language, run_as, \
     timeout_secs, content, created_by, created_at";

pub(super) fn job_from_row(row: &impl RowRead) -> Result<tater_domain::Job> {
    Ok(tater_domain::Job {
        id: parse_col(row, "id")?,
        org: parse_col(row, "tenant_id")?,
        name: row.try_get("name")?,
        script_id: parse_opt_col(row, "script_id")?,
        script_version: row.try_get("script_version")?,
        check_id: row.try_get("check_id")?,
        language: row.try_get("language")?,
        run_as: row.try_get("run_as")?,
        timeout_secs: row.try_get("timeout_secs")?,
        content: row.try_get("content")?,
        created_by: row.try_get("created_by")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(super) const TARGET_COLUMNS: &str = "job_id, endpoint_id, hostname, status, exit_code, stdout, stderr, \
     duration_ms, reason, sent_at, finished_at";

pub(super) fn target_from_row(r: &impl RowRead) -> Result<tater_domain::JobTarget> {
    Ok(tater_domain::JobTarget {
        endpoint: parse_col(r, "endpoint_id")?,
        hostname: r.try_get("hostname")?,
        status: parse_col(r, "status").map_err(|_| corrupt("status"))?,
        exit_code: r.try_get("exit_code")?,
        stdout: r.try_get("stdout")?,
        stderr: r.try_get("stderr")?,
        duration_ms: r.try_get("duration_ms")?,
        reason: r.try_get("reason")?,
        sent_at: opt_ts(r, "sent_at")?,
        finished_at: opt_ts(r, "finished_at")?,
    })
}

impl<D: Driver> EngineTenantTx<D> {
    /// The jobs of a page, newest first, bounded by rows and by bytes: each job's script and
    /// each target's output plus what its view adds, so a page never reads more job output
    /// than it returns.
    async fn page_of_jobs(
        &mut self,
        before: Option<(Timestamp, RecordId)>,
        limit: u32,
        max_bytes: u64,
    ) -> Result<(Vec<tater_domain::Job>, bool)> {
        let size = format!(
            "CAST({} + COALESCE((SELECT SUM({} + {} + {} + 256) FROM job_targets t \
             WHERE t.tenant_id = j.tenant_id AND t.job_id = j.id), 0) AS BIGINT) AS size_bytes",
            byte_length(D::KIND, "j.content"),
            byte_length(D::KIND, "t.stdout"),
            byte_length(D::KIND, "t.stderr"),
            byte_length(D::KIND, "t.reason"),
        );
        let select = |columns: &str| {
            let mut b = SqlBuilder::new(
                D::KIND,
                format!("SELECT {columns} FROM jobs j WHERE j.tenant_id = $1"),
                1,
            );
            if let Some((at, id)) = before {
                let t = b.arg(Arg::Int(at.millis()));
                let i = b.arg(Arg::Text(id.to_string()));
                b.push(&format!(" AND (j.created_at, j.id) < ({t}, {i})"));
            }
            b.push(&format!(
                " ORDER BY j.created_at DESC, j.id DESC LIMIT {}",
                u64::from(limit) + 1
            ));
            b
        };
        // Where the driver stops at the first job that does not fit, one read.
        // The job's columns named by its table: a page's size reads another table too.
        let columns = members::each_column(JOB_COLUMNS, |c| format!("j.{c}"));
        let b = select(&format!("{columns}, {size}"));
        if let Some(read) = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_page(&mut *self.tx, PageFit::new(limit, max_bytes), "size_bytes")
        {
            let (rows, more) = read.await?;
            return Ok((rows.iter().map(job_from_row).collect::<Result<_>>()?, more));
        }
        // Elsewhere, the sizes first, then the jobs that fit.
        let b = select(&format!("j.id, {size}"));
        let sizing = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args);
        let (sized, n, more) = sizing_read::<D>(&mut *self.tx, sizing, limit, max_bytes).await?;
        if n == 0 {
            return Ok((Vec::new(), false));
        }
        let ids = ids_of(&sized[..n])?;
        let mut b = SqlBuilder::new(
            D::KIND,
            format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id"),
            1,
        );
        b.in_list(ids.iter().map(|id| Arg::Text(id.clone())));
        b.push(" ORDER BY created_at DESC, id DESC");
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        Ok((rows.iter().map(job_from_row).collect::<Result<_>>()?, more))
    }
}

#[async_trait]
impl<D: Driver> JobsTx for EngineTenantTx<D> {
    async fn insert_job(
        &mut self,
        job: &tater_domain::Job,
        targets: &[tater_domain::JobTarget],
        audit: &AuditDraft,
    ) -> Result<()> {
        D::query(
            "INSERT INTO jobs (tenant_id, id, name, script_id, script_version, check_id, language, \
             run_as, timeout_secs, content, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(self.tenant())
        .bind(job.id.to_string())
        .bind(&job.name)
        .bind(job.script_id.map(|i| i.to_string()))
        .bind(job.script_version)
        .bind(&job.check_id)
        .bind(&job.language)
        .bind(&job.run_as)
        .bind(job.timeout_secs)
        .bind(&job.content)
        .bind(&job.created_by)
        .bind(job.created_at.millis())
        .execute(&mut *self.tx)
        .await?;
        for t in targets {
            D::query(
                "INSERT INTO job_targets (tenant_id, job_id, endpoint_id, hostname, status) \
                 VALUES ($1, $2, $3, $4, 'pending')",
            )
            .bind(self.tenant())
            .bind(job.id.to_string())
            .bind(t.endpoint.to_string())
            .bind(&t.hostname)
            .execute(&mut *self.tx)
            .await?;
        }
        self.audited(audit).await
    }

    async fn job(
        &mut self,
        id: RecordId,
    ) -> Result<Option<(tater_domain::Job, Vec<tater_domain::JobTarget>)>> {
        let row = D::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(self.tenant())
        .bind(id.to_string())
        .fetch_optional(&mut *self.tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let job = job_from_row(&row)?;
        let rows = D::query(&format!(
            "SELECT {TARGET_COLUMNS} FROM job_targets WHERE tenant_id = $1 AND job_id = $2 ORDER BY hostname"
        ))
        .bind(self.tenant())
        .bind(id.to_string())
        .fetch_all(&mut *self.tx)
        .await?;
        let targets = rows
            .iter()
            .map(target_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Some((job, targets)))
    }

    async fn jobs(
        &mut self,
        before: Option<(Timestamp, RecordId)>,
        limit: u32,
        max_bytes: u64,
    ) -> Result<(Vec<(tater_domain::Job, Vec<tater_domain::JobTarget>)>, bool)> {
        let (jobs, more) = self.page_of_jobs(before, limit, max_bytes).await?;
        if jobs.is_empty() {
            return Ok((Vec::new(), more));
        }
        // Every target of the page in one read.
        let mut b = SqlBuilder::new(
            D::KIND,
            format!("SELECT {TARGET_COLUMNS} FROM job_targets WHERE tenant_id = $1 AND job_id"),
            1,
        );
        b.in_list(jobs.iter().map(|j| Arg::Text(j.id.to_string())));
        b.push(" ORDER BY hostname");
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut targets: std::collections::HashMap<String, Vec<tater_domain::JobTarget>> =
            std::collections::HashMap::new();
        for r in &rows {
            let job: String = r.try_get("job_id")?;
            targets.entry(job).or_default().push(target_from_row(r)?);
        }
        let page = jobs
            .into_iter()
            .map(|j| {
                let t = targets.remove(&j.id.to_string()).unwrap_or_default();
                (j, t)
            })
            .collect();
        Ok((page, more))
    }

    async fn take_commands(
        &mut self,
        endpoint: EndpointId,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<tater_domain::Job>> {
        let sql = format!(
            "SELECT {} FROM jobs j JOIN job_targets t ON t.tenant_id = j.tenant_id AND t.job_id = j.id \
             WHERE t.tenant_id = $1 AND t.endpoint_id = $2 AND t.status = 'pending' \
             ORDER BY j.created_at LIMIT {limit}",
            JOB_COLUMNS
                .split(", ")
                .map(|c| format!("j.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .bind(endpoint.to_string())
            .fetch_all(&mut *self.tx)
            .await?;
        let jobs = rows.iter().map(job_from_row).collect::<Result<Vec<_>>>()?;
        let mut taken = Vec::with_capacity(jobs.len());
        for j in jobs {
            // Only what this statement moved from pending to sent is handed out: a
            // target cancelled or expired meanwhile stays where it is.
            let moved = D::query(
                "UPDATE job_targets SET status = 'sent', sent_at = $4 \
                 WHERE tenant_id = $1 AND job_id = $2 AND endpoint_id = $3 AND status = 'pending'",
            )
            .bind(self.tenant())
            .bind(j.id.to_string())
            .bind(endpoint.to_string())
            .bind(now.millis())
            .execute(&mut *self.tx)
            .await?;
            if moved.rows_affected() == 1 {
                taken.push(j);
            }
        }
        Ok(taken)
    }

    async fn pending_targets(
        &mut self,
        job: Option<RecordId>,
        created_before: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<(RecordId, Vec<String>)>> {
        let mut b = SqlBuilder::new(
            D::KIND,
            "SELECT t.job_id, t.hostname FROM job_targets t JOIN jobs j \
             ON j.tenant_id = t.tenant_id AND j.id = t.job_id \
             WHERE t.tenant_id = $1 AND t.status = 'pending' AND t.job_id IN \
             (SELECT pj.id FROM jobs pj WHERE pj.tenant_id = $1 AND EXISTS (SELECT 1 FROM job_targets pt \
             WHERE pt.tenant_id = pj.tenant_id AND pt.job_id = pj.id AND pt.status = 'pending')".to_owned(),
            1,
        );
        if let Some(id) = job {
            let p = b.arg(Arg::Text(id.to_string()));
            b.push(&format!(" AND pj.id = {p}"));
        }
        if let Some(before) = created_before {
            let p = b.arg(Arg::Int(before.millis()));
            b.push(&format!(" AND pj.created_at < {p}"));
        }
        b.push(&format!(" ORDER BY pj.created_at, pj.id LIMIT {limit})"));
        b.push(" ORDER BY j.created_at, t.job_id, t.hostname");
        if self.mode == Mode::Write {
            b.push(D::LOCK);
        }
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut out: Vec<(RecordId, Vec<String>)> = Vec::new();
        for r in &rows {
            let id: RecordId = parse_col(r, "job_id")?;
            let host: String = r.try_get("hostname")?;
            match out.last_mut() {
                Some((last, hosts)) if *last == id => hosts.push(host),
                _ => out.push((id, vec![host])),
            }
        }
        Ok(out)
    }

    async fn end_pending_targets(
        &mut self,
        job: RecordId,
        status: tater_domain::TargetStatus,
        reason: &str,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<u64> {
        let ended = D::query(
            "UPDATE job_targets SET status = $3, reason = $4, finished_at = $5 \
             WHERE tenant_id = $1 AND job_id = $2 AND status = 'pending'",
        )
        .bind(self.tenant())
        .bind(job.to_string())
        .bind(status.as_str())
        .bind(reason)
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        if ended > 0 {
            self.audited(audit).await?;
        }
        Ok(ended)
    }

    async fn finish_command(
        &mut self,
        job: RecordId,
        o: &tater_domain::JobTarget,
        audit: &AuditDraft,
    ) -> Result<()> {
        let done = D::query(
            "UPDATE job_targets SET status = $4, exit_code = $5, stdout = $6, stderr = $7, \
             duration_ms = $8, reason = $9, finished_at = $10 \
             WHERE tenant_id = $1 AND job_id = $2 AND endpoint_id = $3 AND status = 'sent'",
        )
        .bind(self.tenant())
        .bind(job.to_string())
        .bind(o.endpoint.to_string())
        .bind(o.status.as_str())
        .bind(o.exit_code)
        .bind(&o.stdout)
        .bind(&o.stderr)
        .bind(o.duration_ms)
        .bind(&o.reason)
        .bind(o.finished_at.map(Timestamp::millis))
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            // Told apart for the agent: its own target that takes no result now (reported
            // already, say a retry after a lost answer, or ended by the server) is a
            // conflict; a job that never named this endpoint is not found.
            let now = D::query(
                "SELECT status FROM job_targets WHERE tenant_id = $1 AND job_id = $2 AND endpoint_id = $3",
            )
            .bind(self.tenant())
            .bind(job.to_string())
            .bind(o.endpoint.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
            return Err(match now {
                Some(row) => StoreError::Conflict(format!(
                    "the command is {} on this endpoint and takes no result now",
                    row.try_get::<String>("status")?
                )),
                None => StoreError::NotFound,
            });
        }
        self.audited(audit).await
    }
}
