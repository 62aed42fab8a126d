-- Pages are bounded by bytes as well as rows (finding: a page of 500 large records held
-- ~128 MB per request). Each record and audit entry remembers its size, so a page is cut
-- without reading the rows it will not return.
ALTER TABLE records ADD COLUMN size_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE records SET size_bytes = length(CAST(data AS BLOB));
ALTER TABLE audit_log ADD COLUMN size_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE audit_log SET size_bytes = length(CAST(changes AS BLOB));
