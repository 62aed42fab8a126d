-- Status-flow transitions of module records (issue 15): who moved a record from which state
-- to which, when, with what comment, and — for decisions — the record as it stood when
-- decided. Rows go with their record (and their organization).
CREATE TABLE record_transitions (
    tenant_id  TEXT NOT NULL,
    module     TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    actor      TEXT NOT NULL,
    at         INTEGER NOT NULL,
    comment    TEXT,
    snapshot   TEXT CHECK (snapshot IS NULL OR json_valid(snapshot)),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, module, record_id)
        REFERENCES records (tenant_id, module, id) ON DELETE CASCADE
);
CREATE INDEX record_transitions_by_record
    ON record_transitions (tenant_id, module, record_id, at, id);

-- A transition is audited as one. SQLite cannot change a CHECK constraint in place: the
-- log is copied into a table that allows the new action, row for row, seals included.
CREATE TABLE audit_log_new (
    tenant_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete', 'transition')),
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
