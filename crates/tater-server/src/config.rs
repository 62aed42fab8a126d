//! Command-line flags (each with a `TATER_` environment variable) and what they resolve to.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use clap::builder::BoolishValueParser;
use ipnet::IpNet;
use tater_service::EntraConfig;

use crate::rate_limit::{Limits, RateLimitConfig};

/// Where the data lives; shared by `serve` and `admin`.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Directory for the SQLite database and generated secrets.
    #[arg(
        long,
        env = "TATER_DATA_DIR",
        default_value = "./tater-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Database URL. `postgres://…` selects PostgreSQL; unset means SQLite in the data directory.
    #[arg(
        long,
        env = "TATER_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    pub database_url: Option<String>,
}

impl StorageArgs {
    /// Creates the data directory (owner-only) if needed.
    pub fn ensure_data_dir(&self) -> anyhow::Result<&Path> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating the data directory {}", self.data_dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ =
                std::fs::set_permissions(&self.data_dir, std::fs::Permissions::from_mode(0o700));
        }
        Ok(&self.data_dir)
    }

    /// The database URL to open: the flag, or the SQLite file in the data directory.
    pub fn database_url(&self) -> anyhow::Result<String> {
        match &self.database_url {
            Some(url) => Ok(url.clone()),
            None => {
                let dir = self.ensure_data_dir()?;
                Ok(format!("sqlite://{}", dir.join("tater.db").display()))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// `tater serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TATER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Seed a demo organization with sample data (idempotent) and print its login.
    #[arg(long, env = "TATER_DEMO", value_parser = BoolishValueParser::new())]
    pub demo: bool,
    /// The disclosure contact in /.well-known/security.txt (a mailto: or https: URI).
    #[arg(
        long,
        env = "TATER_SECURITY_CONTACT",
        default_value = "mailto:security@localhost"
    )]
    pub security_contact: String,
    /// Secret for signing session tokens (at least 32 bytes). Unset: generated once and kept
    /// in the data directory. Several servers sharing one database must share it.
    #[arg(long, env = "TATER_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Lifetime of a session token, in hours.
    #[arg(long, env = "TATER_SESSION_TTL_HOURS", default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=720))]
    pub session_ttl_hours: u32,
    /// A web application session ends after this many minutes without a request (and in any
    /// case after `--session-ttl-hours`).
    #[arg(long, env = "TATER_WEB_IDLE_MINUTES", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=720))]
    pub web_idle_minutes: u32,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "TATER_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Log format on stderr.
    #[arg(long, env = "TATER_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// An endpoint without contact for this many hours is flagged stale.
    #[arg(long, env = "TATER_STALE_AFTER_HOURS", default_value_t = 168, value_parser = clap::value_parser!(u32).range(1..=87_600))]
    pub stale_after_hours: u32,
    /// A command the agent has not fetched within this many hours expires (`expired`).
    #[arg(long, env = "TATER_JOB_TTL_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=8760))]
    pub job_ttl_hours: u32,
    /// The longest a risk acceptance may run, in days.
    #[arg(long, env = "TATER_MAX_ACCEPTANCE_DAYS", default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub max_acceptance_days: u32,
    /// A directory of extra OSCAL catalogs and profiles (`*.json`) loaded beside the built-in
    /// SP 800-53 Rev 5; each profile becomes a framework named after its file.
    #[arg(long, env = "TATER_CATALOG_DIR")]
    pub catalog_dir: Option<PathBuf>,
    /// The address people and clients reach this server at (`https://tater.example.com`), when
    /// it is behind a proxy; names the MCP resource in its metadata.
    #[arg(long, env = "TATER_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub mcp: McpArgs,
    #[command(flatten)]
    pub mail: MailArgs,
    #[command(flatten)]
    pub entra: EntraArgs,
    #[command(flatten)]
    pub rate_limits: RateLimitArgs,
    #[command(flatten)]
    pub audit: AuditArgs,
    #[command(flatten)]
    pub siem: SiemArgs,
    #[command(flatten)]
    pub ai: AiArgs,
    #[command(flatten)]
    pub lifecycle: LifecycleArgs,
    /// Seconds between checkpoints of every organization's audit head (0: only the inline
    /// checkpoints every N entries).
    #[arg(long, env = "TATER_AUDIT_CHECKPOINT_INTERVAL", default_value_t = 3600)]
    pub audit_checkpoint_interval: u64,
    /// Seconds between rounds of the background job runner (exception expiry, task
    /// reminders); every replica runs one and they share the work (0: this server runs none).
    #[arg(long, env = "TATER_RUNNER_POLL_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub runner_poll_secs: u64,
    /// Seconds a job the runner took stays its own: a replica that dies holding jobs has them
    /// run by another after this long. A job starts only while 30 s of its lease are left (a
    /// reminder's delivery bound), so the lease is at least 60 s; the jobs of a round not
    /// started in time go back to the queue. Keep it above the model's answer time where the
    /// Evidence Agent runs.
    #[arg(long, env = "TATER_RUNNER_LEASE_SECS", default_value_t = 600, value_parser = clap::value_parser!(u32).range(60..=86_400))]
    pub runner_lease_secs: u32,
    /// Address of a separate listener serving Prometheus metrics at `/metrics` (e.g.
    /// `127.0.0.1:9464`); off unless set. Keep it off the public network.
    #[arg(long, env = "TATER_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Name organizations in metric labels (SIEM queues); off: destinations by id only.
    #[arg(long, env = "TATER_METRICS_TENANT_LABELS")]
    pub metrics_tenant_labels: bool,
    /// Where evidence files' bytes go: a directory (`file:///path` or a path) or
    /// S3-compatible storage (`s3://bucket/prefix`, credentials, region and endpoint from the
    /// standard `AWS_*` variables). Default: `<data-dir>/evidence-files`.
    #[arg(long, env = "TATER_BLOB_STORE")]
    pub blob_store: Option<String>,
    /// The largest evidence file accepted, in bytes (the upload route's own limit; the body
    /// limit stays for every other route).
    #[arg(long, env = "TATER_EVIDENCE_MAX_BYTES", default_value_t = tater_service::DEFAULT_MAX_FILE_BYTES, value_parser = clap::value_parser!(u64).range(1..=(4u64 << 30)))]
    pub evidence_max_bytes: u64,
    /// Media types evidence files may have, comma-separated (`type/*` and `*/*` allowed).
    /// Default: PDF, text, CSV, HTML, Markdown, JSON, XML, PNG, JPEG, GIF, SVG, zip, Office
    /// documents and application/octet-stream.
    #[arg(long, env = "TATER_EVIDENCE_TYPES")]
    pub evidence_types: Option<String>,
    /// Agent downloads one client address may run at once (0: no cap); the ones over it get
    /// 429 with Retry-After.
    #[arg(long, env = "TATER_DOWNLOAD_CONCURRENCY", default_value_t = crate::app::DEFAULT_DOWNLOAD_CONCURRENCY)]
    pub download_concurrency: usize,
    /// Exports (CSV, JSON, OSCAL, eMASS, Word, the full zip, the audit log) one organization
    /// may run at once (0: no cap); the ones over it get 429 with Retry-After.
    #[arg(long, env = "TATER_EXPORT_CONCURRENCY", default_value_t = crate::app::DEFAULT_EXPORT_CONCURRENCY)]
    pub export_concurrency: usize,
}

