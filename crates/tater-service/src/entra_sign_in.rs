//! "Sign in with Microsoft" for the web application: the OpenID Connect authorization-code
//! flow with PKCE, run by the server as a confidential client.
//!
//! 1. [`Service::entra_sign_in_start`] makes a fresh `state`, `nonce` and PKCE verifier and
//!    sends the browser to Entra ID's authorize endpoint. The three values travel with the
//!    browser in a short-lived cookie signed under a key of its own (`sign_in_flows`), so any
//!    replica can finish the flow and nothing is stored for sign-ins never finished.
//! 2. [`Service::entra_sign_in_finish`] checks that the `state` Entra ID sent back is the one
//!    in the cookie (a sign-in started by someone else's browser is refused), redeems the code
//!    at the token endpoint with the client secret and the PKCE verifier, verifies the id token
//!    with the same JWKS code as bearer tokens (audience: this client id; nonce: the cookie's),
//!    and maps (`tid`, `oid`) to a member exactly as for bearer tokens. The web session it
//!    starts acts only in the organization onboarded for that tenant.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::entra::{TokenUse, read_bounded, require_https_or_loopback};
use crate::error::{ServiceError, ServiceResult};
use crate::secrets::generate_secret;
use crate::{NewWebSession, Service};

/// Entra ID's public cloud, where the authorize and token endpoints live by default.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Work and school accounts of any tenant; onboarding decides which tenants get in.
pub const DEFAULT_SIGN_IN_TENANT: &str = "organizations";
/// The path Entra ID sends the browser back to, under the public URL.
pub const CALLBACK_PATH: &str = "/app/sign-in/entra/callback";
/// How long a sign-in may take between leaving for Entra ID and coming back.
pub const FLOW_TTL_SECS: i64 = 600;

const FLOW_AUDIENCE: &str = "tater-entra-sign-in";
/// A token endpoint answer larger than this is refused.
const MAX_TOKEN_ANSWER_BYTES: usize = 64 * 1024;
const SIGN_IN_FAILED: &str = "signing in with Microsoft did not complete: start again";
const NOT_A_MEMBER: &str = "this Microsoft account is not a member of an organization here: ask an administrator of your organization to invite you";

/// How the server signs people in through Entra ID.
#[derive(Clone)]
pub struct EntraSignInConfig {
    /// The application (client) id of Tater's app registration.
    pub client_id: String,
    /// Its client secret (from `TATER_ENTRA_CLIENT_SECRET` only, never a flag).
    pub client_secret: String,
    /// `https://login.microsoftonline.com`, or a stand-in's address in tests.
    pub authority: String,
    /// The tenant segment of the endpoints: `organizations`, or one tenant id for an app
    /// registered in a single tenant.
    pub tenant: String,
    /// The public URL's callback (`--public-url` + [`CALLBACK_PATH`]), registered with Entra ID.
    pub redirect_uri: String,
}

impl std::fmt::Debug for EntraSignInConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraSignInConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("authority", &self.authority)
            .field("tenant", &self.tenant)
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

impl EntraSignInConfig {
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.client_id.trim().is_empty(),
            "--entra-client-id is empty"
        );
        anyhow::ensure!(
            !self.client_secret.is_empty(),
            "Entra ID sign-in needs TATER_ENTRA_CLIENT_SECRET"
        );
        anyhow::ensure!(
            !self.tenant.is_empty()
                && self
                    .tenant
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
            "the Entra ID sign-in tenant must be `organizations`, `common` or a tenant id"
        );
        require_https_or_loopback(&self.authority, "TATER_ENTRA_AUTHORITY")?;
        let redirect = url::Url::parse(&self.redirect_uri)
            .map_err(|e| anyhow::anyhow!("the Entra ID redirect URI: {e}"))?;
        anyhow::ensure!(
            matches!(redirect.scheme(), "https" | "http"),
            "the Entra ID redirect URI must be http(s)"
        );
        Ok(())
    }

    fn endpoint(&self, name: &str) -> String {
        format!(
            "{}/{}/oauth2/v2.0/{name}",
            self.authority.trim_end_matches('/'),
            self.tenant
        )
    }
}

/// The configured flow and the client that redeems codes.
pub(crate) struct EntraSignIn {
    config: EntraSignInConfig,
    client: reqwest::Client,
}

impl EntraSignIn {
    pub(crate) fn new(config: EntraSignInConfig) -> anyhow::Result<Self> {
        config.validate()?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { config, client })
    }
}

/// The browser's part of a sign-in in progress, signed.
#[derive(Serialize, Deserialize)]
struct FlowClaims {
    aud: String,
    state: String,
    nonce: String,
    verifier: String,
    exp: i64,
}

/// Where to send the browser, and the signed value its cookie keeps until it comes back.
pub struct EntraRedirect {
    pub location: String,
    pub flow: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    error: Option<String>,
}

