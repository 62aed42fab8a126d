//! The background job runner's cross-tenant transaction: queue by idempotency key, lease,
//! finish, fail (SPEC T2: a named system operation, used only by the runner).

use super::*;
use crate::{NewRunnerJob, RunnerJob, RunnerJobState, RunnerTx};

pub struct EngineRunnerTx<D: Driver> {
    pub(crate) tx: D::Tx,
}

fn job_from_row(r: &impl RowRead) -> Result<RunnerJob> {
    let Json(payload): Json<Value> = r.try_get("payload")?;
    Ok(RunnerJob {
        id: r.try_get("id")?,
        org: parse_opt_col(r, "tenant_id")?,
        kind: r.try_get("kind")?,
        idempotency_key: r.try_get("idempotency_key")?,
        payload,
        attempts: r.try_get("attempts")?,
    })
}

#[async_trait]
impl<D: Driver> RunnerTx for EngineRunnerTx<D> {
    async fn enqueue(&mut self, job: &NewRunnerJob, now: Timestamp) -> Result<bool> {
        let done = D::query(
            "INSERT INTO runner_jobs (id, tenant_id, kind, idempotency_key, payload, run_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(RecordId::generate().to_string())
        .bind(job.org.map(|o| o.to_string()))
        .bind(job.kind.as_str())
        .bind(job.idempotency_key.as_str())
        .bind(Json(&job.payload))
        .bind(job.run_at.millis())
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn claim(
        &mut self,
        owner: &str,
        now: Timestamp,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<RunnerJob>> {
        let sql = format!(
            "UPDATE runner_jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM runner_jobs \
             WHERE ((state = 'queued' AND run_at <= $3) OR (state = 'running' AND lease_until < $3)) \
             AND (tenant_id IS NULL OR tenant_id NOT IN \
                  (SELECT id FROM organizations WHERE terminated_at IS NOT NULL)) \
             ORDER BY run_at LIMIT $4{}) \
             RETURNING id, tenant_id, kind, idempotency_key, payload, attempts",
            D::SKIP_LOCKED
        );
        let rows = D::query(&sql)
            .bind(owner)
            .bind(now.millis().saturating_add(lease_ms))
            .bind(now.millis())
            .bind(i64::from(limit))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn finish(&mut self, id: &str, owner: &str, now: Timestamp) -> Result<bool> {
        let done = D::query(
            "UPDATE runner_jobs SET state = 'done', finished_at = $3, lease_owner = NULL, \
             lease_until = NULL, last_error = NULL \
             WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(owner)
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn renew(&mut self, id: &str, owner: &str, until: Timestamp) -> Result<bool> {
        let done = D::query(
            "UPDATE runner_jobs SET lease_until = CASE WHEN lease_until < $3 THEN $3 ELSE lease_until END \
             WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(owner)
        .bind(until.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn fail(
        &mut self,
        id: &str,
        owner: &str,
        error: &str,
        now: Timestamp,
        retry_at: Option<Timestamp>,
    ) -> Result<()> {
        let (state, run_at, finished) = match retry_at {
            Some(at) => ("queued", Some(at.millis()), None),
            None => ("failed", None, Some(now.millis())),
        };
        D::query(
            "UPDATE runner_jobs SET state = $3, run_at = COALESCE($4, run_at), \
             finished_at = $5, last_error = $6, lease_owner = NULL, lease_until = NULL \
             WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(owner)
        .bind(state)
        .bind(run_at)
        .bind(finished)
        .bind(error)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn release_all(&mut self, owner: &str) -> Result<u64> {
        // The attempt that was cut short does not count against the job.
        let done = D::query(
            "UPDATE runner_jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, \
             attempts = attempts - 1 WHERE lease_owner = $1 AND state = 'running'",
        )
        .bind(owner)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    async fn prune_done(&mut self, kind: &str, before: Timestamp) -> Result<u64> {
        let done = D::query(
            "DELETE FROM runner_jobs WHERE kind = $1 AND state = 'done' AND finished_at < $2",
        )
        .bind(kind)
        .bind(before.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    async fn unfinished(&mut self, now: Timestamp) -> Result<i64> {
        let row = D::query(
            "SELECT COUNT(*) AS n FROM runner_jobs \
             WHERE (state = 'queued' AND run_at <= $1) OR state = 'running'",
        )
        .bind(now.millis())
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.try_get("n")?)
    }

    async fn oldest_due(&mut self, now: Timestamp) -> Result<Option<Timestamp>> {
        let row = D::query(
            "SELECT MIN(run_at) AS t FROM runner_jobs WHERE state = 'queued' AND run_at <= $1",
        )
        .bind(now.millis())
        .fetch_one(&mut *self.tx)
        .await?;
        let t: Option<i64> = row.try_get("t")?;
        Ok(t.map(Timestamp::from_millis))
    }

    async fn job_state(&mut self, idempotency_key: &str) -> Result<Option<RunnerJobState>> {
        let row = D::query(
            "SELECT state, attempts, last_error, lease_until FROM runner_jobs WHERE idempotency_key = $1",
        )
        .bind(idempotency_key)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| {
            Ok(RunnerJobState {
                state: r.try_get("state")?,
                attempts: r.try_get("attempts")?,
                last_error: r.try_get("last_error")?,
                lease_until: opt_ts(&r, "lease_until")?,
            })
        })
        .transpose()
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        crate::driver::Commit::commit(self.tx).await?;
        Ok(())
    }
}
