-- SIEM forwarding: destinations per organization, and the outbox. Appending an audit entry
-- adds one outbox row per enabled destination in the same transaction; the delivery worker
-- deletes a row once the destination accepted it, or marks it dead (kept for replay).

CREATE TABLE siem_destinations (
    tenant_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('syslog', 'webhook')),
    config          JSONB NOT NULL,
    secret_enc      TEXT,
    enabled         BOOLEAN NOT NULL,
    version         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    -- Delivery state, written by the worker.
    delivered       BIGINT NOT NULL DEFAULT 0,
    last_success_at BIGINT,
    last_error      TEXT,
    last_error_at   BIGINT,
    failing_since   BIGINT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until     BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX siem_destinations_name ON siem_destinations (tenant_id, lower(name));
CREATE INDEX siem_destinations_due ON siem_destinations (next_attempt_at) WHERE enabled;

CREATE TABLE siem_outbox (
    tenant_id      TEXT NOT NULL,
    destination_id TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
    attempts       BIGINT NOT NULL DEFAULT 0,
    last_error     TEXT,
    created_at     BIGINT NOT NULL,
    dead_at        BIGINT,
    PRIMARY KEY (tenant_id, destination_id, seq),
    FOREIGN KEY (tenant_id, destination_id)
        REFERENCES siem_destinations (tenant_id, id) ON DELETE CASCADE
);

ALTER TABLE siem_destinations ENABLE ROW LEVEL SECURITY;
ALTER TABLE siem_destinations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON siem_destinations
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');

ALTER TABLE siem_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE siem_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON siem_outbox
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');
