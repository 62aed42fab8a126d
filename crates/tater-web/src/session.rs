//! The session cookie, the signed-in extractor and the checks on every posted form.
//!
//! The cookie holds only a random secret (`__Host-` prefix: Secure, `Path=/`, no `Domain`;
//! HttpOnly; SameSite=Lax); the session itself is on the server. A post must come from this
//! origin (`Sec-Fetch-Site`/`Origin`, when the browser sends them) and carry the session's
//! CSRF token as `_csrf`, compared in constant time.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tater_domain::Actor;
use tater_service::WebCaller;

use crate::Web;
use crate::error::PageError;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "__Host-tater_session";
/// Sent by requests a page makes by itself (`hx-headers` on a refreshing section).
pub const BACKGROUND_HEADER: &str = "x-tater-background";
/// The largest form a page posts (the server's body limit is larger, for the API).
const FORM_MAX_BYTES: usize = 64 * 1024;
pub(crate) const STALE_FORM: &str =
    "This form's security token is missing or out of date. Reload the page and try again.";

/// A cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value that keeps `secret` for the browser session.
pub(crate) fn session_cookie(secret: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={secret}; Path=/; Secure; HttpOnly; SameSite=Lax"
    ))
    .ok()
}

/// The cookie holding the sign-in form's token (`tater_service::SignInToken`): `Strict`, so
/// no post another site makes carries it.
pub const SIGN_IN_COOKIE: &str = "__Host-tater_sign_in";

/// The `Set-Cookie` value that gives the browser a sign-in form's token, for as long as the
/// browser runs.
pub(crate) fn sign_in_cookie(token: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{SIGN_IN_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict"
    ))
    .ok()
}

/// The `Set-Cookie` value that makes the browser forget the sign-in form's token.
pub(crate) fn cleared_sign_in_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-tater_sign_in=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
    )
}

/// The `Set-Cookie` value that makes the browser forget the session.
pub(crate) fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-tater_session=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0",
    )
}

/// A signed-in person and the organization they work in.
pub struct Signed {
    pub caller: WebCaller,
    pub actor: Actor,
    /// The page's route template (`/app/poam/{id}`), for the page-view beacon.
    pub page: String,
    /// The browser carries the beacon's opt-out cookie.
    pub beacon_opted_out: bool,
}

impl FromRequestParts<Web> for Signed {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, PageError> {
        // htmx cannot follow a redirect to the sign-in page into its swap (it would swap in
        // nothing): it is told to load that page instead.
        let from_htmx = parts.headers.contains_key("hx-request");
        signed(parts, web).await.map_err(|e| match e {
            PageError::SignIn if from_htmx => PageError::SignInFromScript,
            other => other,
        })
    }
}

/// A request this site's own pages made (or the person typed): required of the GETs that do
/// heavy work in the person's name (exports, downloads, the log check), so a link on another
/// site cannot start them. See [`same_origin`].
pub struct SameOrigin;

impl FromRequestParts<Web> for SameOrigin {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, PageError> {
        same_origin(&parts.headers, web).map(|()| SameOrigin)
    }
}

async fn signed(parts: &mut Parts, web: &Web) -> Result<Signed, PageError> {
    let secret = cookie(&parts.headers, SESSION_COOKIE).ok_or(PageError::SignIn)?;
    // A page's own refresh (htmx polling sends this header on GETs) is not the person's
    // activity; anything else is.
    let background =
        parts.method == axum::http::Method::GET && parts.headers.contains_key(BACKGROUND_HEADER);
    let caller = web.service.web_session(secret, !background).await?;
    let actor = caller.actor()?;
    // The organization's bucket, as for an API call made in it.
    if let Some(limit) = parts.extensions.get::<crate::OrgLimit>() {
        (limit.0)(actor.org())
            .await
            .map_err(|retry_after_secs| PageError::Limited { retry_after_secs })?;
    }
    let page = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    Ok(Signed {
        caller,
        actor,
        page,
        beacon_opted_out: cookie(&parts.headers, "tater_beacon_optout") == Some("1"),
    })
}

/// Refuses a post another site made. Browsers say where a request comes from in
/// `Sec-Fetch-Site`; one too old to send it is judged by `Origin` (sent as `null` under
/// Tater's `no-referrer` policy, so only a named origin is compared). The CSRF token is
/// checked besides, for every signed-in post.
pub(crate) fn same_origin(headers: &HeaderMap, web: &Web) -> Result<(), PageError> {
    let refused = || PageError::forbidden("This form was sent from another site.");
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let sites = headers.get_all("sec-fetch-site");
    if sites.iter().next().is_some() {
        // Every value must say so: a request naming two sites is not from this one.
        let ours = sites
            .iter()
            .all(|v| matches!(v.to_str(), Ok("same-origin" | "none")));
        return if ours { Ok(()) } else { Err(refused()) };
    }
    if let Some(origin) = text(header::ORIGIN).filter(|o| *o != "null") {
        let authority = origin.split_once("://").map(|(_, a)| a).unwrap_or(origin);
        let host = text(header::HOST).unwrap_or_default();
        let public = web
            .info
            .public_url
            .as_deref()
            .map(|u| u.trim_end_matches('/'));
        if authority != host && Some(origin) != public {
            return Err(refused());
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// A form posted from a signed-in page: same origin, the session's CSRF token, then the
/// fields as `T`.
pub struct Posted<T> {
    pub signed: Signed,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<Web> for Posted<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, web: &Web) -> Result<Self, PageError> {
        let (mut parts, body) = req.into_parts();
        same_origin(&parts.headers, web)?;
        let signed = Signed::from_request_parts(&mut parts, web).await?;
        let bytes = axum::body::to_bytes(body, FORM_MAX_BYTES)
            .await
            .map_err(|_| PageError::bad_request("The form is larger than this server accepts."))?;
        let sent: CsrfField =
            serde_html_form::from_bytes(&bytes).map_err(|_| PageError::forbidden(STALE_FORM))?;
        if !signed.caller.csrf_matches(&sent.csrf) {
            return Err(PageError::forbidden(STALE_FORM));
        }
        let form = serde_html_form::from_bytes(&bytes)
            .map_err(|e| PageError::bad_request(&format!("The form is not complete: {e}.")))?;
        Ok(Self { signed, form })
    }
}
