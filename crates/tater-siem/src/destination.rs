//! What an organization configures (SPEC L4): request bodies, their validation, the stored
//! settings, and what the API shows (never the secret).
//!
//! * `{"type": "syslog", "name", "host", "port", "transport": "udp|tcp|tls", "facility"?,
//!   "appName"?, "caCert"?, "enabled"?}` — `caCert` is a PEM CA to trust for TLS instead of
//!   the public web roots (for an on-premises SIEM with its own CA).
//! * `{"type": "webhook", "name", "url", "secret", "enabled"?}` — the secret is required when
//!   creating and may be left out when updating (it is kept).

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tater_domain::{DestinationKind, ValidationErrors};

/// Syslog transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

/// A syslog destination's settings as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyslogConfig {
    pub host: String,
    pub port: u16,
    pub transport: Transport,
    pub facility: u8,
    pub app_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
}

/// A webhook destination's settings as stored (the secret is kept apart, encrypted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConfig {
    pub url: String,
}

/// The kind-specific part of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    Syslog(SyslogConfig),
    Webhook {
        config: WebhookConfig,
        /// `None` on an update that keeps the stored secret.
        secret: Option<String>,
    },
}

impl Spec {
    pub fn kind(&self) -> DestinationKind {
        match self {
            Spec::Syslog(_) => DestinationKind::Syslog,
            Spec::Webhook { .. } => DestinationKind::Webhook,
        }
    }

    /// The settings as stored (no secret).
    pub fn config_json(&self) -> Value {
        match self {
            Spec::Syslog(c) => serde_json::to_value(c).unwrap_or(Value::Null),
            Spec::Webhook { config, .. } => serde_json::to_value(config).unwrap_or(Value::Null),
        }
    }
}

/// A validated request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationInput {
    pub name: String,
    pub enabled: bool,
    pub spec: Spec,
    /// The version a `PUT` expects to replace, if given.
    pub version: Option<i64>,
}

pub const DEFAULT_FACILITY: u8 = 13;
pub const DEFAULT_APP_NAME: &str = "tater";
const MAX_CA_PEM: usize = 16 * 1024;

/// Reads and validates a request body; `creating` makes a webhook secret required.
pub fn parse(body: &Value, creating: bool) -> Result<DestinationInput, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let Some(obj) = body.as_object() else {
        return Err(ValidationErrors::single("body", "must be a JSON object"));
    };
    let kind = match obj.get("type").and_then(Value::as_str) {
        Some("syslog") => DestinationKind::Syslog,
        Some("webhook") => DestinationKind::Webhook,
        _ => {
            return Err(ValidationErrors::single(
                "type",
                "must be syslog or webhook",
            ));
        }
    };
    let allowed: &[&str] = match kind {
        DestinationKind::Syslog => &[
            "type",
            "name",
            "host",
            "port",
            "transport",
            "facility",
            "appName",
            "caCert",
            "enabled",
            "version",
        ],
        DestinationKind::Webhook => &["type", "name", "url", "secret", "enabled", "version"],
    };
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            errors.add(
                key.as_str(),
                format!("is not a field of a {} destination", kind.as_str()),
            );
        }
    }
    let name = text(obj, "name", 1, 100, true, &mut errors).unwrap_or_default();
    let enabled = match obj.get("enabled") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.add("enabled", "must be true or false");
            true
        }
    };
    let version = match obj.get("version") {
        None => None,
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 => Some(n),
            _ => {
                errors.add("version", "must be a positive whole number");
                None
            }
        },
    };
    let spec = match kind {
        DestinationKind::Syslog => Spec::Syslog(syslog(obj, &mut errors)),
        DestinationKind::Webhook => {
            let url = text(obj, "url", 1, 2048, true, &mut errors).unwrap_or_default();
            let secret = text(obj, "secret", 16, 256, creating, &mut errors);
            Spec::Webhook {
                config: WebhookConfig { url },
                secret,
            }
        }
    };
    errors.into_result(DestinationInput {
        name,
        enabled,
        spec,
        version,
    })
}

