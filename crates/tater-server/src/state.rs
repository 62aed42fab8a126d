//! What every handler can reach.

use std::sync::{Arc, OnceLock};

use serde_json::Value;
use tater_domain::Timestamp;
use tater_service::Service;
use tater_store::Engine;

#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub info: Arc<ServerInfo>,
    /// Caps on long-running responses (downloads, exports).
    pub gates: Arc<crate::gate::Gates>,
}

/// Facts about this running server.
pub struct ServerInfo {
    pub started_at: Timestamp,
    pub engine: Engine,
    /// The RFC 9116 `Contact:` value, e.g. `mailto:security@example.com`.
    pub security_contact: String,
    /// The demo account's e-mail when started with `--demo`.
    pub demo_email: Option<String>,
    /// The OpenAPI document, set once the router is built.
    pub openapi: OnceLock<Value>,
    /// The server's external address (`--public-url`), when it is behind a proxy.
    pub public_url: Option<String>,
}
