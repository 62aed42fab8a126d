//! `tater serve` and `tater admin …`. Admin commands print only the created id or key on
//! stdout, so scripts can capture it; everything else goes to stderr.

use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tater_domain::{Role, Timestamp};
use tater_service::{
    AdminOrgRef, Service, ServiceConfig, ServiceError, SystemClock, SystemOperator,
};

use crate::app::{App, AppConfig, shutdown_signal};
use crate::config::{AuditArgs, ServeArgs, StorageArgs, jwt_secret};

#[derive(Debug, Parser)]
#[command(name = "tater", version, about = "Tater: compliance posture and GRC")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Operator tasks on the database, without a running server.
    Admin(Box<AdminArgs>),
    /// Print the CycloneDX 1.5 SBOM of this binary's dependency tree, as built.
    Sbom,
    /// The audit trail, offline.
    #[command(subcommand)]
    Audit(crate::audit_cli::AuditCommand),
    /// A stdio bridge to a Tater server's MCP endpoint, for desktop MCP clients that launch
    /// local commands (Claude Desktop, Claude Code, VS Code). The API key comes from
    /// TATER_API_KEY only.
    Mcp(McpBridgeArgs),
    /// Exit 0 when the server on this machine answers its health check (`/healthz`): the
    /// container image's HEALTHCHECK, and a probe for scripts.
    Health(HealthArgs),
}

#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// The address the server listens on (as `serve --listen`); a wildcard address is checked
    /// on loopback.
    #[arg(long, env = "TATER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout_secs: u64,
}

/// `tater health`: one GET of `/healthz`; an error unless it answers 2xx in time.
pub async fn health(args: HealthArgs) -> anyhow::Result<()> {
    let mut addr = args.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let url = format!("http://{addr}/healthz");
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(args.timeout_secs))
        .no_proxy()
        .build()?;
    let answer = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("{url} does not answer"))?;
    anyhow::ensure!(
        answer.status().is_success(),
        "{url} answered {}",
        answer.status()
    );
    println!("ok");
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct McpBridgeArgs {
    /// The Tater server (`https://tater.example.com`; plain http only to this machine).
    #[arg(long, env = "TATER_SERVER")]
    pub server: String,
    /// The organization to act in (id), when the key's owner belongs to several.
    #[arg(long, env = "TATER_ORG")]
    pub org: Option<String>,
}

/// `tater mcp`: relays stdin and stdout to the server's `/mcp` until stdin closes.
pub async fn mcp_bridge(args: McpBridgeArgs) -> anyhow::Result<()> {
    let api_key = std::env::var("TATER_API_KEY")
        .map_err(|_| anyhow::anyhow!("set TATER_API_KEY to the API key the bridge acts with"))?;
    tater_mcp::bridge::run(tater_mcp::bridge::BridgeConfig {
        url: args.server,
        api_key,
        org: args.org,
    })
    .await
}

