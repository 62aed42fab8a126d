//! Authentication: local sign-in, session tokens, API keys, and choosing the organization.
//! The result is an [`Actor`]; nothing else in the system creates one for a request.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tater_bearer::BearerKind;
use tater_domain::{
    Actor, ApiKey, ApiKeyId, AuditAction, AuditDraft, Channel, Email, Membership, OrgId, Principal,
    Role, Timestamp, User, UserId, ValidationErrors,
};
use tater_store::Mode;

use crate::Clock;
use crate::entra::EntraVerifier;
use crate::secrets::DerivedKeys;
use crate::secrets::{
    AGENT_CREDENTIAL_PREFIX, AUDITOR_TOKEN_PREFIX, hash_api_key, is_well_formed,
    is_well_formed_api_key,
};
use crate::{Service, ServiceConfig, ServiceError, ServiceResult};

/// The shortest password accepted for new passwords.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longer inputs are refused before hashing, so nobody can make the server hash megabytes.
const MAX_PASSWORD_LEN: usize = 1024;
const ISSUER: &str = "tater";
const AUDIENCE: &str = "tater";
/// The `typ` claim of local session tokens; Entra ID tokens never carry it.
const LOCAL_TOKEN_TYPE: &str = "tater-local";
/// `last_used_at` of an API key is refreshed at most this often, not on every request.
const KEY_TOUCH_INTERVAL_SECS: i64 = 60;

/// Ends a read of identity data that runs on every request: nothing is there to commit, and
/// the rollback that dropping the transaction queues goes out with the connection's return to
/// the pool, off the request's path — a `COMMIT` here was a round trip each (issue 20). Only for
/// transactions that wrote nothing.
pub(crate) fn end_read(tx: Box<dyn tater_store::IdentityTx>) {
    drop(tx);
}

const BAD_LOGIN: &str = "the email or password is incorrect";
const BAD_TOKEN: &str = "the token is invalid or expired";
const BAD_KEY: &str = "the API key is invalid, revoked or expired";
const BAD_AUDITOR_TOKEN: &str = "the auditor token is invalid, revoked or expired";

/// A credential as presented by a client.
pub enum Credential {
    /// `Authorization: Bearer <jwt>`.
    Bearer(String),
    /// `X-API-Key: tater_…`.
    ApiKey(String),
}

/// A session token from a successful sign-in, as every channel shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginToken {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub token_type: BearerType,
    pub expires_at: Timestamp,
}

/// `GET /api/me`: who the credential is, how it came in, and where it may act.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeView {
    pub user: UserView,
    /// The channel the credential counts as (`web` for sessions and Entra ID, `api` for keys).
    pub via: Channel,
    /// The API key used, when it was one.
    pub api_key: Option<KeyRef>,
    /// The organization this request acts in, when one is chosen or there is only one.
    pub active_organization: Option<ActiveOrganization>,
    pub memberships: Vec<MembershipView>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: UserId,
    pub email: Email,
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyRef {
    pub id: ApiKeyId,
    pub prefix: String,
    /// The one organization a bound key acts in.
    pub org_id: Option<OrgId>,
    /// A role below the owner's, when the key carries one.
    pub role: Option<Role>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ActiveOrganization {
    pub id: OrgId,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MembershipView {
    pub org_id: OrgId,
    pub org_name: String,
    pub role: Role,
    /// Whether the organization was terminated: its data is closed (403 `ORG_TERMINATED`)
    /// until its deletion, its OrgAdmins may still take the full export.
    pub terminated: bool,
}

/// The one token type Tater issues.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub enum BearerType {
    Bearer,
}

#[derive(Debug, Serialize, Deserialize)]
struct SessionClaims {
    sub: String,
    typ: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    /// Issue time in milliseconds, compared with the user's `tokens_valid_after`.
    iat_ms: i64,
}

pub(crate) struct AuthKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_secs: i64,
    /// A real Argon2id hash of a random password, verified against when the email is unknown
    /// so that unknown emails take as long as wrong passwords.
    dummy_hash: String,
    /// Set when Entra ID sign-in is configured.
    pub(crate) entra: Option<EntraVerifier>,
    /// Keys the hashes of emailed identity codes (`identity_verification.rs`).
    pub(crate) code_secret: Vec<u8>,
    /// Sign download links (`download_links.rs`).
    pub(crate) links: crate::secrets::DerivedKeys,
    /// Sign the browser's part of a "Sign in with Microsoft" in progress (`entra_sign_in.rs`).
    pub(crate) sign_in_flows: crate::secrets::DerivedKeys,
    /// "Sign in with Microsoft" for the web application, when configured.
    pub(crate) entra_sign_in: Option<crate::entra_sign_in::EntraSignIn>,
}

