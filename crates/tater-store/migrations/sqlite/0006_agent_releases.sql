-- Agent releases for verified self-update (SPEC G2): platform-wide, not tenant data. The
-- binary is kept in the database so every replica serves the same bytes.
CREATE TABLE agent_releases (
    version      TEXT NOT NULL,
    os           TEXT NOT NULL,
    arch         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    signature    TEXT,
    content      BLOB NOT NULL,
    published_at BIGINT NOT NULL,
    PRIMARY KEY (version, os, arch)
);
