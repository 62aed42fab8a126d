-- Files attached to evidence (issue 15): the bytes live in the file store under
-- <organization>/<sha256>; a row per attachment says which record, under which name and type.
-- Rows go with their evidence record; the service removes bytes no row refers to any more.
CREATE TABLE evidence_files (
    tenant_id   TEXT NOT NULL,
    module      TEXT NOT NULL DEFAULT 'evidence' CHECK (module = 'evidence'),
    record_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, module, record_id)
        REFERENCES records (tenant_id, module, id) ON DELETE CASCADE
);
CREATE INDEX evidence_files_by_record ON evidence_files (tenant_id, record_id, uploaded_at);
CREATE INDEX evidence_files_by_sha ON evidence_files (tenant_id, sha256);

-- One row per stored content of a tenant while uploads of it are in flight: a removal locks
-- it and deletes the bytes only when no attachment holds them and no upload is under way, so
-- an upload of the same file at the same moment is never left pointing at deleted bytes.
-- `pending_until` ends a crashed upload's claim.
CREATE TABLE file_blobs (
    tenant_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    sha256        TEXT NOT NULL,
    uploads       INTEGER NOT NULL DEFAULT 0,
    pending_until INTEGER,
    PRIMARY KEY (tenant_id, sha256)
);
