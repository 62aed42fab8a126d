//! Optional encryption of the configuration at rest (SPEC G3): AES-256-GCM under a key kept
//! apart from the file — a 0400 key file, or a systemd credential (`LoadCredential=` /
//! `LoadCredentialEncrypted=`, read from `$CREDENTIALS_DIRECTORY/tater-agent-config-key`).
//!
//! What it protects against: the configuration file leaking on its own — copied into a
//! backup, an image or a support bundle, or left readable by a mistake — without the key.
//! What it does not: anyone who can read the key too (root on the running machine, or an
//! image that holds both); with a systemd-encrypted credential the key is bound to the
//! machine's TPM or host key, which closes the image case.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use crate::os::Access;

/// What an encrypted configuration file starts with.
pub const MAGIC: &str = "tater-agent-sealed-config:v1:";
/// What a configuration protected with Windows DPAPI starts with.
pub const DPAPI_MAGIC: &str = "tater-agent-dpapi-config:v1:";

/// Seals text with Windows DPAPI, for this account or (`machine`) for this machine: the key is
/// Windows's own, bound to the account's logon secret or to the machine, so the file opens
/// nowhere else. No key file to keep apart.
pub fn dpapi_seal(plain: &str, machine: bool) -> Result<String, String> {
    let blob = crate::os::dpapi_protect(plain.as_bytes(), machine)?;
    Ok(format!("{DPAPI_MAGIC}{}", hex(&blob)))
}

/// Opens text sealed by [`dpapi_seal`] on this machine.
pub fn dpapi_open(sealed: &str) -> Result<String, String> {
    let blob = sealed
        .trim()
        .strip_prefix(DPAPI_MAGIC)
        .and_then(unhex)
        .ok_or("the DPAPI-protected configuration is damaged")?;
    let plain = crate::os::dpapi_unprotect(&blob)?;
    String::from_utf8(plain).map_err(|_| "the decrypted configuration is not text".into())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

/// The systemd credential name.
pub const CREDENTIAL: &str = "tater-agent-config-key";
const AAD: &[u8] = b"tater-agent-config";

pub struct ConfigKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for ConfigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfigKey([redacted])")
    }
}

fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut b = [0u8; N];
    crate::os::random_bytes(&mut b)?;
    Ok(b)
}

impl ConfigKey {
    fn from_hex(text: &str, source: &str) -> Result<Self, String> {
        let t = text.trim();
        let bytes: Vec<u8> = (0..t.len())
            .step_by(2)
            .map(|i| t.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect::<Option<Vec<u8>>>()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| format!("{source} must hold 64 hex digits (32 bytes)"))?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| format!("{source}: bad key"))?;
        Ok(Self {
            cipher: Aes256Gcm::new(&key.into()),
        })
    }

    /// Reads a key file (refusing one others can read), or creates it (mode 0400; owner-only
    /// on Windows).
    pub fn load_or_create(path: &Path) -> Result<Self, String> {
        match std::fs::metadata(path) {
            Ok(_) => {
                crate::os::check_private(path, Access::ReadOnly)
                    .map_err(|e| format!("the key file {e}"))?;
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                Self::from_hex(&text, &path.display().to_string())
            }
            Err(_) => {
                let key: [u8; 32] = random()?;
                let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    crate::os::create_private_dir(dir).map_err(|e| e.to_string())?;
                }
                crate::os::create_private(path, Access::ReadOnly, true)
                    .and_then(|mut f| f.write_all(hex.as_bytes()))
                    .map_err(|e| format!("creating {}: {e}", path.display()))?;
                Self::from_hex(&hex, &path.display().to_string())
            }
        }
    }

    /// The systemd credential, when the service was started with one.
    pub fn from_credentials() -> Option<Result<Self, String>> {
        let dir = std::env::var_os("CREDENTIALS_DIRECTORY")?;
        let path = PathBuf::from(dir).join(CREDENTIAL);
        let text = std::fs::read_to_string(&path).ok()?;
        Some(Self::from_hex(
            &text,
            &format!("the credential {CREDENTIAL}"),
        ))
    }

    pub fn seal(&self, plain: &str) -> Result<String, String> {
        let nonce: [u8; 12] = random()?;
        let ct = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: AAD,
                },
            )
            .map_err(|_| "encryption failed".to_owned())?;
        let mut raw = nonce.to_vec();
        raw.extend(ct);
        Ok(format!("{MAGIC}{}", hex(&raw)))
    }

    pub fn open(&self, sealed: &str) -> Result<String, String> {
        let hex = sealed
            .trim()
            .strip_prefix(MAGIC)
            .ok_or("not an encrypted configuration")?;
        let raw: Vec<u8> = unhex(hex)
            .filter(|r| r.len() > 12)
            .ok_or("the encrypted configuration is damaged")?;
        let (nonce, ct) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| "damaged")?;
        let plain = self
            .cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad: AAD })
            .map_err(|_| "the configuration does not decrypt with this key (wrong key, or the file was altered)".to_owned())?;
        String::from_utf8(plain).map_err(|_| "the decrypted configuration is not text".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_text_opens_only_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let k = ConfigKey::load_or_create(&path).unwrap();
        crate::os::check_private(&path, Access::ReadOnly).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o400);
        }
        let sealed = k.seal("{\"apiKey\":\"secret\"}").unwrap();
        assert!(sealed.starts_with(MAGIC) && !sealed.contains("secret"));
        assert_eq!(k.open(&sealed).unwrap(), "{\"apiKey\":\"secret\"}");
        // The same file gives the same key; another file another key.
        assert!(
            ConfigKey::load_or_create(&path)
                .unwrap()
                .open(&sealed)
                .is_ok()
        );
        let other = ConfigKey::load_or_create(&dir.path().join("other")).unwrap();
        assert!(other.open(&sealed).is_err());
        crate::os::test_support::open_to_everyone(&path);
        let err = ConfigKey::load_or_create(&path).unwrap_err();
        #[cfg(unix)]
        assert!(err.contains("chmod 400"), "{err}");
        #[cfg(windows)]
        assert!(err.contains("icacls"), "{err}");
    }
}