/// A PKCE verifier (43 URL-safe characters from 256 random bits) and its S256 challenge.
fn pkce_pair() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Service {
    /// Whether "Sign in with Microsoft" is configured.
    pub fn entra_sign_in_enabled(&self) -> bool {
        self.auth.entra_sign_in.is_some()
    }

    fn sign_in_flow(&self) -> ServiceResult<&EntraSignIn> {
        self.auth
            .entra_sign_in
            .as_ref()
            .ok_or(ServiceError::NotFound)
    }

    /// Starts a sign-in: the authorize URL and the flow the browser keeps meanwhile.
    pub fn entra_sign_in_start(&self) -> ServiceResult<EntraRedirect> {
        let flow = self.sign_in_flow()?;
        let (verifier, challenge) = pkce_pair();
        let claims = FlowClaims {
            aud: FLOW_AUDIENCE.into(),
            state: generate_secret(""),
            nonce: generate_secret(""),
            verifier,
            exp: self.clock.now().plus_seconds(FLOW_TTL_SECS).millis() / 1000,
        };
        let mut url = url::Url::parse(&flow.config.endpoint("authorize"))
            .map_err(|e| ServiceError::Internal(e.into()))?;
        url.query_pairs_mut()
            .append_pair("client_id", &flow.config.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &flow.config.redirect_uri)
            .append_pair("response_mode", "query")
            .append_pair("scope", "openid profile email")
            .append_pair("state", &claims.state)
            .append_pair("nonce", &claims.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let signed = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.auth.sign_in_flows.encoding,
        )
        .map_err(|e| ServiceError::Internal(e.into()))?;
        Ok(EntraRedirect {
            location: url.into(),
            flow: signed,
        })
    }

    /// Finishes a sign-in Entra ID sent back with `code` and `state`; `flow` is the value the
    /// browser kept. A new web session, bound to the tenant's organization.
    pub async fn entra_sign_in_finish(
        &self,
        flow: &str,
        state: &str,
        code: &str,
    ) -> ServiceResult<NewWebSession> {
        let sign_in = self.sign_in_flow()?;
        let failed = |reason: &dyn std::fmt::Display| {
            tracing::info!(%reason, "Entra ID sign-in refused");
            ServiceError::Unauthorized(SIGN_IN_FAILED)
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[FLOW_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        // Expiry against the service clock, below.
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<FlowClaims>(
            flow,
            &self.auth.sign_in_flows.decoding,
            &validation,
        )
        .map_err(|e| failed(&e))?
        .claims;
        let now_secs = self.clock.now().millis() / 1000;
        if claims.exp <= now_secs {
            return Err(failed(&"the sign-in took too long"));
        }
        if !same(&claims.state, state) {
            return Err(failed(&"state does not match this browser's sign-in"));
        }
        let id_token = self
            .redeem_code(sign_in, code, &claims.verifier)
            .await
            .map_err(|e| failed(&e))?;
        let verifier = self
            .auth
            .entra
            .as_ref()
            .ok_or_else(|| failed(&"no JWKS configured"))?;
        let audiences = [sign_in.config.client_id.clone()];
        let person = verifier
            .verify(&id_token, now_secs, TokenUse::SignIn, &audiences)
            .await
            .map_err(|r| failed(&r))?;
        if !person
            .nonce
            .as_deref()
            .is_some_and(|n| same(n, &claims.nonce))
        {
            return Err(failed(&"the id token's nonce is not this sign-in's"));
        }
        let identity = self
            .entra_identity(&person)
            .await?
            .ok_or(ServiceError::Unauthorized(NOT_A_MEMBER))?;
        let org = identity
            .bound_org()
            .ok_or_else(|| failed(&"no organization"))?;
        self.start_web_session(identity.user().id, Some(org)).await
    }

    /// Trades the authorization code for the id token (client secret and PKCE verifier).
    async fn redeem_code(
        &self,
        sign_in: &EntraSignIn,
        code: &str,
        verifier: &str,
    ) -> Result<String, String> {
        let config = &sign_in.config;
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
            ("code", code),
            ("redirect_uri", config.redirect_uri.as_str()),
            ("code_verifier", verifier),
            ("scope", "openid profile email"),
        ];
        let res = sign_in
            .client
            .post(config.endpoint("token"))
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("token endpoint unreachable: {e}"))?;
        let status = res.status();
        let body = read_bounded(res, MAX_TOKEN_ANSWER_BYTES).await?;
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| format!("token endpoint answered {status} with no JSON"))?;
        match (status.is_success(), answer.id_token, answer.error) {
            (true, Some(token), _) => Ok(token),
            (_, _, Some(error)) => Err(format!(
                "token endpoint refused the code: {}",
                error.chars().take(64).collect::<String>()
            )),
            _ => Err(format!(
                "token endpoint answered {status} without an id token"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_s256_of_the_verifier() {
        let (verifier, challenge) = pkce_pair();
        assert_eq!(verifier.len(), 43);
        assert!(
            verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(
            challenge,
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
        );
        assert_ne!(pkce_pair().0, verifier);
    }

    #[test]
    fn configuration_is_checked() {
        let good = EntraSignInConfig {
            client_id: "00000000-1111-2222-3333-444444444444".into(),
            client_secret: "s3cret".into(),
            authority: DEFAULT_AUTHORITY.into(),
            tenant: DEFAULT_SIGN_IN_TENANT.into(),
            redirect_uri: format!("https://tater.example.com{CALLBACK_PATH}"),
        };
        assert!(good.validate().is_ok());
        assert_eq!(
            good.endpoint("token"),
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
        );
        let bad = |change: fn(&mut EntraSignInConfig)| {
            let mut c = good.clone();
            change(&mut c);
            c.validate().is_err()
        };
        assert!(bad(|c| c.client_secret.clear()));
        assert!(bad(|c| c.authority = "http://login.example.com".into()));
        assert!(bad(|c| c.tenant = "../evil".into()));
        assert!(bad(|c| c.redirect_uri = "javascript:alert(1)".into()));
        assert!(!format!("{good:?}").contains("s3cret"));
    }
}