/// The AI features' way to Anthropic (issue 16). Each organization turns AI on and brings
/// its own key; the operator's key is offered to all only when said so.
#[derive(Debug, Clone, Args)]
pub struct AiArgs {
    /// The model organizations use unless they choose one.
    #[arg(long, env = "TATER_ANTHROPIC_MODEL", default_value = tater_service::DEFAULT_ANTHROPIC_MODEL)]
    pub anthropic_model: String,
    /// The Messages API's address: a proxy or a gateway instead of Anthropic's own.
    #[arg(long, env = "TATER_ANTHROPIC_BASE_URL", default_value = tater_service::DEFAULT_ANTHROPIC_BASE_URL)]
    pub anthropic_base_url: String,
    /// Organizations without a key of their own use the server's (`TATER_ANTHROPIC_API_KEY`,
    /// environment only).
    #[arg(long, env = "TATER_AI_SERVER_KEY_FOR_ALL", value_parser = BoolishValueParser::new())]
    pub ai_server_key_for_all: bool,
    /// Days an idle AI analyst conversation is kept before the job runner deletes it.
    #[arg(long, env = "TATER_AI_RETENTION_DAYS", default_value_t = tater_service::DEFAULT_AI_RETENTION_DAYS,
          value_parser = clap::value_parser!(i64).range(1..=3650))]
    pub ai_retention_days: i64,
}

