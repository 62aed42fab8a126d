//! Secrets handed over as files rather than environment variables: systemd credentials
//! (`LoadCredential=` / `LoadCredentialEncrypted=`, which systemd exposes in
//! `$CREDENTIALS_DIRECTORY`) and Docker/Compose secrets (mounted in `/run/secrets`; the image
//! points `CREDENTIALS_DIRECTORY` there). An environment variable is readable in
//! `/proc/<pid>/environ`, in `systemctl show` and in `docker inspect`; a credential file is
//! readable by the service alone.
//!
//! A flag or environment variable wins: a credential fills only a setting left unset.

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::{AdminArgs, Cli, Command};
use crate::config::ServeArgs;

/// The variable systemd sets for a service that loads credentials.
pub const DIR_VAR: &str = "CREDENTIALS_DIRECTORY";

/// The largest credential file read (a URL or a key is far smaller; a wrong path to a large
/// file should fail clearly, not load it).
const MAX_BYTES: u64 = 64 * 1024;

/// Each credential's file name and the setting it fills.
pub const NAMES: &[(&str, &str)] = &[
    ("database-url", "TATER_DATABASE_URL"),
    ("master-key", "TATER_MASTER_KEY"),
    ("jwt-secret", "TATER_JWT_SECRET"),
    ("audit-signing-key", "AUDIT_SIGNING_KEY"),
    ("redis-url", "TATER_REDIS_URL"),
    ("smtp-url", "TATER_SMTP_URL"),
    ("entra-client-secret", "TATER_ENTRA_CLIENT_SECRET"),
    ("anthropic-api-key", "TATER_ANTHROPIC_API_KEY"),
    ("platform-signing-key", "TATER_PLATFORM_SIGNING_KEY"),
];

/// The credentials directory of this process, if it has one.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    dir: Option<PathBuf>,
}

impl Credentials {
    /// From `$CREDENTIALS_DIRECTORY` (none when it is unset or empty).
    pub fn from_env() -> Self {
        let dir = std::env::var_os(DIR_VAR)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        Self { dir }
    }

    /// The credential `name`, without surrounding white space (`echo` and editors end files
    /// with a newline). Absent: `None`; empty, too large or unreadable: an error naming it.
    pub fn read(&self, name: &str) -> anyhow::Result<Option<String>> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let path = dir.join(name);
        let size = match std::fs::metadata(&path) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        anyhow::ensure!(
            size <= MAX_BYTES,
            "the credential {} is {size} bytes; a credential holds at most {MAX_BYTES}",
            path.display()
        );
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the credential {}", path.display()))?;
        let text = text.trim();
        anyhow::ensure!(
            !text.is_empty(),
            "the credential {} is empty",
            path.display()
        );
        Ok(Some(text.to_owned()))
    }

    /// Fills `slot` from the credential `name` when no flag or variable set it.
    pub fn fill(&self, slot: &mut Option<String>, name: &str) -> anyhow::Result<()> {
        if slot.is_none() {
            *slot = self.read(name)?;
        }
        Ok(())
    }

    /// An environment-only secret: the variable, else the credential.
    pub fn env_or(&self, var: &str, name: &str) -> anyhow::Result<Option<String>> {
        match std::env::var(var) {
            Ok(value) => Ok(Some(value)),
            Err(_) => self.read(name),
        }
    }

    /// Fills the unset secrets of a command line from the credentials.
    pub fn apply(&self, cli: &mut Cli) -> anyhow::Result<()> {
        match &mut cli.command {
            Command::Serve(args) => self.apply_serve(args),
            Command::Admin(args) => self.apply_admin(args),
            Command::Sbom | Command::Audit(_) | Command::Mcp(_) | Command::Health(_) => Ok(()),
        }
    }

    fn apply_serve(&self, args: &mut ServeArgs) -> anyhow::Result<()> {
        self.fill(&mut args.storage.database_url, "database-url")?;
        self.fill(&mut args.siem.master_key, "master-key")?;
        self.fill(&mut args.jwt_secret, "jwt-secret")?;
        self.fill(&mut args.audit.audit_signing_key, "audit-signing-key")?;
        self.fill(&mut args.rate_limits.redis_url, "redis-url")?;
        self.fill(
            &mut args.lifecycle.platform_signing_key,
            "platform-signing-key",
        )?;
        self.fill(&mut args.mail.smtp_url, "smtp-url")
    }

    fn apply_admin(&self, args: &mut AdminArgs) -> anyhow::Result<()> {
        self.fill(&mut args.storage.database_url, "database-url")?;
        self.fill(
            &mut args.lifecycle.platform_signing_key,
            "platform-signing-key",
        )?;
        self.fill(&mut args.audit.audit_signing_key, "audit-signing-key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_dir(dir: &std::path::Path) -> Credentials {
        Credentials {
            dir: Some(dir.to_path_buf()),
        }
    }

    #[test]
    fn a_credential_fills_only_what_is_unset() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("master-key"), "from-the-file\n").unwrap();
        let creds = in_dir(dir.path());
        let mut unset = None;
        creds.fill(&mut unset, "master-key").unwrap();
        assert_eq!(unset.as_deref(), Some("from-the-file"));
        let mut set = Some("from-the-flag".to_owned());
        creds.fill(&mut set, "master-key").unwrap();
        assert_eq!(set.as_deref(), Some("from-the-flag"));
        let mut absent = None;
        creds.fill(&mut absent, "jwt-secret").unwrap();
        assert_eq!(absent, None);
        Credentials::default()
            .fill(&mut absent, "master-key")
            .unwrap();
        assert_eq!(absent, None);
    }

    #[test]
    fn an_empty_or_oversized_credential_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("jwt-secret"), " \n").unwrap();
        std::fs::write(dir.path().join("smtp-url"), vec![b'a'; 70_000]).unwrap();
        let creds = in_dir(dir.path());
        let empty = creds.read("jwt-secret").unwrap_err().to_string();
        assert!(empty.contains("jwt-secret is empty"), "{empty}");
        let large = creds.read("smtp-url").unwrap_err().to_string();
        assert!(large.contains("smtp-url is 70000 bytes"), "{large}");
    }
}