impl AuthKeys {
    pub(crate) fn new(
        config: &ServiceConfig,
        clock: std::sync::Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            config.jwt_secret.len() >= 32,
            "the JWT secret must be at least 32 bytes"
        );
        anyhow::ensure!(
            config.session_ttl_secs > 0,
            "the session lifetime must be positive"
        );
        Ok(Self {
            encoding: EncodingKey::from_secret(&config.jwt_secret),
            decoding: DecodingKey::from_secret(&config.jwt_secret),
            ttl_secs: config.session_ttl_secs,
            dummy_hash: hash_password(&crate::generate_api_key())?,
            code_secret: config.jwt_secret.clone(),
            links: DerivedKeys::derive(&config.jwt_secret, b"tater download links v1")?,
            sign_in_flows: DerivedKeys::derive(&config.jwt_secret, b"tater entra sign-in v1")?,
            entra_sign_in: config
                .entra
                .as_ref()
                .and_then(|c| c.sign_in.clone())
                .map(crate::entra_sign_in::EntraSignIn::new)
                .transpose()?,
            entra: config
                .entra
                .clone()
                .map(|c| EntraVerifier::new(c, clock))
                .transpose()?,
        })
    }
}

/// An Argon2id PHC string for `password` (default parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// An enrolled endpoint acting as itself.
pub(crate) fn endpoint_actor(endpoint: &tater_domain::Endpoint) -> Actor {
    let principal = Principal::Endpoint {
        id: endpoint.id,
        hostname: endpoint.hostname.clone(),
    };
    Actor::authenticated(principal, endpoint.org, Role::Agent, Channel::Agent, true)
}

impl Service {
    /// An auditor token: its holder reads its audit's snapshots in the token's organization
    /// and nothing else (the policy allows an auditor token one action), audited as
    /// `auditor-token:<id>` with the token's label.
    pub async fn authenticate_auditor(&self, secret: &str) -> ServiceResult<Actor> {
        if !is_well_formed(AUDITOR_TOKEN_PREFIX, secret) {
            return Err(ServiceError::Unauthorized(BAD_AUDITOR_TOKEN));
        }
        let mut tx = self.store.identity(Mode::Read).await?;
        let token = tx
            .auditor_token_by_hash(&hash_api_key(secret))
            .await?
            .ok_or(ServiceError::Unauthorized(BAD_AUDITOR_TOKEN))?;
        end_read(tx);
        if !token.usable(self.clock.now()) {
            return Err(ServiceError::Unauthorized(BAD_AUDITOR_TOKEN));
        }
        let principal = Principal::AuditorToken {
            id: token.id,
            audit: token.audit,
            label: token.label,
        };
        Ok(Actor::authenticated(
            principal,
            token.org,
            Role::Agent,
            Channel::Api,
            false,
        ))
    }
}

/// Who a credential belongs to, before an organization is chosen.
#[derive(Clone)]
pub struct Identity {
    user: User,
    memberships: Vec<Membership>,
    channel: Channel,
    /// The one organization this credential may act in: a bound key's, or the organization
    /// onboarded for an Entra ID token's tenant.
    bound_org: Option<OrgId>,
    /// Set for API keys (role ceiling, display).
    key: Option<ApiKey>,
    /// Whether an API key's owner has verified their identity (an emailed code) within the
    /// window; sessions are interactive sign-ins and need no such step.
    key_verified: bool,
    /// The client software calling (MCP), noted in the audit entries of its changes.
    client: Option<tater_domain::ClientInfo>,
}

impl Identity {
    pub fn user(&self) -> &User {
        &self.user
    }

    /// The same identity, its changes audited as made through `channel`.
    pub fn through(mut self, channel: Channel) -> Self {
        self.channel = channel;
        self
    }

    /// The same identity, its changes noting the client software that made them.
    pub fn with_client(mut self, client: Option<tater_domain::ClientInfo>) -> Self {
        self.client = client;
        self
    }

