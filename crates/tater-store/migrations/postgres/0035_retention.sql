-- Retention periods an organization chose (issue 19 §1), as a JSON document; and, once its
-- audit log's oldest entries have been deleted by its period, the signed statement of where
-- the kept history starts (the last deleted entry's position and hash).
ALTER TABLE org_settings ADD COLUMN retention_policy TEXT;

CREATE TABLE audit_starts (
    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq       BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    ts        BIGINT NOT NULL,
    key_id    TEXT,
    signature TEXT
);

ALTER TABLE audit_starts ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_starts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_starts
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');
