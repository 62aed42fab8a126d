-- Command-channel jobs and their per-endpoint outcome. A job copies what it runs.
CREATE TABLE jobs (
    tenant_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    name           TEXT NOT NULL,
    script_id      TEXT,
    script_version BIGINT,
    check_id       TEXT,
    language       TEXT NOT NULL,
    run_as         TEXT NOT NULL,
    timeout_secs   BIGINT NOT NULL,
    content        TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE job_targets (
    tenant_id   TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    hostname    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'succeeded', 'failed', 'timedOut', 'refused')),
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
-- Agents poll for their pending commands.
CREATE INDEX job_targets_by_endpoint ON job_targets (tenant_id, endpoint_id, status);
