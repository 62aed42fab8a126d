//! The wire formats of SIEM forwarding (SPEC L4, L5), apart from delivery so they can be
//! tested and fuzzed without a database or a network.
//!
//! * [`entry`]: the fields of an audit entry every format starts from.
//! * [`cef`]: CEF lines; [`syslog`]: RFC 5424 messages whose MSG is a CEF line, and their
//!   framing per transport.

pub mod cef;
pub mod entry;
pub mod syslog;

pub use entry::{EntryView, Event};
