-- A release is one artifact per version, OS, architecture and kind: `exe` (the agent binary,
-- on every OS) or `msi` (the Windows installer), so the installer travels the same verified
-- channel as the binaries. Existing rows are executables.
ALTER TABLE agent_release_chunks DROP CONSTRAINT agent_release_chunks_version_os_arch_fkey;
ALTER TABLE agent_release_chunks DROP CONSTRAINT agent_release_chunks_pkey;
ALTER TABLE agent_releases DROP CONSTRAINT agent_releases_pkey;

ALTER TABLE agent_releases ADD COLUMN kind TEXT NOT NULL DEFAULT 'exe';
ALTER TABLE agent_releases ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE agent_releases DROP COLUMN content;
ALTER TABLE agent_releases ADD PRIMARY KEY (version, os, arch, kind);

ALTER TABLE agent_release_chunks ADD COLUMN kind TEXT NOT NULL DEFAULT 'exe';
ALTER TABLE agent_release_chunks ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE agent_release_chunks ADD PRIMARY KEY (version, os, arch, kind, seq);
ALTER TABLE agent_release_chunks ADD FOREIGN KEY (version, os, arch, kind)
    REFERENCES agent_releases (version, os, arch, kind) ON DELETE CASCADE;
