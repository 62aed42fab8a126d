//! Tater's endpoint agent. This crate evaluates the built-in declarative checks
//! (`tater-checks`) against a root filesystem — the running system or a mounted image — and
//! never writes to it.
//!
//! * [`root`]: reading under `--root`;
//! * [`eval`]: one rule → Pass/Fail/Not Applicable/Error with evidence;
//! * [`scan`]: every check, each within a time budget.

pub mod client;
pub mod config;
pub mod eval;
pub mod exec;
pub mod facts;
pub mod os;
pub mod registry;
pub mod report;
pub mod root;
pub mod scan;
pub mod sealed;
#[cfg(windows)]
pub mod service;
pub mod spool;
pub mod update;
pub mod windows_rules;

pub use eval::Status;
pub use scan::{CheckResult, run};
