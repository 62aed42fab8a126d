//! `/mcp`: the MCP server (`tater-mcp`) behind the same authentication as the REST API, and
//! the protected-resource metadata (RFC 9728) MCP clients read to learn how to sign in.

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use std::sync::Arc;

use tater_mcp::SessionOwners;

use crate::api_doc::{ApiRouter, Op};
use crate::error::Problem;
use crate::extract::{API_KEY_HEADER, ORG_HEADER, PreAuthenticated, ViaMcp, resolve_caller};
use crate::rate_limit::{Category, TenantBucket};
use crate::state::AppState;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use tater_domain::Timestamp;
use tater_mcp::Fetched;
use tater_service::use_cases::RateClass;
use tower::ServiceExt as _;

/// What an OAuth client learns about this resource (RFC 9728).
#[derive(Serialize, schemars::JsonSchema)]
struct ProtectedResource {
    /// The MCP endpoint's URL.
    resource: String,
    resource_name: &'static str,
    /// Credentials go in the Authorization header (or X-API-Key).
    bearer_methods_supported: Vec<&'static str>,
    /// Where Entra ID tokens for this resource come from, when Entra ID is configured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    authorization_servers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scopes_supported: Vec<String>,
}

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    let doc = api.schema_of::<ProtectedResource>();
    api.route(
        Op::get("/api/downloads", "download_file")
            .summary("A file an MCP tool answered with a link (no credential: the link is one, for 5 minutes)")
            .outside_registry()
            .tag("mcp")
            .query(
                "token",
                json!({ "type": "string", "maxLength": MAX_TOKEN_LEN }),
                "the signed token from the tool answer's link",
            )
            .ok_content(
                "application/octet-stream",
                json!({ "type": "string", "format": "binary" }),
            )
            .problem(401, "The link is not valid, has expired, or its caller may no longer fetch it"),
        get(download),
    )
    .route(
        Op::get(
            "/.well-known/oauth-protected-resource",
            "oauth_protected_resource",
        )
        .summary("How to authenticate to the MCP endpoint (RFC 9728 protected-resource metadata)")
        .outside_registry()
        .tag("mcp")
        .ok(200, "The metadata", Some(doc)),
        get(protected_resource),
    )
}

/// Longer than any link Tater signs (a path with its query, a client name, ids).
const MAX_TOKEN_LEN: usize = 4096;

/// Fetches the file a download link names, as the caller who asked for it (loaded again now),
/// through the file's own route. The token rides in the query string, which the request log
/// leaves out.
async fn download(
    State(s): State<AppState>,
    files: Option<axum::Extension<Arc<FileRoutes>>>,
    bucket: Option<axum::Extension<TenantBucket>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let token = query.as_deref().and_then(query_token).unwrap_or_default();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Problem::from(tater_service::ServiceError::Unauthorized(
            "send the token of a download link",
        ))
        .into_response();
    }
    let (Some(axum::Extension(files)), redeemed) = (files, s.service.redeem_download(&token).await)
    else {
        return Problem::not_found().into_response();
    };
    let redeemed = match redeemed {
        Ok(r) => r,
        Err(e) => return Problem::from(e).into_response(),
    };
    let via = ViaMcp {
        channel: redeemed.actor.channel(),
        client: redeemed.actor.client().cloned(),
    };
    let bucket = bucket.map(|axum::Extension(b)| b);
    files
        .serve_as(redeemed.actor, &redeemed.path, bucket, Some(via))
        .await
}

/// The `token` of a query string.
fn query_token(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// What the `/mcp` layer needs: the application, who opened which MCP session, and the
/// routes file tools are served through.
#[derive(Clone)]
struct Gate {
    app: AppState,
    owners: Arc<SessionOwners>,
    files: Arc<FileRoutes>,
}

/// The documented routes, called in-process for the MCP tools that answer files: each file
/// use case has one implementation, its REST route.
pub struct FileRoutes {
    router: Router,
    /// Use case name → the path template of its `GET` route.
    paths: HashMap<String, String>,
}

impl FileRoutes {
    /// Use case name → the path template of its `GET` route.
    pub fn paths(&self) -> &HashMap<String, String> {
        &self.paths
    }
}

impl FileRoutes {
    pub fn new(router: Router, doc: &Value) -> Self {
        let mut paths = HashMap::new();
        for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
            if let Some(id) = ops["get"]["operationId"].as_str() {
                paths.insert(id.to_owned(), path.clone());
            }
        }
        Self { router, paths }
    }
}

