//! Microsoft Entra ID access tokens (SPEC A1): RS256 only, keys from the JWKS (cached with their
//! lifetime, refreshed once on an unknown `kid` with a floor between refreshes), audience from
//! the configured list, issuer tied to the token's own `tid`, `exp`/`nbf` with 60 s leeway.
//! Then (`tid`, `oid`) must map to a member of the organization onboarded for that tenant.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tater_domain::{Clock, Timestamp};
use tokio::sync::{Mutex, RwLock};

/// Where Entra ID tokens come from and whom they must be for.
#[derive(Debug, Clone)]
pub struct EntraConfig {
    /// The JWKS document (https, or http to a loopback address for tests).
    pub jwks_url: String,
    /// Accepted `aud` values (the API's application id and/or App ID URI).
    pub audiences: Vec<String>,
    /// Least time between two refreshes caused by unknown key ids.
    pub refresh_floor: Duration,
    /// The web application's "Sign in with Microsoft", when configured.
    pub sign_in: Option<crate::entra_sign_in::EntraSignInConfig>,
}

pub const DEFAULT_JWKS_URL: &str = "https://login.microsoftonline.com/common/discovery/v2.0/keys";
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: i64 = 60;
/// Bounds on how long a fetched key set is trusted without refetching.
const MIN_KEY_LIFETIME: Duration = Duration::from_secs(5 * 60);
const MAX_KEY_LIFETIME: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_KEY_LIFETIME: Duration = Duration::from_secs(3600);
/// A JWKS document larger than this is refused.
const MAX_JWKS_BYTES: usize = 512 * 1024;

impl EntraConfig {
    /// Checks the URL: https, or plain http only to a loopback address.
    pub fn validate(&self) -> anyhow::Result<()> {
        require_https_or_loopback(&self.jwks_url, "TATER_ENTRA_JWKS_URL")?;
        anyhow::ensure!(
            !self.audiences.is_empty() || self.sign_in.is_some(),
            "TATER_ENTRA_AUDIENCES is empty"
        );
        if let Some(sign_in) = &self.sign_in {
            sign_in.validate()?;
        }
        Ok(())
    }
}

/// Entra ID's addresses must be https; plain http is allowed only to a loopback address (the
/// stand-in of tests).
pub(crate) fn require_https_or_loopback(address: &str, name: &str) -> anyhow::Result<()> {
    let url = url::Url::parse(address).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => anyhow::bail!("{name} must be https (http only to a loopback address)"),
    }
}

/// An answer's body, refused once it passes `max` bytes (whatever its Content-Length says),
/// so an identity provider's answer holds a bounded amount of memory.
pub(crate) async fn read_bounded(
    mut res: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, String> {
    if res.content_length().is_some_and(|n| n > max as u64) {
        return Err("answer too large".into());
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > max {
            return Err("answer too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What a token is presented as: an API access token (`Authorization: Bearer`), or the id
/// token of the web application's own sign-in. The two never stand in for each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenUse {
    Access,
    /// An id token issued to this client id, carrying the sign-in's nonce.
    SignIn,
}

/// Why a token was refused, for the log only; clients always get the same 401.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Rejection {
    #[error("token header is not RS256 with a kid")]
    Header,
    #[error("signing key {0} is not in the JWKS")]
    UnknownKey(String),
    #[error("JWKS could not be fetched: {0}")]
    Jwks(String),
    #[error("signature, audience or claims invalid: {0}")]
    Invalid(String),
    #[error("issuer does not match the token's tenant")]
    Issuer,
    #[error("token expired or not yet valid")]
    Time,
    #[error("an id token was presented as an access token, or the reverse")]
    WrongUse,
}

/// The claims Tater reads. `upn` (or, as v2.0 tokens carry it by default,
/// `preferred_username`) is used only for the documented first sign-in into the token's own
/// organization, never to authorize anything else: an account made that way acts only through
/// tokens bound to that organization, and such credentials cannot answer other organizations'
/// invitations.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EntraClaims {
    pub iss: String,
    pub tid: String,
    pub oid: String,
    pub exp: i64,
    pub nbf: Option<i64>,
    pub upn: Option<String>,
    pub preferred_username: Option<String>,
    /// Id tokens carry the nonce their sign-in sent; Entra ID access tokens never do.
    pub nonce: Option<String>,
    /// The delegated scopes of a user's access token; id tokens never carry them.
    pub scp: Option<String>,
}

struct KeySet {
    keys: HashMap<String, DecodingKey>,
    fresh_until: Timestamp,
}

/// The verifier: configuration, HTTP client and the cached keys.
pub(crate) struct EntraVerifier {
    config: EntraConfig,
    client: reqwest::Client,
    keys: RwLock<Option<KeySet>>,
    /// When the keys were last fetched; also serialises fetches (one at a time).
    last_fetch: Mutex<Option<Timestamp>>,
    /// The server's one clock: key freshness and the refresh floor follow it.
    clock: Arc<dyn Clock>,
    /// Tokens that already passed every check, by SHA-256 of the token, so a client reusing its
    /// access token costs no RSA verification. Used only while the key set is fresh, emptied
    /// whenever it is refetched, and times are still checked on every use.
    verified: std::sync::Mutex<HashMap<[u8; 32], EntraClaims>>,
}

/// More verified tokens than this and the cache starts over.
const MAX_VERIFIED: usize = 10_000;

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `max-age` from a Cache-Control header, clamped.
fn key_lifetime(headers: &reqwest::header::HeaderMap) -> Duration {
    let max_age = headers
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .filter_map(|part| part.trim().strip_prefix("max-age="))
                .find_map(|n| n.parse::<u64>().ok())
        });
    max_age
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_KEY_LIFETIME)
        .clamp(MIN_KEY_LIFETIME, MAX_KEY_LIFETIME)
}

