//! Tater's MCP server: every use case of the registry (`tater_service::use_cases`) that a
//! generated channel can call is a tool — its name, description, input and output schemas and
//! annotations come from the registry, so a module declared later becomes tools without MCP
//! code. Each call runs the use case's invoker as the authenticated caller, so the service
//! authorizes and audits it exactly as it does a REST call.
//!
//! The HTTP layer in front (the server's `/mcp` route) authenticates the request and puts the
//! [`Caller`] into its extensions; rmcp hands the request's parts to the handler, which reads
//! the caller from there. No credential is parsed here.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Map, Value, json};
use tater_domain::{Channel, ClientInfo, OrgId};
use tater_service::use_cases::offer::offered;
use tater_service::use_cases::{Answer, Caller, Output, RateClass, UseCase, registry};
use tater_service::{McpPolicy, Service, ServiceError};

pub mod bridge;
mod direct;
mod errors;
mod files;
mod sessions;

pub use direct::{Endpoint, JsonRpcAnswer};
pub use errors::tool_error;
pub use files::{EMBED_MAX_BYTES, Fetched, FileFetcher};
pub use sessions::{SESSIONS_PER_PRINCIPAL, SessionOwners};

/// Where the server is reachable, as MCP's transport checks it, and how much it reads.
#[derive(Debug, Clone, Default)]
pub struct McpConfig {
    /// The largest request body (the server's `--body-limit`); rmcp's own 4 MiB when 0.
    pub body_limit: usize,
    /// `Host` values accepted (`host` or `host:port`); loopback when empty.
    pub allowed_hosts: Vec<String>,
    /// `Origin` values accepted from browsers (`https://app.example`); none when empty.
    pub allowed_origins: Vec<String>,
    /// Serve every request through rmcp's transport, stateless tool calls too (off: those
    /// take the direct path of [`direct`]; the tests compare the two).
    pub sdk_only: bool,
}

/// The endpoint to mount at `/mcp`, behind the layer that authenticates, and the record of
/// who opened each (2025-11-25) session, which that layer keeps.
pub fn service(service: Service, config: &McpConfig) -> (Endpoint, Arc<SessionOwners>) {
    let mut transport = StreamableHttpServerConfig::default()
        // MCP clients send no Origin; a browser page on another origin must not drive a
        // signed-in user's tools.
        .enforce_origin_validation()
        .with_json_response(true);
    if !config.allowed_hosts.is_empty() {
        transport = transport.with_allowed_hosts(config.allowed_hosts.clone());
    }
    if !config.allowed_origins.is_empty() {
        transport = transport.with_allowed_origins(config.allowed_origins.clone());
    }
    if config.body_limit > 0 {
        transport = transport.with_max_request_body_bytes(config.body_limit);
    }
    let manager = Arc::new(LocalSessionManager::default());
    let owners = Arc::new(SessionOwners::new(manager.clone()));
    let handler = TaterMcp::new(service);
    let factory = handler.clone();
    let sdk = StreamableHttpService::new(move || Ok(factory.clone()), manager, transport);
    (Endpoint::new(sdk, handler, config), owners)
}

/// The MCP handler: the registry as tools, for one caller at a time.
#[derive(Clone)]
pub struct TaterMcp {
    service: Service,
}

impl TaterMcp {
    pub fn new(service: Service) -> Self {
        Self { service }
    }

    /// A file tool: its REST route, called in-process with the caller's credential.
    async fn file(
        &self,
        http: &http::Extensions,
        cancelled: impl Future<Output = ()>,
        case: &UseCase,
        arguments: Map<String, Value>,
        via: Channel,
        client: Option<ClientInfo>,
    ) -> Result<CallToolResponse, ErrorData> {
        let fetcher = http
            .get::<FileFetcher>()
            .cloned()
            .ok_or_else(|| ErrorData::internal_error("files are not served here", None))?;
        let fetched = tokio::select! {
            fetched = (fetcher.0)(case.name.clone(), arguments, via, client) => fetched,
            () = cancelled => {
                return Err(ErrorData::internal_error("the request was cancelled", None));
            }
        };
        Ok(files::answer(fetched).into())
    }

