//! The OS layer on Linux (and other Unix systems).

use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::{Access, Script, UnixMode};
use crate::exec::Command;

pub const CONFIG_NAME: &str = "config.json";

pub fn data_dir() -> PathBuf {
    PathBuf::from("/etc/tater-agent")
}

pub fn state_dir() -> PathBuf {
    PathBuf::from("/var/lib/tater-agent")
}

pub fn system_root() -> PathBuf {
    PathBuf::from("/")
}

fn mode_of(access: Access) -> u32 {
    match access {
        Access::ReadWrite => 0o600,
        Access::ReadOnly => 0o400,
    }
}

pub fn create_private(path: &Path, access: Access, new: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(mode_of(access));
    if new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    let f = options.open(path)?;
    // The mode given to open() applies only to a new file (and the umask may narrow it).
    f.set_permissions(std::fs::Permissions::from_mode(mode_of(access)))?;
    Ok(f)
}

pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    protect_dir(dir)
}

fn protect_dir(dir: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(dir)?;
    // Only the agent's own directories are narrowed; a shared parent such as /tmp is left alone.
    if meta.permissions().mode() & 0o077 != 0 && is_owner(&meta) {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn is_owner(meta: &std::fs::Metadata) -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|me| me.uid() == meta.uid())
}

pub fn check_private(path: &Path, _access: Access) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read its mode: {e}"))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!("mode {mode:03o}"));
    }
    Ok(())
}

pub fn fix_command(path: &Path, access: Access) -> String {
    format!("chmod {:o} {}", mode_of(access), path.display())
}

pub fn create_executable(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o755)
        .open(path)
}

pub fn unix_mode(meta: &std::fs::Metadata) -> Option<UnixMode> {
    Some(UnixMode {
        mode: meta.mode(),
        uid: meta.uid(),
        gid: meta.gid(),
    })
}

/// A running Linux system has no Windows registry (a mounted Windows volume is read from its
/// hive files instead).
pub fn registry_value(key: &str, _name: &str) -> Result<Option<crate::registry::Value>, String> {
    Err(format!("{key}: this system has no Windows registry"))
}

pub fn registry_subkeys(key: &str) -> Result<Option<Vec<String>>, String> {
    Err(format!("{key}: this system has no Windows registry"))
}

const NO_DPAPI: &str = "DPAPI is Windows's; on Linux protect the configuration with --key-file (or a systemd credential)";

pub fn dpapi_protect(_plain: &[u8], _machine: bool) -> Result<Vec<u8>, String> {
    Err(NO_DPAPI.into())
}

pub fn dpapi_unprotect(_sealed: &[u8]) -> Result<Vec<u8>, String> {
    Err(format!(
        "this configuration was protected with Windows DPAPI and opens only on that Windows machine ({NO_DPAPI})"
    ))
}

pub fn is_admin() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Uid:")
                    .map(|u| u.split_whitespace().nth(1) == Some("0"))
            })
        })
        .unwrap_or(false)
}

/// Replaces this process with `exe` (same arguments); returns only if that failed.
pub fn restart_into(exe: &Path) -> std::io::Error {
    std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .exec()
}

/// The process that runs a server script: bash, as root or (from root) as another user.
pub fn script_command(cmd: &Command) -> Result<Script, String> {
    if cmd.language != "bash" {
        return Err(format!(
            "{} scripts do not run on this platform (bash does)",
            cmd.language
        ));
    }
    let admin = is_admin();
    if cmd.run_as == "root" || cmd.run_as.is_empty() {
        if !admin {
            return Err("the script must run as root, and this agent does not".into());
        }
        let mut command = tokio::process::Command::new("/bin/bash");
        command.arg("-c").arg(&cmd.content);
        Ok(Script {
            command,
            file: None,
        })
    } else if admin {
        let mut command = tokio::process::Command::new("runuser");
        command.args(["-u", &cmd.run_as, "--", "/bin/bash", "-c", &cmd.content]);
        Ok(Script {
            command,
            file: None,
        })
    } else {
        Err(format!(
            "running as {} needs an agent running as root",
            cmd.run_as
        ))
    }
}

/// A started script and everything it starts: its own process group.
pub struct Contained {
    group: Option<i32>,
}

impl Contained {
    pub fn spawn(
        mut command: tokio::process::Command,
    ) -> std::io::Result<(Contained, tokio::process::Child)> {
        command.process_group(0);
        let child = command.spawn()?;
        let group = child.id().and_then(|p| i32::try_from(p).ok());
        Ok((Contained { group }, child))
    }

    /// Kills the whole process group: the shell and everything it started.
    pub fn kill_tree(&self) {
        if let Some(pid) = self.group {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
pub fn open_to_everyone(path: &Path) {
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666));
}