impl EntraVerifier {
    /// The audiences API access tokens may carry.
    pub(crate) fn access_audiences(&self) -> &[String] {
        &self.config.audiences
    }

    pub(crate) fn new(config: EntraConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        config.validate()?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            config,
            client,
            keys: RwLock::new(None),
            last_fetch: Mutex::new(None),
            clock,
            verified: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Verifies signature, audience, issuer/tenant and times; returns the claims. An access
    /// token must be for one of the configured audiences and carry no nonce; a sign-in's id
    /// token must be for `audiences` alone (the client id) — the nonce is the caller's check.
    pub(crate) async fn verify(
        &self,
        token: &str,
        now_secs: i64,
        token_use: TokenUse,
        audiences: &[String],
    ) -> Result<EntraClaims, Rejection> {
        if audiences.is_empty() {
            return Err(Rejection::Invalid("no audience is accepted".into()));
        }
        // Verdicts are cached per use, so a token verified as one is never taken as the other.
        let mut hasher = Sha256::new();
        hasher.update([token_use as u8]);
        hasher.update(token.as_bytes());
        let digest: [u8; 32] = hasher.finalize().into();
        let fresh = self
            .keys
            .read()
            .await
            .as_ref()
            .is_some_and(|k| k.fresh_until > self.clock.now());
        let cached = if fresh {
            self.verified
                .lock()
                .ok()
                .and_then(|c| c.get(&digest).cloned())
        } else {
            None
        };
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let claims = self.verify_signature_and_claims(token, audiences).await?;
                if let Ok(mut cache) = self.verified.lock() {
                    if cache.len() >= MAX_VERIFIED {
                        cache.clear();
                    }
                    cache.insert(digest, claims.clone());
                }
                claims
            }
        };
        let expired = claims.exp + LEEWAY_SECS <= now_secs;
        let early = claims.nbf.is_some_and(|nbf| nbf - LEEWAY_SECS > now_secs);
        if expired || early {
            return Err(Rejection::Time);
        }
        // An access token is a person's delegated token: scopes, no nonce. An id token (even
        // one issued without a nonce, to a registration shared with the API) has no scopes.
        let access_shaped =
            claims.scp.as_deref().is_some_and(|s| !s.trim().is_empty()) && claims.nonce.is_none();
        let id_shaped = claims.scp.is_none() && claims.nonce.is_some();
        let fits = match token_use {
            TokenUse::Access => access_shaped,
            TokenUse::SignIn => id_shaped,
        };
        if !fits {
            return Err(Rejection::WrongUse);
        }
        Ok(claims)
    }

    /// Signature, algorithm, audience, issuer/tenant: everything but the times.
    async fn verify_signature_and_claims(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<EntraClaims, Rejection> {
        let kid = tater_bearer::entra_key_id(token).ok_or(Rejection::Header)?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        // Times are checked below against the service clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_audience(audiences);
        let claims = jsonwebtoken::decode::<EntraClaims>(token, &key, &validation)
            .map_err(|e| Rejection::Invalid(e.to_string()))?
            .claims;
        if !is_guid(&claims.tid) || claims.oid.is_empty() || claims.oid.len() > 64 {
            return Err(Rejection::Invalid("tid or oid malformed".into()));
        }
        let v2 = format!("https://login.microsoftonline.com/{}/v2.0", claims.tid);
        let v1 = format!("https://sts.windows.net/{}/", claims.tid);
        if claims.iss != v2 && claims.iss != v1 {
            return Err(Rejection::Issuer);
        }
        Ok(claims)
    }

    /// The key for `kid`: from the cache while fresh; otherwise refetched, at most once per
    /// `refresh_floor` for unknown ids, so a flood of made-up kids cannot hammer the JWKS host.
    async fn key(&self, kid: &str) -> Result<DecodingKey, Rejection> {
        let now = self.clock.now();
        {
            let keys = self.keys.read().await;
            if let Some(set) = keys.as_ref()
                && set.fresh_until > now
                && let Some(k) = set.keys.get(kid)
            {
                return Ok(k.clone());
            }
        }
        let mut last = self.last_fetch.lock().await;
        // Another request may have refreshed while this one waited.
        if let Some(set) = self.keys.read().await.as_ref()
            && set.fresh_until > now
            && let Some(k) = set.keys.get(kid)
        {
            return Ok(k.clone());
        }
        let stale = self
            .keys
            .read()
            .await
            .as_ref()
            .is_none_or(|s| s.fresh_until <= now);
        let floor = i64::try_from(self.config.refresh_floor.as_millis()).unwrap_or(i64::MAX);
        let floor_passed = last.is_none_or(|t| t.plus_millis(floor) <= now);
        if stale || floor_passed {
            *last = Some(now);
            let set = self.fetch(now).await?;
            *self.keys.write().await = Some(set);
            // Verdicts reached under the old keys do not outlive them.
            if let Ok(mut cache) = self.verified.lock() {
                cache.clear();
            }
        }
        self.keys
            .read()
            .await
            .as_ref()
            .and_then(|s| s.keys.get(kid).cloned())
            .ok_or_else(|| Rejection::UnknownKey(kid.chars().take(64).collect()))
    }

    async fn fetch(&self, now: Timestamp) -> Result<KeySet, Rejection> {
        let fail = |e: String| Rejection::Jwks(e);
        let res = self
            .client
            .get(&self.config.jwks_url)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !res.status().is_success() {
            return Err(fail(format!("status {}", res.status())));
        }
        let lifetime = key_lifetime(res.headers());
        let body = read_bounded(res, MAX_JWKS_BYTES).await.map_err(fail)?;
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| fail(e.to_string()))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let usable = matches!(jwk.algorithm, AlgorithmParameters::RSA(_))
                && jwk
                    .common
                    .public_key_use
                    .as_ref()
                    .is_none_or(|u| *u == PublicKeyUse::Signature)
                && jwk
                    .common
                    .key_algorithm
                    .is_none_or(|a| a == KeyAlgorithm::RS256);
            if let (true, Some(kid)) = (usable, jwk.common.key_id.as_ref())
                && let Ok(key) = DecodingKey::from_jwk(jwk)
            {
                keys.insert(kid.clone(), key);
            }
        }
        tracing::info!(keys = keys.len(), "fetched Entra ID signing keys");
        Ok(KeySet {
            keys,
            fresh_until: now.plus_seconds(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_url_must_be_https_or_loopback() {
        let cfg = |url: &str| EntraConfig {
            jwks_url: url.into(),
            audiences: vec!["a".into()],
            refresh_floor: Duration::from_secs(60),
            sign_in: None,
        };
        assert!(cfg(DEFAULT_JWKS_URL).validate().is_ok());
        assert!(cfg("http://127.0.0.1:9/keys").validate().is_ok());
        assert!(cfg("http://[::1]:9/keys").validate().is_ok());
        assert!(cfg("http://login.example.com/keys").validate().is_err());
        assert!(cfg("ftp://127.0.0.1/keys").validate().is_err());
        let mut none = cfg(DEFAULT_JWKS_URL);
        none.audiences.clear();
        assert!(none.validate().is_err());
    }

    #[test]
    fn cache_lifetime_follows_max_age_within_bounds() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(key_lifetime(&h), DEFAULT_KEY_LIFETIME);
        h.insert(
            reqwest::header::CACHE_CONTROL,
            "public, max-age=7200".parse().unwrap(),
        );
        assert_eq!(key_lifetime(&h), Duration::from_secs(7200));
        h.insert(reqwest::header::CACHE_CONTROL, "max-age=1".parse().unwrap());
        assert_eq!(key_lifetime(&h), MIN_KEY_LIFETIME);
    }
}
