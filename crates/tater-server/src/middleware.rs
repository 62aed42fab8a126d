//! The layer every response passes through: request id, logging, problem rendering and the
//! security headers of SPEC H1/H2 — on every response, errors and 404s included.

use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::error::{PROBLEM_JSON, Problem};

/// The request's id, echoed in `x-request-id`, in problem bodies and in every log line.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The log filter of `tater serve` when `TATER_LOG` is not set. rmcp logs each stateless MCP
/// request's service start and end at `info` (three lines a call, one with the client's whole
/// capabilities): `warn` keeps its problems and leaves one line a request, the response's.
pub const SERVE_LOG_FILTER: &str = "info,sqlx=warn,rmcp=warn";

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client-supplied id is kept when it is short and plain, so it can join logs across
/// services; anything else is replaced.
fn incoming_id(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(&REQUEST_ID)?.to_str().ok()?;
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| v.to_owned())
}

pub async fn request_context(mut req: Request, next: Next) -> Response {
    let id = incoming_id(req.headers()).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    // The path only: query strings can carry search text users consider private.
    // An MCP tool call names its tool, channel, client and organization on the same line, and
    // which transport answered it (`mcp=direct` or `mcp=rmcp`), recorded by `tater-mcp`.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        tool = tracing::field::Empty,
        via = tracing::field::Empty,
        client = tracing::field::Empty,
        org = tracing::field::Empty,
        mcp = tracing::field::Empty,
    );
    let started = Instant::now();
    let res = next.run(req).instrument(span.clone()).await;
    let mut res = render_problem(res, &id);
    let status = res.status().as_u16();
    span.in_scope(|| {
        let ms = started.elapsed().as_millis() as u64;
        if status >= 500 {
            tracing::error!(status, latency_ms = ms, "response");
        } else {
            tracing::info!(status, latency_ms = ms, "response");
        }
    });
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID, v);
    }
    security_headers(headers);
    res
}

/// Gives every error response a problem+json body carrying the request id: problems from our
/// handlers are rendered from the `Problem` they left in the extensions; plain errors from
/// routing, timeouts or caught panics get a generic problem for their status. HTML error
/// pages of the web application stay pages.
fn render_problem(mut res: Response, request_id: &str) -> Response {
    // MCP's refusals are JSON-RPC errors its clients read (codes, supported versions).
    if res.extensions().get::<tater_mcp::JsonRpcAnswer>().is_some() {
        return res;
    }
    let problem = match res.extensions_mut().remove::<Problem>() {
        Some(p) => p,
        None => {
            let content_type = res.headers().get(header::CONTENT_TYPE);
            let is_problem =
                content_type.is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
            // The web application's own error pages are for people: left as they are.
            let is_page = content_type.is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
            if res.status().as_u16() < 400 || is_problem || is_page {
                return res;
            }
            Problem::from_status(res.status())
        }
    };
    let (mut parts, _) = res.into_parts();
    let body = problem.body(Some(request_id)).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.status = problem.status;
    Response::from_parts(parts, Body::from(body))
}

/// SPEC H1 and H2. The policy allows scripts, styles and images from this origin only, no
/// framing, no plugins, no base-URI tricks and forms posting only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

/// The policy of an uploaded file served back: a sandbox (no script, no same-origin access,
/// no forms) that loads nothing, so an HTML or SVG file cannot act in Tater's origin even if a
/// browser were to render it.
pub const FILE_CONTENT_SECURITY_POLICY: &str = "sandbox; default-src 'none'";

/// Sets them on a response's headers (public for the bare benchmark handler, which measures
/// what they alone cost).
pub fn security_headers(h: &mut HeaderMap) {
    // Room for all of them at once, rather than growing (and rehashing) on the way.
    h.reserve(10);
    let set = |h: &mut HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(
        h,
        header::STRICT_TRANSPORT_SECURITY,
        "max-age=31536000; includeSubDomains",
    );
    // A downloaded file keeps the stricter policy its route set (a sandbox, nothing loads).
    if h.get(header::CONTENT_SECURITY_POLICY)
        .map(HeaderValue::as_bytes)
        != Some(FILE_CONTENT_SECURITY_POLICY.as_bytes())
    {
        set(h, header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    }
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        h,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    set(
        h,
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=()",
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
}
