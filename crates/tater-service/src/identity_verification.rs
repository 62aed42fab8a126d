//! No silent writes (SPEC I1, issue 13 §5): a change through MCP made with an API key needs its
//! owner's identity verified, by a 6-digit code emailed to the owner's address.
//!
//! - A code is kept only as an HMAC keyed by the server and bound to the key it was sent for,
//!   so a stolen database yields no code and one key's code verifies no other key.
//! - It expires after 10 minutes and allows 5 attempts; at most 3 are sent per key per 15
//!   minutes and 10 per person per day over all their keys (the key's row is locked while
//!   counting, so racing requests cannot send more).
//! - A right code marks the key verified for a window (`--mcp-verification-hours`). Revoking
//!   the key ends it; so does its owner changing their password or signing out everywhere
//!   (a verification older than the owner's `tokens_valid_after` does not count).
//! - Requests, successes and failures are audited; no code appears in any entry or log line.

use hmac::{Hmac, Mac};
use rand::Rng;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tater_domain::policy::authorize;
use tater_domain::{
    Action, Actor, ApiKey, ApiKeyId, AuditAction, AuditDraft, IdentityCode, IdentityCodeId,
    Timestamp, ValidationErrors,
};
use tater_store::{IdentityTx, Mode};

use crate::auth::Identity;
use crate::mail::{MailConfig, Mailer};
use crate::{Service, ServiceError, ServiceResult};

/// A code lives this long.
pub const CODE_TTL_SECS: i64 = 10 * 60;
/// Tries allowed against one code (right or wrong).
pub const CODE_ATTEMPTS: i64 = 5;
/// At most this many codes are sent per key in [`SEND_WINDOW_SECS`].
pub const CODES_PER_WINDOW: i64 = 3;
pub const SEND_WINDOW_SECS: i64 = 15 * 60;
/// At most this many codes are sent per person (across all their keys) in a day: minting
/// keys does not buy more guesses.
pub const CODES_PER_USER_PER_DAY: i64 = 10;
/// How long a verification counts unless configured otherwise (12 hours).
pub const DEFAULT_VERIFIED_SECS: i64 = 12 * 3600;

const ENTITY: &str = "identity-verification";

/// How identities are verified on this server.
#[derive(Debug, Clone)]
pub struct VerificationConfig {
    /// The SMTP relay codes go through; without one, no code is sent and writes through MCP
    /// with an API key stay blocked.
    pub mail: Option<MailConfig>,
    /// How long a verification counts.
    pub verified_secs: i64,
}

impl Default for VerificationConfig {
    fn default() -> Self {
        Self {
            mail: None,
            verified_secs: DEFAULT_VERIFIED_SECS,
        }
    }
}

/// A code is on its way.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationSent {
    /// The owner's address, partly hidden (`a…@example.com`).
    pub sent_to: String,
    pub expires_at: Timestamp,
    /// Tries allowed against this code.
    pub attempts_allowed: i64,
    /// What to do next.
    pub next_step: String,
}

/// The key's owner is verified.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityVerified {
    pub api_key_id: ApiKeyId,
    /// Writes through MCP with this key are allowed until then (or until the key is revoked,
    /// or its owner changes their password or signs out everywhere).
    pub verified_until: Timestamp,
}

/// The code the owner received.
#[derive(Debug, Clone, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyIdentity {
    /// The 6-digit code from the email.
    pub code: String,
}

/// The server's keyed hash of a code for one key (lowercase hex).
fn code_hash(secret: &[u8], key: ApiKeyId, code: &str) -> String {
    // HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(b"tater identity code\0");
    mac.update(key.to_string().as_bytes());
    mac.update(b"\0");
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `alice@example.com` → `a…@example.com`: enough to recognise, not to harvest.
fn masked(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}…@{domain}")
        }
        None => "…".into(),
    }
}