    /// The caller's organization's tool policy, read for every request so that a change
    /// applies to the next call on every replica.
    async fn policy(&self, caller: &Caller) -> Result<McpPolicy, ErrorData> {
        self.service
            .mcp_policy_for(&caller.actor)
            .await
            .map_err(|e| match e {
                ServiceError::Internal(cause) => {
                    tracing::error!(error = ?cause, "reading the MCP tool policy");
                    ErrorData::internal_error("internal error", None)
                }
                other => ErrorData::invalid_request(other.to_string(), None),
            })
    }

    /// One tool call, however it arrived (rmcp's transport, or the direct path of
    /// [`direct`]): `http` holds what the server's layer put on the HTTP request, `client` is
    /// the client's declared name, and the call stops when `cancelled` completes.
    async fn call(
        &self,
        http: &http::Extensions,
        client: Option<Implementation>,
        request: CallToolRequestParams,
        cancelled: impl Future<Output = ()>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = caller(http)?;
        let policy = self.policy(&caller).await?;
        // A tool the caller may not call answers as an unknown one: the list and the refusal
        // tell the same story.
        let Some(case) = tool_named(&request.name)
            .map(|(case, _)| *case)
            .filter(|case| offered(case, &caller, &policy))
        else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool: {}", request.name),
                None,
            ));
        };
        if let Err(wait) = count(http, &caller, case.rate_class()).await {
            return Ok(CallToolResult::structured_error(errors::rate_limited(wait)).into());
        }
        if case.needs_verified_identity() && !caller.actor.is_verified() {
            return Ok(CallToolResult::structured_error(errors::unverified()).into());
        }
        // The client's claim, short and as it reads, in the log line as in the audit entry;
        // the channel is read from the same name (a "cl\u{200B}aude" is Claude in both).
        let client = client.map(|c| ClientInfo::new(&c.name, &c.version));
        let via = channel(client.as_ref());
        if let Some(RequestSpan(span)) = http.get::<RequestSpan>() {
            span.record("tool", tracing::field::display(&case.tool));
            span.record("via", tracing::field::display(via));
            span.record("org", tracing::field::display(caller.actor.org()));
            if let Some(c) = &client {
                span.record("client", c.name.as_str());
            }
        }
        let caller = caller.through(via).with_client(client.clone());
        let arguments = request.arguments.unwrap_or_default();
        let Some(invoker) = case.invoke.as_ref() else {
            return self
                .file(http, cancelled, case, arguments, via, client)
                .await;
        };
        let input = Value::Object(arguments);
        let answer = tokio::select! {
            answer = invoker.call(self.service.clone(), caller, input) => answer,
            () = cancelled => {
                return Err(ErrorData::internal_error("the request was cancelled", None));
            }
        };
        let result = match answer {
            Ok(Answer::Json(view)) => CallToolResult::structured(view),
            Ok(Answer::Nothing) => CallToolResult::structured(json!({ "done": true })),
            Err(e) => CallToolResult::structured_error(tool_error(e)),
        };
        Ok(result.into())
    }
}

fn unauthenticated() -> ErrorData {
    ErrorData::internal_error("the request was not authenticated", None)
}

/// Counts one call against the caller's organization's bucket of a class; `Err` holds the
/// seconds to wait when it is spent. The server's rate limiter, put on each request by the
/// layer in front (absent: no limit).
#[derive(Clone)]
pub struct ToolLimits(
    #[allow(clippy::type_complexity)]
    pub  Arc<
        dyn Fn(OrgId, RateClass) -> Pin<Box<dyn Future<Output = Result<(), u64>> + Send>>
            + Send
            + Sync,
    >,
);

/// Counts the request against the bucket of `class` (issue 13 §3: a tool call is limited by
/// what it does, not by the HTTP method of its envelope).
async fn count(http: &http::Extensions, caller: &Caller, class: RateClass) -> Result<(), u64> {
    match http.get::<ToolLimits>().cloned() {
        Some(ToolLimits(check)) => check(caller.actor.org(), class).await,
        None => Ok(()),
    }
}

/// The span of the HTTP request a call arrived in, for the call's tool, channel, client and
/// organization to join the request's log line (rmcp answers in tasks of its own, outside it).
#[derive(Clone)]
pub struct RequestSpan(pub tracing::Span);

