//! What a use case can answer instead of a result.

use tater_domain::ValidationErrors;
use tater_domain::policy::Denied;
use tater_store::StoreError;

pub type ServiceResult<T> = Result<T, ServiceError>;

/// Client-facing outcomes are variants of their own; everything unexpected is `Internal`,
/// whose cause is logged by the channel and never shown to the client.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No valid credential. The message is safe to show and never says which part failed.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Authenticated, but the role is too low.
    #[error("{0}")]
    Forbidden(Denied),
    /// A credential that acts in one organization only (a bound API key, an Entra ID token,
    /// an endpoint's credential) named another; the message names the credential used.
    #[error("{0}")]
    OrgMismatch(&'static str),
    /// `x-organization-id` named an organization the caller is not a member of.
    #[error("you are not a member of that organization")]
    NotAMember,
    /// The caller belongs to no organization at all.
    #[error("your account is not a member of any organization")]
    NoMembership,
    /// Several memberships and no `x-organization-id`.
    #[error("you are a member of several organizations; name one in the x-organization-id header")]
    AmbiguousOrg,
    /// A header or parameter that is not the right shape (not field validation).
    #[error("{0}")]
    BadRequest(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Validation(ValidationErrors),
    #[error("{0}")]
    Conflict(String),
    /// A conflict with a machine code of its own (`ENDPOINT_EXISTS`, ...): 409.
    #[error("{1}")]
    ConflictCode(&'static str, String),
    /// Refused for a reason other than the caller's role, with a machine code: 403.
    #[error("{1}")]
    ForbiddenCode(&'static str, String),
    /// The change would leave the organization without an OrgAdmin.
    #[error("the organization must keep at least one OrgAdmin")]
    LastOrgAdmin,
    /// Too many of something in too short a time (codes emailed), with a machine code: 429.
    #[error("{1}")]
    TooManyCode(&'static str, String),
    /// Something the server needs is not configured or not answering (the SMTP relay), with
    /// a machine code: 503.
    #[error("{1}")]
    UnavailableCode(&'static str, String),
    /// An outside service this server called refused the call for good (a key revoked, a
    /// request it will never accept), with a machine code: 502. Retrying will not help.
    #[error("{1}")]
    UpstreamCode(&'static str, String),
    /// An upload past the size this server accepts, with a machine code: 413.
    #[error("{1}")]
    TooLargeCode(&'static str, String),
    /// An upload of a type this server does not accept, with a machine code: 415.
    #[error("{1}")]
    UnsupportedCode(&'static str, String),
    /// The organization has not turned the feature on (its settings).
    #[error("{0}")]
    FeatureDisabled(&'static str),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ServiceError {
    /// The machine code every channel shows (REST problems, MCP tool errors).
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Unauthorized(_) => "UNAUTHORIZED",
            ServiceError::Forbidden(_) => "FORBIDDEN",
            ServiceError::OrgMismatch(_) => "ORG_MISMATCH",
            ServiceError::NotAMember => "NOT_A_MEMBER",
            ServiceError::NoMembership => "NO_MEMBERSHIP",
            ServiceError::AmbiguousOrg => "AMBIGUOUS_ORG",
            ServiceError::BadRequest(_) => "BAD_REQUEST",
            ServiceError::NotFound => "NOT_FOUND",
            ServiceError::Validation(_) => "VALIDATION_FAILED",
            ServiceError::Conflict(_) => "CONFLICT",
            ServiceError::ConflictCode(code, _)
            | ServiceError::ForbiddenCode(code, _)
            | ServiceError::TooManyCode(code, _)
            | ServiceError::UnavailableCode(code, _)
            | ServiceError::UpstreamCode(code, _)
            | ServiceError::TooLargeCode(code, _)
            | ServiceError::UnsupportedCode(code, _) => code,
            ServiceError::LastOrgAdmin => "LAST_ORG_ADMIN",
            ServiceError::FeatureDisabled(_) => "FEATURE_DISABLED",
            ServiceError::Internal(_) => "INTERNAL",
        }
    }

    /// The HTTP status every web channel answers it with (REST problems, pages).
    pub fn status(&self) -> u16 {
        match self {
            ServiceError::Unauthorized(_) => 401,
            ServiceError::Forbidden(_)
            | ServiceError::OrgMismatch(_)
            | ServiceError::NotAMember
            | ServiceError::NoMembership
            | ServiceError::ForbiddenCode(..)
            | ServiceError::FeatureDisabled(_) => 403,
            ServiceError::AmbiguousOrg
            | ServiceError::BadRequest(_)
            | ServiceError::Validation(_) => 400,
            ServiceError::NotFound => 404,
            ServiceError::Conflict(_)
            | ServiceError::ConflictCode(..)
            | ServiceError::LastOrgAdmin => 409,
            ServiceError::TooManyCode(..) => 429,
            ServiceError::UnavailableCode(..) => 503,
            ServiceError::UpstreamCode(..) => 502,
            ServiceError::TooLargeCode(..) => 413,
            ServiceError::UnsupportedCode(..) => 415,
            ServiceError::Internal(_) => 500,
        }
    }
}

impl From<Denied> for ServiceError {
    fn from(d: Denied) -> Self {
        ServiceError::Forbidden(d)
    }
}

impl From<ValidationErrors> for ServiceError {
    fn from(e: ValidationErrors) -> Self {
        ServiceError::Validation(e)
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::Conflict(what) => ServiceError::Conflict(what),
            StoreError::OrgTerminated => ServiceError::ForbiddenCode(
                "ORG_TERMINATED",
                "this organization has been terminated: it is closed to every credential, and \
                 its data is deleted when the grace period ends (its OrgAdmins may still take \
                 the full export until then)"
                    .into(),
            ),
            other => ServiceError::Internal(other.into()),
        }
    }
}
