//! `tater mcp --server URL`: a stdio bridge for desktop MCP clients (Claude Desktop, Claude
//! Code, VS Code) that only launch local commands. It relays each JSON-RPC line from stdin to
//! the server's `/mcp` as an HTTP POST, unchanged, and writes each answer to stdout: the
//! desktop client's own `initialize` or `server/discover` and its own client name reach the
//! server, which enforces everything in one place (credential, organization, roles, policy,
//! identity step, limits) and attributes changes to the real client. Logs go to stderr only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The longest message relayed (a client sending more gets an error, not a truncated call).
const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
const PROTOCOL_META: &str = "io.modelcontextprotocol/protocolVersion";

/// Where the bridge forwards, and as whom.
pub struct BridgeConfig {
    /// The server's MCP endpoint (`https://tater.example.com/mcp`; a base URL gets `/mcp`).
    pub url: String,
    /// Sent as `X-API-Key`.
    pub api_key: String,
    /// Sent as `x-organization-id` when the key's owner belongs to several organizations.
    pub org: Option<String>,
}

/// The endpoint URL: `/mcp` appended to a bare server address; plain HTTP only to loopback,
/// so the key never crosses a network in clear.
fn endpoint(url: &str) -> anyhow::Result<reqwest::Url> {
    let mut parsed = reqwest::Url::parse(url).context("--server is not a URL")?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => bail!("--server names no host"),
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => bail!("--server must be https:// (plain http only to this machine)"),
        other => bail!("--server must be an https:// URL, not {other}://"),
    }
    let trimmed = parsed.path().trim_end_matches('/').to_owned();
    let path = if trimmed.ends_with("/mcp") {
        trimmed
    } else {
        format!("{trimmed}/mcp")
    };
    parsed.set_path(&path);
    Ok(parsed)
}

/// What the bridge remembers of a 2025-11-25 session.
#[derive(Default)]
struct Session {
    id: Option<String>,
    protocol: Option<String>,
}

struct Relay {
    http: reqwest::Client,
    url: reqwest::Url,
    base: HeaderMap,
    session: Mutex<Session>,
    out: mpsc::Sender<String>,
}

/// Runs the bridge until stdin closes.
pub async fn run(config: BridgeConfig) -> anyhow::Result<()> {
    let url = endpoint(&config.url)?;
    let mut base = HeaderMap::new();
    base.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    base.insert(
        reqwest::header::ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    base.insert(
        HeaderName::from_static("x-api-key"),
        HeaderValue::from_str(&config.api_key).context("TATER_API_KEY is not a header value")?,
    );
    if let Some(org) = &config.org {
        base.insert(
            HeaderName::from_static("x-organization-id"),
            HeaderValue::from_str(org).context("--org is not a header value")?,
        );
    }
    let (out, mut lines) = mpsc::channel::<String>(64);
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = lines.recv().await {
            let written = async {
                stdout.write_all(line.as_bytes()).await?;
                stdout.write_all(b"\n").await?;
                stdout.flush().await
            };
            if written.await.is_err() {
                break;
            }
        }
    });
    let relay = Arc::new(Relay {
        // A redirect would carry X-API-Key elsewhere (reqwest strips only Authorization).
        http: reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
        url,
        base,
        session: Mutex::new(Session::default()),
        out,
    });
    let mut inflight: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    loop {
        line.clear();
        // Never hold more than one message's limit: a longer line is read past, not kept.
        let read = (&mut stdin)
            .take(MAX_MESSAGE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .await?;
        if read == 0 {
            break;
        }
        if line.len() > MAX_MESSAGE_BYTES {
            if !line.ends_with(b"\n") {
                skip_line(&mut stdin).await?;
            }
            relay
                .send(error(&Value::Null, -32600, "message too large"))
                .await;
            continue;
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        inflight.retain(|_, task| !task.is_finished());
        let Ok(message) = serde_json::from_slice::<Value>(&line) else {
            relay.send(error(&Value::Null, -32700, "not JSON")).await;
            continue;
        };
        // A cancellation has no HTTP form: stop the call it names (the server then sees
        // the request go away and stops its work).
        if message["method"] == "notifications/cancelled" {
            if let Some(task) = inflight.remove(&message["params"]["requestId"].to_string()) {
                task.abort();
            }
            continue;
        }
        let id = message["id"].to_string();
        let relay = relay.clone();
        // `initialize` must be answered (and its session known) before anything follows.
        if message["method"] == "initialize" {
            relay.forward(message).await;
        } else {
            inflight.insert(
                id,
                tokio::spawn(async move { relay.forward(message).await }),
            );
        }
    }
    for (_, task) in inflight {
        let _ = task.await;
    }
    relay.close().await;
    drop(relay);
    let _ = writer.await;
    Ok(())
}

/// Reads up to and including the next newline, keeping nothing.
async fn skip_line(stdin: &mut BufReader<tokio::io::Stdin>) -> std::io::Result<()> {
    loop {
        let buf = stdin.fill_buf().await?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|b| *b == b'\n') {
            Some(i) => {
                stdin.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                stdin.consume(n);
            }
        }
    }
}

fn error(id: &Value, code: i64, message: &str) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } }).to_string()
}

/// A header value as MCP carries it: plain when it can be, else `=?base64?…?=`.
fn header_value(v: &str) -> Option<HeaderValue> {
    let plain = v.bytes().all(|b| (0x20..0x7f).contains(&b)) && v.trim() == v;
    if plain {
        HeaderValue::from_str(v).ok()
    } else {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(v);
        HeaderValue::from_str(&format!("=?base64?{encoded}?=")).ok()
    }
}

