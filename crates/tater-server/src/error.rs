//! Every error leaves as `application/problem+json` (RFC 9457) with a stable machine code in
//! `error`. The status for each service outcome is decided in one exhaustive `match`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tater_domain::FieldError;
use tater_service::ServiceError;

/// A problem to report. Handlers return it; the request-id middleware renders it (so the body
/// can carry the request id).
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    /// Stable machine code, e.g. `VALIDATION_FAILED`.
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Seconds for `Retry-After` (429 and 503 answers).
    pub retry_after_secs: Option<u32>,
}

pub const PROBLEM_JSON: &str = "application/problem+json";

impl Problem {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_secs: None,
        }
    }

    /// The same problem, asking the client to retry after `secs` seconds.
    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "Bad request", detail)
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Not found",
            "no such resource in your organization",
        )
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] if one.field.is_empty() => one.message.clone(),
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        Self {
            errors,
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "VALIDATION_FAILED",
                "Validation failed",
                detail,
            )
        }
    }

    /// A generic problem for a status produced outside our handlers (405 from routing, 408
    /// from the timeout layer, 500 from a caught panic, ...).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, title, detail) = match status.as_u16() {
            403 => ("FORBIDDEN", "Forbidden", "this request is not allowed"),
            404 => ("NOT_FOUND", "Not found", "there is nothing at this address"),
            405 => (
                "METHOD_NOT_ALLOWED",
                "Method not allowed",
                "this address does not accept that method",
            ),
            406 => (
                "NOT_ACCEPTABLE",
                "Not acceptable",
                "the answer cannot be given in a type the request accepts",
            ),
            408 => ("TIMEOUT", "Request timeout", "the request took too long"),
            413 => (
                "PAYLOAD_TOO_LARGE",
                "Payload too large",
                "the request body is larger than the limit",
            ),
            415 => (
                "UNSUPPORTED_MEDIA_TYPE",
                "Unsupported media type",
                "the request body is not of a type this address accepts",
            ),
            s if s >= 500 => (
                "INTERNAL",
                "Internal error",
                "something went wrong on our side; it has been logged",
            ),
            _ => (
                "BAD_REQUEST",
                "Bad request",
                "the request could not be processed",
            ),
        };
        Self::new(status, code, title, detail)
    }

    /// The JSON body, with the request id that lets support find the log lines.
    pub fn body(&self, request_id: Option<&str>) -> Value {
        let mut body = json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "error": self.code,
        });
        if !self.errors.is_empty() {
            body["errors"] = json!(self.errors);
        }
        if let Some(id) = request_id {
            body["requestId"] = json!(id);
        }
        body
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.body(None))).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after_secs {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tater\""),
            );
        }
        // The middleware re-renders the body with the request id.
        res.extensions_mut().insert(self);
        res
    }
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Self {
        use StatusCode as S;
        let code = e.code();
        match e {
            ServiceError::Unauthorized(msg) => {
                Problem::new(S::UNAUTHORIZED, code, "Unauthorized", msg)
            }
            ServiceError::Forbidden(denied) => {
                Problem::new(S::FORBIDDEN, code, "Forbidden", denied.to_string())
            }
            ServiceError::LastOrgAdmin => {
                Problem::new(S::CONFLICT, code, "Conflict", e.to_string())
            }
            ServiceError::OrgMismatch(_) => {
                Problem::new(S::FORBIDDEN, code, "Forbidden", e.to_string())
            }
            ServiceError::NotAMember => {
                Problem::new(S::FORBIDDEN, code, "Forbidden", e.to_string())
            }
            ServiceError::NoMembership => {
                Problem::new(S::FORBIDDEN, code, "Forbidden", e.to_string())
            }
            ServiceError::AmbiguousOrg => Problem::new(
                S::BAD_REQUEST,
                code,
                "Organization not selected",
                e.to_string(),
            ),
            ServiceError::BadRequest(msg) => Problem::bad_request(code, msg),
            ServiceError::NotFound => Problem::not_found(),
            ServiceError::Validation(errors) => Problem::validation(errors.0),
            ServiceError::Conflict(msg) => Problem::new(S::CONFLICT, code, "Conflict", msg),
            ServiceError::ConflictCode(_, msg) => Problem::new(S::CONFLICT, code, "Conflict", msg),
            ServiceError::ForbiddenCode(_, msg) => {
                Problem::new(S::FORBIDDEN, code, "Forbidden", msg)
            }
            ServiceError::TooManyCode(_, msg) => {
                Problem::new(S::TOO_MANY_REQUESTS, code, "Too many requests", msg)
            }
            ServiceError::UnavailableCode(_, msg) => {
                Problem::new(S::SERVICE_UNAVAILABLE, code, "Service unavailable", msg)
            }
            ServiceError::UpstreamCode(_, msg) => {
                Problem::new(S::BAD_GATEWAY, code, "Refused upstream", msg)
            }
            ServiceError::FeatureDisabled(msg) => {
                Problem::new(S::FORBIDDEN, code, "Feature disabled", msg)
            }
            ServiceError::TooLargeCode(_, msg) => {
                Problem::new(S::PAYLOAD_TOO_LARGE, code, "Payload too large", msg)
            }
            ServiceError::UnsupportedCode(_, msg) => Problem::new(
                S::UNSUPPORTED_MEDIA_TYPE,
                code,
                "Unsupported media type",
                msg,
            ),
            ServiceError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                Problem::from_status(S::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

/// Handlers return `Result<T, ApiError>`; `?` converts service errors.
pub type ApiResult<T> = Result<T, Problem>;

#[cfg(test)]
mod tests {
    use super::*;
    use tater_domain::policy::Denied;
    use tater_domain::{Role, ValidationErrors};

    #[test]
    fn service_errors_map_to_pinned_statuses() {
        let cases: Vec<(ServiceError, u16, &str)> = vec![
            (ServiceError::Unauthorized("x"), 401, "UNAUTHORIZED"),
            (
                ServiceError::Forbidden(Denied {
                    required: Role::Admin,
                    actual: Role::Viewer,
                }),
                403,
                "FORBIDDEN",
            ),
            (ServiceError::OrgMismatch(""), 403, "ORG_MISMATCH"),
            (
                ServiceError::FeatureDisabled("off"),
                403,
                "FEATURE_DISABLED",
            ),
            (ServiceError::LastOrgAdmin, 409, "LAST_ORG_ADMIN"),
            (ServiceError::NotAMember, 403, "NOT_A_MEMBER"),
            (ServiceError::NoMembership, 403, "NO_MEMBERSHIP"),
            (ServiceError::AmbiguousOrg, 400, "AMBIGUOUS_ORG"),
            (ServiceError::BadRequest("x".into()), 400, "BAD_REQUEST"),
            (ServiceError::NotFound, 404, "NOT_FOUND"),
            (
                ServiceError::Validation(ValidationErrors::single("f", "m")),
                400,
                "VALIDATION_FAILED",
            ),
            (ServiceError::Conflict("x".into()), 409, "CONFLICT"),
            (
                ServiceError::ConflictCode("ENDPOINT_EXISTS", "x".into()),
                409,
                "ENDPOINT_EXISTS",
            ),
            (
                ServiceError::ForbiddenCode("HOSTNAME_NOT_ALLOWED", "x".into()),
                403,
                "HOSTNAME_NOT_ALLOWED",
            ),
            (
                ServiceError::TooManyCode("TOO_MANY_CODES", "x".into()),
                429,
                "TOO_MANY_CODES",
            ),
            (
                ServiceError::UnavailableCode("EMAIL_FAILED", "x".into()),
                503,
                "EMAIL_FAILED",
            ),
            (
                ServiceError::Internal(anyhow::anyhow!("SELECT secret FROM x")),
                500,
                "INTERNAL",
            ),
        ];
        for (err, status, code) in cases {
            // The pages answer with the same status (they read it from the error).
            assert_eq!(err.status(), status, "{err}");
            let p = Problem::from(err);
            assert_eq!((p.status.as_u16(), p.code), (status, code));
            assert!(!p.detail.contains("SELECT"), "internal details never leak");
        }
    }
}
