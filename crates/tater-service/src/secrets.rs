//! Secret material: API keys and other random secrets (generation, format, hashing), and
//! signing keys derived from the server secret for one use each.

use hmac::{Hmac, Mac};
use jsonwebtoken::{DecodingKey, EncodingKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// HS256 keys derived from the server secret under a label of their own, so a grant signed
/// for one use (a download link, a sign-in in progress) never verifies as another's or as a
/// session token.
pub(crate) struct DerivedKeys {
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
}

impl DerivedKeys {
    pub(crate) fn derive(secret: &[u8], label: &[u8]) -> anyhow::Result<Self> {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|e| anyhow::anyhow!("cannot derive a signing key: {e}"))?;
        mac.update(label);
        let key = mac.finalize().into_bytes();
        Ok(Self {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
        })
    }
}

/// Every API key starts with this, so secret scanners can spot leaked keys.
pub const API_KEY_PREFIX: &str = "tater_";
const API_KEY_HEX_LEN: usize = 32;

/// A new key: `tater_` and 32 lowercase hex digits (128 random bits).
pub fn generate_api_key() -> String {
    generate_secret(API_KEY_PREFIX)
}

/// Whether `key` has exactly the shape of a key this server issues.
pub fn is_well_formed_api_key(key: &str) -> bool {
    is_well_formed(API_KEY_PREFIX, key)
}

/// Agent credentials: `tater_agent_` and 32 lowercase hex digits.
pub const AGENT_CREDENTIAL_PREFIX: &str = "tater_agent_";
/// Enrollment tokens: `tater_enroll_` and 32 lowercase hex digits.
pub const ENROLLMENT_TOKEN_PREFIX: &str = "tater_enroll_";

/// Auditor tokens: `tater_auditor_` and 32 lowercase hex digits.
pub const AUDITOR_TOKEN_PREFIX: &str = "tater_auditor_";

/// A new secret: `prefix` and 32 lowercase hex digits (128 random bits).
pub fn generate_secret(prefix: &str) -> String {
    let mut bytes = [0u8; API_KEY_HEX_LEN / 2];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// Whether `secret` is `prefix` followed by exactly 32 lowercase hex digits.
pub fn is_well_formed(prefix: &str, secret: &str) -> bool {
    secret.strip_prefix(prefix).is_some_and(|hex| {
        hex.len() == API_KEY_HEX_LEN && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// What is stored: lowercase hex SHA-256 of the whole key. Keys carry 128 random bits, so a
/// fast hash is safe here and keeps per-request verification cheap.
pub fn hash_api_key(key: &str) -> String {
    sha256_hex(key.as_bytes())
}

/// Lowercase hex SHA-256 of `bytes`: how every hash the server keeps is written.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The part of a key kept for display: the prefix and the first four hex digits.
pub fn display_prefix(key: &str) -> String {
    let hex_start = key.len().saturating_sub(API_KEY_HEX_LEN);
    key.chars().take(hex_start + 4).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_documented_shape() {
        let k = generate_api_key();
        assert!(is_well_formed_api_key(&k), "{k}");
        assert_eq!(k.len(), 38);
        assert_ne!(k, generate_api_key());
        assert!(!is_well_formed_api_key(&k.to_uppercase()));
        assert!(!is_well_formed_api_key(&format!("{k}0")));
        assert!(!is_well_formed_api_key(&k.replace("tater_", "tatr_")));
        assert_eq!(hash_api_key("tater_x").len(), 64);
        assert_eq!(display_prefix(&k).len(), 10);
    }
}
