//! The one door to addresses customers supply (SPEC L6): webhook URLs, syslog hosts, and any
//! later integration. Every outbound connection to such an address goes through [`Egress`]:
//!
//! 1. the URL or host is read strictly ([`target`]): https only unless the operator allows
//!    http, no user info, IP literals only in their standard form;
//! 2. the name is resolved once, with the configured resolver;
//! 3. every resolved address must be public ([`ip`]) or in the operator's allowlist
//!    (`TATER_EGRESS_ALLOW`), else the whole destination is refused with the reason;
//! 4. the connection goes to a vetted address only (a later DNS answer cannot switch it),
//!    without proxies from the environment, without following redirects, with timeouts and a
//!    cap on the response size.
//!
//! Destinations are vetted when saved and again at every delivery.

pub mod ip;
pub mod target;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;

pub use ip::{Allowlist, non_public_reason};
pub use target::{HostRef, parse_host, parse_url};

/// Why a destination may not be reached. The message is meant for the person who entered it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(String);

impl Refusal {
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }

    pub fn reason(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("timed out")]
    Timeout,
    #[error("request failed: {0}")]
    Http(String),
}

/// Operator settings.
#[derive(Debug, Clone)]
pub struct EgressConfig {
    /// Allow plain http URLs (never in production; for receivers on a private network).
    pub allow_http: bool,
    /// Non-public ranges that may be reached anyway.
    pub allow: Allowlist,
    /// The DNS server to ask; `None` uses the system's resolver configuration.
    pub nameserver: Option<SocketAddr>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Larger response bodies are cut off here.
    pub max_response_bytes: usize,
}

impl Default for EgressConfig {
    fn default() -> Self {
        Self {
            allow_http: false,
            allow: Allowlist::default(),
            nameserver: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            max_response_bytes: 64 * 1024,
        }
    }
}

/// A destination that passed vetting: where to connect, and the name to present (TLS SNI,
/// HTTP Host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vetted {
    pub host: HostRef,
    pub addrs: Vec<SocketAddr>,
}

/// A vetted URL.
#[derive(Debug, Clone)]
pub struct VettedUrl {
    pub url: url::Url,
    pub target: Vetted,
}

/// What came back from an HTTP request (redirects are answers, not followed).
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    /// `Retry-After` in seconds, when given as a number.
    pub retry_after: Option<u64>,
    /// The body, cut at the configured maximum.
    pub body: Vec<u8>,
}

/// Vetting and connecting. Cheap to share (`Arc`).
pub struct Egress {
    config: EgressConfig,
    resolver: TokioResolver,
    /// HTTP clients per (host, vetted addresses): a client is pinned to its addresses.
    clients: Mutex<HashMap<(String, Vec<SocketAddr>), reqwest::Client>>,
}

/// Cached clients at most; the cache is cleared when it grows past this.
const MAX_CLIENTS: usize = 256;

