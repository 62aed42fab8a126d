-- Retention periods an organization chose (issue 19 §1), as a JSON document; and, once its
-- audit log's oldest entries have been deleted by its period, the signed statement of where
-- the kept history starts (the last deleted entry's position and hash).
ALTER TABLE org_settings ADD COLUMN retention_policy TEXT;

CREATE TABLE audit_starts (
    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    key_id    TEXT,
    signature TEXT
);
