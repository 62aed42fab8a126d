//! What `GET /api/status` tells anyone who asks: the server is up, which version, which engine.

use schemars::JsonSchema;
use serde::Serialize;
use tater_domain::Timestamp;

/// The server's status (no credentials, nothing about any organization).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    /// Always `ok` when the server answers.
    pub status: &'static str,
    pub version: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
    pub started_at: Timestamp,
    pub uptime_seconds: i64,
}
