-- Links between records (issue 15): a record and another record of any module, or a record
-- and a catalog control. Two records are kept in one order (the lesser end in a_*), so one
-- pair is linked once. A link goes with either record (and with its organization).
CREATE TABLE record_links (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    a_module    TEXT NOT NULL,
    a_id        TEXT NOT NULL,
    b_module    TEXT,
    b_id        TEXT,
    b_control   TEXT,
    created_by  TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK ((b_module IS NULL) = (b_id IS NULL) AND (b_id IS NULL) <> (b_control IS NULL)),
    FOREIGN KEY (tenant_id, a_module, a_id)
        REFERENCES records (tenant_id, module, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, b_module, b_id)
        REFERENCES records (tenant_id, module, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX record_links_pair ON record_links (tenant_id, a_module, a_id, b_module, b_id)
    WHERE b_id IS NOT NULL;
CREATE UNIQUE INDEX record_links_control ON record_links (tenant_id, a_module, a_id, b_control)
    WHERE b_control IS NOT NULL;
CREATE INDEX record_links_by_a ON record_links (tenant_id, a_module, a_id);
CREATE INDEX record_links_by_b ON record_links (tenant_id, b_module, b_id);
CREATE INDEX record_links_by_control ON record_links (tenant_id, b_control);