impl AiArgs {
    /// The configuration; `server_key` is `TATER_ANTHROPIC_API_KEY` (the caller reads it).
    pub fn config(&self, server_key: Option<String>) -> anyhow::Result<tater_service::AiConfig> {
        let base_url = url::Url::parse(self.anthropic_base_url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http"))
            .ok_or_else(|| anyhow::anyhow!("--anthropic-base-url must be an http(s) URL"))?;
        let model = self.anthropic_model.trim();
        anyhow::ensure!(!model.is_empty(), "--anthropic-model must name a model");
        let server_key = server_key.filter(|k| !k.trim().is_empty());
        anyhow::ensure!(
            !self.ai_server_key_for_all || server_key.is_some(),
            "--ai-server-key-for-all needs TATER_ANTHROPIC_API_KEY"
        );
        Ok(tater_service::AiConfig {
            default_model: model.to_owned(),
            base_url: base_url.as_str().trim_end_matches('/').to_owned(),
            server_key,
            server_key_for_all: self.ai_server_key_for_all,
            retention_days: self.ai_retention_days,
        })
    }
}

/// SIEM forwarding and the egress rules for customer-supplied addresses (SPEC L4, L6, T4).
#[derive(Debug, Clone, Args)]
pub struct SiemArgs {
    /// Non-public ranges that destinations may reach anyway (CIDRs, comma-separated): an
    /// on-premises SIEM. Empty by default; logged at start-up.
    #[arg(long, env = "TATER_EGRESS_ALLOW", value_delimiter = ',')]
    pub egress_allow: Vec<IpNet>,
    /// Allow plain http webhook URLs (only for receivers on a trusted network).
    #[arg(long, env = "TATER_EGRESS_ALLOW_HTTP", value_parser = BoolishValueParser::new())]
    pub egress_allow_http: bool,
    /// The DNS server (ip:port) for destination names; unset: the system's resolver.
    #[arg(long, env = "TATER_EGRESS_DNS")]
    pub egress_dns: Option<SocketAddr>,
    /// Key (32 bytes as 64 hex digits or base64) that encrypts stored secrets such as webhook
    /// secrets. Unset: generated once and kept in the data directory. Replicas must share it.
    #[arg(long, env = "TATER_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// A destination failing for this many seconds is shown as failing (entries keep
    /// queueing).
    #[arg(long, env = "TATER_SIEM_FAILING_AFTER", default_value_t = 900)]
    pub siem_failing_after: u32,
    /// Seconds a destination's delivery stays with the replica that took it: one that dies
    /// mid-delivery has its destinations taken over after this long (resent entries keep
    /// their `X-TATER-Delivery` id). At least 30 s, twice a delivery request's 15 s timeout.
    #[arg(long, env = "TATER_SIEM_LEASE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(30..=3600))]
    pub siem_lease_secs: u32,
    /// The HOSTNAME of syslog messages; unset: this machine's host name.
    #[arg(long, env = "TATER_SYSLOG_HOSTNAME")]
    pub syslog_hostname: Option<String>,
}

impl SiemArgs {
    pub fn config(&self, data_dir: &Path) -> anyhow::Result<crate::app::SiemConfig> {
        Ok(crate::app::SiemConfig {
            egress: tater_egress::EgressConfig {
                allow_http: self.egress_allow_http,
                allow: tater_egress::Allowlist::new(self.egress_allow.clone()),
                nameserver: self.egress_dns,
                ..Default::default()
            },
            master_key: master_key(self.master_key.as_deref(), data_dir)?,
            failing_after_secs: i64::from(self.siem_failing_after),
            hostname: self.syslog_hostname.clone().unwrap_or_else(host_name),
            worker: Some(tater_siem::worker::WorkerConfig {
                lease: std::time::Duration::from_secs(self.siem_lease_secs.into()),
                ..Default::default()
            }),
        })
    }
}

/// This machine's host name, for syslog's HOSTNAME field.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".into())
}

