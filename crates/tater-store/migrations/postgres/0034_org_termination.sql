-- Terminating an organization (issue 19 §2): from `terminated_at` every credential, session,
-- agent and MCP/AI call of it is refused (only its OrgAdmins' full export still answers);
-- after `delete_after` the sweeper deletes every row of it (the foreign keys cascade from
-- organizations) and its files, and leaves a signed deletion certificate here — outside the
-- tenant, since nothing of the tenant remains to hold it.
ALTER TABLE organizations ADD COLUMN terminated_at BIGINT;
ALTER TABLE organizations ADD COLUMN delete_after BIGINT;
CREATE INDEX organizations_due_for_deletion ON organizations (delete_after)
    WHERE delete_after IS NOT NULL;

CREATE TABLE deletion_certificates (
    org_id     TEXT PRIMARY KEY NOT NULL,
    org_name   TEXT NOT NULL,
    payload    TEXT NOT NULL,
    signature  TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    deleted_at BIGINT NOT NULL
);

-- Refuses (SQLSTATE TT403) an organization that has been terminated, unless the caller's
-- action is the one still allowed during the grace period. Run in the same round trip as
-- the BEGIN of a tenant transaction, before it: a refusal then leaves no transaction open.
CREATE FUNCTION tater_tenant_open(org TEXT, allow_terminated BOOLEAN) RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT allow_terminated AND EXISTS (
        SELECT 1 FROM organizations WHERE id = org AND terminated_at IS NOT NULL
    ) THEN
        RAISE EXCEPTION 'organization % has been terminated', org USING ERRCODE = 'TT403';
    END IF;
END
$$;
