-- The AI features (issue 16): off for every organization until an OrgAdmin turns them on,
-- and the organization's own Anthropic API key, sealed with AES-256-GCM under the master key
-- and bound to the organization (only its last four characters and when it was set are kept
-- in clear), with the model the organization chose (null: the server's default).
ALTER TABLE org_settings ADD COLUMN ai_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE org_settings ADD COLUMN ai_key_enc TEXT;
ALTER TABLE org_settings ADD COLUMN ai_key_last4 TEXT;
ALTER TABLE org_settings ADD COLUMN ai_key_set_at BIGINT;
ALTER TABLE org_settings ADD COLUMN ai_model TEXT;
