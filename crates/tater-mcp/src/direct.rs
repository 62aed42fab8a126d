//! The request most MCP traffic is — a stateless (2026-07-28) `tools/call` — answered on the
//! connection's own task.
//!
//! rmcp serves every stateless request through a serve loop of its own: a task for the loop,
//! one waiting on it, one running the handler and one sending its answer, with channels between
//! them, a parse through serde's buffered untagged enums and a re-serialization of the whole
//! message to check the SEP-2243 headers. On a SQLite read that machinery costs about a third
//! of the call (issue 13's benchmark). This path takes only the requests it can show to be
//! well-formed under the same rules rmcp applies — a conservative subset — and hands every
//! other request, and everything it is unsure of, to rmcp unchanged: other methods, sessions,
//! browsers (an `Origin`), Base64-encoded header values, unknown envelope fields, HTTP/2
//! requests without a `Host` header. rmcp therefore still answers every refusal of the
//! transport (the one exception: a body whose reading fails midway, the connection broken,
//! answers 400 here); this path answers only with what the handler answers, serialized from
//! rmcp's own message types as rmcp serializes them (a test compares the two paths byte for
//! byte). Not checked here because no Tater tool has them: SEP-2243 `Mcp-Param-*` headers
//! (a unit test fails if a tool's input schema ever declares `x-mcp-header`) and task
//! results (`TaterMcp::call` never answers with a task).

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use rmcp::model::{
    CallToolRequestMethod, CallToolRequestParams, ErrorCode, JsonRpcVersion2_0, ProtocolVersion,
    RequestId, ServerJsonRpcMessage, ServerResult,
};
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use serde::Deserialize;

use crate::TaterMcp;

/// The hosts rmcp allows when none are configured.
const LOOPBACK: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// rmcp's own limit on a request body when the server sets none.
const SDK_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// `/mcp`: the direct path for stateless tool calls, rmcp for everything else.
#[derive(Clone)]
pub struct Endpoint(Arc<Inner>);

struct Inner {
    sdk: StreamableHttpService<TaterMcp, LocalSessionManager>,
    handler: TaterMcp,
    /// The `Host` values rmcp accepts, normalized as rmcp normalizes them.
    hosts: Vec<Authority>,
    body_limit: usize,
    /// Off: every request goes through rmcp (the tests compare the two paths).
    direct: bool,
}

impl Endpoint {
    pub(crate) fn new(
        sdk: StreamableHttpService<TaterMcp, LocalSessionManager>,
        handler: TaterMcp,
        config: &crate::McpConfig,
    ) -> Self {
        let allowed: Vec<&str> = if config.allowed_hosts.is_empty() {
            LOOPBACK.to_vec()
        } else {
            config.allowed_hosts.iter().map(String::as_str).collect()
        };
        let hosts = allowed.into_iter().filter_map(Authority::allowed).collect();
        Self(Arc::new(Inner {
            sdk,
            handler,
            hosts,
            body_limit: if config.body_limit > 0 {
                config.body_limit
            } else {
                SDK_BODY_LIMIT
            },
            direct: !config.sdk_only,
        }))
    }

    /// Answers one HTTP request to `/mcp`.
    pub async fn serve(self, req: Request<Body>) -> Result<Response<Body>, Infallible> {
        let this = &self.0;
        let eligible = eligible(req.method(), req.headers(), &this.hosts, this.body_limit);
        if !this.direct || !eligible {
            return Ok(this.through_sdk(req).await);
        }
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, this.body_limit).await else {
            return Ok(plain(
                StatusCode::BAD_REQUEST,
                "Bad Request: the request body could not be read",
            ));
        };
        let Some(call) = ToolCall::parse(&bytes, &parts.headers) else {
            let req = Request::from_parts(parts, Body::from(bytes));
            return Ok(this.through_sdk(req).await);
        };
        Ok(this.answer(call, &parts.extensions).await)
    }
}

/// Marks a response whose body is a JSON-RPC message: MCP clients read an error's code and
/// data from it (a version to negotiate, a header that contradicts the body), so the server
/// passes it on as it is rather than as a problem document.
#[derive(Debug, Clone, Copy)]
pub struct JsonRpcAnswer;

