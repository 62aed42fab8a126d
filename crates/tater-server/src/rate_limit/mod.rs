//! Rate limits (SPEC A6): per minute, in a per-IP bucket and a per-tenant bucket for each
//! category of request. Buckets live in memory, or in Redis when `TATER_REDIS_URL` is set so
//! several replicas share them.

mod gcra;
mod redis;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use tater_domain::{Clock, OrgId};

use crate::error::Problem;
pub use gcra::{Outcome, decide};

/// Requests per minute for each category; 0 switches a category off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub auth: u32,
    pub write: u32,
    pub settings: u32,
    pub general: u32,
}

impl Default for Limits {
    /// SPEC A6.
    fn default() -> Self {
        Self {
            auth: 10,
            write: 60,
            settings: 120,
            general: 100,
        }
    }
}

/// Everything the limiter needs from configuration.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub limits: Limits,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    pub redis_url: Option<String>,
    /// Prefix of the Redis keys; replicas sharing limits must share it.
    pub redis_prefix: String,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            trusted_proxies: Vec::new(),
            redis_url: None,
            redis_prefix: "tater:rl:".into(),
        }
    }
}

/// What kind of request, for choosing its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Auth,
    Write,
    Settings,
    General,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::Auth => "auth",
            Category::Write => "write",
            Category::Settings => "settings",
            Category::General => "general",
        }
    }

    /// The category of a request; `None` for the health check, which is never limited.
    pub fn of(method: &Method, path: &str) -> Option<Category> {
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        if path == "/healthz" {
            None
        } else if under("/mcp") {
            // Each tool call is counted by what it does once the tool is known (see
            // `routes/mcp.rs`); the envelope counts as general traffic.
            Some(Category::General)
        } else if under("/api/auth")
            || path == "/api/agent/enroll"
            || (path == tater_web::SIGN_IN_PATH && *method == Method::POST)
            // "Sign in with Microsoft": each start signs a flow, each callback redeems a code.
            || path.starts_with(tater_web::ENTRA_SIGN_IN_PREFIX)
        {
            Some(Category::Auth)
        } else if under("/api/members")
            || under("/api/api-keys")
            || under("/api/settings")
            || under("/api/siem-destinations")
            || under("/api/system-profile")
        {
            Some(Category::Settings)
        } else if matches!(
            *method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        ) {
            Some(Category::Write)
        } else {
            Some(Category::General)
        }
    }

    fn limit(self, limits: &Limits) -> u32 {
        match self {
            Category::Auth => limits.auth,
            Category::Write => limits.write,
            Category::Settings => limits.settings,
            Category::General => limits.general,
        }
    }
}

/// Whose bucket.
#[derive(Debug, Clone, Copy)]
pub enum Subject {
    Ip(IpAddr),
    Tenant(OrgId),
}

/// One bucket's answer, with what the response headers say.
#[derive(Debug, Clone, Copy)]
pub struct Verdict {
    pub category: Category,
    pub limit: u32,
    pub outcome: Outcome,
}

impl Verdict {
    fn unlimited(category: Category) -> Self {
        let outcome = Outcome {
            allowed: true,
            remaining: u32::MAX,
            reset_us: 0,
            retry_after_us: 0,
            tat: 0,
        };
        Self {
            category,
            limit: 0,
            outcome,
        }
    }

    fn secs(us: i64) -> i64 {
        (us + 999_999) / 1_000_000
    }

    /// `RateLimit-Policy`/`RateLimit` (draft-ietf-httpapi-ratelimit-headers) and the older
    /// `RateLimit-Limit/-Remaining/-Reset` many clients still read; `Retry-After` when refused.
    pub fn write_headers(&self, h: &mut HeaderMap) {
        if self.limit == 0 {
            return;
        }
        let name = self.category.name();
        let reset = Self::secs(self.outcome.reset_us);
        let mut put = |k: &'static str, v: String| {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(HeaderName::from_static(k), v);
            }
        };
        put(
            "ratelimit-policy",
            format!("\"{name}\";q={};w=60", self.limit),
        );
        put(
            "ratelimit",
            format!("\"{name}\";r={};t={reset}", self.outcome.remaining),
        );
        put("ratelimit-limit", self.limit.to_string());
        put("ratelimit-remaining", self.outcome.remaining.to_string());
        put("ratelimit-reset", reset.to_string());
        if !self.outcome.allowed {
            put(
                "retry-after",
                Self::secs(self.outcome.retry_after_us).max(1).to_string(),
            );
        }
    }

    pub fn problem(&self) -> Problem {
        let wait = Self::secs(self.outcome.retry_after_us).max(1);
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "Too many requests",
            format!(
                "too many {} requests; retry in {wait} s",
                self.category.name()
            ),
        )
    }
}

