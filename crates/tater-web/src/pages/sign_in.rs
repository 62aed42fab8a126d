//! Signing in and out, and choosing the organization to work in.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::error::{PageError, PageResult};
use crate::session::{
    Posted, SESSION_COOKIE, SIGN_IN_COOKIE, cleared_cookie, cleared_sign_in_cookie, cookie,
    same_origin, session_cookie, sign_in_cookie,
};
use crate::{APP_PATH, SIGN_IN_PATH, Web};
use tater_service::SignInToken;

const FORM_MAX_BYTES: usize = 8 * 1024;
/// Where "Sign in with Microsoft" starts (a plain link, so `form-action 'self'` stays).
pub const ENTRA_START_PATH: &str = crate::ENTRA_SIGN_IN_PREFIX;
/// Keeps the signed state, nonce and PKCE verifier of a sign-in while the browser is at
/// Entra ID. `SameSite=Lax` still sends it on Entra ID's top-level redirect back.
const FLOW_COOKIE: &str = "__Host-tater_entra";

#[derive(Template, WebTemplate)]
#[template(path = "sign_in.html")]
struct SignInPage {
    version: &'static str,
    engine: &'static str,
    demo_email: Option<String>,
    email: String,
    error: Option<String>,
    /// Reached over plain HTTP from another machine: the browser will not keep the cookie.
    needs_tls: bool,
    /// "Sign in with Microsoft" is configured.
    entra: bool,
    /// The form's login-CSRF token, also in the browser's `SIGN_IN_COOKIE`.
    token: String,
}

impl SignInPage {
    fn new(
        web: &Web,
        headers: &HeaderMap,
        email: String,
        error: Option<String>,
        token: String,
    ) -> Self {
        Self {
            version: web.info.version,
            engine: web.info.engine,
            demo_email: web.info.demo_email.clone(),
            email,
            error,
            needs_tls: needs_tls(web, headers),
            entra: web.service.entra_sign_in_enabled(),
            token,
        }
    }

    /// The page, giving the browser the form's token when it did not hold it already.
    fn with_token_cookie(self, status: StatusCode, new_token: bool) -> Response {
        let cookie = new_token.then(|| sign_in_cookie(&self.token)).flatten();
        let mut res = (status, self).into_response();
        if let Some(cookie) = cookie {
            res.headers_mut().append(header::SET_COOKIE, cookie);
        }
        res
    }
}

/// The sign-in token the browser holds, or a new one (`true`) to give it: kept across
/// pages, so a second tab's form does not make the first one's stale.
fn sign_in_token(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, SIGN_IN_COOKIE).filter(|t| SignInToken::is_well_formed(t)) {
        Some(held) => (held.to_owned(), false),
        None => (SignInToken::generate(), true),
    }
}

/// Browsers keep `Secure` cookies only over HTTPS or on loopback. Tater serves plain HTTP
/// (TLS belongs in front of it), so a page reached by another address over HTTP cannot sign
/// in — unless `--public-url` says HTTPS is in front.
fn needs_tls(web: &Web, headers: &HeaderMap) -> bool {
    if web
        .info
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
    {
        return false;
    }
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let loopback = name == "localhost"
        || name.ends_with(".localhost")
        || name == "[::1]"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    !(loopback || forwarded_https)
}

/// The sign-in page (a signed-in browser goes straight to the dashboard).
pub async fn form(State(web): State<Web>, headers: HeaderMap) -> Response {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE)
        && web.service.web_session(secret, true).await.is_ok()
    {
        return Redirect::to(APP_PATH).into_response();
    }
    let (token, new_token) = sign_in_token(&headers);
    SignInPage::new(&web, &headers, String::new(), None, token)
        .with_token_cookie(StatusCode::OK, new_token)
}

#[derive(Deserialize)]
pub struct Credentials {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    /// The form's login-CSRF token.
    #[serde(rename = "_signin", default)]
    token: String,
}

