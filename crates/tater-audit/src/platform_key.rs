//! The platform's Ed25519 key: it signs what the operator attests outside any organization
//! (deletion certificates), so that anyone holding the public key — served at
//! `/.well-known/tater-signing-key` — can check a statement with ordinary tools:
//! `openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in statement -sigfile sig`.
//! Unlike the audit HMAC key, verifying needs no secret.

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

/// The platform signing key.
pub struct PlatformKey {
    key: SigningKey,
}

impl std::fmt::Debug for PlatformKey {
    /// The private half is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformKey")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformKeyError {
    #[error("not an Ed25519 private key in PKCS#8 PEM: {0}")]
    Parse(String),
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

impl PlatformKey {
    /// A new key from the operating system's randomness.
    pub fn generate() -> Result<Self, PlatformKeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| PlatformKeyError::Random(e.to_string()))?;
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// A key from its PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, as `openssl genpkey
    /// -algorithm ed25519` writes it).
    pub fn from_pem(pem: &str) -> Result<Self, PlatformKeyError> {
        SigningKey::from_pkcs8_pem(pem.trim())
            .map(|key| Self { key })
            .map_err(|e| PlatformKeyError::Parse(e.to_string()))
    }

    /// The private key as PKCS#8 PEM, for the owner-only file it is kept in.
    pub fn to_pem(&self) -> Result<String, PlatformKeyError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| PlatformKeyError::Parse(e.to_string()))
    }

    /// The public key as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn public_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// Names the key: the first 16 hex digits of the SHA-256 of its public key's bytes.
    pub fn key_id(&self) -> String {
        let digest = Sha256::digest(self.key.verifying_key().as_bytes());
        hex::encode(&digest[..8])
    }

    /// The Ed25519 signature of `message` (64 bytes).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).to_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier};

    #[test]
    fn a_key_survives_its_pem_and_signs_verifiably() {
        let key = PlatformKey::generate().unwrap();
        let again = PlatformKey::from_pem(&key.to_pem().unwrap()).unwrap();
        assert_eq!(key.key_id(), again.key_id());
        assert!(key.public_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
        let sig = again.sign(b"statement");
        let sig = Signature::from_slice(&sig).unwrap();
        assert!(key.key.verifying_key().verify(b"statement", &sig).is_ok());
        assert!(key.key.verifying_key().verify(b"statemenT", &sig).is_err());
        assert!(format!("{key:?}").contains("key_id"));
        assert!(PlatformKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n").is_err());
    }
}
