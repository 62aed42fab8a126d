-- Audits (issue 15): snapshots freeze the control results, overlays and evidence list of an
-- audit's scope at a moment, and auditor tokens let an outside auditor read them. Both go
-- with their audit record; neither is ever updated except a token's revocation.
CREATE TABLE audit_snapshots (
    tenant_id TEXT NOT NULL,
    module    TEXT NOT NULL DEFAULT 'audits' CHECK (module = 'audits'),
    record_id TEXT NOT NULL,
    id        TEXT NOT NULL,
    taken_at  INTEGER NOT NULL,
    taken_by  TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, module, record_id)
        REFERENCES records (tenant_id, module, id) ON DELETE CASCADE
);
CREATE INDEX audit_snapshots_by_audit ON audit_snapshots (tenant_id, record_id, taken_at, id);

CREATE TABLE auditor_tokens (
    tenant_id  TEXT NOT NULL,
    module     TEXT NOT NULL DEFAULT 'audits' CHECK (module = 'audits'),
    record_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    label      TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, module, record_id)
        REFERENCES records (tenant_id, module, id) ON DELETE CASCADE
);
CREATE INDEX auditor_tokens_by_audit ON auditor_tokens (tenant_id, record_id, created_at);

-- An auditor token's every use is audited as a `read` entry. SQLite cannot change a CHECK constraint in
-- place: the log is copied into a table that allows the new action, row for row, seals included.
CREATE TABLE audit_log_new (
    tenant_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete', 'transition', 'notify', 'read')),
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
