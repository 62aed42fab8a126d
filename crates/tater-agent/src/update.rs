//! Verified self-update (SPEC G2). The new binary is downloaded beside the running one and
//! checked — size and SHA-256 against the version document, and an Ed25519 signature when a
//! release public key is known (built in, configured or given) — before anything changes.
//! Then it replaces the running binary with two renames, keeping the old one as
//! `<binary>.previous` for rollback. Any mismatch leaves the running binary untouched.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A release public key compiled in (`TATER_RELEASE_PUBLIC_KEY`, base64) when the build set one.
pub const BUILT_IN_KEY: Option<&str> = option_env!("TATER_RELEASE_PUBLIC_KEY");
/// The largest binary accepted.
const MAX_SIZE: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    UpToDate(String),
    Available(String),
    Updated { version: String, previous: PathBuf },
}

/// Reads a base64 Ed25519 public key.
pub fn parse_public_key(b64: &str) -> Result<VerifyingKey, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| "the release public key is not base64".to_owned())?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "the release public key must be 32 bytes".to_owned())?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("the release public key is invalid: {e}"))
}

fn version_tuple(v: &str) -> Option<(u64, u64, u64)> {
    let mut p = v.split('.').map(|x| x.parse::<u64>().ok());
    Some((p.next()??, p.next()??, p.next()??))
}

/// Checks for and, unless `check_only`, installs a newer release over `exe`.
pub async fn update(
    http: &reqwest::Client,
    server: &str,
    exe: &Path,
    key: Option<&VerifyingKey>,
    check_only: bool,
) -> Result<Outcome, String> {
    let base = server.trim_end_matches('/');
    let doc: Value = http
        .get(format!("{base}/api/agent/version"))
        .send()
        .await
        .map_err(|e| format!("cannot reach {base}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("the version document is not JSON: {e}"))?;
    let current = env!("CARGO_PKG_VERSION");
    let Some(offered) = doc.get("version").and_then(Value::as_str) else {
        return Ok(Outcome::UpToDate(current.into()));
    };
    if version_tuple(offered) <= version_tuple(current) {
        return Ok(Outcome::UpToDate(current.into()));
    }
    let artifact = doc
        .get("artifacts")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter().find(|x| {
                x["os"] == std::env::consts::OS
                    && x["arch"] == std::env::consts::ARCH
                    // The binary, never the installer (a server before kinds names none).
                    && x.get("kind").is_none_or(|k| k == "exe")
            })
        })
        .ok_or_else(|| {
            format!(
                "version {offered} has no build for {}/{}",
                std::env::consts::OS,
                std::env::consts::ARCH
            )
        })?;
    if check_only {
        return Ok(Outcome::Available(offered.into()));
    }
    let size = artifact["size"]
        .as_u64()
        .filter(|s| *s > 0 && *s <= MAX_SIZE)
        .ok_or("the version document gives no valid size")?;
    let sha = artifact["sha256"]
        .as_str()
        .ok_or("the version document gives no sha256")?;
    let url = artifact["url"]
        .as_str()
        .ok_or("the version document gives no url")?;
    let url = if url.starts_with("http") {
        url.to_owned()
    } else {
        format!("{base}{url}")
    };
    let content = download(http, &url, size).await?;
    let got = hex_sha256(&content);
    if !got.eq_ignore_ascii_case(sha) {
        return Err(format!(
            "refused: the download's SHA-256 is {got}, the server announced {sha}; nothing was changed"
        ));
    }
    if let Some(k) = key {
        let sig = artifact["signature"].as_str().ok_or("refused: the release is not signed, and this agent requires a signature; nothing was changed")?;
        let sig = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .ok_or("refused: the release signature is malformed; nothing was changed")?;
        k.verify_strict(&content, &Signature::from_bytes(&sig))
            .map_err(|_| "refused: the release signature does not verify with the release public key; nothing was changed".to_owned())?;
    }
    let previous = install(exe, &content)?;
    Ok(Outcome::Updated {
        version: offered.into(),
        previous,
    })
}

async fn download(http: &reqwest::Client, url: &str, size: u64) -> Result<Vec<u8>, String> {
    let mut res = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("download failed: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("download failed: HTTP {}", res.status()));
    }
    let mut content = Vec::with_capacity(size as usize);
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| format!("download failed: {e}"))?
    {
        content.extend_from_slice(&chunk);
        if content.len() as u64 > size {
            return Err(format!(
                "refused: the download is larger than the announced {size} bytes; nothing was changed"
            ));
        }
    }
    if content.len() as u64 != size {
        return Err(format!(
            "refused: the download has {} bytes, the server announced {size}; nothing was changed",
            content.len()
        ));
    }
    Ok(content)
}

fn hex_sha256(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Writes the new binary beside `exe`, then swaps: `exe` → `exe.previous`, new → `exe`.
fn install(exe: &Path, content: &[u8]) -> Result<PathBuf, String> {
    let dir = exe
        .parent()
        .ok_or("the agent's own path has no directory")?;
    let name = exe
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the agent's own path has no name")?;
    let staged = dir.join(format!(".{name}.new"));
    let previous = dir.join(format!("{name}.previous"));
    let write = || -> std::io::Result<()> {
        let mut f = crate::os::create_executable(&staged)?;
        f.write_all(content)?;
        f.sync_all()
    };
    write().map_err(|e| {
        format!(
            "cannot write {}: {e}; nothing was changed",
            staged.display()
        )
    })?;
    std::fs::rename(exe, &previous).map_err(|e| {
        let _ = std::fs::remove_file(&staged);
        format!(
            "cannot move {} aside: {e}; nothing was changed",
            exe.display()
        )
    })?;
    if let Err(e) = std::fs::rename(&staged, exe) {
        // Put the old binary back where it was.
        let _ = std::fs::rename(&previous, exe);
        return Err(format!(
            "cannot install the new binary: {e}; the old one was restored"
        ));
    }
    Ok(previous)
}
