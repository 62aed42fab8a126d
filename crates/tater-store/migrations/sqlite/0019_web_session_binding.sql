-- A web session started by "Sign in with Microsoft" acts only in the organization onboarded
-- for the person's Entra ID tenant, as their Entra ID access tokens do (issue 14); the
-- organization switcher cannot leave it. NULL for email-and-password sessions.
ALTER TABLE web_sessions ADD COLUMN bound_org_id TEXT REFERENCES organizations (id) ON DELETE CASCADE;
