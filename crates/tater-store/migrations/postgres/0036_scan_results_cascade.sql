-- Scan results without a foreign key to their scan (issue 20). PostgreSQL checks such a key
-- once per inserted row, a locking look-up of the scan: for a report of 300 results that
-- cost as much as inserting the rows. A scan's results are written by one path only
-- (`insert_scan`), in the scan's own transaction, after the scan and with the endpoint's row
-- locked; so the check guarded nothing. What the key also gave, deleting a scan's results
-- with the scan however the scan goes (its endpoint deleted, its organization purged), is
-- kept by this trigger, once per deleting statement. An organization's purge still checks
-- that no table holds a row of it afterwards.
ALTER TABLE scan_results DROP CONSTRAINT scan_results_tenant_id_scan_id_fkey;

-- Its DELETE runs under the deleting session's row-level security setting: the store deletes
-- scans only in a tenant's transaction (an endpoint's, whose scans are that tenant's) or with
-- `tater.cross_tenant` on (an organization's purge, which then checks every table empty). A
-- session with neither (an operator's psql) would leave the results behind: delete through
-- Tater, or set `tater.cross_tenant` first.
CREATE FUNCTION tater_delete_scan_results() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM scan_results r USING deleted_scans d
        WHERE r.tenant_id = d.tenant_id AND r.scan_id = d.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER scan_results_follow_scans AFTER DELETE ON scans
    REFERENCING OLD TABLE AS deleted_scans
    FOR EACH STATEMENT EXECUTE FUNCTION tater_delete_scan_results();
