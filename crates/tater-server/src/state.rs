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
    /// The database check `/healthz` answers from.
    pub health: Arc<crate::health_probe::HealthProbe>,
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
    /// Where Entra ID tokens come from, when Entra ID sign-in is configured: the issuer of
    /// the JWKS's authority and the scopes of the accepted audiences (for the MCP endpoint's
    /// protected-resource metadata).
    pub authorization_servers: Vec<String>,
    pub scopes: Vec<String>,
}

/// The authorization server (issuer) behind an Entra ID JWKS URL
/// (`https://login.microsoftonline.com/common/discovery/v2.0/keys` →
/// `https://login.microsoftonline.com/common/v2.0`).
pub fn entra_issuer(jwks_url: &str) -> Option<String> {
    jwks_url
        .strip_suffix("/discovery/v2.0/keys")
        .map(|authority| format!("{authority}/v2.0"))
}
