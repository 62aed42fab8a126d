-- Posture kept current at write time, so reading it does not scan every result.
-- scans.tally: the scan's results counted by status and severity ([[status, severity, n], ...]).
-- posture_counts: the latest results of each active endpoint, counted by check, status and
-- severity; maintained whenever an endpoint's latest scan or status changes.

ALTER TABLE scans ADD COLUMN tally TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tally));

CREATE TABLE posture_counts (
    tenant_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    check_id  TEXT NOT NULL,
    status    TEXT NOT NULL,
    severity  TEXT NOT NULL,
    -- Reports from different endpoints update different shards, so they rarely wait on each
    -- other's row locks; readers add the shards up.
    shard     INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, check_id, status, severity, shard)
);