/// Checks the email and password; on success starts a session and goes to the dashboard.
pub async fn submit(State(web): State<Web>, req: Request) -> PageResult<Response> {
    let (parts, body) = req.into_parts();
    // Login CSRF: only this origin's own sign-in form may sign a browser in.
    same_origin(&parts.headers, &web)?;
    let bytes = axum::body::to_bytes(body, FORM_MAX_BYTES)
        .await
        .map_err(|_| PageError::bad_request("The form is larger than this server accepts."))?;
    let sent: Credentials = serde_html_form::from_bytes(&bytes)
        .map_err(|_| PageError::bad_request("Send an email address and a password."))?;
    // Before the password is looked at: a post without the browser's own token is refused
    // whatever it holds, and the form comes back with a token that works.
    if !SignInToken::matches(cookie(&parts.headers, SIGN_IN_COOKIE), &sent.token) {
        let (token, new_token) = sign_in_token(&parts.headers);
        let message = "This sign-in form was out of date or sent from another site. Sign in again.";
        let page = SignInPage::new(
            &web,
            &parts.headers,
            sent.email,
            Some(message.into()),
            token,
        );
        return Ok(page.with_token_cookie(StatusCode::FORBIDDEN, new_token));
    }
    match web
        .service
        .web_sign_in(sent.email.trim(), &sent.password)
        .await
    {
        Ok(session) => {
            end_earlier_session(&web, &parts.headers).await;
            let mut res = Redirect::to(APP_PATH).into_response();
            if let Some(cookie) = session_cookie(&session.secret) {
                res.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            // Its work is done; a later sign-in form gets a new one.
            res.headers_mut()
                .append(header::SET_COOKIE, cleared_sign_in_cookie());
            Ok(res)
        }
        Err(tater_service::ServiceError::Unauthorized(_)) => {
            let page = SignInPage::new(
                &web,
                &parts.headers,
                sent.email,
                Some("That email address and password do not match an account.".into()),
                sent.token,
            );
            // The form again with its message, as an ordinary page: a person mistyped.
            Ok(page.into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// A form with nothing but its CSRF token.
#[derive(Deserialize)]
pub struct Empty {}

fn signed_out() -> Response {
    let mut res = Redirect::to(SIGN_IN_PATH).into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, cleared_cookie());
    res
}

/// Ends this browser's session.
pub async fn sign_out(State(web): State<Web>, posted: Posted<Empty>) -> PageResult<Response> {
    web.service.web_sign_out(&posted.signed.caller).await?;
    Ok(signed_out())
}

/// Ends every session and token of the person, everywhere.
pub async fn sign_out_everywhere(
    State(web): State<Web>,
    posted: Posted<Empty>,
) -> PageResult<Response> {
    web.service
        .logout_everywhere(&posted.signed.caller.identity)
        .await?;
    Ok(signed_out())
}

#[derive(Deserialize)]
pub struct OrgForm {
    org: String,
}

/// Switches to another of the person's organizations.
pub async fn choose_org(State(web): State<Web>, posted: Posted<OrgForm>) -> PageResult<Redirect> {
    let org = posted
        .form
        .org
        .parse()
        .map_err(|_| PageError::bad_request("Choose one of your organizations."))?;
    web.service
        .web_choose_org(&posted.signed.caller, org)
        .await?;
    Ok(Redirect::to(APP_PATH))
}

/// Sends the browser to Entra ID, keeping the sign-in's secrets in a short-lived cookie.
pub async fn entra_start(State(web): State<Web>) -> PageResult<Response> {
    let flow = web.service.entra_sign_in_start()?;
    let mut res = Redirect::to(&flow.location).into_response();
    let cookie = HeaderValue::from_str(&format!(
        "{FLOW_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
        flow.flow,
        tater_service::ENTRA_FLOW_TTL_SECS
    ))
    .map_err(|_| PageError::bad_request("could not start signing in"))?;
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(res)
}

/// What Entra ID sends the browser back with.
#[derive(Deserialize)]
pub struct EntraAnswer {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Entra ID's answer: a new session and the dashboard, or the sign-in page saying why not.
pub async fn entra_callback(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(answer): Query<EntraAnswer>,
) -> PageResult<Response> {
    let refused = |message: String| {
        // (Entra ID's redirect back is cross-site: the Strict token cookie is not sent on
        // it, so the form usually gets a new one.)
        let (token, new_token) = sign_in_token(&headers);
        let mut res = SignInPage::new(&web, &headers, String::new(), Some(message), token)
            .with_token_cookie(StatusCode::UNAUTHORIZED, new_token);
        res.headers_mut()
            .append(header::SET_COOKIE, cleared_flow_cookie());
        res
    };
    if let Some(error) = answer.error {
        // Only the error code, and only when it looks like one: the rest is the sender's text.
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_lowercase() || *c == '_')
            .take(40)
            .collect();
        return Ok(refused(format!(
            "Microsoft did not sign you in ({code}). Try again, or sign in with your email and password."
        )));
    }
    let (Some(flow), Some(code), Some(state)) =
        (cookie(&headers, FLOW_COOKIE), answer.code, answer.state)
    else {
        return Ok(refused(
            "That sign-in was not started from this browser, or took too long. Start again.".into(),
        ));
    };
    match web.service.entra_sign_in_finish(flow, &state, &code).await {
        Ok(session) => {
            end_earlier_session(&web, &headers).await;
            let mut res = Redirect::to(APP_PATH).into_response();
            res.headers_mut()
                .append(header::SET_COOKIE, cleared_flow_cookie());
            if let Some(cookie) = session_cookie(&session.secret) {
                res.headers_mut().append(header::SET_COOKIE, cookie);
            }
            // Signed in another way: the sign-in form's token is not needed either.
            res.headers_mut()
                .append(header::SET_COOKIE, cleared_sign_in_cookie());
            Ok(res)
        }
        Err(tater_service::ServiceError::Unauthorized(message)) => {
            let mut message = message.to_owned();
            if let Some(first) = message.get(..1) {
                message = first.to_uppercase() + &message[1..] + ".";
            }
            Ok(refused(message))
        }
        Err(e) => Err(e.into()),
    }
}

/// A browser signing in anew ends the session its cookie named before, on the server too.
async fn end_earlier_session(web: &Web, headers: &HeaderMap) {
    if let Some(secret) = cookie(headers, SESSION_COOKIE)
        && let Err(e) = web.service.end_web_session(secret).await
    {
        tracing::warn!(error = %e, "could not end the browser's earlier session");
    }
}

fn cleared_flow_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-tater_entra=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0",
    )
}
