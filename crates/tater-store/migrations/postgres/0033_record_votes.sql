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
