//! The tamper-evident audit trail (SPEC L2 and beyond), as pure functions shared by the store
//! (which seals entries as it appends them), the server (export, server-side verification) and
//! `tater audit verify` (offline verification, no server).
//!
//! * **Signature** (L2): lowercase hex HMAC-SHA256, keyed with the UTF-8 bytes of
//!   `AUDIT_SIGNING_KEY`, over `id|tenantId|action|entityType|entityId|userId|timestamp` — each
//!   field exactly as the API returns it — so `printf '%s' "$payload" | openssl dgst -sha256
//!   -hmac "$KEY"` reproduces it. The key id names which key signed ([`keys`]).
//! * **Hash chain** (completeness): `hash = SHA-256(prevHash ‖ canonical)` in lowercase hex,
//!   where `prevHash` is the previous entry's hash as 64 ASCII hex digits (64 zeros for a
//!   tenant's first entry) and `canonical` is the entry as JSON with keys sorted and no
//!   whitespace ([`seal::canonical`]). Deleting, reordering or inserting an entry breaks it.
//! * **Checkpoints**: signed statements "tenant T's log had `seq` entries ending in hash H at
//!   time t", so a truncated tail or a rewritten chain is caught too ([`seal::Checkpoint`]).
//! * **History start**: when an organization's retention period deletes the oldest entries,
//!   a signed statement of the last deleted entry's position and hash, where the kept chain
//!   begins ([`seal::HistoryStart`]).
//! * **Export** ([`export`]): JSON Lines that [`verify`] checks line by line in constant memory.

pub mod export;
pub mod keys;
pub mod platform_key;
pub mod seal;
pub mod verify;

pub use keys::{AuditKeys, InvalidKey, SigningKey};
pub use platform_key::PlatformKey;
pub use seal::{
    Checkpoint, EntryView, GENESIS_HASH, HistoryStart, canonical, canonical_json, canonical_of,
    chain_hash, entry_json, seal, signature_payload, signature_payload_of,
};
pub use verify::{Finding, FindingKind, Report, Verifier, verify_jsonl};
