-- Pages are bounded by bytes as well as rows (finding: a page of 500 large records held
-- ~128 MB per request). Each record and audit entry remembers its size, so a page is cut
-- without reading the rows it will not return. The backfill spans every tenant: it runs
-- as the named cross-tenant operation (row-level security is forced on the owner too).
SELECT set_config('tater.cross_tenant', 'on', true);
ALTER TABLE records ADD COLUMN size_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE records SET size_bytes = octet_length(data::text);
ALTER TABLE audit_log ADD COLUMN size_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE audit_log SET size_bytes = octet_length(changes::text);