    pub fn memberships(&self) -> &[Membership] {
        &self.memberships
    }

    /// A person signed in interactively (a local session token or a web session): no key,
    /// any of their organizations.
    pub(crate) fn interactive(user: User, memberships: Vec<Membership>) -> Self {
        Self {
            user,
            memberships,
            channel: Channel::Web,
            bound_org: None,
            key: None,
            key_verified: false,
            client: None,
        }
    }

    /// The same person, able to act only in `org` (a "Sign in with Microsoft" web session).
    pub(crate) fn bound_to(mut self, org: OrgId) -> Self {
        self.bound_org = Some(org);
        self
    }

    /// The one organization this credential may act in, when it is bound to one.
    pub fn bound_org(&self) -> Option<OrgId> {
        self.bound_org
    }

    /// Whom a download link acts as (`download_links.rs`): the link's person in its one
    /// organization, through its key when it was made with one. Reads only, so the key's
    /// identity step is not counted.
    pub(crate) fn for_link(
        user: User,
        memberships: Vec<Membership>,
        org: OrgId,
        key: Option<ApiKey>,
    ) -> Self {
        Self {
            channel: if key.is_some() {
                Channel::Api
            } else {
                Channel::Web
            },
            user,
            memberships,
            bound_org: Some(org),
            key,
            key_verified: false,
            client: None,
        }
    }

    /// The API key the credential was, when it was one.
    pub fn api_key(&self) -> Option<&ApiKey> {
        self.key.as_ref()
    }

    /// Picks the organization to act in: the one named by `x-organization-id` (among the
    /// caller's memberships), else the only membership; a bound key is limited to its own.
    pub fn actor(&self, org_header: Option<&str>) -> ServiceResult<Actor> {
        let wanted = org_header
            .map(|h| {
                h.trim().parse::<OrgId>().map_err(|_| {
                    ServiceError::BadRequest(
                        "x-organization-id must be an organization id (UUID)".into(),
                    )
                })
            })
            .transpose()?;
        let bound = self.bound_org;
        let chosen = match (bound, wanted) {
            (Some(b), Some(w)) if b != w => {
                return Err(ServiceError::OrgMismatch(if self.key.is_some() {
                    "this API key is bound to another organization"
                } else {
                    "this Entra ID token acts only in the organization of its tenant, not in the one named"
                }));
            }
            (Some(b), _) => Some(b),
            (None, w) => w,
        };
        let membership = match chosen {
            Some(org) => self
                .memberships
                .iter()
                .find(|m| m.org == org)
                .ok_or(ServiceError::NotAMember)?,
            None => match self.memberships.as_slice() {
                [] => return Err(ServiceError::NoMembership),
                [only] => only,
                _ => return Err(ServiceError::AmbiguousOrg),
            },
        };
        Ok(self.actor_in(membership))
    }

    /// Whether the credential can act in one organization only: a bound API key, or an
    /// Entra ID token (bound to the organization onboarded for its tenant).
    pub(crate) fn is_bound(&self) -> bool {
        self.bound_org.is_some()
    }

    /// The caller as a member of `org` with `role`, for the audit entries of joining it.
    pub(crate) fn actor_joining(&self, org: OrgId, role: Role) -> Actor {
        self.actor_in(&Membership {
            org,
            user: self.user.id,
            role,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        })
    }

    /// The caller acting through one of its memberships.
    fn actor_in(&self, membership: &Membership) -> Actor {
        // A key may lower its user's role, never raise it.
        let ceiling = self
            .key
            .as_ref()
            .and_then(|k| k.role)
            .unwrap_or(Role::SuperAdmin);
        let role = membership.role.min(ceiling);
        let principal = Principal::User {
            id: self.user.id,
            email: self.user.email.clone(),
            oid: self.user.entra_oid.clone(),
        };
        // A session (a local sign-in, an Entra ID token) is an interactive sign-in, so its
        // identity counts as verified; an API key's only once its owner entered an emailed
        // code (`identity_verification.rs`).
        let verified = self.key.is_none() || self.key_verified;
        Actor::authenticated(principal, membership.org, role, self.channel, verified)
            .with_client(self.client.clone())
    }