impl Egress {
    pub fn new(config: EgressConfig) -> Result<Self, EgressError> {
        let resolver = match config.nameserver {
            Some(ns) => {
                let mut rc = ResolverConfig::new();
                rc.add_name_server(NameServerConfig::new(ns, Protocol::Udp));
                TokioResolver::builder_with_config(rc, TokioConnectionProvider::default())
            }
            None => TokioResolver::builder_tokio()
                .map_err(|e| EgressError::Connect(format!("system resolver: {e}")))?,
        };
        let mut builder = resolver;
        builder.options_mut().timeout = config.connect_timeout.min(Duration::from_secs(5));
        builder.options_mut().attempts = 2;
        // Answers are judged on every use; caching them would only hide a changed answer.
        builder.options_mut().cache_size = 0;
        Ok(Self {
            config,
            resolver: builder.build(),
            clients: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &EgressConfig {
        &self.config
    }

    /// Vets a URL (scheme, user info, host form, every resolved address).
    pub async fn vet_url(&self, url: &str) -> Result<VettedUrl, EgressError> {
        let (url, host, port) = parse_url(url, self.config.allow_http)?;
        let target = self.vet(host, port).await?;
        Ok(VettedUrl { url, target })
    }

    /// Vets a host and port (a syslog destination).
    pub async fn vet_host(&self, host: &str, port: u16) -> Result<Vetted, EgressError> {
        if port == 0 {
            return Err(Refusal::new("port 0 is not a port").into());
        }
        let host = parse_host(host)?;
        self.vet(host, port).await
    }

    async fn vet(&self, host: HostRef, port: u16) -> Result<Vetted, EgressError> {
        let ips = match &host {
            HostRef::Ip(ip) => vec![*ip],
            HostRef::Name(name) => {
                // The trailing dot makes the name absolute: no search domains.
                let answer = self
                    .resolver
                    .lookup_ip(format!("{name}."))
                    .await
                    .map_err(|e| unresolved(name, &e))?;
                answer.iter().collect()
            }
        };
        if ips.is_empty() {
            return Err(Refusal::new(format!("{host} resolves to no address")).into());
        }
        for ip in &ips {
            if self.config.allow.allows(*ip) {
                continue;
            }
            if let Some(why) = non_public_reason(*ip) {
                let msg = match &host {
                    HostRef::Ip(_) => format!("{ip} is not a public address: {why}"),
                    HostRef::Name(n) => {
                        format!("{n} resolves to {ip}, which is not a public address: {why}")
                    }
                };
                return Err(Refusal::new(msg).into());
            }
        }
        let addrs = ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
        Ok(Vetted { host, addrs })
    }

    /// POSTs `body` to `url` after vetting it, connecting only to the vetted addresses.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<HttpReply, EgressError> {
        let vetted = self.vet_url(url).await?;
        let client = self.client_for(&vetted)?;
        let mut req = client.post(vetted.url.clone()).body(body);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let mut res = req.send().await.map_err(classify_reqwest)?;
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(classify_reqwest)? {
            let room = self.config.max_response_bytes.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if room <= chunk.len() {
                break;
            }
        }
        Ok(HttpReply {
            status,
            retry_after,
            body,
        })
    }

    fn client_for(&self, vetted: &VettedUrl) -> Result<reqwest::Client, EgressError> {
        let key = (vetted.target.host.to_string(), vetted.target.addrs.clone());
        let mut cache = self
            .clients
            .lock()
            .map_err(|_| EgressError::Http("client cache poisoned".into()))?;
        if let Some(c) = cache.get(&key) {
            return Ok(c.clone());
        }
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.config.connect_timeout)
            .timeout(self.config.request_timeout)
            .https_only(!self.config.allow_http)
            .user_agent(concat!("Tater/", env!("CARGO_PKG_VERSION")));
        if let HostRef::Name(name) = &vetted.target.host {
            builder = builder.resolve_to_addrs(name, &vetted.target.addrs);
        }
        let client = builder
            .build()
            .map_err(|e| EgressError::Http(format!("client: {e}")))?;
        if cache.len() >= MAX_CLIENTS {
            cache.clear();
        }
        cache.insert(key, client.clone());
        Ok(client)
    }

    /// Opens a TCP connection to a vetted destination (the first address that answers).
    pub async fn connect_tcp(&self, vetted: &Vetted) -> Result<tokio::net::TcpStream, EgressError> {
        let mut last = String::from("no address");
        for addr in &vetted.addrs {
            match tokio::time::timeout(
                self.config.connect_timeout,
                tokio::net::TcpStream::connect(addr),
            )
            .await
            {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(e)) => last = format!("{addr}: {e}"),
                Err(_) => last = format!("{addr}: timed out"),
            }
        }
        Err(EgressError::Connect(last))
    }

    /// A UDP socket connected to a vetted destination's first address.
    pub async fn connect_udp(&self, vetted: &Vetted) -> Result<tokio::net::UdpSocket, EgressError> {
        let addr = vetted
            .addrs
            .first()
            .ok_or_else(|| EgressError::Connect("no address".into()))?;
        let local: SocketAddr = if addr.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let socket = tokio::net::UdpSocket::bind(local)
            .await
            .map_err(|e| EgressError::Connect(e.to_string()))?;
        socket
            .connect(addr)
            .await
            .map_err(|e| EgressError::Connect(e.to_string()))?;
        Ok(socket)
    }
}

fn classify_reqwest(e: reqwest::Error) -> EgressError {
    if e.is_timeout() {
        EgressError::Timeout
    } else if e.is_connect() {
        EgressError::Connect(e.to_string())
    } else {
        EgressError::Http(e.to_string())
    }
}

/// Why `name` did not resolve, in words for the person who typed it. The resolver's own
/// error (its query structures, record types, the DNS servers it asked) is for the
/// operator's log, and only when the lookup itself failed.
fn unresolved(name: &str, e: &hickory_resolver::ResolveError) -> Refusal {
    use hickory_resolver::proto::ProtoErrorKind;
    let why = if e.is_nx_domain() {
        "there is no such name"
    } else if e.is_no_records_found() {
        "the name has no address"
    } else if e
        .proto()
        .is_some_and(|p| matches!(p.kind(), ProtoErrorKind::Timeout))
    {
        "the DNS server did not answer in time"
    } else {
        tracing::warn!(host = name, error = %e, "egress: looking a destination's name up failed");
        "the DNS lookup failed"
    };
    Refusal::new(format!("{name} does not resolve: {why}"))
}