/// The limiter shared by all requests of one server.
pub struct RateLimiter {
    config: RateLimitConfig,
    memory: Mutex<HashMap<String, i64>>,
    checks: AtomicU64,
    redis: Option<redis::RedisBuckets>,
    /// The server's one clock, for buckets kept in memory (Redis buckets use Redis's own
    /// time, which every replica shares).
    clock: Arc<dyn Clock>,
}

impl RateLimiter {
    /// Connects to Redis when configured; start-up fails if it cannot, so replicas never run
    /// with limits silently unshared.
    pub async fn new(config: RateLimitConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let redis = match &config.redis_url {
            Some(url) => Some(redis::RedisBuckets::connect(url, &config.redis_prefix).await?),
            None => None,
        };
        Ok(Self {
            config,
            memory: Mutex::new(HashMap::new()),
            checks: AtomicU64::new(0),
            redis,
            clock,
        })
    }

    /// Counts one request of `category` against `subject`'s bucket.
    pub async fn check(&self, subject: Subject, category: Category) -> Verdict {
        let limit = category.limit(&self.config.limits);
        if limit == 0 {
            return Verdict::unlimited(category);
        }
        let key = match subject {
            Subject::Ip(ip) => format!("ip:{}:{ip}", category.name()),
            Subject::Tenant(org) => format!("tenant:{}:{org}", category.name()),
        };
        let outcome = match &self.redis {
            Some(r) => match r.decide(&key, limit).await {
                Ok(o) => o,
                Err(e) => {
                    // Redis down: limit locally rather than not at all.
                    tracing::warn!(error = %e, "rate limit store unreachable; limiting in memory");
                    self.decide_in_memory(&key, limit)
                }
            },
            None => self.decide_in_memory(&key, limit),
        };
        if !outcome.allowed {
            let by = match subject {
                Subject::Ip(_) => "ip",
                Subject::Tenant(_) => "tenant",
            };
            metrics::counter!("tater_rate_limit_refusals_total",
                "category" => category.name(), "bucket" => by)
            .increment(1);
        }
        Verdict {
            category,
            limit,
            outcome,
        }
    }

    fn decide_in_memory(&self, key: &str, limit: u32) -> Outcome {
        let now = self.clock.now().millis().saturating_mul(1000);
        let mut buckets = self
            .memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Now and then, forget buckets that are back to full quota.
        if self
            .checks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(4096)
        {
            buckets.retain(|_, tat| *tat > now);
        }
        let outcome = decide(buckets.get(key).copied(), now, limit);
        if outcome.allowed {
            buckets.insert(key.to_owned(), outcome.tat);
        }
        outcome
    }

    /// The client's address: the socket peer, unless the peer is a trusted proxy; then the
    /// right-most `X-Forwarded-For` hop that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let trusted = |ip: &IpAddr| self.config.trusted_proxies.iter().any(|n| n.contains(ip));
        if !trusted(&peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) if trusted(&ip) => continue,
                Ok(ip) => return ip,
                // A hop we cannot read: stop believing the header there.
                Err(_) => return peer,
            }
        }
        peer
    }
}

/// Put in the request by the middleware; authentication counts the tenant bucket through it
/// once it knows the tenant, and the middleware reports the tighter of the two buckets.
#[derive(Clone)]
pub struct TenantBucket {
    limiter: Arc<RateLimiter>,
    category: Category,
    verdict: Arc<Mutex<Option<Verdict>>>,
}

impl TenantBucket {
    /// Counts the request against `org`'s bucket; the 429 problem when it is spent.
    pub async fn check(&self, org: OrgId) -> Result<(), Problem> {
        self.check_as(org, self.category)
            .await
            .map_err(|v| v.problem())
    }

    /// Counts against `org`'s bucket of `category` (an MCP tool call, whose category is what
    /// the tool does); the refusing verdict when it is spent.
    pub async fn check_as(&self, org: OrgId, category: Category) -> Result<(), Verdict> {
        let v = self.limiter.check(Subject::Tenant(org), category).await;
        if let Ok(mut slot) = self.verdict.lock() {
            *slot = Some(v);
        }
        if v.outcome.allowed { Ok(()) } else { Err(v) }
    }

