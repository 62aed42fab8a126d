-- Agent releases are kept in chunks of 1 MiB, so a server reads a release into one shared
-- buffer a chunk at a time (never the whole blob twice) and nothing holds a second copy.
CREATE TABLE agent_release_chunks (
    version TEXT NOT NULL,
    os      TEXT NOT NULL,
    arch    TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    bytes   BYTEA NOT NULL,
    PRIMARY KEY (version, os, arch, seq),
    FOREIGN KEY (version, os, arch) REFERENCES agent_releases (version, os, arch) ON DELETE CASCADE
);
-- Chunks are already compressed binaries: do not spend CPU trying to compress them again.
ALTER TABLE agent_release_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;

INSERT INTO agent_release_chunks (version, os, arch, seq, bytes)
SELECT r.version, r.os, r.arch, s.seq, substring(r.content FROM (s.seq * 1048576 + 1)::int FOR 1048576)
FROM agent_releases r
CROSS JOIN LATERAL generate_series(0, GREATEST((r.size - 1) / 1048576, 0)) AS s (seq);

UPDATE agent_releases SET content = ''::bytea;