    /// One audit draft per organization of the caller, for changes to the account itself.
    fn account_audits(
        &self,
        before: &Value,
        after: &Value,
        now: Timestamp,
    ) -> Vec<(OrgId, AuditDraft)> {
        self.memberships
            .iter()
            .map(|m| {
                let draft = AuditDraft::new(
                    &self.actor_in(m),
                    AuditAction::Update,
                    "user",
                    self.user.id,
                    now,
                )
                .with_changes(Some(before), Some(after), &["passwordHash"]);
                (m.org, draft)
            })
            .collect()
    }
}

impl Service {
    /// Email and password sign-in. Every failure gives the same answer after the same work.
    pub async fn login(&self, email: &str, password: &str) -> ServiceResult<LoginToken> {
        let user = self.check_password(email, password).await?;
        self.issue_token(&user)
    }

    /// The account `email` names when `password` is its password. Every failure gives the
    /// same answer after the same work (an unknown address is checked against a dummy hash).
    pub(crate) async fn check_password(&self, email: &str, password: &str) -> ServiceResult<User> {
        if password.len() > MAX_PASSWORD_LEN {
            return Err(ServiceError::Unauthorized(BAD_LOGIN));
        }
        let user = match Email::parse(email) {
            Ok(email) => {
                let mut tx = self.store.identity(Mode::Read).await?;
                tx.user_by_email(&email).await?
            }
            Err(_) => None,
        };
        let hash = user
            .as_ref()
            .and_then(|u| u.password_hash.clone())
            .unwrap_or_else(|| self.auth.dummy_hash.clone());
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(|e| ServiceError::Internal(e.into()))?;
        match user {
            Some(user) if matches && user.password_hash.is_some() => Ok(user),
            _ => Err(ServiceError::Unauthorized(BAD_LOGIN)),
        }
    }