    /// Seconds until a refused verdict's bucket has room again.
    pub fn wait_secs(v: &Verdict) -> u64 {
        u64::try_from(Verdict::secs(v.outcome.retry_after_us).max(1)).unwrap_or(1)
    }
}

/// The tenant bucket as the web application asks for it (its pages know the organization
/// once the session cookie is read).
fn web_org_limit(slot: TenantBucket) -> tater_web::OrgLimit {
    tater_web::OrgLimit(Arc::new(move |org| {
        let slot = slot.clone();
        Box::pin(async move {
            let category = slot.category;
            slot.check_as(org, category)
                .await
                .map_err(|v| TenantBucket::wait_secs(&v))
        })
    }))
}

/// Counts every request against its client IP's bucket, and lets authentication count the
/// tenant's.
pub async fn rate_limit(
    State(limiter): State<Arc<RateLimiter>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(category) = Category::of(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let ip = limiter.client_ip(peer, req.headers());
    req.extensions_mut().insert(crate::gate::ClientIp(ip));
    let by_ip = limiter.check(Subject::Ip(ip), category).await;
    if !by_ip.outcome.allowed {
        tracing::info!(%ip, category = category.name(), "rate limited (client IP)");
        let path = req.uri().path();
        let mut res = if path == tater_web::APP_PATH || path.starts_with("/app/") {
            // A browser's form (sign-in): a page, not JSON.
            let why = "Too many attempts from your address.";
            tater_web::too_many_requests(why, TenantBucket::wait_secs(&by_ip))
        } else {
            by_ip.problem().into_response()
        };
        by_ip.write_headers(res.headers_mut());
        return res;
    }
    let slot = TenantBucket {
        limiter: limiter.clone(),
        category,
        verdict: Arc::new(Mutex::new(None)),
    };
    req.extensions_mut().insert(slot.clone());
    req.extensions_mut().insert(web_org_limit(slot.clone()));
    let mut res = next.run(req).await;
    let by_tenant = slot.verdict.lock().ok().and_then(|mut v| v.take());
    let shown = match by_tenant {
        Some(t) if !t.outcome.allowed || t.outcome.remaining < by_ip.outcome.remaining => t,
        _ => by_ip,
    };
    shown.write_headers(res.headers_mut());
    if !shown.outcome.allowed {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(trusted: &[&str]) -> RateLimiter {
        let config = RateLimitConfig {
            trusted_proxies: trusted.iter().map(|t| t.parse().unwrap()).collect(),
            ..Default::default()
        };
        RateLimiter {
            config,
            memory: Mutex::new(HashMap::new()),
            checks: AtomicU64::new(0),
            redis: None,
            clock: Arc::new(tater_service::FixedClock::new(
                tater_domain::Timestamp::from_millis(0),
            )),
        }
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn client_ip_believes_only_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let none = limiter(&[]);
        assert_eq!(
            none.client_ip(ip("203.0.113.9"), &xff("198.51.100.1")),
            ip("203.0.113.9"),
            "untrusted peer: header ignored"
        );
        let lb = limiter(&["10.0.0.0/8"]);
        assert_eq!(
            lb.client_ip(ip("10.0.0.2"), &xff("198.51.100.1")),
            ip("198.51.100.1")
        );
        // A client cannot hide behind a forged left-most entry: the right-most untrusted hop wins.
        assert_eq!(
            lb.client_ip(ip("10.0.0.2"), &xff("1.2.3.4, 198.51.100.1, 10.0.0.7")),
            ip("198.51.100.1")
        );
        assert_eq!(
            lb.client_ip(ip("10.0.0.2"), &xff("garbage")),
            ip("10.0.0.2")
        );
        assert_eq!(
            lb.client_ip(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn categories() {
        let cases = [
            (Method::POST, "/api/auth/login", Some(Category::Auth)),
            (Method::DELETE, "/api/api-keys/x", Some(Category::Settings)),
            (Method::GET, "/api/members", Some(Category::Settings)),
            (Method::PUT, "/api/poam/x", Some(Category::Write)),
            (Method::GET, "/api/poam", Some(Category::General)),
            (Method::GET, "/api/authors", Some(Category::General)),
            // A prefix counts only as a whole path segment.
            (Method::GET, "/api/settingsx", Some(Category::General)),
            (Method::GET, "/api/settings/mcp", Some(Category::Settings)),
            (Method::GET, "/healthz", None),
        ];
        for (method, path, expected) in cases {
            assert_eq!(Category::of(&method, path), expected, "{method} {path}");
        }
    }
}
