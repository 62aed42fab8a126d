//! Sign-in sessions of the web application. The browser holds a random secret in a cookie;
//! the server keeps the session (by the secret's SHA-256), so signing out, "sign out
//! everywhere" and a password change end it on the server, not just in the browser.
//!
//! A session ends at the first of: its absolute lifetime, the idle timeout after its last
//! request, sign-out, or its person's `tokens_valid_after` moving past its start. Every
//! state-changing request carries the session's CSRF token, compared in constant time.

use subtle::ConstantTimeEq;
use tater_domain::{Actor, OrgId, Timestamp, WebSession};
use tater_store::Mode;

use crate::secrets::{generate_secret, hash_api_key, is_well_formed};
use crate::{Identity, Service, ServiceError, ServiceResult};

/// The shape of a session secret: `tater_web_` and 32 hex digits (128 random bits).
const SESSION_PREFIX: &str = "tater_web_";
const CSRF_PREFIX: &str = "csrf_";
/// The shape of a sign-in form's token: `signin_` and 32 hex digits (128 random bits).
const SIGN_IN_PREFIX: &str = "signin_";
/// The last request is recorded at most this often (a write per request would be waste).
const TOUCH_INTERVAL_SECS: i64 = 60;
const SIGNED_OUT: &str = "you are not signed in, or your session has ended";

/// How long web sessions last.
#[derive(Debug, Clone, Copy)]
pub struct WebSessionConfig {
    /// Without a request for this long, a session is over.
    pub idle_secs: i64,
    /// However active, a session is over this long after sign-in.
    pub absolute_secs: i64,
}

impl Default for WebSessionConfig {
    fn default() -> Self {
        Self {
            idle_secs: 30 * 60,
            absolute_secs: 12 * 3600,
        }
    }
}

/// A session just started: the secret goes into the cookie and is never shown again.
pub struct NewWebSession {
    pub secret: String,
    pub expires_at: Timestamp,
}

/// A signed-in browser: who it is and its session.
#[derive(Clone)]
pub struct WebCaller {
    pub identity: Identity,
    pub session: WebSession,
}

impl WebCaller {
    /// The person acting in the session's organization: the one chosen, while they are still
    /// a member of it, else their first. `NoMembership` when they belong to none.
    pub fn actor(&self) -> ServiceResult<Actor> {
        let memberships = self.identity.memberships();
        // A session bound to an organization the person has left is over, not moved.
        if let Some(bound) = self.session.bound_org
            && !memberships.iter().any(|m| m.org == bound)
        {
            return Err(ServiceError::Unauthorized(SIGNED_OUT));
        }
        let chosen = self
            .session
            .bound_org
            .or(self.session.org)
            .filter(|o| memberships.iter().any(|m| m.org == *o))
            .or_else(|| memberships.first().map(|m| m.org))
            .ok_or(ServiceError::NoMembership)?;
        self.identity.actor(Some(&chosen.to_string()))
    }

    /// Whether `sent` is this session's CSRF token.
    pub fn csrf_matches(&self, sent: &str) -> bool {
        let expected = self.session.csrf_token.as_bytes();
        bool::from(expected.ct_eq(sent.as_bytes()))
    }
}

/// Login CSRF: the sign-in form's token, held by the browser in a cookie and sent again in
/// the form (a double submit). Another site can make a browser post the form, but cannot
/// read or set the cookie, so it cannot send the matching token. The form needs this of its
/// own because it has no session to carry a CSRF token yet, and a browser that sends no
/// `Sec-Fetch-Site` may say `Origin: null` for both a sandboxed frame and a same-origin post.
pub struct SignInToken;

impl SignInToken {
    /// A fresh token for a sign-in form.
    pub fn generate() -> String {
        generate_secret(SIGN_IN_PREFIX)
    }

    /// Whether `held` (the cookie) is a token this server could have given, to reuse it
    /// rather than replace another tab's.
    pub fn is_well_formed(held: &str) -> bool {
        is_well_formed(SIGN_IN_PREFIX, held)
    }

    /// Whether the form's `sent` token is the cookie's `held` one (compared in constant time).
    pub fn matches(held: Option<&str>, sent: &str) -> bool {
        held.is_some_and(|h| {
            Self::is_well_formed(h) && bool::from(h.as_bytes().ct_eq(sent.as_bytes()))
        })
    }
}