impl Inner {
    async fn through_sdk(&self, req: Request<Body>) -> Response<Body> {
        let mut res = self.sdk.handle(req).await.map(Body::new);
        let json = res
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(JSON.as_bytes()));
        if json {
            res.extensions_mut().insert(JsonRpcAnswer);
        }
        res
    }

    /// Runs the call and answers as rmcp answers a terminal message on a stateless request
    /// with JSON responses on (`jsonrpc_message_response` and its status mapping).
    async fn answer(&self, call: ToolCall, http: &http::Extensions) -> Response<Body> {
        let ToolCall { id, mut params } = call;
        crate::record_transport(http, "direct");
        let client = params.meta.take().and_then(|meta| meta.client_info());
        // Dropping this future (the client went away) stops the call, so nothing else
        // cancels it.
        let answer = self
            .handler
            .call(http, client, params, std::future::pending())
            .await;
        let (message, status) = match answer {
            Ok(result) => (
                ServerJsonRpcMessage::response(ServerResult::from(result), id),
                StatusCode::OK,
            ),
            Err(error) => {
                let status = error_status(error.code);
                (ServerJsonRpcMessage::error(error, Some(id)), status)
            }
        };
        match serde_json::to_vec(&message) {
            Ok(body) => {
                let mut res = Response::new(Body::from(body));
                *res.status_mut() = status;
                res.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
                res.extensions_mut().insert(JsonRpcAnswer);
                res
            }
            Err(e) => {
                tracing::error!(error = %e, "serializing a tool answer");
                plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        }
    }
}

const JSON: &str = "application/json";
const STATELESS: ProtocolVersion = ProtocolVersion::V_2026_07_28;

/// Whether the request's method and headers are those of a stateless `tools/call` that rmcp
/// would accept as they are: anything else, or anything ambiguous, is left to rmcp.
fn eligible(method: &Method, headers: &HeaderMap, hosts: &[Authority], body_limit: usize) -> bool {
    *method == Method::POST
        && !headers.contains_key("mcp-session-id")
        && !headers.contains_key(ORIGIN)
        && only(headers, HOST)
            .and_then(Authority::of_host)
            .is_some_and(|host| hosts.iter().any(|a| a.admits(&host)))
        && only(headers, ACCEPT).is_some_and(accepts_json_and_sse)
        && only(headers, CONTENT_TYPE).is_some_and(|v| essence(v).eq_ignore_ascii_case(JSON))
        && only(headers, CONTENT_LENGTH)
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|len| len <= body_limit)
        && only(headers, "mcp-protocol-version") == Some(STATELESS.as_str())
        && only(headers, "mcp-method") == Some("tools/call")
        // SEP-2243's Base64 form (`=?base64?…?=`) is left to rmcp's decoder.
        && only(headers, "mcp-name").is_some_and(|name| !name.starts_with("=?"))
}

/// The HTTP status rmcp gives a JSON-RPC error on a stateless request whose `_meta` is well
/// formed (as this path's always is).
fn error_status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
        | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
        | ErrorCode::HEADER_MISMATCH => StatusCode::BAD_REQUEST,
        ErrorCode::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut res = Response::new(Body::from(text));
    *res.status_mut() = status;
    res
}

/// The single value of a header, as text; `None` when it is absent, repeated or not text.
fn only(headers: &HeaderMap, name: impl http::header::AsHeaderName) -> Option<&str> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    first.to_str().ok()
}

/// A media type without its parameters.
fn essence(value: &str) -> &str {
    value.split(';').next().unwrap_or_default().trim()
}

/// Whether an `Accept` value names both JSON and server-sent events, with no weights or
/// parameters that rmcp would have to weigh (those go to rmcp).
fn accepts_json_and_sse(value: &str) -> bool {
    let mut json = false;
    let mut sse = false;
    for item in value.split(',') {
        let item = item.trim();
        if item.contains(';') || item.contains('"') {
            return false;
        }
        json |= item.eq_ignore_ascii_case(JSON);
        sse |= item.eq_ignore_ascii_case("text/event-stream");
    }
    json && sse
}