/// Names on the request's log line the transport that answered a tool call (`direct` or
/// `rmcp`), so an operator — and a test — can tell.
fn record_transport(http: &http::Extensions, transport: &'static str) {
    if let Some(RequestSpan(span)) = http.get::<RequestSpan>() {
        span.record("mcp", tracing::field::display(transport));
    }
}

/// The extensions of the HTTP request a call arrived in, where the server's layer in front
/// put the caller, its rate limits, the request's span and the file fetcher.
fn http_extensions(cx: &RequestContext<RoleServer>) -> Option<&http::Extensions> {
    cx.extensions
        .get::<http::request::Parts>()
        .map(|parts| &parts.extensions)
}

/// The caller the authenticating layer put on the request.
fn caller(http: &http::Extensions) -> Result<Caller, ErrorData> {
    http.get::<Caller>()
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("the request was not authenticated", None))
}

/// The client a call came from: 2026-07-28 names it in each request's metadata,
/// 2025-11-25 once, when the session starts.
fn client_of(cx: &RequestContext<RoleServer>) -> Option<Implementation> {
    if cx.meta.protocol_version().is_some() {
        cx.meta.client_info()
    } else {
        cx.peer.peer_info().map(|p| p.client_info.clone())
    }
}

/// The channel a change is audited under: `claude` when the client says it is Claude, else
/// `mcp` (one mapping, see `tater_domain::Channel`).
fn channel(client: Option<&ClientInfo>) -> Channel {
    let claude = client.is_some_and(|c| c.name.to_ascii_lowercase().contains("claude"));
    if claude {
        Channel::Claude
    } else {
        Channel::Mcp
    }
}

fn object(schema: Value) -> Map<String, Value> {
    match schema {
        Value::Object(o) => o,
        _ => Map::new(),
    }
}

/// A schema whose root is an object (MCP clients of 2025-11-25 drop any other): a root that
/// only refers to one of its `$defs` becomes that definition.
fn object_root(schema: Value) -> Map<String, Value> {
    let mut root = object(schema);
    let target = root
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .map(str::to_owned);
    if let Some(name) = target {
        let def = root
            .get("$defs")
            .and_then(|d| d.get(&name))
            .cloned()
            .map(object);
        if let Some(mut def) = def {
            root.remove("$ref");
            for (k, v) in root {
                def.entry(k).or_insert(v);
            }
            return def;
        }
    }
    root
}

/// What a use case that answers nothing answers here.
fn done_schema() -> Map<String, Value> {
    object(json!({
        "type": "object",
        "properties": { "done": { "const": true } },
        "required": ["done"],
    }))
}

/// Every use case a generated channel can call, with its tool, made once: generating
/// hundreds of schemas is far more work than a call (rmcp also looks a tool up on every call).
fn tools() -> &'static [(&'static UseCase, Tool)] {
    static TOOLS: std::sync::LazyLock<Vec<(&'static UseCase, Tool)>> =
        std::sync::LazyLock::new(|| {
            registry()
                .iter()
                .filter(|c| c.is_tool())
                .map(|c| (c, tool(c)))
                .collect()
        });
    &TOOLS
}

/// The use case and tool of a tool's name (each name is one tool's), without a scan of the
/// registry on every call.
fn tool_named(name: &str) -> Option<&'static (&'static UseCase, Tool)> {
    static BY_NAME: std::sync::LazyLock<HashMap<&'static str, usize>> =
        std::sync::LazyLock::new(|| {
            tools()
                .iter()
                .enumerate()
                .map(|(i, (case, _))| (case.tool.as_str(), i))
                .collect()
        });
    BY_NAME.get(name).and_then(|&i| tools().get(i))
}

/// The JSON size of each tool of [`tools`], in the same order, for paging `tools/list`.
fn tool_sizes() -> &'static [usize] {
    static SIZES: std::sync::LazyLock<Vec<usize>> = std::sync::LazyLock::new(|| {
        tools()
            .iter()
            .map(|(_, t)| serde_json::to_vec(t).map_or(0, |v| v.len()))
            .collect()
    });
    &SIZES
}

/// The most tool JSON one `tools/list` page carries. Every tool at once is several MiB (each
/// module brings a dozen tools with its schemas), more than clients take in one message (the
/// official Python SDK refuses a server-sent event over 1 MiB); a page always holds at least
/// one tool.
const TOOLS_PAGE_BYTES: usize = 256 * 1024;

