-- MCP writes from an API key need its owner's identity verified by an emailed code
-- (issue 13). The key remembers when it was verified and until when; a verification made
-- before the owner's `tokens_valid_after` (password change, sign out everywhere) no longer
-- counts. Codes are kept only as a keyed hash, bound to the key they were sent for.
ALTER TABLE api_keys ADD COLUMN verified_at INTEGER;
ALTER TABLE api_keys ADD COLUMN verified_until INTEGER;

CREATE TABLE identity_codes (
    id         TEXT PRIMARY KEY NOT NULL,
    api_key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    used_at    INTEGER
);
CREATE INDEX identity_codes_by_key ON identity_codes (api_key_id, created_at);