/// The API key of the caller; a session needs no code.
fn key_of(identity: &Identity) -> ServiceResult<&ApiKey> {
    identity.api_key().ok_or_else(|| {
        ServiceError::ConflictCode(
            "ALREADY_VERIFIED",
            "this credential is a signed-in session, which counts as verified; only API keys need an emailed code".into(),
        )
    })
}

fn draft(actor: &Actor, action: AuditAction, key: ApiKeyId, now: Timestamp) -> AuditDraft {
    AuditDraft::new(actor, action, ENTITY, key, now)
}

impl Service {
    /// A write transaction holding the key's row, so that counting and issuing codes, or
    /// trying one, is one step however many requests race. A key revoked meanwhile is
    /// refused.
    async fn locked_key(&self, key: ApiKeyId) -> ServiceResult<Box<dyn IdentityTx>> {
        let mut tx = self.store.identity(Mode::Write).await?;
        tx.lock_api_key(key)
            .await?
            .filter(|k| k.revoked_at.is_none())
            .ok_or(ServiceError::Unauthorized(
                "the API key is invalid, revoked or expired",
            ))?;
        Ok(tx)
    }

    /// Emails a code to the owner of the caller's API key (see the module documentation).
    pub async fn request_identity_verification(
        &self,
        identity: &Identity,
        actor: &Actor,
    ) -> ServiceResult<VerificationSent> {
        authorize(actor, Action::Read)?;
        let key = key_of(identity)?;
        let Some(mailer) = self.mailer.as_ref() else {
            return Err(ServiceError::ForbiddenCode(
                "EMAIL_NOT_CONFIGURED",
                "this server sends no email (no --smtp-url), so identities cannot be verified by code; writes through MCP need a signed-in session (Bearer token) here".into(),
            ));
        };
        let now = self.clock.now();
        let email = identity.user().email.as_str().to_owned();
        let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
        let record = IdentityCode {
            id: IdentityCodeId::generate(),
            key: key.id,
            code_hash: code_hash(&self.auth.code_secret, key.id, &code),
            created_at: now,
            expires_at: now.plus_seconds(CODE_TTL_SECS),
            attempts: 0,
            used_at: None,
        };
        let sent = VerificationSent {
            sent_to: masked(&email),
            expires_at: record.expires_at,
            attempts_allowed: CODE_ATTEMPTS,
            next_step: "call verify_identity with the 6-digit code from the email".into(),
        };
        let audit = draft(actor, AuditAction::Create, key.id, now).with_changes(
            None,
            Some(&json!({ "sentTo": sent.sent_to, "expiresAt": record.expires_at })),
            &[],
        );
        let mut tx = self.locked_key(key.id).await?;
        let since = now.plus_seconds(-SEND_WINDOW_SECS);
        let day = now.plus_seconds(-24 * 3600);
        if tx.codes_issued_for_user_since(key.user, day).await? >= CODES_PER_USER_PER_DAY {
            return Err(ServiceError::TooManyCode(
                "TOO_MANY_CODES",
                format!(
                    "at most {CODES_PER_USER_PER_DAY} codes are sent per person in a day, over all their keys; try again tomorrow or sign in interactively"
                ),
            ));
        }
        if tx.codes_issued_since(key.id, since).await? >= CODES_PER_WINDOW {
            return Err(ServiceError::TooManyCode(
                "TOO_MANY_CODES",
                format!(
                    "at most {CODES_PER_WINDOW} codes are sent per key in 15 minutes; use the last one or try again later"
                ),
            ));
        }
        tx.insert_identity_code(&record, &[(actor.org(), audit)])
            .await?;
        tx.commit().await?;
        let body = format!(
            "Your Tater verification code is {code}\n\n\
             It lets the API key \"{}\" ({}…) make changes through an AI assistant (MCP). \
             It expires in 10 minutes.\n\n\
             If you did not ask for it, someone holds this API key: revoke it.\n",
            key.name, key.prefix
        );
        if let Err(e) = mailer
            .send(&identity.user().email, "Your Tater verification code", body)
            .await
        {
            tracing::warn!(key_id = %key.id, error = %e, "could not send an identity verification code");
            return Err(ServiceError::UnavailableCode(
                "EMAIL_FAILED",
                "the code could not be sent (the mail relay refused or did not answer); try again later".into(),
            ));
        }
        tracing::info!(key_id = %key.id, org = %actor.org(), "identity verification code sent");
        Ok(sent)
    }

