//! The operating-system layer: everything the agent does differently on Unix and on Windows,
//! behind one set of functions. The rules, evaluation, reporting, spool, enrollment and update
//! logic above it are shared and never ask which system they run on.
//!
//! * private files: the configuration, its key and the spool are readable by the agent's own
//!   account only (mode 0600/0400 on Unix; a protected owner-only access list on Windows), and
//!   a file others can read is refused with the command that fixes it;
//! * scripts from the server run contained, so a time-out kills everything they started (a
//!   process group on Unix; a Job Object on Windows);
//! * where things live by default, whether the agent runs with full rights, and how it restarts
//!   into an updated binary.

use std::path::{Path, PathBuf};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

pub use imp::{
    Contained, dpapi_protect, dpapi_unprotect, is_admin, registry_subkeys, registry_value,
    restart_into, script_command,
};

/// The platform name checks are written for (`platforms` in the check files).
#[cfg(windows)]
pub const PLATFORM: &str = "windows";
#[cfg(not(windows))]
pub const PLATFORM: &str = "linux";

/// A server script ready to start: the process, and the file holding the script where the
/// platform needs one (removed when this is dropped).
pub struct Script {
    pub command: tokio::process::Command,
    #[allow(dead_code)] // held only to be dropped after the script ends
    file: Option<RemoveOnDrop>,
}

/// A file removed when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What the owner may do with a private file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read and write (the configuration, spooled reports).
    ReadWrite,
    /// Read only (a key that is never rewritten).
    ReadOnly,
}

/// Creates `path` (or truncates it, unless `new`) readable by this account only, before
/// anything is written to it.
pub fn create_private(path: &Path, access: Access, new: bool) -> std::io::Result<std::fs::File> {
    imp::create_private(path, access, new)
}

/// Creates a directory (and its parents) for private files; on Windows the directory gets an
/// owner-only access list its files inherit.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    imp::create_private_dir(dir)
}

/// Refuses a file that anyone but this account (and the system's own administrators, who can
/// take any file) may read or change. The message says what is wrong and how to fix it.
pub fn check_private(path: &Path, access: Access) -> Result<(), String> {
    imp::check_private(path, access).map_err(|detail| {
        format!(
            "{} is accessible to other users ({detail}); fix it with `{}`",
            path.display(),
            imp::fix_command(path, access)
        )
    })
}

/// Creates a file that may be executed (a staged update).
pub fn create_executable(path: &Path) -> std::io::Result<std::fs::File> {
    imp::create_executable(path)
}

/// Unix permission bits and owner of a file, where the platform has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnixMode {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The Unix mode and owner of `meta` (`None` where files have none, i.e. on Windows).
pub fn unix_mode(meta: &std::fs::Metadata) -> Option<UnixMode> {
    imp::unix_mode(meta)
}

/// The agent's configuration file when none is given.
pub fn default_config_path() -> PathBuf {
    imp::data_dir().join(imp::CONFIG_NAME)
}

/// Where reports wait for the server when the configuration names no spool.
pub fn default_spool_dir() -> PathBuf {
    imp::state_dir().join("spool")
}

/// The root filesystem of the running system: `/`, or the system drive (`C:\`).
pub fn default_root() -> PathBuf {
    imp::system_root()
}

/// Whether `path` is the running system's root.
pub fn is_system_root(path: &Path) -> bool {
    let canonical = |p: &Path| std::fs::canonicalize(p).ok();
    canonical(path).is_some_and(|p| Some(p) == canonical(&imp::system_root()))
}

/// Fills `buf` from the system's random source.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), String> {
    getrandom::fill(buf).map_err(|e| format!("no random source: {e}"))
}

/// Test helpers that undo what this module does, to show it is refused.
#[cfg(test)]
pub(crate) mod test_support {
    /// Lets every account read and change `path`.
    pub fn open_to_everyone(path: &std::path::Path) {
        super::imp::open_to_everyone(path)
    }
}
