//! Signing keys. `AUDIT_SIGNING_KEY` signs new entries; earlier keys stay available to verify
//! what they signed, so a key can be rotated without losing the ability to check old entries.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The shortest key we accept: HMAC-SHA256 wants at least 256 bits of key material, and a
/// shorter operator-chosen string is guessable offline from any signed entry.
pub const MIN_KEY_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an audit signing key must be at least {MIN_KEY_LEN} bytes (e.g. `openssl rand -hex 32`)")]
pub struct InvalidKey;

/// One HMAC key and its id. The id is derived from the key (the first 16 hex digits of
/// SHA-256 over `tater-audit-key:` and the key), so entries name their key without the
/// operator managing ids, and the verifier can match `--key` arguments to entries.
#[derive(Clone)]
pub struct SigningKey {
    id: String,
    /// HMAC state already keyed; cloned for each message.
    keyed: HmacSha256,
}

impl SigningKey {
    pub fn new(secret: &str) -> Result<Self, InvalidKey> {
        if secret.len() < MIN_KEY_LEN {
            return Err(InvalidKey);
        }
        let digest = Sha256::new()
            .chain_update(b"tater-audit-key:")
            .chain_update(secret.as_bytes())
            .finalize();
        let keyed = HmacSha256::new_from_slice(secret.as_bytes()).map_err(|_| InvalidKey)?;
        Ok(Self {
            id: hex::encode(&digest[..8]),
            keyed,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Lowercase hex HMAC-SHA256 of `payload`.
    pub fn sign(&self, payload: &str) -> String {
        hex::encode(self.mac(payload).finalize().into_bytes())
    }

    /// Whether `signature_hex` is this key's signature of `payload` (constant time).
    pub fn verifies(&self, payload: &str, signature_hex: &str) -> bool {
        match hex::decode(signature_hex) {
            Ok(sig) => self.mac(payload).verify_slice(&sig).is_ok(),
            Err(_) => false,
        }
    }

    fn mac(&self, payload: &str) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(payload.as_bytes());
        mac
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The keys a server or verifier holds: at most one that signs, any number that verify.
#[derive(Debug, Clone, Default)]
pub struct AuditKeys {
    signing: Option<SigningKey>,
    verifying: Vec<SigningKey>,
}

impl AuditKeys {
    /// No keys: entries are chained but not signed.
    pub fn none() -> Self {
        Self::default()
    }

    /// `current` signs (and verifies); `previous` only verify.
    pub fn new(current: Option<&str>, previous: &[&str]) -> Result<Self, InvalidKey> {
        let signing = current.map(SigningKey::new).transpose()?;
        let mut verifying: Vec<SigningKey> = signing.iter().cloned().collect();
        for p in previous {
            let key = SigningKey::new(p)?;
            if !verifying.iter().any(|k| k.id == key.id) {
                verifying.push(key);
            }
        }
        Ok(Self { signing, verifying })
    }

    /// Keys for verification only (the offline verifier's `--key` arguments).
    pub fn verify_only(keys: &[&str]) -> Result<Self, InvalidKey> {
        let mut k = Self::new(None, keys)?;
        k.signing = None;
        Ok(k)
    }

    pub fn signing(&self) -> Option<&SigningKey> {
        self.signing.as_ref()
    }

    /// The key with this id, if held.
    pub fn by_id(&self, id: &str) -> Option<&SigningKey> {
        self.verifying.iter().find(|k| k.id == id)
    }

    /// Whether any key can verify (otherwise signatures are not checked).
    pub fn can_verify(&self) -> bool {
        !self.verifying.is_empty()
    }

    /// Ids of the verifying keys, for start-up logs (never the keys).
    pub fn ids(&self) -> Vec<&str> {
        self.verifying.iter().map(|k| k.id.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "0123456789abcdef0123456789abcdef";
    const K2: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(SigningKey::new("short").err(), Some(InvalidKey));
    }

    #[test]
    fn rotation_keeps_old_keys_for_verification() {
        let keys = AuditKeys::new(Some(K2), &[K1]).unwrap();
        let old = SigningKey::new(K1).unwrap();
        let sig = old.sign("payload");
        assert_eq!(keys.signing().map(SigningKey::id), Some(keys.ids()[0]));
        let found = keys.by_id(old.id());
        assert!(found.is_some_and(|k| k.verifies("payload", &sig)));
        assert!(found.is_some_and(|k| !k.verifies("payloaD", &sig)));
        assert!(!format!("{keys:?}").contains(K1));
    }
}
