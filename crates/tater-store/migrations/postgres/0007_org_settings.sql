-- Organization settings (OrgAdmin): feature switches such as remote execution through the
-- command channel, off until an OrgAdmin turns them on.
CREATE TABLE org_settings (
    tenant_id        TEXT PRIMARY KEY NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    remote_execution BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at       BIGINT NOT NULL
);

ALTER TABLE org_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON org_settings
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');
