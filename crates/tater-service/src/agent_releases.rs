//! Agent releases for verified self-update (SPEC G2): an operator publishes a build with its
//! SHA-256 (and optionally an Ed25519 signature made offline with the release key); agents
//! read the version document without credentials and download the bytes.

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tater_domain::ValidationErrors;
use tater_store::{AgentRelease, Mode};

use crate::{Service, ServiceError, ServiceResult, SystemOperator};

/// The largest agent binary accepted.
pub const MAX_RELEASE_BYTES: usize = 256 * 1024 * 1024;
const OSES: &[&str] = &["linux", "windows"];
const ARCHES: &[&str] = &["x86_64", "aarch64"];

/// `major.minor.patch` as numbers, for ordering.
pub fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// Where an artifact is downloaded from, relative to the server.
pub fn download_path(r: &AgentRelease) -> String {
    format!("/api/agent/download/{}/{}/{}", r.version, r.os, r.arch)
}

impl Service {
    /// Publishes a release (operator CLI). Logged; releases are platform data, outside every
    /// organization's audit log.
    pub async fn admin_publish_agent_release(
        &self,
        op: &SystemOperator,
        version: &str,
        os: &str,
        arch: &str,
        content: &[u8],
        signature: Option<&str>,
    ) -> ServiceResult<AgentRelease> {
        let mut errors = ValidationErrors::new();
        if parse_version(version).is_none() {
            errors.add("version", "must be MAJOR.MINOR.PATCH, e.g. 1.2.3");
        }
        if !OSES.contains(&os) {
            errors.add("os", format!("must be one of {}", OSES.join(", ")));
        }
        if !ARCHES.contains(&arch) {
            errors.add("arch", format!("must be one of {}", ARCHES.join(", ")));
        }
        if content.is_empty() || content.len() > MAX_RELEASE_BYTES {
            errors.add("file", "must be 1 byte to 256 MiB");
        }
        if let Some(sig) = signature {
            let ok = base64::engine::general_purpose::STANDARD
                .decode(sig.trim())
                .is_ok_and(|b| b.len() == 64);
            if !ok {
                errors.add("signature", "must be a base64 Ed25519 signature (64 bytes)");
            }
        }
        errors.into_result(())?;
        let release = AgentRelease {
            version: version.to_owned(),
            os: os.to_owned(),
            arch: arch.to_owned(),
            sha256: hex::encode(Sha256::digest(content)),
            size: content.len() as i64,
            signature: signature.map(|s| s.trim().to_owned()),
            published_at: self.now(),
        };
        let mut tx = self.store.identity(Mode::Write).await?;
        tx.publish_release(&release, content).await?;
        tx.commit().await?;
        tracing::info!(by = %op.detail, version, os, arch, sha256 = %release.sha256, signed = release.signature.is_some(), "agent release published");
        Ok(release)
    }

    /// The version document: the newest version and its artifacts.
    pub async fn agent_version(&self) -> ServiceResult<Value> {
        let mut tx = self.store.identity(Mode::Read).await?;
        let releases = tx.releases().await?;
        let latest = releases
            .iter()
            .filter_map(|r| parse_version(&r.version).map(|v| (v, r.version.clone())))
            .max()
            .map(|(_, v)| v);
        let artifacts: Vec<Value> = releases
            .iter()
            .filter(|r| Some(&r.version) == latest.as_ref())
            .map(|r| {
                json!({
                    "os": r.os, "arch": r.arch, "url": download_path(r), "sha256": r.sha256,
                    "size": r.size, "signature": r.signature,
                })
            })
            .collect();
        Ok(json!({ "version": latest, "artifacts": artifacts }))
    }

    /// A release's metadata and bytes.
    pub async fn agent_download(
        &self,
        version: &str,
        os: &str,
        arch: &str,
    ) -> ServiceResult<(AgentRelease, Vec<u8>)> {
        let mut tx = self.store.identity(Mode::Read).await?;
        let release = tx
            .releases()
            .await?
            .into_iter()
            .find(|r| r.version == version && r.os == os && r.arch == arch)
            .ok_or(ServiceError::NotFound)?;
        let content = tx
            .release_content(version, os, arch)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Ok((release, content))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_numerically() {
        assert!(parse_version("1.10.0") > parse_version("1.9.9"));
        assert_eq!(parse_version("1.2"), None);
        assert_eq!(parse_version("1.2.3.4"), None);
        assert_eq!(parse_version("1.2.x"), None);
    }
}