fn syslog(obj: &Map<String, Value>, errors: &mut ValidationErrors) -> SyslogConfig {
    let host = text(obj, "host", 1, 253, true, errors).unwrap_or_default();
    let port = match obj.get("port").and_then(Value::as_u64) {
        Some(p @ 1..=65535) => p as u16,
        _ => {
            errors.add("port", "must be a whole number from 1 to 65535");
            0
        }
    };
    let transport = match obj.get("transport").and_then(Value::as_str) {
        Some("udp") => Transport::Udp,
        Some("tcp") => Transport::Tcp,
        Some("tls") => Transport::Tls,
        _ => {
            errors.add("transport", "must be udp, tcp or tls");
            Transport::Tls
        }
    };
    let facility = match obj.get("facility") {
        None => DEFAULT_FACILITY,
        Some(v) => match v.as_u64() {
            Some(f @ 0..=23) => f as u8,
            _ => {
                errors.add("facility", "must be a syslog facility number from 0 to 23");
                DEFAULT_FACILITY
            }
        },
    };
    let app_name = match obj.get("appName") {
        None => DEFAULT_APP_NAME.to_owned(),
        Some(Value::String(s))
            if (1..=48).contains(&s.len()) && s.chars().all(|c| ('!'..='~').contains(&c)) =>
        {
            s.clone()
        }
        Some(_) => {
            errors.add(
                "appName",
                "must be 1 to 48 printable ASCII characters without spaces",
            );
            DEFAULT_APP_NAME.to_owned()
        }
    };
    let ca_cert = match obj.get("caCert") {
        None | Some(Value::Null) => None,
        Some(Value::String(pem)) if transport != Transport::Tls => {
            let _ = pem;
            errors.add("caCert", "applies to the tls transport only");
            None
        }
        Some(Value::String(pem)) => match check_ca(pem) {
            Ok(()) => Some(pem.clone()),
            Err(why) => {
                errors.add("caCert", why);
                None
            }
        },
        Some(_) => {
            errors.add("caCert", "must be PEM text");
            None
        }
    };
    SyslogConfig {
        host,
        port,
        transport,
        facility,
        app_name,
        ca_cert,
    }
}

fn check_ca(pem: &str) -> Result<(), &'static str> {
    if pem.len() > MAX_CA_PEM {
        return Err("must be at most 16 KiB of PEM");
    }
    let certs: Result<Vec<CertificateDer<'_>>, _> =
        CertificateDer::pem_slice_iter(pem.as_bytes()).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(()),
        _ => Err("must hold at least one PEM certificate (-----BEGIN CERTIFICATE-----)"),
    }
}

/// A single-line text field of `min..=max` characters; `None` when absent (an error if
/// `required`).
fn text(
    obj: &Map<String, Value>,
    key: &str,
    min: usize,
    max: usize,
    required: bool,
    errors: &mut ValidationErrors,
) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => {
            if required {
                errors.add(key, "is required");
            }
            None
        }
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n < min || n > max {
                errors.add(key, format!("must be {min} to {max} characters"));
                None
            } else if s.chars().any(char::is_control) {
                errors.add(key, "must be a single line without control characters");
                None
            } else {
                Some(s.clone())
            }
        }
        Some(_) => {
            errors.add(key, "must be a string");
            None
        }
    }
}

/// The settings of a stored destination, for the API and the worker.
pub fn stored_spec(kind: DestinationKind, config: &Value) -> Option<Spec> {
    match kind {
        DestinationKind::Syslog => serde_json::from_value(config.clone())
            .ok()
            .map(Spec::Syslog),
        DestinationKind::Webhook => {
            serde_json::from_value(config.clone())
                .ok()
                .map(|config| Spec::Webhook {
                    config,
                    secret: None,
                })
        }
    }
}

/// The context that binds an encrypted secret to its destination (see `secret_box`).
pub fn secret_context(org: &str, id: &str) -> String {
    format!("siem-destination:{org}:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_are_validated_field_by_field() {
        let ok = parse(
            &json!({"type": "syslog", "name": "SOC", "host": "siem.example.com", "port": 6514, "transport": "tls"}),
            true,
        )
        .unwrap();
        assert_eq!(ok.spec.config_json()["facility"], 13);
        let err = parse(
            &json!({"type": "syslog", "name": "", "host": "h", "port": 0, "transport": "smtp", "extra": 1}),
            true,
        )
        .unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert!(
            ["name", "port", "transport", "extra"]
                .iter()
                .all(|f| fields.contains(f)),
            "{fields:?}"
        );
        assert!(
            parse(
                &json!({"type": "webhook", "name": "w", "url": "https://x.example"}),
                true
            )
            .is_err()
        );
        assert!(
            parse(
                &json!({"type": "webhook", "name": "w", "url": "https://x.example"}),
                false
            )
            .is_ok()
        );
        assert!(parse(&json!({"type": "ftp"}), true).is_err());
    }
}
