//! SIEM forwarding (SPEC L4–L6).
//!
//! * [`cef`] and [`syslog`]: RFC 5424 messages whose MSG is a CEF line; [`webhook`]: the entry
//!   as JSON with HMAC signatures.
//! * [`destination`]: what an organization configures, validated and vetted through the egress
//!   module when saved; [`secret_box`] keeps webhook secrets encrypted at rest (SPEC T4).
//! * [`deliver`]: sending to one destination; [`worker`]: draining the outbox in order per
//!   destination, with backoff, leases (one replica per destination) and dead letters.

pub mod cef;
pub mod deliver;
pub mod destination;
pub mod entry;
pub mod secret_box;
pub mod syslog;
pub mod webhook;
pub mod worker;

pub use entry::{EntryView, Event};
