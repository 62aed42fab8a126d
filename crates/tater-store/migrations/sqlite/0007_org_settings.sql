-- Organization settings (OrgAdmin): feature switches such as remote execution through the
-- command channel, off until an OrgAdmin turns them on.
CREATE TABLE org_settings (
    tenant_id        TEXT PRIMARY KEY NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    remote_execution BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at       BIGINT NOT NULL
);