impl FileRoutes {
    /// `GET path` (with its query) through the documented routes as `actor`, authenticated
    /// already (a redeemed download link, a web session), counted in `bucket`.
    pub async fn serve_as(
        &self,
        actor: tater_domain::Actor,
        path: &str,
        bucket: Option<TenantBucket>,
        via: Option<ViaMcp>,
    ) -> Response {
        let mut req = Request::new(axum::body::Body::empty());
        match path.parse() {
            Ok(u) => *req.uri_mut() = u,
            Err(_) => return Problem::not_found().into_response(),
        }
        if let Some(bucket) = bucket {
            req.extensions_mut().insert(bucket);
        }
        if let Some(via) = via {
            req.extensions_mut().insert(via);
        }
        req.extensions_mut().insert(PreAuthenticated(actor));
        let Ok(res) = self.router.clone().oneshot(req).await;
        res
    }
}

/// The MCP endpoint, each request authenticated first.
pub fn endpoint(
    state: AppState,
    config: &tater_mcp::McpConfig,
    files: Arc<FileRoutes>,
) -> Router<AppState> {
    let (mcp, owners) = tater_mcp::service(state.service.clone(), config);
    let gate = Gate {
        app: state,
        owners,
        files,
    };
    let mcp = tower::service_fn(move |req| mcp.clone().serve(req));
    // `/mcp` (or `/mcp/`) exactly: nothing below it is the endpoint, so a proxy rule for
    // `/mcp` covers all of it.
    Router::new()
        .route_service("/mcp", mcp.clone())
        .route_service("/mcp/", mcp)
        .layer(axum::middleware::from_fn_with_state(gate, authenticate))
}

const SESSION_HEADER: &str = "mcp-session-id";

/// The server's address as clients name it: `--public-url`, else what this request says.
pub(super) fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    match &state.info.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

