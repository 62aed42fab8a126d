//! What a tool answers when its use case refuses: the same machine codes REST's problems carry,
//! as a tool error the model can read and act on.

use serde_json::{Value, json};
use tater_service::ServiceError;

/// A use case's refusal as a tool error: `{"error": {"code", "message", "errors"?}}`. An
/// internal error shows no detail (its cause is logged).
pub fn tool_error(e: ServiceError) -> Value {
    let code = e.code();
    match e {
        ServiceError::Validation(errors) => json!({ "error": {
            "code": code,
            "message": "some fields are not valid",
            "errors": errors.0,
        } }),
        ServiceError::Internal(cause) => {
            tracing::error!(error = ?cause, "internal error in an MCP tool");
            json!({ "error": { "code": code, "message": "internal error" } })
        }
        other => json!({ "error": { "code": code, "message": other.to_string() } }),
    }
}

/// A write asked for with an API key whose owner has not proved who they are.
pub fn unverified() -> Value {
    json!({ "error": {
        "code": "IDENTITY_UNVERIFIED",
        "message": "tools that change the organization need a verified identity; this API key's owner has not verified it, so nothing was changed",
        "nextStep": "call request_identity_verification: a 6-digit code goes to the key owner's email; then call verify_identity with it and repeat this call (a signed-in session's Bearer token counts as verified too)",
    } })
}

/// The organization's bucket for this kind of call is spent.
pub fn rate_limited(wait_secs: u64) -> Value {
    json!({ "error": {
        "code": "RATE_LIMITED",
        "message": format!("too many calls of this kind for the organization; retry in {wait_secs} s"),
        "retryAfterSeconds": wait_secs,
    } })
}
