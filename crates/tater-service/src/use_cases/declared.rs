//! The inputs whose shape is not a Rust type yet, as declared JSON: a SIEM destination's body,
//! which `tater_siem::destination::parse` reads and validates field by field.

use serde_json::{Value, json};

/// A syslog or webhook destination as created or replaced.
pub(super) fn siem_destination_input() -> Value {
    let s = |t: &str| json!({ "type": t });
    json!({
        "type": "object",
        "oneOf": [
            { "type": "object", "additionalProperties": false, "required": ["type", "name", "host", "port", "transport"],
              "properties": { "type": { "const": "syslog" }, "name": { "type": "string", "maxLength": 100 },
                "host": s("string"), "port": { "type": "integer", "minimum": 1, "maximum": 65535 },
                "transport": { "enum": ["udp", "tcp", "tls"] }, "facility": { "type": "integer", "minimum": 0, "maximum": 23, "default": 13 },
                "appName": { "type": "string", "maxLength": 48, "default": "tater" },
                "caCert": { "type": "string", "contentMediaType": "application/x-pem-file", "description": "PEM CA to trust for tls instead of the public roots" },
                "enabled": { "type": "boolean", "default": true }, "version": s("integer") } },
            { "type": "object", "additionalProperties": false, "required": ["type", "name", "url"],
              "properties": { "type": { "const": "webhook" }, "name": { "type": "string", "maxLength": 100 },
                "url": { "type": "string", "description": "https (a public address, or one the operator allowlisted)" },
                "secret": { "type": "string", "writeOnly": true, "minLength": 16, "maxLength": 256, "description": "required on create; kept when left out of an update" },
                "enabled": { "type": "boolean", "default": true }, "version": s("integer") } },
        ],
    })
}