impl Service {
    /// Email and password sign-in for the browser: a new server-side session.
    pub async fn web_sign_in(&self, email: &str, password: &str) -> ServiceResult<NewWebSession> {
        let user = self.check_password(email, password).await?;
        self.start_web_session(user.id, None).await
    }

    /// A new session for the person `user` (signed in, or just changed their password,
    /// which ended every earlier one); `bound_org` limits it to one organization (Entra ID).
    pub async fn start_web_session(
        &self,
        user: tater_domain::UserId,
        bound_org: Option<OrgId>,
    ) -> ServiceResult<NewWebSession> {
        let now = self.clock.now();
        let secret = generate_secret(SESSION_PREFIX);
        let session = WebSession {
            id_hash: hash_api_key(&secret),
            user,
            org: bound_org,
            bound_org,
            csrf_token: generate_secret(CSRF_PREFIX),
            created_at: now,
            last_seen_at: now,
            expires_at: now.plus_seconds(self.web.absolute_secs),
        };
        let mut tx = self.store.identity(Mode::Write).await?;
        tx.insert_web_session(&session).await?;
        tx.commit().await?;
        Ok(NewWebSession {
            secret,
            expires_at: session.expires_at,
        })
    }

    /// The signed-in browser a cookie's secret names, if its session is still on. Every
    /// refusal is the same 401. `activity` is false for requests a page makes by itself (a
    /// section refreshing its status): they do not count as the person being active, so a
    /// tab left open still reaches the idle timeout.
    pub async fn web_session(&self, secret: &str, activity: bool) -> ServiceResult<WebCaller> {
        let signed_out = || ServiceError::Unauthorized(SIGNED_OUT);
        if !is_well_formed(SESSION_PREFIX, secret) {
            return Err(signed_out());
        }
        let id_hash = hash_api_key(secret);
        let now = self.clock.now();
        let mut tx = self.store.identity(Mode::Read).await?;
        let session = tx.web_session(&id_hash).await?.ok_or_else(signed_out)?;
        let (user, memberships) = tx
            .user_identity(session.user)
            .await?
            .ok_or_else(signed_out)?;
        crate::auth::end_read(tx);
        let idle_end = session.last_seen_at.plus_seconds(self.web.idle_secs);
        if session.expires_at <= now
            || idle_end <= now
            || session.created_at < user.tokens_valid_after
        {
            return Err(signed_out());
        }
        if activity && session.last_seen_at.plus_seconds(TOUCH_INTERVAL_SECS) <= now {
            let touched = async {
                let mut tx = self.store.identity(Mode::Write).await?;
                tx.touch_web_session(&id_hash, now).await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = touched {
                tracing::warn!(error = %e, "could not record web session activity");
            }
        }
        let identity = Identity::interactive(user, memberships);
        Ok(WebCaller {
            identity: match session.bound_org {
                Some(org) => identity.bound_to(org),
                None => identity,
            },
            session,
        })
    }

    /// Ends the session (sign-out). Ending one that is already over is not an error.
    pub async fn web_sign_out(&self, caller: &WebCaller) -> ServiceResult<()> {
        let mut tx = self.store.identity(Mode::Write).await?;
        tx.delete_web_session(&caller.session.id_hash).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends the session a cookie's secret names, if any (a browser signing in anew leaves no
    /// earlier session of its own behind).
    pub async fn end_web_session(&self, secret: &str) -> ServiceResult<()> {
        if !is_well_formed(SESSION_PREFIX, secret) {
            return Ok(());
        }
        let mut tx = self.store.identity(Mode::Write).await?;
        tx.delete_web_session(&hash_api_key(secret)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Switches the session to another of the person's organizations.
    pub async fn web_choose_org(&self, caller: &WebCaller, org: OrgId) -> ServiceResult<()> {
        if !caller.identity.memberships().iter().any(|m| m.org == org) {
            return Err(ServiceError::NotAMember);
        }
        if caller.session.bound_org.is_some_and(|b| b != org) {
            return Err(ServiceError::OrgMismatch(
                "signed in through Entra ID, this session acts only in the organization of your tenant",
            ));
        }
        let mut tx = self.store.identity(Mode::Write).await?;
        tx.set_web_session_org(&caller.session.id_hash, org).await?;
        tx.commit().await?;
        Ok(())
    }
}
