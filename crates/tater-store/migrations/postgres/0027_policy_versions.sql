-- Policies (issue 15): each publication keeps the policy's text as a numbered version, and
-- members acknowledge a version. A version changes only once, when its policy is retired
-- (`retired_at`); both go with their policy record. An acknowledgement stays when its member
-- leaves: it is what they stated then.
CREATE TABLE policy_versions (
    tenant_id      TEXT NOT NULL,
    module         TEXT NOT NULL DEFAULT 'policies' CHECK (module = 'policies'),
    record_id      TEXT NOT NULL,
    version        BIGINT NOT NULL CHECK (version > 0),
    title          TEXT NOT NULL,
    category       TEXT,
    owner          TEXT,
    body           TEXT NOT NULL,
    effective_date TEXT NOT NULL,
    approved_by    TEXT NOT NULL,
    approved_at    BIGINT NOT NULL,
    transition_id  TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    retired_at     BIGINT,
    PRIMARY KEY (tenant_id, record_id, version),
    FOREIGN KEY (tenant_id, module, record_id)
        REFERENCES records (tenant_id, module, id) ON DELETE CASCADE
);

CREATE TABLE policy_acknowledgements (
    tenant_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    version   BIGINT NOT NULL,
    user_id   TEXT NOT NULL,
    email     TEXT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, record_id, version, user_id),
    FOREIGN KEY (tenant_id, record_id, version)
        REFERENCES policy_versions (tenant_id, record_id, version) ON DELETE CASCADE
);
CREATE INDEX policy_acknowledgements_by_user ON policy_acknowledgements (tenant_id, user_id);

ALTER TABLE policy_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE policy_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON policy_versions
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');
ALTER TABLE policy_acknowledgements ENABLE ROW LEVEL SECURITY;
ALTER TABLE policy_acknowledgements FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON policy_acknowledgements
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');
