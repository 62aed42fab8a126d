-- The Evidence Agent's jobs (issue 16 §4): a member asks for evidence for some controls; the
-- job runner works through them one control at a time (`done`), the agent writing draft
-- evidence records (`drafts`) for a person to accept or reject. A job and the drafts nobody
-- accepted are deleted after the retention period.
CREATE TABLE ai_evidence_jobs (
    tenant_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    controls      TEXT NOT NULL,
    done          TEXT NOT NULL,
    drafts        TEXT NOT NULL,
    state         TEXT NOT NULL,
    error         TEXT,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ai_evidence_jobs_by_created ON ai_evidence_jobs (tenant_id, created_at, id);