#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub audit: AuditArgs,
    #[command(flatten)]
    pub lifecycle: crate::config::LifecycleArgs,
    /// The server's evidence-file store (as `serve --blob-store`): deleting a terminated
    /// organization deletes its files there.
    #[arg(long, env = "TATER_BLOB_STORE", global = true)]
    pub blob_store: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Users and memberships.
    #[command(subcommand)]
    User(UserCommand),
    /// API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Endpoint agent releases.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// What the server deletes on its own.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Back up the SQLite database (a consistent copy while the server runs), the evidence
    /// files and, beside them in `<FILE>.secrets/`, the generated secrets.
    Backup {
        /// The backup file to write (a zip; never overwritten).
        #[arg(long)]
        to: std::path::PathBuf,
        /// Leave the secrets out: a server restored without them cannot decrypt the
        /// secrets it stores, and every session token ends.
        #[arg(long)]
        without_secrets: bool,
    },
    /// Restore a backup into the data directory and verify every audit chain.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: std::path::PathBuf,
        /// The secrets written beside it (default `<FROM>.secrets` if it exists).
        #[arg(long)]
        secrets: Option<std::path::PathBuf>,
        /// Replace a database the data directory already holds.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Publish an agent build for self-update; prints its SHA-256.
    Publish {
        #[arg(long)]
        file: std::path::PathBuf,
        /// MAJOR.MINOR.PATCH
        #[arg(long)]
        version: String,
        #[arg(long, default_value = "linux")]
        os: String,
        #[arg(long, default_value = "x86_64")]
        arch: String,
        /// `exe`: the agent binary (what `tater-agent update` installs); `msi`: the Windows
        /// installer from `scripts/package-msi` (with `--os windows`).
        #[arg(long, default_value = "exe", value_parser = ["exe", "msi"])]
        kind: String,
        /// Base64 Ed25519 signature of the file, made offline with the release key.
        #[arg(long)]
        signature: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization; prints its id.
    Create {
        #[arg(long)]
        name: String,
        /// Entra ID tenant id whose users may sign in.
        #[arg(long)]
        entra_tenant: Option<String>,
    },
    /// Terminate an organization: closed to every credential now, deleted (with a signed
    /// certificate) when the grace period ends; prints when.
    Terminate {
        /// Organization id or name.
        #[arg(long)]
        org: String,
    },
    /// Lift a termination during its grace period.
    CancelTermination {
        /// Organization id or name.
        #[arg(long)]
        org: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Run one sweep now (the server runs it every minute): deletes terminated organizations
    /// whose grace has ended, expired web sessions and page views; prints what it removed.
    Run,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (password from TATER_PASSWORD) or, for an existing email, add or change
    /// its membership; prints the user id.
    Create {
        /// Organization id or name.
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: Role,
        /// Entra ID object id, for users who sign in through Entra ID.
        #[arg(long)]
        entra_oid: Option<String>,
    },
    /// Set a user's password from TATER_PASSWORD and sign out its sessions; prints the user id.
    SetPassword {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key; prints the key (shown this once only).
    Create {
        /// The user's email.
        #[arg(long)]
        user: String,
        /// Bind the key to this organization (id or name); without it the key is unbound.
        #[arg(long)]
        org: Option<String>,
        /// A label to recognise the key by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Lower the key's role below the user's.
        #[arg(long)]
        role: Option<Role>,
        /// Expire the key after this many days.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_in_days: Option<u32>,
    },
}

/// The file store named, or `<data-dir>/evidence-files`.
fn open_blob_store(
    named: Option<&str>,
    data_dir: &std::path::Path,
) -> anyhow::Result<tater_blobs::BlobStore> {
    match named {
        Some(location) => tater_blobs::BlobStore::open(location)
            .with_context(|| format!("opening the file store {location}")),
        None => tater_blobs::BlobStore::directory(&data_dir.join("evidence-files"))
            .context("creating the evidence-files directory"),
    }
}

/// `tater serve`: prints the URL (and demo login) on stdout, serves until SIGTERM/Ctrl-C.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let credentials = crate::credentials::Credentials::from_env();
    let database_url = args.storage.database_url()?;
    let data_dir = args.storage.ensure_data_dir()?.to_path_buf();
    let config = AppConfig {
        listen: args.listen,
        database_url,
        jwt_secret: jwt_secret(args.jwt_secret.as_deref(), &data_dir)?,
        session_ttl_secs: i64::from(args.session_ttl_hours) * 3600,
        security_contact: args.security_contact,
        body_limit: args.body_limit,
        demo_password_file: args.demo.then(|| data_dir.join("demo-password")),
        clock: Arc::new(SystemClock),
        entra: args.entra.config(
            args.public_url.as_deref(),
            credentials.env_or("TATER_ENTRA_CLIENT_SECRET", "entra-client-secret")?,
        )?,
        mcp: args.mcp.config(args.public_url.as_deref())?,
        verification: args.mail.verification(args.mcp.mcp_verification_hours),
        web_sessions: tater_service::WebSessionConfig {
            idle_secs: i64::from(args.web_idle_minutes) * 60,
            absolute_secs: i64::from(args.session_ttl_hours) * 3600,
        },
        public_url: args.public_url.clone(),
        rate_limits: args.rate_limits.config(),
        compliance: tater_service::ComplianceConfig {
            stale_after_secs: i64::from(args.stale_after_hours) * 3600,
            max_acceptance_days: i64::from(args.max_acceptance_days),
            job_ttl_secs: i64::from(args.job_ttl_hours) * 3600,
        },
        catalog: match &args.catalog_dir {
            Some(dir) => Some(Arc::new(
                tater_catalog::Catalog::with_dir(dir)
                    .with_context(|| format!("loading the catalog directory {}", dir.display()))?,
            )),
            None => None,
        },
        checks: None,
        audit: args.audit.settings()?,
        siem: Some(args.siem.config(&data_dir)?),
        checkpoint_interval: (args.audit_checkpoint_interval > 0)
            .then(|| std::time::Duration::from_secs(args.audit_checkpoint_interval)),
        download_concurrency: args.download_concurrency,
        export_concurrency: args.export_concurrency,
        metrics_listen: args.metrics_listen,
        metrics_tenant_labels: args.metrics_tenant_labels,
        runner_poll: (args.runner_poll_secs > 0)
            .then(|| std::time::Duration::from_secs(args.runner_poll_secs)),
        runner_lease: std::time::Duration::from_secs(args.runner_lease_secs.into()),
        files: tater_service::files_config(
            Some(open_blob_store(args.blob_store.as_deref(), &data_dir)?),
            args.evidence_max_bytes,
            args.evidence_types.as_deref(),
        ),
        ai: args
            .ai
            .config(credentials.env_or("TATER_ANTHROPIC_API_KEY", "anthropic-api-key")?)?,
        lifecycle: args.lifecycle.config(&data_dir)?,
    };
    let app = App::build(config).await?;
    println!("Tater is running at http://{}/", app.addr);
    if let Some(demo) = &app.demo_login {
        println!("Demo login: {} / {}", demo.email, demo.password);
    }
    tracing::info!(addr = %app.addr, "listening");
    app.run_until(shutdown_signal()).await
}

/// The OS account running the CLI, recorded as the audit `upn` of its changes: the name
/// the environment gives (`USER`, `LOGNAME`) and the process's user id, which the
/// environment cannot change and which is there when no name is (a container's root).
fn operator() -> SystemOperator {
    let name = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|n| !n.is_empty());
    let detail = match (name, process_uid()) {
        (Some(name), Some(uid)) => format!("os-user:{name} uid={uid}"),
        (Some(name), None) => format!("os-user:{name}"),
        (None, Some(uid)) => format!("os-user:uid={uid}"),
        (None, None) => "os-user:unknown".to_owned(),
    };
    SystemOperator {
        name: "admin-cli",
        detail,
    }
}

