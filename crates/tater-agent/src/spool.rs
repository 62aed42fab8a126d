//! Reports waiting for the server, on disk, so an outage or a restart loses no scan. Each is
//! one private file (mode 0600 on Unix, an owner-only access list on Windows, in a directory
//! only the agent's account can enter; written to a temporary name and renamed), named so that a directory
//! listing gives them oldest first. A report the server refuses for good is moved to
//! `rejected/` with the reason beside it, never deleted silently.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::os::Access;

pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    pub fn open(dir: &Path) -> Result<Self, String> {
        crate::os::create_private_dir(dir)
            .map_err(|e| format!("creating the spool {}: {e}", dir.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Stores a report under `name` (`<unix-ms>-<scan id>`).
    pub fn add(&self, name: &str, body: &[u8]) -> Result<PathBuf, String> {
        let path = self.dir.join(format!("{name}.json"));
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = crate::os::create_private(&tmp, Access::ReadWrite, false)?;
            f.write_all(body)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| format!("spooling {}: {e}", path.display()))?;
        Ok(path)
    }

    /// Waiting reports, oldest first.
    pub fn pending(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|it| {
                it.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// The server has it.
    pub fn done(&self, path: &Path) -> Result<(), String> {
        std::fs::remove_file(path).map_err(|e| format!("removing {}: {e}", path.display()))
    }

    /// The server refused it for good: keep it apart, with the reason.
    pub fn reject(&self, path: &Path, reason: &str) -> Result<(), String> {
        let dir = self.dir.join("rejected");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let name = path.file_name().unwrap_or_default();
        std::fs::rename(path, dir.join(name)).map_err(|e| e.to_string())?;
        std::fs::write(dir.join(name).with_extension("reason.txt"), reason)
            .map_err(|e| e.to_string())
    }
}
