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
use tater_store::{AgentRelease, Mode, ReleaseKey, Store};

use crate::{Service, ServiceError, ServiceResult, SystemOperator};

/// The largest agent binary accepted.
pub const MAX_RELEASE_BYTES: usize = 256 * 1024 * 1024;
const OSES: &[&str] = &["linux", "windows"];
const ARCHES: &[&str] = &["x86_64", "aarch64"];
/// `exe`: the agent binary itself (any OS); `msi`: the Windows installer.
const KINDS: &[&str] = &["exe", "msi"];
/// The kind a download or an agent's update means when none is named.
pub const DEFAULT_KIND: &str = "exe";

/// `major.minor.patch` as numbers, for ordering.
pub fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// Where an artifact is downloaded from, relative to the server.
pub fn download_path(k: &ReleaseKey) -> String {
    let path = format!("/api/agent/download/{}/{}/{}", k.version, k.os, k.arch);
    if k.kind == DEFAULT_KIND {
        path
    } else {
        format!("{path}?kind={}", k.kind)
    }
}

/// The file name a download is saved as: `tater-agent-1.2.3-x86_64.msi` (the name
/// `scripts/package-msi` gives it), `tater-agent-1.2.3-windows-x86_64.exe`,
/// `tater-agent-1.2.3-linux-x86_64`.
pub fn download_file_name(k: &ReleaseKey) -> String {
    match (k.os.as_str(), k.kind.as_str()) {
        (_, "msi") => format!("tater-agent-{}-{}.msi", k.version, k.arch),
        ("windows", _) => format!("tater-agent-{}-windows-{}.exe", k.version, k.arch),
        (os, _) => format!("tater-agent-{}-{os}-{}", k.version, k.arch),
    }
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
    /// `exe` (the agent binary, which `tater-agent update` installs) or `msi` (the Windows
    /// installer, for first installs and software distribution tools).
    pub kind: String,
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
        key: &ReleaseKey,
        content: &[u8],
        signature: Option<&str>,
    ) -> ServiceResult<AgentRelease> {
        let mut errors = ValidationErrors::new();
        if parse_version(&key.version).is_none() {
            errors.add("version", "must be MAJOR.MINOR.PATCH, e.g. 1.2.3");
        }
        if !OSES.contains(&key.os.as_str()) {
            errors.add("os", format!("must be one of {}", OSES.join(", ")));
        }
        if !ARCHES.contains(&key.arch.as_str()) {
            errors.add("arch", format!("must be one of {}", ARCHES.join(", ")));
        }
        if !KINDS.contains(&key.kind.as_str()) {
            errors.add("kind", format!("must be one of {}", KINDS.join(", ")));
        } else if key.kind == "msi" && key.os != "windows" {
            errors.add(
                "kind",
                "an msi is a Windows installer: publish it with os windows",
            );
        } else if key.kind == "msi" && !content.starts_with(OLE_MAGIC) {
            errors.add("file", "is not an MSI (no OLE compound document header)");
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
            key: key.clone(),
            sha256: hex::encode(Sha256::digest(content)),
            size: content.len() as i64,
            signature: signature.map(|s| s.trim().to_owned()),
            published_at: self.now(),
        };
        let mut tx = self.store.identity(Mode::Write).await?;
        tx.publish_release(&release, content).await?;
        tx.commit().await?;
        tracing::info!(by = %op.detail, version = %key.version, os = %key.os, arch = %key.arch, kind = %key.kind, sha256 = %release.sha256, signed = release.signature.is_some(), "agent release published");
        Ok(release)
    }

    /// The version document: the newest version and its artifacts.
    pub async fn agent_version(&self) -> ServiceResult<AgentVersion> {
        let mut tx = self.store.identity(Mode::Read).await?;
        let releases = tx.releases().await?;
        let latest = releases
            .iter()
            .filter_map(|r| parse_version(&r.key.version).map(|v| (v, r.key.version.clone())))
            .max()
            .map(|(_, v)| v);
        let artifacts = releases
            .iter()
            .filter(|r| Some(&r.key.version) == latest.as_ref())
            .map(|r| AgentArtifact {
                os: r.key.os.clone(),
                arch: r.key.arch.clone(),
                kind: r.key.kind.clone(),
                url: download_path(&r.key),
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
    pub async fn agent_download(&self, key: &ReleaseKey) -> ServiceResult<(AgentRelease, Bytes)> {
        let release = {
            let mut tx = self.store.identity(Mode::Read).await?;
            tx.release(key).await?.ok_or(ServiceError::NotFound)?
        };
        let bytes = self
            .releases
            .bytes_of(self.store.as_ref(), &release)
            .await?;
        Ok((release, bytes))
    }
}

/// Which release a buffer holds; the digest makes a republished build a different entry.
type BufferKey = (ReleaseKey, String);

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
    slots: std::sync::Mutex<HashMap<BufferKey, Arc<Slot>>>,
}

/// One release's buffer while it is downloaded; the lock makes its loading single-flight.
type Slot = tokio::sync::Mutex<Weak<Vec<u8>>>;

impl ReleaseCache {
    async fn bytes_of(&self, store: &dyn Store, release: &AgentRelease) -> ServiceResult<Bytes> {
        let key = (release.key.clone(), release.sha256.clone());
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
    let damaged = |what: String| {
        ServiceError::Internal(anyhow::anyhow!("agent release {}: {what}", release.key))
    };
    let size = usize::try_from(release.size).unwrap_or(0);
    if size == 0 || size > MAX_RELEASE_BYTES {
        return Err(damaged(format!("impossible size {}", release.size)));
    }
    let mut content = Vec::with_capacity(size);
    let mut tx = store.identity(Mode::Read).await?;
    let mut seq = 0i64;
    while content.len() < size {
        let chunk = tx
            .release_chunk(&release.key, seq)
            .await?
            .ok_or_else(|| damaged(format!("chunk {seq} is missing")))?;
        if chunk.is_empty() || content.len() + chunk.len() > size {
            return Err(damaged(format!("chunk {seq} does not fit its size")));
        }
        content.extend_from_slice(&chunk);
        seq += 1;
    }
    drop(tx);
    if hex::encode(Sha256::digest(&content)) != release.sha256 {
        return Err(damaged("the bytes do not match the SHA-256".into()));
    }
    Ok(content)
}

/// The first bytes of an OLE compound document, the container every MSI is.
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

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
