-- Posture kept current at write time, so reading it does not scan every result.
-- scans.tally: the scan's results counted by status and severity ([[status, severity, n], ...]).
-- posture_counts: the latest results of each active endpoint, counted by check, status and
-- severity; maintained whenever an endpoint's latest scan or status changes.

ALTER TABLE scans ADD COLUMN tally JSONB NOT NULL DEFAULT '[]';

CREATE TABLE posture_counts (
    tenant_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    check_id  TEXT NOT NULL,
    status    TEXT NOT NULL,
    severity  TEXT NOT NULL,
    -- Reports from different endpoints update different shards, so they rarely wait on each
    -- other's row locks; readers add the shards up.
    shard     SMALLINT NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, check_id, status, severity, shard)
);

ALTER TABLE posture_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE posture_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON posture_counts
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');