/// How organizations end: `serve` and `admin` both terminate and delete them.
#[derive(Debug, Clone, Args)]
pub struct LifecycleArgs {
    /// Days a terminated organization's data is kept (its OrgAdmins may still take the full
    /// export) before the sweep deletes it: at most 30; 0 deletes at the next sweep.
    #[arg(long, env = "TATER_TERMINATION_GRACE_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=30), global = true)]
    pub termination_grace_days: u32,
    /// The platform's Ed25519 key (PKCS#8 PEM) that signs deletion certificates; replicas
    /// must share it. Unset: the one kept in `<data-dir>/platform-signing-key` (created
    /// owner-only on first use).
    #[arg(
        long,
        env = "TATER_PLATFORM_SIGNING_KEY",
        hide_env_values = true,
        global = true
    )]
    pub platform_signing_key: Option<String>,
    /// The shortest retention period an organization may choose (page views, conversations,
    /// jobs, tokens, dead letters, finished records), in days.
    #[arg(long, env = "TATER_RETENTION_MIN_DAYS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=36_500), global = true)]
    pub retention_min_days: u32,
    /// The longest retention period an organization may choose for the same (page views stay
    /// at most 90 days), in days.
    #[arg(long, env = "TATER_RETENTION_MAX_DAYS", default_value_t = 3650, value_parser = clap::value_parser!(u32).range(1..=36_500), global = true)]
    pub retention_max_days: u32,
    /// The shortest period an organization may keep its audit log for, in days (audit
    /// entries are kept for ever unless it chooses a period).
    #[arg(long, env = "TATER_AUDIT_RETENTION_MIN_DAYS", default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=36_500), global = true)]
    pub audit_retention_min_days: u32,
}

impl LifecycleArgs {
    pub fn config(&self, data_dir: &Path) -> anyhow::Result<tater_service::LifecycleConfig> {
        anyhow::ensure!(
            self.retention_min_days <= self.retention_max_days,
            "--retention-min-days must not exceed --retention-max-days"
        );
        Ok(tater_service::LifecycleConfig {
            retention: tater_service::RetentionBounds {
                min_days: self.retention_min_days,
                max_days: self.retention_max_days,
                audit_min_days: self.audit_retention_min_days,
            },
            termination_grace_days: self.termination_grace_days,
            platform_key: Some(std::sync::Arc::new(platform_key(
                self.platform_signing_key.as_deref(),
                data_dir,
            )?)),
        })
    }
}