/// A host and port, normalized as rmcp's DNS-rebinding check normalizes them.
#[derive(Debug, PartialEq, Eq)]
struct Authority {
    host: String,
    port: Option<u16>,
}

impl Authority {
    fn new(host: &str, port: Option<u16>) -> Self {
        Self {
            host: host
                .trim_matches('[')
                .trim_matches(']')
                .to_ascii_lowercase(),
            port,
        }
    }

    /// A `Host` header's value.
    fn of_host(value: &str) -> Option<Self> {
        let authority = http::uri::Authority::try_from(value).ok()?;
        Some(Self::new(authority.host(), authority.port_u16()))
    }

    /// An entry of the allowed hosts: `host`, `host:port`, or a bare IPv6 address.
    fn allowed(entry: &str) -> Option<Self> {
        let entry = entry.trim();
        if entry.is_empty() {
            return None;
        }
        match http::uri::Authority::try_from(entry) {
            Ok(a) => Some(Self::new(a.host(), a.port_u16())),
            Err(_) => Some(Self::new(entry, None)),
        }
    }

    /// Whether this allowed entry admits `host` (an entry without a port admits any port).
    fn admits(&self, host: &Authority) -> bool {
        self.host == host.host && self.port.is_none_or(|p| host.port == Some(p))
    }
}

/// A JSON-RPC `tools/call` request exactly as a 2026-07-28 client sends it. An unknown field
/// of the envelope sends the request to rmcp; unknown fields of `params` are ignored, as rmcp
/// ignores them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[allow(dead_code)] // checked by its type: "2.0" only
    jsonrpc: JsonRpcVersion2_0,
    id: RequestId,
    #[allow(dead_code)] // checked by its type: "tools/call" only
    method: CallToolRequestMethod,
    params: CallToolRequestParams,
}

/// A stateless tool call this path answers itself.
struct ToolCall {
    id: RequestId,
    params: CallToolRequestParams,
}

impl ToolCall {
    /// The call in `body`, when it is one rmcp would hand to the handler unchanged: a single
    /// `tools/call` request whose `_meta` carries every field 2026-07-28 requires, names the
    /// same revision as the header, and whose tool is the one `Mcp-Name` names.
    fn parse(body: &[u8], headers: &HeaderMap) -> Option<Self> {
        let Envelope { id, params, .. } = serde_json::from_slice(body).ok()?;
        let meta = params.meta.as_ref()?;
        let well_formed = meta.protocol_version() == Some(STATELESS)
            && meta.missing_required_keys(&STATELESS).is_empty()
            && params.input_responses.is_none()
            && params.request_state.is_none()
            && only(headers, "mcp-name") == Some(&*params.name);
        well_formed.then_some(Self { id, params })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The headers of a `tools/call` as the official SDK and the bench send it.
    fn client_headers(body: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in [
            ("host", "127.0.0.1:8080"),
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "get_poam_item"),
        ] {
            h.insert(name, HeaderValue::from_static(value));
        }
        h.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        h
    }