async fn protected_resource(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Json<ProtectedResource> {
    Json(ProtectedResource {
        resource: format!("{}/mcp", base_url(&s, &headers)),
        resource_name: "Tater",
        bearer_methods_supported: vec!["header"],
        authorization_servers: s.info.authorization_servers.clone(),
        scopes_supported: s.info.scopes.clone(),
    })
}

/// Authenticates as the REST API does (API key or Bearer token, `x-organization-id` among the
/// caller's memberships) and hands the caller to the MCP handler. A 401 names the metadata.
async fn authenticate(State(gate): State<Gate>, req: Request, next: Next) -> Response {
    let s = &gate.app;
    // Apart: the body is not `Sync`, so the request as a whole cannot be borrowed across
    // the awaits below; its headers can.
    let (mut parts, body) = req.into_parts();
    let headers = &parts.headers;
    let bucket = parts.extensions.get::<TenantBucket>().cloned();
    // The organization's bucket is counted per tool call, by the tool's class.
    match resolve_caller(s, headers, None).await {
        Ok(caller) => {
            let principal = caller.actor.audit_user_id();
            let session = headers
                .get(SESSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            // A session serves only whoever opened it; to anyone else it does not exist.
            if let Some(id) = &session
                && !gate.owners.may_use(id, &principal)
            {
                return Problem::not_found().into_response();
            }
            let closing = parts.method == Method::DELETE;
            let signer = LinkSigner {
                service: s.service.clone(),
                identity: caller.identity.clone(),
                actor: caller.actor.clone(),
            };
            let fetcher = file_fetcher(gate.files.clone(), headers, base_url(s, headers), signer);
            let extensions = &mut parts.extensions;
            extensions.insert(caller);
            extensions.insert(tater_mcp::RequestSpan(tracing::Span::current()));
            if let Some(bucket) = bucket {
                extensions.insert(tool_limits(bucket));
            }
            extensions.insert(fetcher);
            let res = explained(next.run(Request::from_parts(parts, body)).await).await;
            match (&session, res.headers().get(SESSION_HEADER)) {
                (None, Some(opened)) => {
                    if let Ok(id) = opened.to_str() {
                        gate.owners.opened(id, &principal).await;
                    }
                }
                (Some(id), _) if closing && res.status().is_success() => gate.owners.closed(id),
                _ => {}
            }
            res
        }
        Err(problem) => {
            let unauthorized = problem.status == StatusCode::UNAUTHORIZED;
            let mut res = problem.into_response();
            if unauthorized {
                let metadata = format!(
                    "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource\"",
                    base_url(s, headers)
                );
                if let Ok(v) = HeaderValue::from_str(&metadata) {
                    res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
            }
            res
        }
    }
}

/// The most of a transport refusal's reason kept (rmcp's are one short line).
const REASON_MAX_BYTES: usize = 512;

/// rmcp refuses a transport-level mistake (a revision it does not speak named only in
/// `MCP-Protocol-Version`, a missing header, a wrong `Accept`) with a one-line plain-text
/// reason. The request layer would replace that with a generic problem, leaving the client to
/// guess what to change; the reason becomes the problem's detail instead. Its JSON-RPC errors
/// and anything else are left as they are.
async fn explained(res: Response) -> Response {
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    let ours = res.extensions().get::<Problem>().is_some()
        || res.extensions().get::<tater_mcp::JsonRpcAnswer>().is_some();
    if !res.status().is_client_error() || !plain || ours {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let reason = axum::body::to_bytes(body, REASON_MAX_BYTES)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|text| without_status_prefix(text.trim(), parts.status).to_owned())
        .filter(|text| !text.is_empty());
    let mut problem = Problem::from_status(parts.status);
    if let Some(reason) = reason {
        problem.detail = reason;
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.extensions.insert(problem);
    Response::from_parts(parts, axum::body::Body::empty())
}

/// rmcp starts its reasons with the status's name ("Bad Request: ..."), or gives only that
/// name ("Method Not Allowed"), which the problem's title already says: what is left, if
/// anything.
fn without_status_prefix(text: &str, status: StatusCode) -> &str {
    let Some(rest) = status.canonical_reason().and_then(|n| text.strip_prefix(n)) else {
        return text;
    };
    match rest.strip_prefix(':') {
        Some(reason) => reason.trim_start(),
        None if rest.is_empty() => rest,
        None => text,
    }
}

/// The organization's rate-limit buckets, for the MCP handler to count each call in the one
/// its tool belongs to.
fn tool_limits(bucket: TenantBucket) -> tater_mcp::ToolLimits {
    tater_mcp::ToolLimits(Arc::new(move |org, class| {
        let bucket = bucket.clone();
        Box::pin(async move {
            let category = match class {
                RateClass::General => Category::General,
                RateClass::Write => Category::Write,
                RateClass::Settings => Category::Settings,
            };
            bucket
                .check_as(org, category)
                .await
                .map_err(|v| TenantBucket::wait_secs(&v))
        })
    }))
}

/// Signs download links for files too large to embed, as the caller of this request.
#[derive(Clone)]
struct LinkSigner {
    service: tater_service::Service,
    identity: tater_service::Identity,
    actor: tater_domain::Actor,
}

impl LinkSigner {
    /// A link to `path` (with its query), audited through the channel of the tool call.
    fn link(&self, base: &str, path: &str, via: &ViaMcp) -> Result<(String, Timestamp), Value> {
        let actor = self
            .actor
            .clone()
            .through(via.channel)
            .with_client(via.client.clone());
        let link = self
            .service
            .sign_download(&self.identity, &actor, path)
            .map_err(|e| Problem::from(e).body(None))?;
        let token = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", &link.token)
            .finish();
        Ok((format!("{base}/api/downloads?{token}"), link.expires_at))
    }
}

/// Fetches a file tool's file through its REST route, as the caller of this request.
fn file_fetcher(
    files: Arc<FileRoutes>,
    headers: &HeaderMap,
    base: String,
    signer: LinkSigner,
) -> tater_mcp::FileFetcher {
    // Only what authenticates and picks the organization goes along.
    let mut credentials = HeaderMap::new();
    for name in [header::AUTHORIZATION.as_str(), API_KEY_HEADER, ORG_HEADER] {
        if let Some(v) = headers.get(name) {
            credentials.insert(HeaderName::from_static(name), v.clone());
        }
    }
    tater_mcp::FileFetcher(Arc::new(move |name, input, channel, client| {
        let files = files.clone();
        let credentials = credentials.clone();
        let base = base.clone();
        let signer = signer.clone();
        Box::pin(async move {
            let via = ViaMcp { channel, client };
            fetch(&files, credentials, &base, &name, input, via, &signer).await
        })
    }))
}

async fn fetch(
    files: &FileRoutes,
    credentials: HeaderMap,
    base: &str,
    name: &str,
    input: Map<String, Value>,
    via: ViaMcp,
    signer: &LinkSigner,
) -> Fetched {
    let refused = |e: tater_service::ServiceError| Fetched::Refused(Problem::from(e).body(None));
    let Some(template) = files.paths.get(name) else {
        return refused(tater_service::ServiceError::NotFound);
    };
    let uri = match tater_service::use_cases::invoke::route_uri(template, input) {
        Ok(uri) => uri,
        Err(e) => return refused(e),
    };
    let mut req = Request::new(axum::body::Body::empty());
    *req.method_mut() = Method::GET;
    match uri.parse() {
        Ok(u) => *req.uri_mut() = u,
        Err(_) => {
            return refused(tater_service::ServiceError::BadRequest(
                "not a valid path".into(),
            ));
        }
    }
    *req.headers_mut() = credentials;
    req.extensions_mut().insert(via.clone());
    let Ok(res) = files.router.clone().oneshot(req).await;
    let status = res.status();
    let media_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let filename = res
        .headers()
        .get(header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .and_then(|d| d.split("filename=\"").nth(1))
        // The quoted name ends at its closing quote (a `filename*` may follow).
        .and_then(|n| n.split('"').next())
        .map(str::to_owned);
    let url = format!("{base}{uri}");
    if !status.is_success() {
        let body = axum::body::to_bytes(res.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        let problem = serde_json::from_slice(&body)
            .unwrap_or_else(|_| json!({ "error": "INTERNAL", "detail": "the export failed" }));
        return Fetched::Refused(problem);
    }
    match axum::body::to_bytes(res.into_body(), tater_mcp::EMBED_MAX_BYTES).await {
        Ok(bytes) => Fetched::File {
            media_type,
            filename,
            bytes: bytes.to_vec(),
            url,
        },
        // Too large to embed: a link that works without the credential, for a short while.
        Err(_) => match signer.link(base, &uri, &via) {
            Ok((url, expires_at)) => Fetched::TooLarge {
                media_type,
                url,
                expires_at,
            },
            Err(problem) => Fetched::Refused(problem),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::without_status_prefix;
    use axum::http::StatusCode;

    #[test]
    fn a_reason_loses_only_its_status_name() {
        let bad = StatusCode::BAD_REQUEST;
        assert_eq!(
            without_status_prefix("Bad Request: Unsupported MCP-Protocol-Version: 9", bad),
            "Unsupported MCP-Protocol-Version: 9"
        );
        // Anything else is left as it came.
        assert_eq!(without_status_prefix("Bad Requests", bad), "Bad Requests");
        assert_eq!(
            without_status_prefix("Not Acceptable: x", StatusCode::NOT_ACCEPTABLE),
            "x"
        );
        assert_eq!(
            without_status_prefix("Not Acceptable: x", bad),
            "Not Acceptable: x"
        );
        // Only the name, or the name and nothing after: no reason (the default detail).
        let method = StatusCode::METHOD_NOT_ALLOWED;
        assert_eq!(without_status_prefix("Method Not Allowed", method), "");
        assert_eq!(without_status_prefix("Bad Request:", bad), "");
        // A status without a standard name keeps its text.
        let odd = StatusCode::from_u16(499).unwrap();
        assert_eq!(
            without_status_prefix("Client Closed: x", odd),
            "Client Closed: x"
        );
    }
}