impl Relay {
    async fn send(&self, line: String) {
        let _ = self.out.send(line).await;
    }

    async fn forward(&self, message: Value) {
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let notification = message.get("id").is_none();
        let mut headers = self.base.clone();
        let method = message["method"].as_str().unwrap_or_default();
        if let Some(version) = message["params"]["_meta"][PROTOCOL_META].as_str() {
            // The stateless revision names the protocol, method and target in headers too.
            let name = match method {
                "tools/call" | "prompts/get" => message["params"]["name"].as_str(),
                "resources/read" => message["params"]["uri"].as_str(),
                _ => None,
            };
            for (header, value) in [
                ("mcp-protocol-version", Some(version)),
                ("mcp-method", Some(method)),
                ("mcp-name", name),
            ] {
                if let Some(v) = value.and_then(header_value) {
                    headers.insert(HeaderName::from_static(header), v);
                }
            }
        } else if let Ok(session) = self.session.lock() {
            if let Some(sid) = session.id.as_deref().and_then(header_value) {
                headers.insert(HeaderName::from_static("mcp-session-id"), sid);
            }
            if let Some(p) = session.protocol.as_deref().and_then(header_value) {
                headers.insert(HeaderName::from_static("mcp-protocol-version"), p);
            }
        }
        let sent = self
            .http
            .post(self.url.clone())
            .headers(headers)
            .body(message.to_string())
            .send()
            .await;
        let res = match sent {
            Ok(res) => res,
            Err(e) => {
                tracing::warn!(error = %e, "the Tater server did not answer");
                if !notification {
                    self.send(error(
                        &id,
                        -32603,
                        &format!("the Tater server did not answer: {e}"),
                    ))
                    .await;
                }
                return;
            }
        };
        if method == "initialize" {
            self.remember_session(&res);
        }
        self.answer(res, &id, notification, method == "initialize")
            .await;
    }

    fn remember_session(&self, res: &reqwest::Response) {
        if let (Some(sid), Ok(mut session)) = (
            res.headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok()),
            self.session.lock(),
        ) {
            session.id = Some(sid.to_owned());
        }
    }

    async fn answer(&self, res: reqwest::Response, id: &Value, notification: bool, init: bool) {
        let status = res.status();
        let sse = res
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/event-stream"));
        let body = match res.bytes().await {
            Ok(b) => b,
            Err(e) => {
                if !notification {
                    self.send(error(
                        id,
                        -32603,
                        &format!("reading the answer failed: {e}"),
                    ))
                    .await;
                }
                return;
            }
        };
        let text = String::from_utf8_lossy(&body);
        let messages: Vec<String> = if sse {
            // Every event's data is one message; empty data (priming) and comments are not.
            text.split("\n\n")
                .filter_map(|event| {
                    let data: Vec<&str> = event
                        .lines()
                        .filter_map(|l| l.strip_prefix("data:"))
                        .map(str::trim_start)
                        .collect();
                    let data = data.join("\n");
                    (!data.trim().is_empty()).then_some(data)
                })
                .collect()
        } else if text.trim().is_empty() {
            Vec::new()
        } else {
            vec![text.trim().to_owned()]
        };
        for m in &messages {
            let Ok(v) = serde_json::from_str::<Value>(m) else {
                continue;
            };
            if init
                && let Some(p) = v["result"]["protocolVersion"].as_str()
                && let Ok(mut session) = self.session.lock()
            {
                session.protocol = Some(p.to_owned());
            }
            if v.get("jsonrpc").is_some() {
                self.send(v.to_string()).await;
            }
        }
        let forwarded = messages
            .iter()
            .any(|m| serde_json::from_str::<Value>(m).is_ok_and(|v| v.get("jsonrpc").is_some()));
        if !status.is_success() && !forwarded && !notification {
            let hint = match status.as_u16() {
                401 => "HTTP 401: the server refused the credential (set TATER_API_KEY)",
                403 => "HTTP 403: refused (the organization, or the host is not allowed)",
                404 => "HTTP 404: no such MCP session or endpoint (check --server)",
                429 => "HTTP 429: rate limited; try again shortly",
                _ => "the Tater server answered an error",
            };
            let detail = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|p| p["detail"].as_str().map(str::to_owned))
                .map(|d| format!("{hint}: {d}"))
                .unwrap_or_else(|| hint.to_owned());
            self.send(error(id, -32603, &detail)).await;
        }
    }

    /// Ends a 2025-11-25 session when the desktop client goes away.
    async fn close(&self) {
        let sid = self.session.lock().ok().and_then(|s| s.id.clone());
        if let Some(sid) = sid.as_deref().and_then(header_value) {
            let mut headers = self.base.clone();
            headers.insert(HeaderName::from_static("mcp-session-id"), sid);
            let _ = self
                .http
                .delete(self.url.clone())
                .headers(headers)
                .send()
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_https_or_loopback() {
        assert_eq!(
            endpoint("https://tater.example.com").unwrap().as_str(),
            "https://tater.example.com/mcp"
        );
        assert_eq!(
            endpoint("http://127.0.0.1:8080/mcp").unwrap().as_str(),
            "http://127.0.0.1:8080/mcp"
        );
        assert_eq!(
            endpoint("http://localhost:8080/mcp/").unwrap().as_str(),
            "http://localhost:8080/mcp"
        );
        assert!(endpoint("http://tater.example.com/mcp").is_err());
        assert!(endpoint("ftp://tater.example.com").is_err());
    }

    #[test]
    fn header_values_are_plain_or_base64() {
        assert_eq!(header_value("tools/call").unwrap(), "tools/call");
        assert!(
            header_value("é")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("=?base64?")
        );
    }
}
