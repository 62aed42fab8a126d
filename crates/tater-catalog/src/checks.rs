//! Technical checks: the format and the built-in set live in `tater-checks`, shared with the
//! endpoint agent; the catalog re-exports them for the server.

pub use tater_checks::{Check, CheckCatalog, CheckFileError, Severity};
