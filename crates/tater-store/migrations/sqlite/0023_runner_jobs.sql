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
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'done', 'failed')),
    run_at          INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX runner_jobs_due ON runner_jobs (state, run_at);
CREATE INDEX runner_jobs_by_tenant ON runner_jobs (tenant_id, created_at);

-- A reminder is audited as a `notify` entry. SQLite cannot change a CHECK constraint in
-- place: the log is copied into a table that allows the new action, row for row, seals included.
CREATE TABLE audit_log_new (
    tenant_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete', 'transition', 'notify')),
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    upn         TEXT,
    oid         TEXT,
    ts          INTEGER NOT NULL,
    via         TEXT NOT NULL CHECK (via IN ('web', 'mcp', 'copilot', 'claude', 'agent', 'api', 'cron')),
    changes     TEXT NOT NULL CHECK (json_valid(changes)),
    prev_hash   TEXT NOT NULL DEFAULT '',
    hash        TEXT NOT NULL DEFAULT '',
    key_id      TEXT,
    signature   TEXT,
    size_bytes  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, seq),
    UNIQUE (tenant_id, id)
);
INSERT INTO audit_log_new (tenant_id, seq, id, action, entity_type, entity_id, user_id, upn,
    oid, ts, via, changes, prev_hash, hash, key_id, signature, size_bytes)
SELECT tenant_id, seq, id, action, entity_type, entity_id, user_id, upn, oid, ts, via,
    changes, prev_hash, hash, key_id, signature, size_bytes
FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;
CREATE INDEX audit_by_time ON audit_log (tenant_id, ts);
CREATE INDEX audit_by_entity ON audit_log (tenant_id, entity_type, entity_id);
CREATE INDEX audit_by_user ON audit_log (tenant_id, user_id);
CREATE INDEX audit_log_unsealed ON audit_log (tenant_id, seq) WHERE hash = '';
