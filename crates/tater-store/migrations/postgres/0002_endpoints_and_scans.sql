-- Endpoints, their enrollment tokens, and scans. Tenant id leads every key and index.

CREATE TABLE enrollment_tokens (
    tenant_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    label      TEXT NOT NULL,
    single_use BOOLEAN NOT NULL,
    uses       BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    created_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE endpoints (
    tenant_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id                TEXT NOT NULL,
    hostname          TEXT NOT NULL,
    os                TEXT NOT NULL,
    os_version        TEXT NOT NULL,
    arch              TEXT NOT NULL,
    agent_version     TEXT NOT NULL,
    tags              JSONB NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('active', 'retired')),
    credential_hash   TEXT UNIQUE,
    credential_prefix TEXT,
    enrolled_at       BIGINT NOT NULL,
    last_seen_at      BIGINT,
    last_scan_id      TEXT,
    version           BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, hostname)
);

CREATE TABLE scans (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    counts      JSONB NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES endpoints (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX scans_by_endpoint ON scans (tenant_id, endpoint_id, finished_at);
CREATE INDEX scans_by_time ON scans (tenant_id, finished_at);

CREATE TABLE scan_results (
    tenant_id TEXT NOT NULL,
    scan_id   TEXT NOT NULL,
    check_id  TEXT NOT NULL,
    status    TEXT NOT NULL CHECK (status IN ('Pass', 'Fail', 'Manual Review', 'Skip', 'Error', 'Not Applicable')),
    severity  TEXT NOT NULL,
    evidence  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scan_id, check_id),
    FOREIGN KEY (tenant_id, scan_id) REFERENCES scans (tenant_id, id) ON DELETE CASCADE
);

-- Row-level security, as for every tenant table (see 0001).

ALTER TABLE enrollment_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE enrollment_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON enrollment_tokens
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');

ALTER TABLE endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON endpoints
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');

ALTER TABLE scans ENABLE ROW LEVEL SECURITY;
ALTER TABLE scans FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scans
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');

ALTER TABLE scan_results ENABLE ROW LEVEL SECURITY;
ALTER TABLE scan_results FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scan_results
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');
