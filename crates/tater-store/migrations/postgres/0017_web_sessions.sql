-- The web application's sign-in sessions (issue 14), kept on the server. The browser holds a
-- random secret in a cookie; only its SHA-256 is stored. A session ends at its absolute
-- expiry, after the idle timeout without requests, at sign-out, and for every session of a
-- person at "sign out everywhere" (or a password change), which also moves the person's
-- tokens_valid_after past every session's created_at.
CREATE TABLE web_sessions (
    id_hash      TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id       TEXT REFERENCES organizations (id) ON DELETE SET NULL,
    csrf_token   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX web_sessions_by_user ON web_sessions (user_id);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);
