//! Organizations, users, memberships and API keys: who exists and who may act where.

use crate::{ApiKeyId, Email, InvitationId, OrgId, Role, Timestamp, UserId};

/// An organization (a tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    /// The Entra ID tenant (`tid`) whose tokens may sign in to this organization.
    pub entra_tenant_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When a SuperAdmin terminated it (from then on it is closed to every credential), and
    /// when its data is deleted.
    pub termination: Option<Termination>,
}

/// An organization's termination: when, and when its data goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Termination {
    pub at: Timestamp,
    pub delete_after: Timestamp,
}

/// A person or service identity. Roles come from memberships, never from the user itself.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub display_name: Option<String>,
    /// Argon2id PHC string; `None` for users who sign in only through Entra ID.
    pub password_hash: Option<String>,
    /// Entra ID object id (`oid`).
    pub entra_oid: Option<String>,
    /// Local sign-in tokens issued before this instant are no longer accepted.
    pub tokens_valid_after: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for User {
    /// The password hash is never printed, not even in debug logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("has_password", &self.password_hash.is_some())
            .field("entra_oid", &self.entra_oid)
            .finish_non_exhaustive()
    }
}

/// A user's role in one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub org: OrgId,
    pub user: UserId,
    pub role: Role,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An API key as stored: the SHA-256 of the secret, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub user: UserId,
    /// Bound keys act only in this organization; unbound keys in any of the user's.
    pub org: Option<OrgId>,
    /// Lowercase hex SHA-256 of the whole key.
    pub key_hash: String,
    /// The first characters of the key, for display (`tater_1a2b…`).
    pub prefix: String,
    pub name: String,
    /// A ceiling below the user's role, if the key was created with one.
    pub role: Option<Role>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// When its owner last proved who they are by an emailed code (MCP writes need it).
    pub verified_at: Option<Timestamp>,
    /// Until when that verification counts.
    pub verified_until: Option<Timestamp>,
}

impl ApiKey {
    /// Whether the owner's identity counts as verified for this key at `now`: verified, not
    /// past the window, and not before the owner last changed their password or signed out
    /// everywhere (`tokens_valid_after`).
    pub fn is_verified(&self, now: Timestamp, tokens_valid_after: Timestamp) -> bool {
        match (self.verified_at, self.verified_until) {
            (Some(at), Some(until)) => now < until && at >= tokens_valid_after,
            _ => false,
        }
    }
}

/// A code emailed to an API key's owner to verify their identity. Only its keyed hash is
/// kept; it is bound to the key it was sent for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityCode {
    pub id: crate::IdentityCodeId,
    pub key: ApiKeyId,
    /// Lowercase hex HMAC-SHA256 of the code, keyed by the server and bound to the key.
    pub code_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Wrong codes tried against it so far (and the right one, once).
    pub attempts: i64,
    pub used_at: Option<Timestamp>,
}

/// A browser's signed-in session in the web application. Kept on the server: the browser holds
/// only a random secret in a cookie, stored here as its SHA-256, so a copy of the database
/// signs no one in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// Lowercase hex SHA-256 of the cookie's secret.
    pub id_hash: String,
    pub user: UserId,
    /// The organization the person is working in (the organization switcher), once chosen.
    pub org: Option<OrgId>,
    /// Set for a "Sign in with Microsoft" session: the one organization it may act in (the
    /// one onboarded for the person's Entra ID tenant), as with their Entra ID tokens.
    pub bound_org: Option<OrgId>,
    /// Sent back by every state-changing request (forms and htmx), compared in constant time.
    pub csrf_token: String,
    pub created_at: Timestamp,
    /// The last request seen: past the idle timeout after it, the session is over.
    pub last_seen_at: Timestamp,
    /// The absolute end, however active the session.
    pub expires_at: Timestamp,
}

/// One view of a web application page: which page (its path template, never the query),
/// in which organization, when — and when the row is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageView {
    pub org: OrgId,
    pub path: String,
    pub viewed_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A one-time or reusable secret that lets an agent enroll its endpoint in an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentToken {
    pub id: crate::EnrollmentTokenId,
    pub org: OrgId,
    /// Lowercase hex SHA-256 of the token.
    pub token_hash: String,
    pub prefix: String,
    pub label: String,
    pub single_use: bool,
    pub uses: i64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// Audit `userId` of the creator.
    pub created_by: String,
    /// The only (lower-case) hostnames this token enrolls; `None` for any.
    pub hostnames: Option<Vec<String>>,
}

impl EnrollmentToken {
    /// Whether an agent may still enroll with it at `now`.
    pub fn usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at > now && !(self.single_use && self.uses > 0)
    }

    /// Whether the token may enroll `hostname` (lower-case).
    pub fn allows_host(&self, hostname: &str) -> bool {
        self.hostnames
            .as_ref()
            .is_none_or(|hosts| hosts.iter().any(|h| h == hostname))
    }
}

/// A machine that runs the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: crate::EndpointId,
    pub org: OrgId,
    /// Lower-case; unique within the organization.
    pub hostname: String,
    pub os: String,
    pub os_version: String,
    pub arch: String,
    pub agent_version: String,
    pub tags: Vec<String>,
    /// `active` or `retired` (a retired endpoint's credential no longer works).
    pub status: String,
    /// SHA-256 of the agent credential; `None` once retired.
    pub credential_hash: Option<String>,
    pub credential_prefix: Option<String>,
    pub enrolled_at: Timestamp,
    pub last_seen_at: Option<Timestamp>,
    pub last_scan_id: Option<crate::ScanId>,
    /// Until when an agent may enroll this hostname again without its current credential
    /// (an Admin's one-time allowance, `POST /api/endpoints/{id}/allow-reenroll`).
    pub reenroll_allowed_until: Option<Timestamp>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Where an invitation stands. Nobody becomes a member of an organization until they accept
/// (or, for an address without an account, sign in for the first time through it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    /// Withdrawn by an OrgAdmin.
    Revoked,
    /// Replaced by a new invitation after it ran out (a pending one past `expires_at` reads
    /// as expired without being rewritten).
    Expired,
}

impl InvitationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Declined => "declined",
            InvitationStatus::Revoked => "revoked",
            InvitationStatus::Expired => "expired",
        }
    }
}

impl std::str::FromStr for InvitationStatus {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        [
            InvitationStatus::Pending,
            InvitationStatus::Accepted,
            InvitationStatus::Declined,
            InvitationStatus::Revoked,
            InvitationStatus::Expired,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or(())
    }
}

/// An invitation of an e-mail address into an organization with a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: InvitationId,
    pub org: OrgId,
    pub email: Email,
    pub role: Role,
    pub status: InvitationStatus,
    /// Audit `userId` and e-mail of the OrgAdmin who invited.
    pub invited_by: String,
    pub invited_by_email: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    /// The account that accepted it.
    pub user: Option<UserId>,
}

impl Invitation {
    /// The status as of `now`: a pending invitation past its expiry reads as expired.
    pub fn status_at(&self, now: Timestamp) -> InvitationStatus {
        if self.status == InvitationStatus::Pending && self.expires_at <= now {
            InvitationStatus::Expired
        } else {
            self.status
        }
    }

    /// Whether it can still be accepted or declined at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.status_at(now) == InvitationStatus::Pending
    }
}