/// The user id this process runs as: the owner of its `/proc` directory (Linux).
fn process_uid() -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").ok().map(|m| m.uid())
    }
    #[cfg(not(unix))]
    {
        None
    }
}

fn password_from_env(required: bool) -> anyhow::Result<Option<String>> {
    match std::env::var("TATER_PASSWORD") {
        Ok(p) if !p.is_empty() => Ok(Some(p)),
        _ if required => anyhow::bail!("set TATER_PASSWORD to the new password"),
        _ => Ok(None),
    }
}

/// Explains service errors to an operator.
fn explain(e: ServiceError) -> anyhow::Error {
    match e {
        ServiceError::NotFound => {
            anyhow::anyhow!("not found (check the organization id or name, or the email)")
        }
        ServiceError::Validation(v) => anyhow::anyhow!("invalid input: {v}"),
        other => anyhow::Error::new(other),
    }
}

pub async fn admin(args: AdminArgs) -> anyhow::Result<()> {
    match &args.command {
        AdminCommand::Backup {
            to,
            without_secrets,
        } => {
            let r = crate::backup::backup(&args.storage, to, !without_secrets).await?;
            println!("{}", to.display());
            eprintln!(
                "backed up: database {} bytes, {} evidence files",
                r.database_bytes, r.files
            );
            if *without_secrets {
                eprintln!(
                    "warning: no secrets saved; a server restored from this backup cannot \
                     decrypt the secrets it stores (SIEM webhook secrets, the AI key) unless \
                     it is given the same master key"
                );
            } else if r.secrets == 0 {
                eprintln!(
                    "no generated secrets in the data directory yet (the server makes them when it first starts)"
                );
            } else {
                let secrets = crate::backup::secrets_dir(to);
                eprintln!(
                    "{} secrets in {} (owner-only): keep them apart from the backup",
                    r.secrets,
                    secrets.display()
                );
            }
            return Ok(());
        }
        AdminCommand::Restore {
            from,
            secrets,
            force,
        } => {
            let beside = crate::backup::secrets_dir(from);
            let secrets = secrets
                .clone()
                .or_else(|| beside.is_dir().then_some(beside));
            crate::backup::restore(&args.storage, from, secrets.as_deref(), *force).await?;
            if secrets.is_none() {
                eprintln!("warning: restored without secrets; stored secrets stay unreadable");
            }
        }
        _ => {}
    }
    let url = args.storage.database_url()?;
    let audit = args.audit.settings()?;
    let audit_keys = audit.keys.clone();
    let store = tater_store::open_with(&url, audit)
        .await
        .context("opening the database")?;
    // The CLI never issues session tokens; an ephemeral secret keeps one code path.
    let secret = tater_service::generate_api_key().into_bytes();
    let service = Service::new(
        store.clone(),
        Arc::new(SystemClock),
        ServiceConfig {
            jwt_secret: secret,
            session_ttl_secs: 3600,
            entra: None,
            catalog: None,
            checks: None,
            compliance: Default::default(),
            audit_keys,
            siem: None,
            verification: Default::default(),
            web: Default::default(),
            files: tater_service::files_config(
                Some(open_blob_store(
                    args.blob_store.as_deref(),
                    args.storage.ensure_data_dir()?,
                )?),
                tater_service::DEFAULT_MAX_FILE_BYTES,
                None,
            ),
            ai: Default::default(),
            lifecycle: args.lifecycle.config(args.storage.ensure_data_dir()?)?,
        },
    )?;
    let op = operator();
    let out = match args.command {
        AdminCommand::Backup { .. } => String::new(),
        AdminCommand::Restore { from, .. } => {
            let orgs = crate::backup::verify_restored(&service).await?;
            eprintln!(
                "restored {}: {orgs} organizations, every audit chain verifies",
                from.display()
            );
            String::new()
        }
        AdminCommand::Org(OrgCommand::Create { name, entra_tenant }) => service
            .admin_create_org(&op, &name, entra_tenant.as_deref())
            .await
            .map_err(explain)?
            .id
            .to_string(),
        AdminCommand::Org(OrgCommand::Terminate { org }) => {
            let view = service
                .admin_set_termination(&op, &AdminOrgRef(&org), true)
                .await
                .map_err(explain)?;
            format!(
                "terminated {}; its data is deleted after {}",
                view.id,
                view.delete_after.map(|t| t.to_string()).unwrap_or_default()
            )
        }
        AdminCommand::Org(OrgCommand::CancelTermination { org }) => service
            .admin_set_termination(&op, &AdminOrgRef(&org), false)
            .await
            .map_err(explain)?
            .id
            .to_string(),
        AdminCommand::Retention(RetentionCommand::Run) => {
            let deleted = service
                .delete_terminated_organizations()
                .await
                .map_err(explain)?;
            let forgotten = service.forget_expired_web_data().await.map_err(explain)?;
            let swept = service.sweep_retention().await.map_err(explain)?;
            let mut lines: Vec<String> = deleted
                .iter()
                .map(|c| {
                    format!(
                        "deleted organization {} ({})",
                        c.organization_id, c.organization_name
                    )
                })
                .collect();
            lines.push(format!(
                "forgot {} web sessions, {} page views, {} identity codes, {} AI \
                 conversations, {} Evidence Agent jobs, {} enrollment tokens, {} dead \
                 letters, {} audit entries, {} finished records",
                forgotten.web_sessions,
                forgotten.page_views + swept.page_views,
                forgotten.identity_codes,
                swept.ai_conversations,
                swept.evidence_jobs,
                swept.enrollment_tokens,
                swept.dead_letters,
                swept.audit_entries,
                swept.records
            ));
            lines.join("\n")
        }
        AdminCommand::User(UserCommand::Create {
            org,
            email,
            role,
            entra_oid,
        }) => {
            let password = password_from_env(false)?;
            let (id, created) = service
                .admin_create_user(
                    &op,
                    AdminOrgRef(&org),
                    &email,
                    role,
                    password.as_deref(),
                    entra_oid.as_deref(),
                )
                .await
                .map_err(explain)?;
            if !created {
                eprintln!(
                    "user exists: membership set to {role}; password unchanged (use `tater admin user set-password`)"
                );
            }
            id.to_string()
        }
        AdminCommand::User(UserCommand::SetPassword { email }) => {
            let password = password_from_env(true)?.unwrap_or_default();
            service
                .admin_set_password(&op, &email, &password)
                .await
                .map_err(explain)?
                .to_string()
        }
        AdminCommand::ApiKey(ApiKeyCommand::Create {
            user,
            org,
            name,
            role,
            expires_in_days,
        }) => {
            let expires = expires_in_days
                .map(|d| Timestamp::plus_seconds(service.now(), i64::from(d) * 86_400));
            let key = service
                .admin_create_api_key(
                    &op,
                    &user,
                    org.as_deref().map(AdminOrgRef),
                    &name,
                    role,
                    expires,
                )
                .await
                .map_err(explain)?;
            eprintln!(
                "API key {} created; it is shown once, store it now",
                key.record.prefix
            );
            key.key
        }
        AdminCommand::Agent(AgentCommand::Publish {
            file,
            version,
            os,
            arch,
            kind,
            signature,
        }) => {
            let content =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let key = tater_store::ReleaseKey {
                version,
                os,
                arch,
                kind,
            };
            let release = service
                .admin_publish_agent_release(&op, &key, &content, signature.as_deref())
                .await
                .map_err(explain)?;
            eprintln!(
                "agent {} published ({} bytes{})",
                release.key,
                release.size,
                if release.signature.is_some() {
                    ", signed"
                } else {
                    ", unsigned"
                }
            );
            release.sha256
        }
    };
    store.close().await;
    println!("{out}");
    Ok(())
}

/// The SBOM the build script embedded (`tater sbom`).
pub const SBOM: &str = include_str!(concat!(env!("OUT_DIR"), "/sbom.json"));
