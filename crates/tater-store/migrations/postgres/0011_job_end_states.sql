-- A job's target can also end as `cancelled` (by an Admin, or when the organization turns
-- remote execution off) or `expired` (never fetched within the job lifetime).
ALTER TABLE job_targets DROP CONSTRAINT job_targets_status_check;
ALTER TABLE job_targets ADD CONSTRAINT job_targets_status_check
    CHECK (status IN ('pending', 'sent', 'succeeded', 'failed', 'timedOut', 'refused', 'cancelled', 'expired'));
-- The kill switch, cancellation and expiry look for what is still pending.
CREATE INDEX job_targets_pending ON job_targets (tenant_id, job_id) WHERE status = 'pending';
