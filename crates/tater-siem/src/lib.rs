//! SIEM forwarding (SPEC L4–L6).
//!
//! * [`cef`] and [`syslog`] (from `tater-siem-wire`): RFC 5424 messages whose MSG is a CEF line; [`webhook`]: the entry
//!   as JSON with HMAC signatures.
//! * [`destination`]: what an organization configures, validated and vetted through the egress
//!   module when saved; [`secret_box`] keeps webhook secrets encrypted at rest (SPEC T4).
//! * [`deliver`]: sending to one destination; [`worker`]: draining the outbox in order per
//!   destination, with backoff, leases (one replica per destination) and dead letters.

pub mod deliver;
pub mod destination;
pub mod secret_box;
pub mod webhook;
pub mod worker;

// The formats live in their own crate (pure, fuzzed alone); re-exported so callers keep
// one path.
pub use tater_siem_wire::{EntryView, Event, cef, entry, syslog};
