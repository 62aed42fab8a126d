-- Terminating an organization (issue 19 §2): from `terminated_at` every credential, session,
-- agent and MCP/AI call of it is refused (only its OrgAdmins' full export still answers);
-- after `delete_after` the sweeper deletes every row of it (the foreign keys cascade from
-- organizations) and its files, and leaves a signed deletion certificate here — outside the
-- tenant, since nothing of the tenant remains to hold it.
ALTER TABLE organizations ADD COLUMN terminated_at INTEGER;
ALTER TABLE organizations ADD COLUMN delete_after INTEGER;
CREATE INDEX organizations_due_for_deletion ON organizations (delete_after)
    WHERE delete_after IS NOT NULL;

CREATE TABLE deletion_certificates (
    org_id     TEXT PRIMARY KEY NOT NULL,
    org_name   TEXT NOT NULL,
    -- The certificate's canonical JSON, exactly the bytes signed.
    payload    TEXT NOT NULL,
    -- Ed25519 signature of `payload`, base64; `key_id` names the platform key.
    signature  TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    deleted_at INTEGER NOT NULL
);