/// The platform signing key: the configured one, or the one kept in
/// `<data-dir>/platform-signing-key` (created owner-only on first use).
pub fn platform_key(
    configured: Option<&str>,
    data_dir: &Path,
) -> anyhow::Result<tater_audit::PlatformKey> {
    if let Some(pem) = configured {
        return tater_audit::PlatformKey::from_pem(pem).context("TATER_PLATFORM_SIGNING_KEY");
    }
    let path = data_dir.join("platform-signing-key");
    match std::fs::read_to_string(&path) {
        Ok(pem) => {
            tater_audit::PlatformKey::from_pem(&pem).with_context(|| format!("{}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = tater_audit::PlatformKey::generate()?;
            write_private(&path, &key.to_pem()?)?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The master key: the configured one, or the one kept in `<data-dir>/master-key` (created
/// owner-only on first start).
pub fn master_key(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<String> {
    if let Some(k) = configured {
        tater_siem::secret_box::SecretBox::from_text(k).context("TATER_MASTER_KEY")?;
        return Ok(k.trim().to_owned());
    }
    let path = data_dir.join("master-key");
    match std::fs::read_to_string(&path) {
        Ok(k) => {
            tater_siem::secret_box::SecretBox::from_text(&k)
                .with_context(|| format!("{}", path.display()))?;
            Ok(k.trim().to_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k = tater_siem::secret_box::SecretBox::generate_key_text();
            write_private(&path, &k)?;
            Ok(k)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// How audit entries are sealed (SPEC L2). The server and the admin CLI both write entries,
/// so both take these.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// HMAC-SHA256 key that signs every new audit entry (at least 32 bytes).
    #[arg(long, env = "AUDIT_SIGNING_KEY", hide_env_values = true)]
    pub audit_signing_key: Option<String>,
    /// Earlier signing keys, comma-separated: they no longer sign but still verify.
    #[arg(
        long,
        env = "AUDIT_PREVIOUS_SIGNING_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub audit_previous_keys: Vec<String>,
    /// Every this-many entries of an organization also get a signed checkpoint.
    #[arg(long, env = "TATER_AUDIT_CHECKPOINT_EVERY", default_value_t = 1000, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub audit_checkpoint_every: i64,
}

impl AuditArgs {
    pub fn settings(&self) -> anyhow::Result<tater_store::AuditSettings> {
        let previous: Vec<&str> = self
            .audit_previous_keys
            .iter()
            .map(|k| k.trim())
            .filter(|k| !k.is_empty())
            .collect();
        let current = self.audit_signing_key.as_deref().filter(|k| !k.is_empty());
        let keys = tater_audit::AuditKeys::new(current, &previous)
            .map_err(|e| anyhow::anyhow!("AUDIT_SIGNING_KEY / AUDIT_PREVIOUS_SIGNING_KEYS: {e}"))?;
        Ok(tater_store::AuditSettings {
            keys,
            checkpoint_every: self.audit_checkpoint_every,
        })
    }
}

/// Entra ID (SPEC A1): bearer tokens on the API when audiences are set, and the web
/// application's "Sign in with Microsoft" when a client id is set.
#[derive(Debug, Clone, Args)]
pub struct EntraArgs {
    /// Accepted token audiences (the API's application id and/or App ID URI), comma-separated.
    #[arg(
        long = "entra-audiences",
        env = "TATER_ENTRA_AUDIENCES",
        value_delimiter = ','
    )]
    pub audiences: Vec<String>,
    /// The JWKS with Entra ID's signing keys (https; http only to a loopback address).
    #[arg(long = "entra-jwks-url", env = "TATER_ENTRA_JWKS_URL", default_value = tater_service::DEFAULT_JWKS_URL)]
    pub jwks_url: String,
    /// The application (client) id of Tater's app registration: turns on "Sign in with
    /// Microsoft" in the web application. Needs `--public-url` (the redirect URI is
    /// `<public-url>/app/sign-in/entra/callback`) and the client secret in
    /// `TATER_ENTRA_CLIENT_SECRET` (never a flag, so it stays out of process listings).
    #[arg(long = "entra-client-id", env = "TATER_ENTRA_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Where Entra ID's authorize and token endpoints live.
    #[arg(long = "entra-authority", env = "TATER_ENTRA_AUTHORITY", default_value = tater_service::DEFAULT_ENTRA_AUTHORITY)]
    pub authority: String,
    /// The tenant segment of those endpoints: `organizations` (any work account; onboarding
    /// decides who gets in), or your tenant id for a single-tenant app registration.
    #[arg(long = "entra-sign-in-tenant", env = "TATER_ENTRA_SIGN_IN_TENANT", default_value = tater_service::DEFAULT_ENTRA_SIGN_IN_TENANT)]
    pub sign_in_tenant: String,
}

impl EntraArgs {
    /// The Entra ID configuration, if any part is on; `client_secret` is
    /// `TATER_ENTRA_CLIENT_SECRET` (the caller reads it: never a flag).
    pub fn config(
        &self,
        public_url: Option<&str>,
        client_secret: Option<String>,
    ) -> anyhow::Result<Option<EntraConfig>> {
        let audiences: Vec<String> = self
            .audiences
            .iter()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect();
        let sign_in = match self.client_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(client_id) => {
                let public_url = public_url.ok_or_else(|| {
                    anyhow::anyhow!(
                        "--entra-client-id needs --public-url (the address Entra ID sends browsers back to)"
                    )
                })?;
                // Checked at start-up: without it every sign-in would fail at the token call.
                let client_secret = client_secret
                    .filter(|s| !s.trim().is_empty())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "--entra-client-id needs TATER_ENTRA_CLIENT_SECRET (the app registration's client secret)"
                        )
                    })?;
                Some(tater_service::EntraSignInConfig {
                    client_id: client_id.to_owned(),
                    client_secret,
                    authority: self.authority.clone(),
                    tenant: self.sign_in_tenant.trim().to_owned(),
                    redirect_uri: format!(
                        "{}{}",
                        public_url.trim_end_matches('/'),
                        tater_service::ENTRA_CALLBACK_PATH
                    ),
                })
            }
        };
        Ok(
            (!audiences.is_empty() || sign_in.is_some()).then(|| EntraConfig {
                jwks_url: self.jwks_url.clone(),
                audiences,
                refresh_floor: std::time::Duration::from_secs(60),
                sign_in,
            }),
        )
    }
}

/// Rate limits (SPEC A6): requests per minute per client IP and per tenant; 0 turns one off.
#[derive(Debug, Clone, Args)]
pub struct RateLimitArgs {
    #[arg(long, env = "TATER_RATE_LIMIT_AUTH", default_value_t = 10)]
    pub rate_limit_auth: u32,
    #[arg(long, env = "TATER_RATE_LIMIT_WRITE", default_value_t = 60)]
    pub rate_limit_write: u32,
    #[arg(long, env = "TATER_RATE_LIMIT_SETTINGS", default_value_t = 120)]
    pub rate_limit_settings: u32,
    #[arg(long, env = "TATER_RATE_LIMIT_GENERAL", default_value_t = 100)]
    pub rate_limit_general: u32,
    /// Proxies whose X-Forwarded-For is believed (CIDRs, comma-separated).
    #[arg(long, env = "TATER_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpNet>,
    /// Redis for buckets shared by several servers (e.g. redis://127.0.0.1:6379).
    #[arg(long, env = "TATER_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Prefix of the Redis keys; servers sharing limits must share it.
    #[arg(long, env = "TATER_REDIS_PREFIX", default_value = "tater:rl:")]
    pub redis_prefix: String,
}

impl RateLimitArgs {
    pub fn config(&self) -> RateLimitConfig {
        RateLimitConfig {
            limits: Limits {
                auth: self.rate_limit_auth,
                write: self.rate_limit_write,
                settings: self.rate_limit_settings,
                general: self.rate_limit_general,
            },
            trusted_proxies: self.trusted_proxies.clone(),
            redis_url: self.redis_url.clone(),
            redis_prefix: self.redis_prefix.clone(),
        }
    }
}

/// The session-token secret: the configured one, or the one kept in `<data-dir>/jwt-secret`
/// (created owner-only on first start).
pub fn jwt_secret(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = configured {
        anyhow::ensure!(s.len() >= 32, "TATER_JWT_SECRET must be at least 32 bytes");
        return Ok(s.as_bytes().to_vec());
    }
    let path = data_dir.join("jwt-secret");
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => return Ok(s.trim().as_bytes().to_vec()),
        Ok(_) => anyhow::bail!(
            "{} is shorter than 32 bytes; delete it to generate a new one",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let secret = tater_service::generate_api_key().replace(tater_service::API_KEY_PREFIX, "")
        + &tater_service::generate_api_key().replace(tater_service::API_KEY_PREFIX, "");
    write_private(&path, &secret)?;
    Ok(secret.into_bytes())
}

/// Writes a file only its owner can read.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

/// The MCP endpoint (`/mcp`).
#[derive(Debug, Clone, Args)]
pub struct McpArgs {
    /// `Host` header values `/mcp` answers (comma-separated `host` or `host:port`; a host
    /// without a port matches any). Default: loopback and the host of `--public-url`. A
    /// request naming another host is refused (DNS rebinding).
    #[arg(long, env = "TATER_MCP_ALLOWED_HOSTS", value_delimiter = ',')]
    pub mcp_allowed_hosts: Vec<String>,
    /// Browser origins allowed to call `/mcp` (comma-separated, e.g. `https://app.example`).
    /// Default: none (MCP clients send no Origin; a page on another origin is refused).
    #[arg(long, env = "TATER_MCP_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub mcp_allowed_origins: Vec<String>,
    /// How long an API key's owner stays verified for MCP writes after entering an emailed
    /// code, in hours.
    #[arg(long, env = "TATER_MCP_VERIFICATION_HOURS", default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=720))]
    pub mcp_verification_hours: u32,
}

/// Outgoing email (identity verification codes).
#[derive(Debug, Clone, Args)]
pub struct MailArgs {
    /// The SMTP relay: `smtps://host[:465]` (TLS), `smtp://host[:587]` (STARTTLS, required),
    /// or plain `smtp://` to a loopback relay only; credentials as `smtp://user:pass@host`.
    /// Unset: no email is sent, and MCP writes with an API key stay blocked.
    #[arg(long, env = "TATER_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of Tater's email.
    #[arg(
        long,
        env = "TATER_MAIL_FROM",
        default_value = "Tater <tater@localhost>"
    )]
    pub mail_from: String,
}

impl MailArgs {
    /// How identities are verified, with the window from `--mcp-verification-hours`.
    pub fn verification(&self, hours: u32) -> tater_service::VerificationConfig {
        tater_service::VerificationConfig {
            mail: self
                .smtp_url
                .clone()
                .map(|smtp_url| tater_service::MailConfig {
                    smtp_url,
                    from: self.mail_from.clone(),
                }),
            verified_secs: i64::from(hours) * 3600,
        }
    }
}

impl McpArgs {
    pub fn config(&self, public_url: Option<&str>) -> anyhow::Result<tater_mcp::McpConfig> {
        let mut hosts = self.mcp_allowed_hosts.clone();
        if !hosts.is_empty() || public_url.is_some() {
            hosts.extend(["localhost", "127.0.0.1", "::1"].map(str::to_owned));
        }
        if let Some(url) = public_url {
            let parsed = url::Url::parse(url)
                .map_err(|e| anyhow::anyhow!("--public-url is not a URL: {e}"))?;
            if let Some(host) = parsed.host_str() {
                hosts.push(host.to_owned());
            }
        }
        Ok(tater_mcp::McpConfig {
            // Set from --body-limit when the server starts.
            body_limit: 0,
            allowed_hosts: hosts,
            allowed_origins: self.mcp_allowed_origins.clone(),
            sdk_only: false,
        })
    }
}

#[cfg(test)]
mod mcp_tests {
    use super::McpArgs;

    fn args(hosts: &[&str]) -> McpArgs {
        McpArgs {
            mcp_allowed_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            mcp_allowed_origins: Vec::new(),
            mcp_verification_hours: 12,
        }
    }

    #[test]
    fn mcp_hosts_default_to_loopback_and_add_the_public_host() {
        // Nothing set: rmcp's own default (loopback only) applies.
        assert!(args(&[]).config(None).unwrap().allowed_hosts.is_empty());
        let hosts = args(&[])
            .config(Some("https://tater.example.com/"))
            .unwrap()
            .allowed_hosts;
        for h in ["localhost", "127.0.0.1", "::1", "tater.example.com"] {
            assert!(hosts.iter().any(|x| x == h), "{h} missing from {hosts:?}");
        }
        let hosts = args(&["grc.internal:8443"])
            .config(None)
            .unwrap()
            .allowed_hosts;
        assert!(hosts.iter().any(|x| x == "grc.internal:8443"));
        assert!(hosts.iter().any(|x| x == "127.0.0.1"), "loopback stays");
        assert!(args(&[]).config(Some("not a url")).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tater serve` with `extra` flags, as the command line parses it.
    fn serve(extra: &[&str]) -> Result<Box<ServeArgs>, clap::Error> {
        use clap::Parser;
        let mut argv = vec!["tater", "serve"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::try_parse_from(argv)?.command {
            crate::cli::Command::Serve(args) => Ok(args),
            _ => unreachable!("the serve command"),
        }
    }

    #[test]
    fn lease_flags_keep_their_floors_and_reach_the_workers() {
        // Shorter than the longest job (30 s) or twice a delivery request's timeout, a
        // live replica could take over work still running: refused, naming the range.
        for (flag, low, range) in [
            ("--runner-lease-secs", "59", "60..=86400"),
            ("--siem-lease-secs", "29", "30..=3600"),
        ] {
            let err = serve(&[flag, low]).unwrap_err().to_string();
            assert!(err.contains(flag) && err.contains(range), "{err}");
        }
        let defaults = serve(&[]).unwrap();
        assert_eq!(
            (defaults.runner_lease_secs, defaults.siem.siem_lease_secs),
            (600, 60)
        );
        let key = "ab".repeat(32);
        let args = serve(&[
            "--runner-lease-secs",
            "60",
            "--siem-lease-secs",
            "30",
            "--master-key",
            &key,
        ])
        .unwrap();
        assert_eq!(args.runner_lease_secs, 60);
        let siem = args.siem.config(Path::new("/nonexistent")).unwrap();
        let worker = siem.worker.unwrap();
        assert_eq!(worker.lease, std::time::Duration::from_secs(30));
    }

    fn entra(client_id: Option<&str>, audiences: &[&str]) -> EntraArgs {
        EntraArgs {
            audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
            jwks_url: tater_service::DEFAULT_JWKS_URL.into(),
            client_id: client_id.map(str::to_owned),
            authority: tater_service::DEFAULT_ENTRA_AUTHORITY.into(),
            sign_in_tenant: " organizations ".into(),
        }
    }

    #[test]
    fn microsoft_sign_in_needs_the_public_url_and_builds_its_redirect_from_it() {
        let secret = || Some("s3cret".to_owned());
        let none = entra(None, &[]).config(None, None).unwrap();
        assert!(none.is_none(), "nothing configured: Entra ID is off");
        let err = entra(Some("app-id"), &[])
            .config(None, secret())
            .unwrap_err();
        assert!(err.to_string().contains("--public-url"), "{err}");
        let public = Some("https://tater.example.com/");
        for missing in [None, Some(" ".to_owned())] {
            let err = entra(Some("app-id"), &[])
                .config(public, missing)
                .unwrap_err();
            assert!(
                err.to_string().contains("TATER_ENTRA_CLIENT_SECRET"),
                "{err}"
            );
        }
        let on = entra(Some(" app-id "), &[])
            .config(public, secret())
            .unwrap()
            .unwrap();
        let sign_in = on.sign_in.unwrap();
        assert_eq!(sign_in.client_id, "app-id");
        assert_eq!(sign_in.tenant, "organizations");
        assert_eq!(
            sign_in.redirect_uri,
            "https://tater.example.com/app/sign-in/entra/callback"
        );
        assert!(on.audiences.is_empty(), "bearer tokens stay off");
        let bearer_only = entra(Some(" "), &["api://x"])
            .config(None, None)
            .unwrap()
            .unwrap();
        assert!(bearer_only.sign_in.is_none());
    }
}
