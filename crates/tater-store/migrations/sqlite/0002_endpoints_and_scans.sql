-- Endpoints, their enrollment tokens, and scans. Tenant id leads every key and index.

CREATE TABLE enrollment_tokens (
    tenant_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    label      TEXT NOT NULL,
    single_use INTEGER NOT NULL,
    uses       INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
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
    tags              TEXT NOT NULL CHECK (json_valid(tags)),
    status            TEXT NOT NULL CHECK (status IN ('active', 'retired')),
    credential_hash   TEXT UNIQUE,
    credential_prefix TEXT,
    enrolled_at       INTEGER NOT NULL,
    last_seen_at      INTEGER,
    last_scan_id      TEXT,
    version           INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, hostname)
);

CREATE TABLE scans (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    counts      TEXT NOT NULL CHECK (json_valid(counts)),
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
