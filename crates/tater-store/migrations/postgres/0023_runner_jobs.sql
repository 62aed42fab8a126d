-- The background job runner (issue 15): one table of work for every replica. A job is
-- claimed by leasing it (lease_owner, lease_until); a replica that dies holding a lease loses
-- it when the lease runs out, and another replica runs the job again (at least once). The
-- idempotency key is unique, so work planned by several replicas is queued once, and a done
-- job keeps its key so it is not planned again (a reminder is sent once).
CREATE TABLE runner_jobs (
    id              TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload         JSONB NOT NULL,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'done', 'failed')),
    run_at          BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX runner_jobs_due ON runner_jobs (state, run_at);
CREATE INDEX runner_jobs_by_tenant ON runner_jobs (tenant_id, created_at);

ALTER TABLE runner_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE runner_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON runner_jobs
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');

-- A reminder is audited as a `notify` entry.
ALTER TABLE audit_log DROP CONSTRAINT IF EXISTS audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('create', 'update', 'delete', 'transition', 'notify'));
