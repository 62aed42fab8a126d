-- Comments on module records (issue 15): who wrote what (Markdown) and when. Comments go
-- with their record (and their organization); the audit log keeps each one written.
CREATE TABLE record_comments (
    tenant_id TEXT NOT NULL,
    module    TEXT NOT NULL,
    record_id TEXT NOT NULL,
    id        TEXT NOT NULL,
    author    TEXT NOT NULL,
    at        BIGINT NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, module, record_id)
        REFERENCES records (tenant_id, module, id) ON DELETE CASCADE
);
CREATE INDEX record_comments_by_record ON record_comments (tenant_id, module, record_id, at, id);

ALTER TABLE record_comments ENABLE ROW LEVEL SECURITY;
ALTER TABLE record_comments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON record_comments
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');
