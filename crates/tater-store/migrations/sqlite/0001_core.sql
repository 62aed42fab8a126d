-- Core schema: identity, module records, audit log.
-- Times are INTEGER milliseconds since the Unix epoch (UTC); ids are canonical UUID text.
-- Every tenant table leads its primary key and indexes with tenant_id.

CREATE TABLE organizations (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    entra_tenant_id TEXT UNIQUE,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX organizations_name ON organizations (lower(name));

CREATE TABLE users (
    id                 TEXT PRIMARY KEY NOT NULL,
    email              TEXT NOT NULL UNIQUE,
    display_name       TEXT,
    password_hash      TEXT,
    entra_oid          TEXT,
    tokens_valid_after INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX users_entra_oid ON users (entra_oid);

CREATE TABLE memberships (
    tenant_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'auditor', 'admin', 'orgadmin', 'superadmin')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
-- Authentication looks memberships up by user before it knows the tenant.
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id    TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    key_hash     TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    name         TEXT NOT NULL,
    role         TEXT CHECK (role IN ('viewer', 'auditor', 'admin', 'orgadmin', 'superadmin')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_keys_by_user ON api_keys (user_id);

CREATE TABLE records (
    tenant_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    module     TEXT NOT NULL,
    id         TEXT NOT NULL,
    data       TEXT NOT NULL CHECK (json_valid(data)),
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, module, id)
);
CREATE INDEX records_by_created ON records (tenant_id, module, created_at, id);
CREATE INDEX records_by_updated ON records (tenant_id, module, updated_at, id);

CREATE TABLE audit_heads (
    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    last_seq  INTEGER NOT NULL
);

CREATE TABLE audit_log (
    tenant_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    upn         TEXT,
    oid         TEXT,
    ts          INTEGER NOT NULL,
    via         TEXT NOT NULL CHECK (via IN ('web', 'mcp', 'copilot', 'claude', 'agent', 'api', 'cron')),
    changes     TEXT NOT NULL CHECK (json_valid(changes)),
    PRIMARY KEY (tenant_id, seq),
    UNIQUE (tenant_id, id)
);
CREATE INDEX audit_by_time ON audit_log (tenant_id, ts);
CREATE INDEX audit_by_entity ON audit_log (tenant_id, entity_type, entity_id);
CREATE INDEX audit_by_user ON audit_log (tenant_id, user_id);
