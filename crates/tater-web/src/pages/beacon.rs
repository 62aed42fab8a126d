//! The page-view beacon's receiving end, and the person's switch to stop it.
//!
//! A beacon is dropped, not recorded, when the request says `DNT: 1` or `Sec-GPC: 1` or
//! carries the opt-out cookie — whatever the script did. It must come from this origin with
//! the session's CSRF token, like every post.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::Web;
use crate::error::{PageError, PageResult};
use crate::session::{Posted, Signed, cookie, same_origin};

/// The cookie that switches the beacon off in this browser (readable by the script, so not
/// HttpOnly; it holds no secret).
pub const OPT_OUT_COOKIE: &str = "tater_beacon_optout";
const BEACON_MAX_BYTES: usize = 1024;

/// Whether the browser asked not to be counted.
fn declined(headers: &HeaderMap) -> bool {
    let says = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == "1")
    };
    says("dnt") || says("sec-gpc") || cookie(headers, OPT_OUT_COOKIE) == Some("1")
}

#[derive(Deserialize)]
struct Beacon {
    page: String,
    csrf: String,
}

/// `POST /app/beacon`: 204 whether recorded or dropped (the page cannot tell, and need not).
pub async fn record(State(web): State<Web>, req: Request) -> PageResult<Response> {
    let (mut parts, body) = req.into_parts();
    same_origin(&parts.headers, &web)?;
    if declined(&parts.headers) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let signed =
        <Signed as axum::extract::FromRequestParts<Web>>::from_request_parts(&mut parts, &web)
            .await?;
    let bytes = axum::body::to_bytes(body, BEACON_MAX_BYTES)
        .await
        .map_err(|_| PageError::bad_request("A beacon is small."))?;
    let beacon: Beacon =
        serde_json::from_slice(&bytes).map_err(|_| PageError::bad_request("Not a beacon."))?;
    if !signed.caller.csrf_matches(&beacon.csrf) {
        return Err(PageError::forbidden(
            "The beacon's token is not this session's.",
        ));
    }
    web.service
        .record_page_view(&signed.actor, &beacon.page)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
pub struct OptOut {
    #[serde(default)]
    optout: Option<String>,
}

/// The account page's switch: sets or clears the opt-out cookie for a year.
pub async fn opt_out(posted: Posted<OptOut>) -> Response {
    let value = if posted.form.optout.is_some() {
        format!("{OPT_OUT_COOKIE}=1; Path=/; Secure; SameSite=Lax; Max-Age=31536000")
    } else {
        format!("{OPT_OUT_COOKIE}=; Path=/; Secure; SameSite=Lax; Max-Age=0")
    };
    let mut res = Redirect::to(super::account::PATH).into_response();
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}
