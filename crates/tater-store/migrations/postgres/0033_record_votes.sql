-- Votes on a record put to a board (a change request before its change advisory board): one
-- per voter per round, a round being the move that put the record to the vote, so a change
-- sent back and submitted again is voted on afresh. Votes go with their record.
CREATE TABLE record_votes (
    tenant_id TEXT NOT NULL,
    module    TEXT NOT NULL,
    record_id TEXT NOT NULL,
    round     TEXT NOT NULL,
    voter     TEXT NOT NULL,
    cast_by   TEXT NOT NULL,
    vote      TEXT NOT NULL,
    comment   TEXT,
    at        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, module, record_id, round, voter),
    FOREIGN KEY (tenant_id, module, record_id)
        REFERENCES records (tenant_id, module, id) ON DELETE CASCADE
);

ALTER TABLE record_votes ENABLE ROW LEVEL SECURITY;
ALTER TABLE record_votes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON record_votes
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');
