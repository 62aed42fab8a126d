//! Agent releases for verified self-update (SPEC G2): an operator publishes a build with its
//! SHA-256 (and optionally an Ed25519 signature made offline with the release key); agents
//! read the version document without credentials and download the bytes.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use base64::Engine as _;
use bytes::Bytes;
use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tater_domain::ValidationErrors;
use tater_store::{AgentRelease, Mode, Store};

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

/// The version document agents poll (no credentials).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AgentVersion {
    /// The newest published version.
    pub version: Option<String>,
    pub artifacts: Vec<AgentArtifact>,
}

/// One download of the newest version.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AgentArtifact {
    pub os: String,
    pub arch: String,
    /// Download path, relative to the server.
    pub url: String,
    pub sha256: String,
    pub size: i64,
    /// Base64 Ed25519 over the binary.
    pub signature: Option<String>,
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
    pub async fn agent_version(&self) -> ServiceResult<AgentVersion> {
        let mut tx = self.store.identity(Mode::Read).await?;
        let releases = tx.releases().await?;
        let latest = releases
            .iter()
            .filter_map(|r| parse_version(&r.version).map(|v| (v, r.version.clone())))
            .max()
            .map(|(_, v)| v);
        let artifacts = releases
            .iter()
            .filter(|r| Some(&r.version) == latest.as_ref())
            .map(|r| AgentArtifact {
                os: r.os.clone(),
                arch: r.arch.clone(),
                url: download_path(r),
                sha256: r.sha256.clone(),
                size: r.size,
                signature: r.signature.clone(),
            })
            .collect();
        Ok(AgentVersion {
            version: latest,
            artifacts,
        })
    }

    /// A release's metadata and bytes. The bytes are one buffer shared by every download in
    /// flight (see [`ReleaseCache`]): a hundred slow readers hold one copy, not a hundred.
    pub async fn agent_download(
        &self,
        version: &str,
        os: &str,
        arch: &str,
    ) -> ServiceResult<(AgentRelease, Bytes)> {
        let release = {
            let mut tx = self.store.identity(Mode::Read).await?;
            tx.release(version, os, arch)
                .await?
                .ok_or(ServiceError::NotFound)?
        };
        let bytes = self
            .releases
            .bytes_of(self.store.as_ref(), &release)
            .await?;
        Ok((release, bytes))
    }
}

/// Which release a buffer holds; the digest makes a republished build a different entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ReleaseKey {
    version: String,
    os: String,
    arch: String,
    sha256: String,
}

/// The release buffer, owned jointly by every response body that serves it.
struct SharedRelease(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedRelease {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Release bytes in memory while someone downloads them, and only then: each release's slot
/// keeps a weak reference, so the buffer is freed when the last download ends. Loading is
/// single-flight per release (its slot's lock is held while it is read), so concurrent first
/// downloads read the database once, and loading one release never holds up another.
#[derive(Default)]
pub(crate) struct ReleaseCache {
    slots: std::sync::Mutex<HashMap<ReleaseKey, Arc<Slot>>>,
}

/// One release's buffer while it is downloaded; the lock makes its loading single-flight.
type Slot = tokio::sync::Mutex<Weak<Vec<u8>>>;

impl ReleaseCache {
    async fn bytes_of(&self, store: &dyn Store, release: &AgentRelease) -> ServiceResult<Bytes> {
        let key = ReleaseKey {
            version: release.version.clone(),
            os: release.os.clone(),
            arch: release.arch.clone(),
            sha256: release.sha256.clone(),
        };
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            // Forget releases nobody downloads (a slot in use has more than the map's handle).
            slots.retain(|_, s| {
                Arc::strong_count(s) > 1 || s.try_lock().is_ok_and(|w| w.strong_count() > 0)
            });
            slots.entry(key).or_default().clone()
        };
        let mut loaded = slot.lock().await;
        let shared = match loaded.upgrade() {
            Some(shared) => shared,
            None => {
                let shared = Arc::new(read_release(store, release).await?);
                *loaded = Arc::downgrade(&shared);
                shared
            }
        };
        Ok(Bytes::from_owner(SharedRelease(shared)))
    }
}

/// Reads a release chunk by chunk into one buffer of its size and checks it against its
/// digest, so a damaged row is never served as a release.
async fn read_release(store: &dyn Store, release: &AgentRelease) -> ServiceResult<Vec<u8>> {
    let size = usize::try_from(release.size).unwrap_or(0);
    if size == 0 || size > MAX_RELEASE_BYTES {
        return Err(ServiceError::Internal(anyhow::anyhow!(
            "agent release {} {} {} has an impossible size {}",
            release.version,
            release.os,
            release.arch,
            release.size
        )));
    }
    let mut content = Vec::with_capacity(size);
    let mut tx = store.identity(Mode::Read).await?;
    let mut seq = 0i64;
    while content.len() < size {
        let chunk = tx
            .release_chunk(&release.version, &release.os, &release.arch, seq)
            .await?
            .ok_or_else(|| {
                ServiceError::Internal(anyhow::anyhow!(
                    "agent release {} {} {} is missing chunk {seq}",
                    release.version,
                    release.os,
                    release.arch
                ))
            })?;
        if chunk.is_empty() || content.len() + chunk.len() > size {
            return Err(ServiceError::Internal(anyhow::anyhow!(
                "agent release {} {} {}: chunk {seq} does not fit its size",
                release.version,
                release.os,
                release.arch
            )));
        }
        content.extend_from_slice(&chunk);
        seq += 1;
    }
    drop(tx);
    if hex::encode(Sha256::digest(&content)) != release.sha256 {
        return Err(ServiceError::Internal(anyhow::anyhow!(
            "agent release {} {} {} does not match its SHA-256",
            release.version,
            release.os,
            release.arch
        )));
    }
    Ok(content)
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
