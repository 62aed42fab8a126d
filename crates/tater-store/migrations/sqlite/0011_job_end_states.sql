-- A job's target can also end as `cancelled` (by an Admin, or when the organization turns
-- remote execution off) or `expired` (never fetched within the job lifetime). SQLite cannot
-- change a CHECK constraint in place, so the table is rebuilt with its rows.
CREATE TABLE job_targets_next (
    tenant_id   TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    hostname    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'succeeded', 'failed', 'timedOut', 'refused', 'cancelled', 'expired')),
    exit_code   BIGINT,
    stdout      TEXT,
    stderr      TEXT,
    duration_ms BIGINT,
    reason      TEXT,
    sent_at     BIGINT,
    finished_at BIGINT,
    PRIMARY KEY (tenant_id, job_id, endpoint_id),
    FOREIGN KEY (tenant_id, job_id) REFERENCES jobs (tenant_id, id) ON DELETE CASCADE
);
INSERT INTO job_targets_next (tenant_id, job_id, endpoint_id, hostname, status, exit_code, stdout,
    stderr, duration_ms, reason, sent_at, finished_at)
SELECT tenant_id, job_id, endpoint_id, hostname, status, exit_code, stdout, stderr, duration_ms,
    reason, sent_at, finished_at FROM job_targets;
DROP TABLE job_targets;
ALTER TABLE job_targets_next RENAME TO job_targets;
-- Agents poll for their pending commands.
CREATE INDEX job_targets_by_endpoint ON job_targets (tenant_id, endpoint_id, status);
-- The kill switch, cancellation and expiry look for what is still pending.
CREATE INDEX job_targets_pending ON job_targets (tenant_id, job_id) WHERE status = 'pending';