    /// Checks the code the owner received and, when right, marks the key verified.
    pub async fn verify_identity(
        &self,
        identity: &Identity,
        actor: &Actor,
        code: &str,
    ) -> ServiceResult<IdentityVerified> {
        authorize(actor, Action::Read)?;
        let key = key_of(identity)?;
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(
                ValidationErrors::single("code", "must be the 6 digits from the email").into(),
            );
        }
        let now = self.clock.now();
        let org = actor.org();
        let mut tx = self.locked_key(key.id).await?;
        let live = tx
            .latest_identity_code(key.id)
            .await?
            .filter(|c| c.used_at.is_none() && now < c.expires_at && c.attempts < CODE_ATTEMPTS)
            // A code sent before the owner signed out everywhere or changed their password
            // belongs to what those ended.
            .filter(|c| c.created_at >= identity.user().tokens_valid_after);
        let Some(live) = live else {
            let audit = failure(actor, key.id, now, "no code waiting", 0);
            tx.record_audits(&[(org, audit)]).await?;
            tx.commit().await?;
            return Err(ServiceError::ConflictCode(
                "NO_ACTIVE_CODE",
                "no code is waiting for this key: it expired, was used, or had too many wrong tries; call request_identity_verification for a new one".into(),
            ));
        };
        let expected = code_hash(&self.auth.code_secret, key.id, code);
        if !bool::from(expected.as_bytes().ct_eq(live.code_hash.as_bytes())) {
            let left = CODE_ATTEMPTS - live.attempts - 1;
            let audit = failure(actor, key.id, now, "wrong code", left);
            tx.count_code_attempt(live.id, &[(org, audit)]).await?;
            tx.commit().await?;
            let message = if left > 0 {
                format!("is not the code sent; {left} tries left")
            } else {
                "is not the code sent; no tries left: request a new code".into()
            };
            return Err(ValidationErrors::single("code", message).into());
        }
        let until = now.plus_seconds(self.verification.verified_secs);
        let audit = draft(actor, AuditAction::Update, key.id, now).with_changes(
            Some(&json!({ "verifiedUntil": key.verified_until })),
            Some(&json!({ "verifiedUntil": until })),
            &[],
        );
        tx.verify_api_key(live.id, now, until, &[(org, audit)])
            .await?;
        tx.commit().await?;
        tracing::info!(key_id = %key.id, org = %org, "identity verified by emailed code");
        Ok(IdentityVerified {
            api_key_id: key.id,
            verified_until: until,
        })
    }
}

fn failure(actor: &Actor, key: ApiKeyId, now: Timestamp, why: &str, left: i64) -> AuditDraft {
    draft(actor, AuditAction::Update, key, now).with_changes(
        None,
        Some(&json!({ "refused": why, "triesLeft": left })),
        &[],
    )
}

/// The mailer for a configuration, if it names a relay.
pub(crate) fn mailer(config: &VerificationConfig) -> anyhow::Result<Option<Mailer>> {
    config.mail.as_ref().map(Mailer::new).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_hash_is_bound_to_the_key_and_the_secret() {
        let (a, b) = (ApiKeyId::generate(), ApiKeyId::generate());
        let h = code_hash(b"s1", a, "123456");
        assert_eq!(h.len(), 64);
        assert_eq!(h, code_hash(b"s1", a, "123456"));
        assert_ne!(h, code_hash(b"s1", b, "123456"));
        assert_ne!(h, code_hash(b"s2", a, "123456"));
        assert_ne!(h, code_hash(b"s1", a, "123457"));
    }

    #[test]
    fn addresses_are_masked() {
        assert_eq!(masked("alice@example.com"), "a…@example.com");
        assert_eq!(masked("nobody"), "…");
    }
}
