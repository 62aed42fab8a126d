-- The Evidence Agent's jobs (issue 16 §4): a member asks for evidence for some controls; the
-- job runner works through them one control at a time (`done`), the agent writing draft
-- evidence records (`drafts`) for a person to accept or reject. A job and the drafts nobody
-- accepted are deleted after the retention period.
CREATE TABLE ai_evidence_jobs (
    tenant_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    controls      JSONB NOT NULL,
    done          JSONB NOT NULL,
    drafts        JSONB NOT NULL,
    state         TEXT NOT NULL,
    error         TEXT,
    input_tokens  BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ai_evidence_jobs_by_created ON ai_evidence_jobs (tenant_id, created_at, id);

ALTER TABLE ai_evidence_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_evidence_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ai_evidence_jobs
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');
