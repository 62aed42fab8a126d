//! Short-lived download links: a file too large to embed in an MCP tool answer comes back as
//! a link its client can fetch without a credential (an MCP client cannot attach the caller's
//! API key to a `resource_link`).
//!
//! A link is a signed grant for exactly one `GET` path, in one organization, as one caller,
//! for [`LINK_TTL_SECS`]. It is no credential of its own: redeeming it loads the caller again,
//! so revoking the key, removing the member, a password change or "sign out everywhere"
//! ends every link issued before, and the route it names authorizes and audits the download
//! exactly as it would the caller's own request. The signing key is derived from the server
//! secret for this use alone, so a link never verifies as a session token or the reverse.

use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use tater_domain::{Actor, Channel, ClientInfo, Timestamp};
use tater_store::Mode;

use crate::error::{ServiceError, ServiceResult};
use crate::{Identity, Service};

/// How long a download link works: long enough for a client to follow it at once, short
/// enough that one copied into a chat log is soon worthless.
pub const LINK_TTL_SECS: i64 = 300;

const LINK_ISSUER: &str = "tater";
const LINK_AUDIENCE: &str = "tater-download";
const LINK_TYPE: &str = "tater-download-link";
const BAD_LINK: &str = "this download link is not valid or has expired: ask for the file again";
/// Paths a link may name: the API's own routes, nothing else.
const LINK_PATH_PREFIX: &str = "/api/";

#[derive(Serialize, Deserialize)]
struct LinkClaims {
    iss: String,
    aud: String,
    typ: String,
    /// The person the link acts as.
    sub: String,
    /// The API key they called with, if any: its ceiling and revocation still apply.
    kid: Option<String>,
    org: String,
    /// The one path (with its query) the link fetches.
    path: String,
    /// The channel the download is audited through, and the client named there.
    via: String,
    client: Option<(String, String)>,
    iat_ms: i64,
    exp: i64,
}

/// A signed link's token and when it stops working.
pub struct DownloadLink {
    pub token: String,
    pub expires_at: Timestamp,
}

/// What a redeemed link grants: whom to act as, and the path to fetch.
pub struct Redeemed {
    pub actor: Actor,
    pub path: String,
}

impl Service {
    /// Signs a link for `path` as `identity` acting as `actor` (its organization, channel and
    /// client).
    pub fn sign_download(
        &self,
        identity: &Identity,
        actor: &Actor,
        path: &str,
    ) -> ServiceResult<DownloadLink> {
        if !path.starts_with(LINK_PATH_PREFIX) {
            return Err(ServiceError::BadRequest("not a file route".into()));
        }
        let now = self.clock.now();
        let expires_at = now.plus_seconds(LINK_TTL_SECS);
        let claims = LinkClaims {
            iss: LINK_ISSUER.into(),
            aud: LINK_AUDIENCE.into(),
            typ: LINK_TYPE.into(),
            sub: identity.user().id.to_string(),
            kid: identity.api_key().map(|k| k.id.to_string()),
            org: actor.org().to_string(),
            path: path.to_owned(),
            via: actor.channel().as_str().to_owned(),
            client: actor.client().map(|c| (c.name.clone(), c.version.clone())),
            iat_ms: now.millis(),
            exp: expires_at.millis() / 1000,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.auth.links.encoding,
        )
        .map_err(|e| ServiceError::Internal(e.into()))?;
        Ok(DownloadLink { token, expires_at })
    }

    /// Checks a link and loads its caller as they stand now. Every refusal is the same 401.
    pub async fn redeem_download(&self, token: &str) -> ServiceResult<Redeemed> {
        let bad = || ServiceError::Unauthorized(BAD_LINK);
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the service clock below, not the library's.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[LINK_ISSUER]);
        validation.set_audience(&[LINK_AUDIENCE]);
        let claims =
            jsonwebtoken::decode::<LinkClaims>(token, &self.auth.links.decoding, &validation)
                .map_err(|_| bad())?
                .claims;
        let now = self.clock.now();
        if claims.typ != LINK_TYPE
            || claims.exp.saturating_mul(1000) <= now.millis()
            || !claims.path.starts_with(LINK_PATH_PREFIX)
        {
            return Err(bad());
        }
        let user_id = claims.sub.parse().map_err(|_| bad())?;
        let channel: Channel = claims.via.parse().map_err(|_| bad())?;
        let mut tx = self.store.identity(Mode::Read).await?;
        let (user, memberships) = tx.user_identity(user_id).await?.ok_or_else(bad)?;
        let key = match &claims.kid {
            Some(kid) => {
                let id = kid.parse().map_err(|_| bad())?;
                let key = tx.api_key(id).await?.ok_or_else(bad)?;
                let expired = key.expires_at.is_some_and(|e| e <= now);
                if key.user != user.id || key.revoked_at.is_some() || expired {
                    return Err(bad());
                }
                Some(key)
            }
            None => None,
        };
        tx.commit().await?;
        if claims.iat_ms < user.tokens_valid_after.millis() {
            return Err(bad());
        }
        let org = claims.org.parse().map_err(|_| bad())?;
        let identity = Identity::for_link(user, memberships, org, key);
        // Not a member any more (or the key's ceiling): the same answer as a bad link.
        let actor = identity
            .actor(Some(&claims.org))
            .map_err(|_| bad())?
            .through(channel)
            .with_client(claims.client.map(|(n, v)| ClientInfo::new(&n, &v)));
        Ok(Redeemed {
            actor,
            path: claims.path,
        })
    }
}