    fn issue_token(&self, user: &User) -> ServiceResult<LoginToken> {
        let now = self.clock.now();
        let expires_at = now.plus_seconds(self.auth.ttl_secs);
        let claims = SessionClaims {
            sub: user.id.to_string(),
            typ: LOCAL_TOKEN_TYPE.into(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now.millis() / 1000,
            exp: expires_at.millis() / 1000,
            iat_ms: now.millis(),
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.auth.encoding)
                .map_err(|e| ServiceError::Internal(e.into()))?;
        Ok(LoginToken {
            token,
            token_type: BearerType::Bearer,
            expires_at,
        })
    }

    /// Verifies a credential and loads the caller's memberships.
    pub async fn identify(&self, credential: Credential) -> ServiceResult<Identity> {
        match credential {
            // The header only picks which verifier runs (tater_bearer documents why neither
            // kind can pass as the other).
            Credential::Bearer(token) => match tater_bearer::classify(&token) {
                Some(BearerKind::Session) => self.identify_session(&token).await,
                Some(BearerKind::Entra) => self.identify_entra(&token).await,
                None => Err(ServiceError::Unauthorized(BAD_TOKEN)),
            },
            Credential::ApiKey(key) => self.identify_api_key(&key).await,
        }
    }

    /// [`Service::identify`], then [`Identity::actor`].
    pub async fn authenticate(
        &self,
        credential: Credential,
        org_header: Option<&str>,
    ) -> ServiceResult<Actor> {
        match credential {
            Credential::ApiKey(key) if key.starts_with(AGENT_CREDENTIAL_PREFIX) => {
                self.authenticate_agent(&key, org_header).await
            }
            other => self.identify(other).await?.actor(org_header),
        }
    }

    /// An endpoint agent's credential: the endpoint acts in its own organization only, with
    /// the `Agent` role, through the `agent` channel.
    async fn authenticate_agent(
        &self,
        credential: &str,
        org_header: Option<&str>,
    ) -> ServiceResult<Actor> {
        if !is_well_formed(AGENT_CREDENTIAL_PREFIX, credential) {
            return Err(ServiceError::Unauthorized(BAD_KEY));
        }
        let mut tx = self.store.identity(Mode::Read).await?;
        let endpoint = tx
            .endpoint_by_credential(&hash_api_key(credential))
            .await?
            .ok_or(ServiceError::Unauthorized(BAD_KEY))?;
        // A terminated organization's agents are refused here, before their contact is
        // recorded: a heartbeat opens no tenant data for the store to refuse.
        crate::termination::ensure_open(&mut *tx, endpoint.org).await?;
        end_read(tx);
        if let Some(h) = org_header
            && h.trim().parse::<OrgId>().ok() != Some(endpoint.org)
        {
            return Err(ServiceError::OrgMismatch(
                "this endpoint's credential belongs to another organization",
            ));
        }
        let now = self.clock.now();
        if endpoint
            .last_seen_at
            .is_none_or(|t| t.plus_seconds(KEY_TOUCH_INTERVAL_SECS) <= now)
        {
            let touched = async {
                let mut tx = self.store.identity(Mode::Write).await?;
                tx.touch_endpoint(endpoint.org, endpoint.id, now).await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = touched {
                tracing::warn!(endpoint = %endpoint.id, error = %e, "could not record endpoint contact");
            }
        }
        Ok(endpoint_actor(&endpoint))
    }

    async fn identify_session(&self, token: &str) -> ServiceResult<Identity> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the service clock below, not the library's.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        let claims = jsonwebtoken::decode::<SessionClaims>(token, &self.auth.decoding, &validation)
            .map_err(|_| ServiceError::Unauthorized(BAD_TOKEN))?
            .claims;
        let now = self.clock.now();
        if claims.typ != LOCAL_TOKEN_TYPE || claims.exp.saturating_mul(1000) <= now.millis() {
            return Err(ServiceError::Unauthorized(BAD_TOKEN));
        }
        let user_id = claims
            .sub
            .parse()
            .map_err(|_| ServiceError::Unauthorized(BAD_TOKEN))?;
        let mut tx = self.store.identity(Mode::Read).await?;
        let (user, memberships) = tx
            .user_identity(user_id)
            .await?
            .ok_or(ServiceError::Unauthorized(BAD_TOKEN))?;
        end_read(tx);
        if claims.iat_ms < user.tokens_valid_after.millis() {
            return Err(ServiceError::Unauthorized(BAD_TOKEN));
        }
        Ok(Identity::interactive(user, memberships))
    }

    async fn identify_api_key(&self, key: &str) -> ServiceResult<Identity> {
        if !is_well_formed_api_key(key) {
            return Err(ServiceError::Unauthorized(BAD_KEY));
        }
        let now = self.clock.now();
        // One query for key, user and memberships: this runs on every API-key request.
        let mut tx = self.store.identity(Mode::Read).await?;
        let (stored, user, memberships) = tx
            .api_key_identity(&hash_api_key(key))
            .await?
            .ok_or(ServiceError::Unauthorized(BAD_KEY))?;
        end_read(tx);
        let expired = stored.expires_at.is_some_and(|e| e <= now);
        if stored.revoked_at.is_some() || expired {
            return Err(ServiceError::Unauthorized(BAD_KEY));
        }
        let stale = stored
            .last_used_at
            .is_none_or(|t| t.plus_seconds(KEY_TOUCH_INTERVAL_SECS) <= now);
        if stale {
            self.touch_api_key(&stored, now).await;
        }
        Ok(Identity {
            key_verified: stored.is_verified(now, user.tokens_valid_after),
            client: None,
            user,
            memberships,
            channel: Channel::Api,
            bound_org: stored.org,
            key: Some(stored),
        })
    }

    /// Best effort: a failure to record the last use must not fail the request.
    async fn touch_api_key(&self, key: &ApiKey, now: Timestamp) {
        let result = async {
            let mut tx = self.store.identity(Mode::Write).await?;
            tx.touch_api_key(key.id, now).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(key_id = %key.id, error = %e, "could not record API key use");
        }
    }

    /// An Entra ID access token: verified, then (`tid`, `oid`) mapped to a member of the
    /// organization onboarded for `tid`. First sign-in rule: when no user carries this `oid`
    /// and the token's `upn` is an address that organization invited (or a member it added
    /// before invitations needed consent) with no password and no Entra link yet, that
    /// address's account is created or linked to the `oid` once, and the invitation accepted;
    /// from then on only the `oid` counts.
    async fn identify_entra(&self, token: &str) -> ServiceResult<Identity> {
        let Some(verifier) = &self.auth.entra else {
            return Err(ServiceError::Unauthorized(BAD_TOKEN));
        };
        let refuse = |reason: &dyn std::fmt::Display| {
            tracing::info!(%reason, "Entra ID token refused");
            ServiceError::Unauthorized(BAD_TOKEN)
        };
        let claims = verifier
            .verify(
                token,
                self.clock.now().millis() / 1000,
                crate::entra::TokenUse::Access,
                verifier.access_audiences(),
            )
            .await
            .map_err(|r| refuse(&r))?;
        self.entra_identity(&claims)
            .await?
            .ok_or_else(|| refuse(&"not a member of the organization onboarded for its tenant"))
    }

    /// The person verified Entra ID claims name, bound to the organization onboarded for
    /// their tenant (the first-sign-in rule of [`Service::identify_entra`] included); `None`
    /// when the tenant is not onboarded or the person is not its member.
    pub(crate) async fn entra_identity(
        &self,
        claims: &crate::entra::EntraClaims,
    ) -> ServiceResult<Option<Identity>> {
        // One query on the hot path: the org for tid, the member for oid, its memberships.
        let mut tx = self.store.identity(Mode::Read).await?;
        let found = tx.entra_identity(&claims.tid, &claims.oid).await?;
        end_read(tx);
        if let Some((org, user, memberships)) = found {
            return Ok(Some(Identity {
                user,
                memberships,
                channel: Channel::Web,
                bound_org: Some(org),
                key: None,
                key_verified: false,
                client: None,
            }));
        }
        let mut tx = self.store.identity(Mode::Read).await?;
        let org = tx.org_by_entra_tenant(&claims.tid).await?;
        drop(tx);
        match org {
            Some(org) => self.link_entra_user(org.id, claims).await,
            None => Ok(None),
        }
    }

    /// The first sign-in described on [`Service::identify_entra`]: an address invited into
    /// the tenant's organization signs in through Entra ID for the first time. An account
    /// that exists without any way to sign in (invited before invitations needed consent) is
    /// linked to the `oid`; an address without an account gets one. Either way, signing in is
    /// the acceptance of the organization's pending invitation, audited there.
    async fn link_entra_user(
        &self,
        org: OrgId,
        claims: &crate::entra::EntraClaims,
    ) -> ServiceResult<Option<Identity>> {
        // The address names which invitation of the tenant's own organization this sign-in
        // accepts, nothing more: the account can act only through tokens bound to that
        // organization, which cannot answer other organizations' invitations.
        let Some(email) = claims
            .upn
            .as_deref()
            .or(claims.preferred_username.as_deref())
            .and_then(|e| Email::parse(e).ok())
        else {
            return Ok(None);
        };
        let now = self.clock.now();
        let mut tx = self.store.identity(Mode::Write).await?;
        let invitation = tx
            .invitations_for(&email)
            .await?
            .into_iter()
            .map(|(i, _)| i)
            .find(|i| i.org == org && i.is_open(now));
        let (user, created) = match tx.user_by_email(&email).await? {
            // An account that signs in some other way accepts invitations itself.
            Some(u) if u.entra_oid.is_some() || u.password_hash.is_some() => return Ok(None),
            Some(u) => (u, false),
            None if invitation.is_some() => (
                User {
                    id: tater_domain::UserId::generate(),
                    email: email.clone(),
                    display_name: None,
                    password_hash: None,
                    entra_oid: None,
                    tokens_valid_after: Timestamp::from_millis(0),
                    created_at: now,
                    updated_at: now,
                },
                true,
            ),
            None => return Ok(None),
        };
        let mut memberships = tx.memberships_of(user.id).await?;
        let joining = match (memberships.iter().any(|m| m.org == org), &invitation) {
            (true, _) => None,
            (false, Some(i)) => Some(Membership {
                org,
                user: user.id,
                role: i.role,
                created_at: now,
                updated_at: now,
            }),
            (false, None) => return Ok(None),
        };
        memberships.extend(joining.clone());
        let identity = Identity {
            user: User {
                entra_oid: Some(claims.oid.clone()),
                updated_at: now,
                ..user
            },
            memberships,
            channel: Channel::Web,
            bound_org: Some(org),
            key: None,
            key_verified: false,
            client: None,
        };
        let Some(here) = identity.memberships.iter().find(|m| m.org == org) else {
            return Ok(None);
        };
        let actor = identity.actor_in(here);
        let after = json!({ "email": identity.user.email, "entraOid": claims.oid });
        if created {
            let audit = AuditDraft::new(&actor, AuditAction::Create, "user", identity.user.id, now)
                .with_changes(None, Some(&after), &[]);
            tx.insert_user(&identity.user, &[(org, audit)]).await?;
        } else {
            let audit = AuditDraft::new(&actor, AuditAction::Update, "user", identity.user.id, now)
                .with_changes(
                    Some(&json!({ "entraOid": null })),
                    Some(&json!({ "entraOid": claims.oid })),
                    &[],
                );
            tx.update_user(&identity.user, &[(org, audit)]).await?;
        }
        if let (Some(m), Some(i)) = (&joining, &invitation) {
            crate::invitations::accept_in(&mut *tx, &actor, i, m, now).await?;
        }
        tx.commit().await?;
        tracing::info!(user = %identity.user.id, created, "first Entra ID sign-in of an invited address");
        Ok(Some(identity))
    }

    /// Signs the caller out everywhere: every session token issued before now stops working.
    pub async fn logout_everywhere(&self, identity: &Identity) -> ServiceResult<()> {
        let now = self.clock.now();
        let user = User {
            tokens_valid_after: now,
            updated_at: now,
            ..identity.user.clone()
        };
        let before = json!({ "tokensValidAfter": identity.user.tokens_valid_after });
        let after = json!({ "tokensValidAfter": now });
        let mut tx = self.store.identity(Mode::Write).await?;
        tx.update_user(&user, &identity.account_audits(&before, &after, now))
            .await?;
        // Browser sessions end too (they would fail the tokens_valid_after check anyway).
        tx.delete_web_sessions_of(user.id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the caller's own password after checking the current one; earlier sessions end
    /// and a fresh token is returned.
    pub async fn change_password(
        &self,
        identity: &Identity,
        current: &str,
        new: &str,
    ) -> ServiceResult<LoginToken> {
        let Some(hash) = identity.user.password_hash.clone() else {
            return Err(ValidationErrors::single(
                "currentPassword",
                "this account signs in through Entra ID and has no password",
            )
            .into());
        };
        let current = current.to_owned();
        let matches = tokio::task::spawn_blocking(move || {
            current.len() <= MAX_PASSWORD_LEN && verify_password(&current, &hash)
        })
        .await
        .map_err(|e| ServiceError::Internal(e.into()))?;
        if !matches {
            return Err(ValidationErrors::single(
                "currentPassword",
                "is not your current password",
            )
            .into());
        }
        let new_hash = crate::admin::hash_in_background(new)
            .await
            .map_err(|e| match e {
                ServiceError::Validation(_) => ValidationErrors::single(
                    "newPassword",
                    format!("must be {MIN_PASSWORD_LEN} to 1024 characters"),
                )
                .into(),
                other => other,
            })?;
        let now = self.clock.now();
        let user = User {
            password_hash: Some(new_hash),
            tokens_valid_after: now,
            updated_at: now,
            ..identity.user.clone()
        };
        let before = json!({ "passwordHash": identity.user.password_hash });
        let after = json!({ "passwordHash": user.password_hash });
        let mut tx = self.store.identity(Mode::Write).await?;
        tx.update_user(&user, &identity.account_audits(&before, &after, now))
            .await?;
        tx.commit().await?;
        self.issue_token(&user)
    }

    /// The caller's account and memberships, for `GET /api/me`.
    pub async fn me(&self, identity: &Identity, active: Option<&Actor>) -> ServiceResult<MeView> {
        let mut tx = self.store.identity(Mode::Read).await?;
        let mut memberships = Vec::new();
        for m in identity.memberships() {
            let org = tx.org(m.org).await?;
            memberships.push(MembershipView {
                org_id: m.org,
                terminated: org.as_ref().is_some_and(|o| o.termination.is_some()),
                org_name: org.map(|o| o.name).unwrap_or_default(),
                role: m.role,
            });
        }
        let user = identity.user();
        Ok(MeView {
            user: UserView {
                id: user.id,
                email: user.email.clone(),
                display_name: user.display_name.clone(),
            },
            via: identity.channel,
            api_key: identity.key.as_ref().map(|k| KeyRef {
                id: k.id,
                prefix: k.prefix.clone(),
                org_id: k.org,
                role: k.role,
            }),
            active_organization: active.map(|a| ActiveOrganization {
                id: a.org(),
                role: a.role(),
            }),
            memberships,
        })
    }
}
