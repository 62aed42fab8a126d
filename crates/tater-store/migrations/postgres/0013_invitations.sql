-- Invitations: nobody becomes a member until they accept (finding: accounts of other
-- organizations were linked without consent). One pending invitation per address and
-- organization.
CREATE TABLE invitations (
    tenant_id        TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id               TEXT NOT NULL,
    email            TEXT NOT NULL,
    role             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
    invited_by       TEXT NOT NULL,
    invited_by_email TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    decided_at       BIGINT,
    user_id          TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX invitations_one_pending ON invitations (tenant_id, email) WHERE status = 'pending';
-- An invitee lists the invitations addressed to them.
CREATE INDEX invitations_by_email ON invitations (email, status);

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invitations
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');
