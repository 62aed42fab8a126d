//! The filesystem being audited: `/` on a live machine, or a mounted image or container root
//! (`--root DIR`). Every path a rule names is read under it; nothing is ever written.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::registry::{OfflineRegistry, Value};
use crate::windows_rules::LiveTool;

/// Files larger than this are read only up to it (configuration files are far smaller).
const MAX_READ: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Root {
    base: PathBuf,
    /// Whether this is the running system (then /proc and the running mounts count).
    live: bool,
    /// A Windows volume's hives, read once per scan.
    registry: OfflineRegistry,
    /// What the system tools said, asked once per scan.
    tools: Arc<Mutex<HashMap<LiveTool, Result<String, String>>>>,
}

impl Root {
    pub fn new(base: &Path) -> Self {
        let live = crate::os::is_system_root(base);
        Self {
            base: base.to_path_buf(),
            live,
            registry: OfflineRegistry::default(),
            tools: Arc::default(),
        }
    }

    pub fn is_live(&self) -> bool {
        self.live
    }

    /// A Windows registry value: the running registry when live, else the volume's hives.
    pub fn registry_value(&self, key: &str, name: &str) -> Result<Option<Value>, String> {
        if self.live {
            crate::os::registry_value(key, name)
        } else {
            self.registry.value(&self.base, key, name)
        }
    }

    /// The names of a registry key's subkeys (`None` when the key does not exist).
    pub fn registry_subkeys(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        if self.live {
            crate::os::registry_subkeys(key)
        } else {
            self.registry.subkeys(&self.base, key)
        }
    }

    /// What a system tool reports on the running system, asked once per scan.
    pub fn live_tool_output(&self, tool: LiveTool) -> Result<String, String> {
        if !self.live || crate::os::PLATFORM != "windows" {
            return Err("this rule needs a running Windows system".into());
        }
        let mut tools = match self.tools.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        tools
            .entry(tool)
            .or_insert_with_key(crate::windows_rules::run_tool)
            .clone()
    }

    /// Which system's checks apply: the running system's when live; for a mounted volume,
    /// "windows" when it holds a Windows registry, else "linux".
    pub fn platform(&self) -> &'static str {
        if self.live {
            crate::os::PLATFORM
        } else if crate::registry::find_ignoring_case(
            &self.base,
            &["Windows", "System32", "config", "SYSTEM"],
        )
        .is_some_and(|p| p.is_file())
        {
            "windows"
        } else {
            "linux"
        }
    }

    /// `path` (absolute, as on the audited system) under the root. `..` components are
    /// dropped so a rule cannot climb out of the root.
    pub fn path(&self, path: &str) -> PathBuf {
        let mut out = self.base.clone();
        for c in Path::new(path).components() {
            if let Component::Normal(part) = c {
                out.push(part);
            }
        }
        out
    }

    /// A text file, or `None` if it does not exist. Other errors (permission) are errors.
    pub fn read(&self, path: &str) -> Result<Option<String>, String> {
        let full = self.path(path);
        match fs::File::open(&full) {
            Ok(f) => {
                let mut buf = Vec::new();
                f.take(MAX_READ)
                    .read_to_end(&mut buf)
                    .map_err(|e| format!("cannot read {path}: {e}"))?;
                Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Ok(None),
            Err(e) => Err(format!("cannot read {path}: {e}")),
        }
    }

    /// Expands a trailing `*` in the last component (`/etc/sysctl.d/*.conf`); other paths are
    /// returned as they are. Results are sorted, as the tools reading them sort them.
    pub fn expand(&self, pattern: &str) -> Vec<String> {
        let Some((dir, name)) = pattern.rsplit_once('/') else {
            return vec![pattern.to_owned()];
        };
        let Some((prefix, suffix)) = name.split_once('*') else {
            return vec![pattern.to_owned()];
        };
        let Ok(entries) = fs::read_dir(self.path(dir)) else {
            return Vec::new();
        };
        let mut out: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with(prefix) && n.ends_with(suffix) && !n.starts_with('.'))
            .map(|n| format!("{dir}/{n}"))
            .collect();
        out.sort();
        out
    }

    /// Metadata without following a final symbolic link; `None` if absent.
    pub fn symlink_metadata(&self, path: &str) -> Option<fs::Metadata> {
        fs::symlink_metadata(self.path(path)).ok()
    }
}