/// One page of the tools at `offered` (indexes into [`tools`], in order), starting after the
/// tool the cursor names: the page and the cursor of the next one (the page's last tool).
fn tools_page(
    offered: &[usize],
    cursor: Option<&str>,
) -> Result<(Vec<Tool>, Option<String>), ErrorData> {
    let all = tools();
    let start = match cursor {
        None => 0,
        Some(after) => offered
            .iter()
            .position(|&i| all[i].1.name == after)
            .map(|at| at + 1)
            .ok_or_else(|| {
                ErrorData::invalid_params(
                    "unknown cursor: start again without one",
                    Some(json!({ "code": "BAD_CURSOR" })),
                )
            })?,
    };
    let mut page = Vec::new();
    let mut bytes = 0;
    for &i in offered.iter().skip(start) {
        let size = tool_sizes().get(i).copied().unwrap_or(0);
        if !page.is_empty() && bytes + size > TOOLS_PAGE_BYTES {
            break;
        }
        bytes += size;
        page.push(all[i].1.clone());
    }
    let more = start + page.len() < offered.len();
    let next = more
        .then(|| page.last().map(|t| t.name.to_string()))
        .flatten();
    Ok((page, next))
}

fn tool(case: &UseCase) -> Tool {
    let output = match &case.output {
        Output::Json(_) => object_root(case.output_schema()),
        Output::File(_) => files::file_schema(),
        Output::Nothing => done_schema(),
    };
    let h = case.hints;
    Tool::new(
        case.tool.clone(),
        case.summary.clone(),
        Arc::new(object(case.input_schema())),
    )
    .with_raw_output_schema(Arc::new(output))
    .with_annotations(
        ToolAnnotations::new()
            .read_only(h.read_only)
            .destructive(h.destructive)
            .idempotent(h.idempotent)
            .open_world(h.open_world),
    )
}

impl ServerHandler for TaterMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("tater", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Tater: compliance posture and GRC for one organization (the one your \
                 credential acts in). Tools read and change that organization's records; \
                 every change is audited.",
            )
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tool_named(name).map(|(_, t)| t.clone())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let http = http_extensions(&cx).ok_or_else(unauthenticated)?;
        let caller = caller(http)?;
        if let Err(wait) = count(http, &caller, RateClass::General).await {
            return Err(ErrorData::invalid_request(
                format!("too many requests; retry in {wait} s"),
                Some(json!({ "code": "RATE_LIMITED", "retryAfterSeconds": wait })),
            ));
        }
        let policy = self.policy(&caller).await?;
        // Registry order, filtered by the caller's role and the organization's policy:
        // deterministic, and private to the caller (no shared cache); in pages.
        let shown: Vec<usize> = tools()
            .iter()
            .enumerate()
            .filter(|(_, (c, _))| offered(c, &caller, &policy))
            .map(|(i, _)| i)
            .collect();
        let cursor = request.as_ref().and_then(|r| r.cursor.as_deref());
        let (page, next) = tools_page(&shown, cursor)?;
        let mut result = ListToolsResult::with_all_items(page)
            .with_ttl_ms(0)
            .with_cache_scope(CacheScope::Private);
        result.next_cursor = next;
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let http = http_extensions(&cx).ok_or_else(unauthenticated)?;
        record_transport(http, "rmcp");
        // A client that goes away stops its call (rmcp cancels the request's token).
        self.call(http, client_of(&cx), request, cx.ct.cancelled())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::channel;
    use tater_domain::{Channel, ClientInfo};

    #[test]
    fn the_channel_is_read_from_the_name_as_recorded() {
        let named = |name: &str| channel(Some(&ClientInfo::new(name, "1")));
        assert_eq!(named("Claude Desktop"), Channel::Claude);
        assert_eq!(named("claude-code"), Channel::Claude);
        // Hidden characters inside the word: recorded as "Claude", so audited as Claude.
        assert_eq!(named("Cl\u{200B}au\u{FE0F}de"), Channel::Claude);
        assert_eq!(named("Cursor"), Channel::Mcp);
        assert_eq!(channel(None), Channel::Mcp);
    }
}
