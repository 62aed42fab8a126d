-- The tamper-evident audit trail: each entry's link in its tenant's hash chain and its
-- signature (tater-audit), the chain's head, and checkpoints over it.

ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN key_id TEXT;
ALTER TABLE audit_log ADD COLUMN signature TEXT;

ALTER TABLE audit_heads ADD COLUMN head_hash TEXT NOT NULL
    DEFAULT '0000000000000000000000000000000000000000000000000000000000000000';

CREATE TABLE audit_checkpoints (
    tenant_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq       BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    ts        BIGINT NOT NULL,
    key_id    TEXT,
    signature TEXT,
    PRIMARY KEY (tenant_id, seq)
);

-- Start-up looks for entries written before sealing existed; keep that lookup cheap.
CREATE INDEX audit_log_unsealed ON audit_log (tenant_id, seq) WHERE hash = '';
