-- Audits (issue 15): snapshots freeze the control results, overlays and evidence list of an
-- audit's scope at a moment, and auditor tokens let an outside auditor read them. Both go
-- with their audit record; neither is ever updated except a token's revocation.
CREATE TABLE audit_snapshots (
    tenant_id TEXT NOT NULL,
    module    TEXT NOT NULL DEFAULT 'audits' CHECK (module = 'audits'),
    record_id TEXT NOT NULL,
    id        TEXT NOT NULL,
    taken_at  BIGINT NOT NULL,
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
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, module, record_id)
        REFERENCES records (tenant_id, module, id) ON DELETE CASCADE
);
CREATE INDEX auditor_tokens_by_audit ON auditor_tokens (tenant_id, record_id, created_at);

ALTER TABLE audit_snapshots ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_snapshots FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_snapshots
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');
ALTER TABLE auditor_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE auditor_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON auditor_tokens
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');

-- An auditor token's every use is audited as a `read` entry.
ALTER TABLE audit_log DROP CONSTRAINT IF EXISTS audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('create', 'update', 'delete', 'transition', 'notify', 'read'));