    fn client_body() -> serde_json::Value {
        json!({
            "jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {
                "name": "get_poam_item", "arguments": { "id": "x" },
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {},
                    "io.modelcontextprotocol/clientInfo": { "name": "claude-code", "version": "2" },
                    "progressToken": 1,
                },
            },
        })
    }

    fn loopback() -> Vec<Authority> {
        LOOPBACK
            .into_iter()
            .filter_map(Authority::allowed)
            .collect()
    }

    #[test]
    fn a_stateless_tool_call_takes_the_direct_path() {
        let body = client_body().to_string();
        let headers = client_headers(body.as_bytes());
        assert!(eligible(&Method::POST, &headers, &loopback(), 1 << 20));
        let call = ToolCall::parse(body.as_bytes(), &headers).expect("taken");
        assert_eq!(call.id, RequestId::Number(7));
        assert_eq!(call.params.name, "get_poam_item");
    }

    #[test]
    fn anything_else_is_left_to_rmcp() {
        let body = client_body().to_string();
        let headers = client_headers(body.as_bytes());
        let hosts = loopback();
        let header_cases: [(&str, Option<&'static str>); 9] = [
            ("mcp-session-id", Some("abc")),
            ("origin", Some("http://127.0.0.1:8080")),
            ("host", Some("tater.example")),
            ("accept", Some("application/json")),
            ("content-type", Some("text/plain")),
            ("mcp-protocol-version", Some("2025-11-25")),
            ("mcp-method", Some("tools/list")),
            ("mcp-name", Some("=?base64?Z2V0X3BvYW1faXRlbQ==?=")),
            ("content-length", None),
        ];
        for (name, value) in header_cases {
            let mut h = headers.clone();
            match value {
                Some(v) => {
                    h.insert(name, HeaderValue::from_static(v));
                }
                None => {
                    h.remove(name);
                }
            }
            assert!(!eligible(&Method::POST, &h, &hosts, 1 << 20), "{name}");
        }
        assert!(!eligible(&Method::GET, &headers, &hosts, 1 << 20));
        assert!(
            !eligible(&Method::POST, &headers, &hosts, 16),
            "longer than the limit"
        );
        let mut twice = headers.clone();
        twice.append("mcp-name", HeaderValue::from_static("get_poam_item"));
        assert!(
            !eligible(&Method::POST, &twice, &hosts, 1 << 20),
            "a repeated header"
        );

        // Bodies rmcp must judge: another tool than the header names, an unknown envelope
        // field, metadata 2026-07-28 requires left out, another revision, a batch.
        let edits: [fn(&mut serde_json::Value); 6] = [
            |b| b["params"]["name"] = json!("list_poam_items"),
            |b| b["extension"] = json!(true),
            |b| {
                b["params"]["_meta"]
                    .as_object_mut()
                    .map(|m| m.remove("io.modelcontextprotocol/clientCapabilities"));
            },
            |b| {
                b["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] =
                    json!("2025-11-25")
            },
            |b| b["method"] = json!("tools/list"),
            |b| *b = json!([b.clone()]),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut b = client_body();
            edit(&mut b);
            assert!(
                ToolCall::parse(b.to_string().as_bytes(), &headers).is_none(),
                "edit {i}"
            );
        }
    }

    /// rmcp checks `Mcp-Param-*` headers against a tool's `x-mcp-header` annotations; this
    /// path does not, which is right only while no tool declares one.
    #[test]
    fn no_tool_declares_parameter_headers() {
        for (case, tool) in crate::tools() {
            let schema = serde_json::to_string(&*tool.input_schema).unwrap_or_default();
            assert!(!schema.contains("x-mcp-header"), "{}", case.tool);
        }
    }

    #[test]
    fn hosts_are_admitted_as_rmcp_admits_them() {
        let loopback = Authority::allowed("localhost").unwrap();
        assert!(loopback.admits(&Authority::of_host("LOCALHOST:8080").unwrap()));
        let v6 = Authority::allowed("::1").unwrap();
        assert!(v6.admits(&Authority::of_host("[::1]:3000").unwrap()));
        let pinned = Authority::allowed("tater.example:443").unwrap();
        assert!(pinned.admits(&Authority::of_host("tater.example:443").unwrap()));
        assert!(!pinned.admits(&Authority::of_host("tater.example").unwrap()));
        assert!(!pinned.admits(&Authority::of_host("tater.example:8443").unwrap()));
        assert!(!loopback.admits(&Authority::of_host("localhost.evil.example").unwrap()));
    }

    #[test]
    fn accept_values_with_weights_or_one_type_go_to_rmcp() {
        assert!(accepts_json_and_sse("application/json, text/event-stream"));
        assert!(accepts_json_and_sse("TEXT/EVENT-STREAM,application/json"));
        for refused in [
            "application/json",
            "text/event-stream",
            "application/json;q=0, text/event-stream",
            "*/*",
        ] {
            assert!(!accepts_json_and_sse(refused), "{refused}");
        }
    }
}
