-- Agent releases are kept in chunks of 1 MiB, so a server reads a release into one shared
-- buffer a chunk at a time (never the whole blob twice) and nothing holds a second copy.
-- The old single-blob column stays (empty) because SQLite cannot drop a NOT NULL column
-- without rebuilding the table.
CREATE TABLE agent_release_chunks (
    version TEXT NOT NULL,
    os      TEXT NOT NULL,
    arch    TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    bytes   BLOB NOT NULL,
    PRIMARY KEY (version, os, arch, seq),
    FOREIGN KEY (version, os, arch) REFERENCES agent_releases (version, os, arch) ON DELETE CASCADE
);

INSERT INTO agent_release_chunks (version, os, arch, seq, bytes)
WITH RECURSIVE parts (version, os, arch, seq, size) AS (
    SELECT version, os, arch, 0, size FROM agent_releases
    UNION ALL
    SELECT version, os, arch, seq + 1, size FROM parts WHERE (seq + 1) * 1048576 < size
)
SELECT p.version, p.os, p.arch, p.seq, substr(r.content, p.seq * 1048576 + 1, 1048576)
FROM parts p JOIN agent_releases r
  ON r.version = p.version AND r.os = p.os AND r.arch = p.arch;

UPDATE agent_releases SET content = x'';
