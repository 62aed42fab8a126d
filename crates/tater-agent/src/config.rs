//! The agent's configuration (SPEC G3): server URL, endpoint id, credential and flags, in a
//! JSON file only the agent's account can read (mode 0600; an owner-only access list on
//! Windows). The agent refuses to start when the file is readable by anyone else, and says how
//! to fix it.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::os::Access;
use crate::sealed::ConfigKey;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentConfig {
    /// The server's base URL, e.g. `https://tater.example.com`.
    pub server: String,
    pub endpoint_id: String,
    /// The agent credential (`tater_agent_…`); sent as `X-API-Key`.
    pub api_key: String,
    /// Whether this machine runs scripts the server sends (off unless its owner turns it on).
    #[serde(default)]
    pub allow_remote_scripts: bool,
    /// Seconds between scheduled scans (default: daily).
    #[serde(default = "default_interval")]
    pub scan_interval_secs: u64,
    /// Where reports wait until the server has them.
    #[serde(default = "default_spool")]
    pub spool_dir: String,
    /// Base64 Ed25519 key that must have signed any update (then releases are trusted even
    /// if the server is not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_public_key: Option<String>,
}

fn default_interval() -> u64 {
    24 * 3600
}

fn default_spool() -> String {
    crate::os::default_spool_dir().display().to_string()
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("server", &self.server)
            .field("endpoint_id", &self.endpoint_id)
            .field("api_key", &"[redacted]")
            .field("allow_remote_scripts", &self.allow_remote_scripts)
            .finish()
    }
}

impl AgentConfig {
    pub fn new(
        server: &str,
        endpoint_id: String,
        api_key: String,
        spool_dir: Option<String>,
    ) -> Self {
        Self {
            server: server.trim_end_matches('/').to_owned(),
            endpoint_id,
            api_key,
            allow_remote_scripts: false,
            scan_interval_secs: default_interval(),
            spool_dir: spool_dir.unwrap_or_else(default_spool),
            release_public_key: None,
        }
    }

    /// Writes the file readable by this account only (replacing it atomically), creating its
    /// directory.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        self.save_with(path, None)
    }

    /// [`AgentConfig::save`], encrypted under `key` when given.
    pub fn save_with(&self, path: &Path, key: Option<&ConfigKey>) -> Result<(), String> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        if let Some(k) = key {
            text = k.seal(&text)?;
        }
        self.write(path, &text)
    }

    /// Writes `text` as the private file at `path`, atomically.
    fn write(&self, path: &Path, text: &str) -> Result<(), String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::os::create_private_dir(dir)
                .map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        let tmp = path.with_extension("tmp");
        crate::os::create_private(&tmp, Access::ReadWrite, false)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
            .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("writing {}: {e}", path.display()))
    }

    /// [`AgentConfig::save`], encrypted with Windows DPAPI for this account, or for this
    /// machine (`machine`: what a service running as LocalSystem needs, and what an
    /// administrator of the machine can also open).
    pub fn save_protected(&self, path: &Path, machine: bool) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        self.write(path, &crate::sealed::dpapi_seal(&text, machine)?)
    }

    /// Reads the file, refusing one that group or others can read or write.
    pub fn load(path: &Path) -> Result<Self, String> {
        Self::load_with(path, None)
    }

    /// [`AgentConfig::load`] of a file that may be encrypted (then `key`, or the systemd
    /// credential, opens it).
    pub fn load_with(path: &Path, key: Option<&ConfigKey>) -> Result<Self, String> {
        std::fs::metadata(path).map_err(|e| {
            format!(
                "cannot read {}: {e} (run `tater-agent enroll` first)",
                path.display()
            )
        })?;
        crate::os::check_private(path, Access::ReadWrite).map_err(|e| {
            format!("{e}. It holds the agent's credential: check who may have read it.")
        })?;
        let mut text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if text.starts_with(crate::sealed::MAGIC) {
            let credential = ConfigKey::from_credentials().transpose()?;
            let key = key.or(credential.as_ref()).ok_or_else(|| {
                format!(
                    "{} is encrypted: give --key-file PATH, or start the service with the systemd \
                     credential {}",
                    path.display(),
                    crate::sealed::CREDENTIAL
                )
            })?;
            text = key.open(&text)?;
        } else if text.starts_with(crate::sealed::DPAPI_MAGIC) {
            text =
                crate::sealed::dpapi_open(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a valid agent configuration: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AgentConfig {
        AgentConfig::new(
            "https://t.example/",
            "e1".into(),
            "tater_agent_x".into(),
            None,
        )
    }

    #[test]
    fn the_file_is_private_and_encrypted_only_with_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etc").join("config.json");
        let c = sample();
        c.save(&path).unwrap();
        crate::os::check_private(&path, Access::ReadWrite).unwrap();
        assert_eq!(AgentConfig::load(&path).unwrap(), c);
        assert_eq!(c.server, "https://t.example");
        assert!(!format!("{c:?}").contains("tater_agent_x"));
        // Encrypted at rest: unreadable without the key, readable with it.
        let key = ConfigKey::load_or_create(&dir.path().join("key")).unwrap();
        c.save_with(&path, Some(&key)).unwrap();
        assert!(
            !std::fs::read_to_string(&path)
                .unwrap()
                .contains("tater_agent_x")
        );
        assert!(AgentConfig::load(&path).unwrap_err().contains("--key-file"));
        assert_eq!(AgentConfig::load_with(&path, Some(&key)).unwrap(), c);
    }

    #[test]
    fn dpapi_protects_the_file_on_windows_and_is_refused_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let saved = sample().save_protected(&path, false);
        if cfg!(windows) {
            saved.unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.starts_with(crate::sealed::DPAPI_MAGIC) && !text.contains("tater_agent_x")
            );
            crate::os::check_private(&path, Access::ReadWrite).unwrap();
            assert_eq!(AgentConfig::load(&path).unwrap(), sample());
            sample().save_protected(&path, true).unwrap();
            assert_eq!(AgentConfig::load(&path).unwrap(), sample());
        } else {
            assert!(saved.unwrap_err().contains("--key-file"));
            // A DPAPI file copied here says where it opens.
            sample().save(&path).unwrap();
            std::fs::write(&path, format!("{}00ff", crate::sealed::DPAPI_MAGIC)).unwrap();
            let err = AgentConfig::load(&path).unwrap_err();
            assert!(err.contains("only on that Windows machine"), "{err}");
        }
    }

    #[test]
    fn a_file_others_can_read_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        sample().save(&path).unwrap();
        crate::os::test_support::open_to_everyone(&path);
        let err = AgentConfig::load(&path).unwrap_err();
        assert!(err.contains("accessible to other users"), "{err}");
        #[cfg(unix)]
        assert!(err.contains("chmod 600"), "{err}");
        #[cfg(windows)]
        assert!(err.contains("icacls"), "{err}");
        // Saving again makes it private again.
        sample().save(&path).unwrap();
        assert_eq!(AgentConfig::load(&path).unwrap(), sample());
    }
}
