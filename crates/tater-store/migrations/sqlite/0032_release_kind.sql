-- A release is one artifact per version, OS, architecture and kind: `exe` (the agent binary,
-- on every OS) or `msi` (the Windows installer), so the installer travels the same verified
-- channel as the binaries. SQLite cannot change a primary key in place: both tables are
-- rebuilt (dropping the long-empty single-blob column on the way). The chunks go first, so
-- dropping the old releases table has nothing left to cascade into.
CREATE TABLE agent_releases_v2 (
    version      TEXT NOT NULL,
    os           TEXT NOT NULL,
    arch         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    signature    TEXT,
    published_at BIGINT NOT NULL,
    PRIMARY KEY (version, os, arch, kind)
);
INSERT INTO agent_releases_v2 (version, os, arch, kind, sha256, size, signature, published_at)
SELECT version, os, arch, 'exe', sha256, size, signature, published_at FROM agent_releases;

CREATE TABLE agent_release_chunks_v2 (
    version TEXT NOT NULL,
    os      TEXT NOT NULL,
    arch    TEXT NOT NULL,
    kind    TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    bytes   BLOB NOT NULL,
    PRIMARY KEY (version, os, arch, kind, seq),
    FOREIGN KEY (version, os, arch, kind)
        REFERENCES agent_releases_v2 (version, os, arch, kind) ON DELETE CASCADE
);
INSERT INTO agent_release_chunks_v2 (version, os, arch, kind, seq, bytes)
SELECT version, os, arch, 'exe', seq, bytes FROM agent_release_chunks;

DROP TABLE agent_release_chunks;
DROP TABLE agent_releases;
ALTER TABLE agent_releases_v2 RENAME TO agent_releases;
ALTER TABLE agent_release_chunks_v2 RENAME TO agent_release_chunks;
