//! Secrets at rest (SPEC T4): AES-256-GCM under the server's master key, with a random 96-bit
//! nonce per encryption and the owning record named in the associated data — a ciphertext
//! copied onto another record or tenant does not decrypt. Stored as `v1:<base64(nonce ‖
//! ciphertext ‖ tag)>`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretBoxError {
    #[error("the master key must be 32 bytes, as 64 hex digits or base64")]
    BadKey,
    #[error("a stored secret could not be decrypted (wrong master key or altered data)")]
    Undecryptable,
}

/// The master key. Never logged: its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// Reads a key written as 64 hex digits or as base64 of 32 bytes.
    pub fn from_text(text: &str) -> Result<Self, SecretBoxError> {
        let t = text.trim();
        let bytes = hex::decode(t)
            .ok()
            .or_else(|| STANDARD.decode(t).ok())
            .ok_or(SecretBoxError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SecretBoxError::BadKey)?;
        Ok(Self::new(&key))
    }

    /// A fresh random key as 64 hex digits.
    pub fn generate_key_text() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        hex::encode(key)
    }

    /// Encrypts `plain` for the record named by `context`.
    pub fn seal(&self, context: &str, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption with a valid key and an in-memory buffer does not fail.
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), payload)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    /// Decrypts what [`SecretBox::seal`] produced for the same `context`.
    pub fn open(&self, context: &str, stored: &str) -> Result<String, SecretBoxError> {
        let raw = stored
            .strip_prefix(PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|r| r.len() > NONCE_LEN)
            .ok_or(SecretBoxError::Undecryptable)?;
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| SecretBoxError::Undecryptable)?;
        let payload = Payload {
            msg: sealed,
            aad: context.as_bytes(),
        };
        let plain = self
            .cipher
            .decrypt(&Nonce::from(nonce), payload)
            .map_err(|_| SecretBoxError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| SecretBoxError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_in_their_context() {
        let b = SecretBox::from_text(&SecretBox::generate_key_text()).unwrap();
        let s = b.seal("dest:a", "hunter2");
        assert!(!s.contains("hunter2"));
        assert_ne!(s, b.seal("dest:a", "hunter2"), "fresh nonce each time");
        assert_eq!(b.open("dest:a", &s).unwrap(), "hunter2");
        assert_eq!(b.open("dest:b", &s), Err(SecretBoxError::Undecryptable));
        let other = SecretBox::from_text(&SecretBox::generate_key_text()).unwrap();
        assert_eq!(other.open("dest:a", &s), Err(SecretBoxError::Undecryptable));
        assert_eq!(
            SecretBox::from_text("short").err(),
            Some(SecretBoxError::BadKey)
        );
        assert!(!format!("{b:?}").contains(char::is_numeric));
    }
}
