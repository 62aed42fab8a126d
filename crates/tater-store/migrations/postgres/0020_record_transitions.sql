-- Status-flow transitions of module records (issue 15): who moved a record from which state
-- to which, when, with what comment, and — for decisions — the record as it stood when
-- decided. Rows go with their record (and their organization).
CREATE TABLE record_transitions (
    tenant_id  TEXT NOT NULL,
    module     TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    actor      TEXT NOT NULL,
    at         BIGINT NOT NULL,
    comment    TEXT,
    snapshot   JSONB,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, module, record_id)
        REFERENCES records (tenant_id, module, id) ON DELETE CASCADE
);
CREATE INDEX record_transitions_by_record
    ON record_transitions (tenant_id, module, record_id, at, id);

ALTER TABLE record_transitions ENABLE ROW LEVEL SECURITY;
ALTER TABLE record_transitions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON record_transitions
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');

-- A transition is audited as one.
ALTER TABLE audit_log DROP CONSTRAINT IF EXISTS audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('create', 'update', 'delete', 'transition'));
