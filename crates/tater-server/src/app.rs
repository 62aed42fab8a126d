//! The composition root: store, service, router and listener, built once.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use tater_service::{Clock, EntraConfig, Service, ServiceConfig};
use tater_store::Store;
use tokio::net::TcpListener;

use crate::demo::{self, DemoLogin};
use crate::gate::Gates;
use crate::rate_limit::{RateLimitConfig, RateLimiter};
use crate::routes::{HttpLimits, router};
use crate::state::{AppState, ServerInfo};

/// Agent downloads one client address may run at once, by default.
pub const DEFAULT_DOWNLOAD_CONCURRENCY: usize = 4;
/// Exports one organization may run at once, by default.
pub const DEFAULT_EXPORT_CONCURRENCY: usize = 4;

/// Everything `App::build` needs, resolved from flags (or set by tests).
pub struct AppConfig {
    pub listen: SocketAddr,
    pub database_url: String,
    pub jwt_secret: Vec<u8>,
    pub session_ttl_secs: i64,
    pub security_contact: String,
    pub body_limit: usize,
    /// Seed the demo organization; its password is kept in this file.
    pub demo_password_file: Option<std::path::PathBuf>,
    pub clock: Arc<dyn Clock>,
    /// Entra ID sign-in, when configured.
    pub entra: Option<EntraConfig>,
    /// Which hosts and origins `/mcp` answers.
    pub mcp: tater_mcp::McpConfig,
    /// Email and the window of verified identities (MCP writes with API keys).
    pub verification: tater_service::VerificationConfig,
    /// Idle and absolute ends of web application sessions.
    pub web_sessions: tater_service::WebSessionConfig,
    /// The server's external address, when it is behind a proxy.
    pub public_url: Option<String>,
    pub rate_limits: RateLimitConfig,
    pub compliance: tater_service::ComplianceConfig,
    /// The control catalog; `None` means the built-in one.
    pub catalog: Option<Arc<tater_catalog::Catalog>>,
    /// The check catalog; `None` means the built-in one (tests and benchmarks use others).
    pub checks: Option<Arc<tater_catalog::CheckCatalog>>,
    /// Audit signing keys and inline checkpoint interval.
    pub audit: tater_store::AuditSettings,
    /// Time between checkpoints of every audit head; `None` for none.
    pub checkpoint_interval: Option<Duration>,
    /// SIEM forwarding; `None` turns destinations off.
    pub siem: Option<SiemConfig>,
    /// Agent downloads one client address may run at once (0: no cap).
    pub download_concurrency: usize,
    /// Exports one organization may run at once (0: no cap).
    pub export_concurrency: usize,
    /// Time between rounds of the background job runner; `None`: this server runs none.
    pub runner_poll: Option<Duration>,
    /// How long a job the runner took stays its own before another replica may take it over
    /// (the time a killed replica's work waits).
    pub runner_lease: Duration,
    /// Where evidence files go, how large and of which types.
    pub files: tater_service::FilesConfig,
    /// How the AI features reach Anthropic.
    pub ai: tater_service::AiConfig,
    /// Where Prometheus scrapes `/metrics` (its own listener); `None`: no metrics.
    pub metrics_listen: Option<SocketAddr>,
    /// Whether metrics name organizations (SIEM queues) in their labels.
    pub metrics_tenant_labels: bool,
    /// Termination grace and the platform signing key.
    pub lifecycle: tater_service::LifecycleConfig,
}

impl AppConfig {
    /// A server on a random loopback port for tests and benchmarks: the given database, a
    /// fixed session secret, the system clock, no Entra ID, no rate limits, no SIEM
    /// forwarding, unsigned audit entries. Callers change what they need.
    pub fn for_tests(database_url: &str) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.to_owned(),
            jwt_secret: b"test-secret-test-secret-test-secret!".to_vec(),
            session_ttl_secs: 3600,
            security_contact: "mailto:security@example.test".into(),
            body_limit: 1024 * 1024,
            demo_password_file: None,
            clock: Arc::new(tater_service::SystemClock),
            entra: None,
            mcp: Default::default(),
            verification: Default::default(),
            web_sessions: Default::default(),
            public_url: None,
            rate_limits: RateLimitConfig {
                limits: crate::rate_limit::Limits {
                    auth: 0,
                    write: 0,
                    settings: 0,
                    general: 0,
                },
                ..Default::default()
            },
            compliance: Default::default(),
            catalog: None,
            checks: None,
            audit: tater_store::AuditSettings::unsigned(),
            checkpoint_interval: None,
            siem: None,
            download_concurrency: DEFAULT_DOWNLOAD_CONCURRENCY,
            export_concurrency: DEFAULT_EXPORT_CONCURRENCY,
            runner_poll: None,
            runner_lease: Duration::from_secs(600),
            files: tater_service::files_config(test_blob_store(), 4 * 1024 * 1024, None),
            ai: Default::default(),
            metrics_listen: None,
            metrics_tenant_labels: false,
            lifecycle: tater_service::LifecycleConfig {
                termination_grace_days: tater_service::MAX_GRACE_DAYS,
                // A key of the test's own: deletions are certified as in production.
                platform_key: tater_audit::PlatformKey::generate().ok().map(Arc::new),
                retention: Default::default(),
            },
        }
    }
}

/// A fresh directory for a test server's files (under the system's temporary directory).
fn test_blob_store() -> Option<tater_blobs::BlobStore> {
    let dir =
        std::env::temp_dir().join(format!("tater-files-{}", tater_domain::FileId::generate()));
    tater_blobs::BlobStore::directory(&dir).ok()
}

/// SIEM forwarding settings.
#[derive(Debug, Clone)]
pub struct SiemConfig {
    pub egress: tater_egress::EgressConfig,
    /// The master key as text (see `SecretBox::from_text`).
    pub master_key: String,
    pub failing_after_secs: i64,
    /// The HOSTNAME of syslog messages.
    pub hostname: String,
    /// The delivery worker; `None` runs none in this process.
    pub worker: Option<tater_siem::worker::WorkerConfig>,
}

/// A built server, bound to its port but not yet serving.
pub struct App {
    pub addr: SocketAddr,
    pub demo_login: Option<DemoLogin>,
    pub service: Service,
    listener: TcpListener,
    router: axum::Router,
    store: Arc<dyn Store>,
    checkpoint_interval: Option<Duration>,
    runner_poll: Option<Duration>,
    runner_lease: Duration,
    /// The SIEM delivery worker, started with the server.
    worker: Option<Arc<tater_siem::worker::Worker>>,
    /// The metrics listener's address, when metrics are on.
    pub metrics_addr: Option<SocketAddr>,
    metrics: Option<(TcpListener, axum::Router)>,
}

impl App {
    /// Opens the store (running migrations), seeds the demo if asked, and binds the listener
    /// (port 0 picks a free port; see `addr`).
    pub async fn build(config: AppConfig) -> anyhow::Result<App> {
        log_audit_keys(&config.audit.keys);
        let audit_keys = config.audit.keys.clone();
        let store = tater_store::open_with(&config.database_url, config.audit)
            .await
            .context("opening the database")?;
        let siem = match &config.siem {
            Some(c) => Some(siem_support(c, config.clock.clone())?),
            None => None,
        };
        let entra = config.entra.clone();
        let service = Service::new(
            store.clone(),
            config.clock.clone(),
            ServiceConfig {
                jwt_secret: config.jwt_secret,
                session_ttl_secs: config.session_ttl_secs,
                entra: entra.clone(),
                catalog: config.catalog,
                checks: config.checks,
                compliance: config.compliance,
                audit_keys,
                siem: siem.clone(),
                verification: config.verification,
                web: config.web_sessions,
                files: config.files,
                ai: config.ai,
                lifecycle: config.lifecycle,
            },
        )?;
        let demo_login = match &config.demo_password_file {
            Some(path) => Some(
                demo::seed(&service, path)
                    .await
                    .context("seeding the demo organization")?,
            ),
            None => None,
        };
        let info = Arc::new(ServerInfo {
            started_at: service.now(),
            engine: store.engine(),
            security_contact: config.security_contact,
            demo_email: demo_login.as_ref().map(|d| d.email.clone()),
            openapi: OnceLock::new(),
            public_url: config.public_url.clone(),
            authorization_servers: entra
                .iter()
                .filter_map(|e| crate::state::entra_issuer(&e.jwks_url))
                .collect(),
            scopes: entra
                .iter()
                .flat_map(|e| e.audiences.iter())
                .filter(|a| a.starts_with("api://"))
                .map(|a| format!("{a}/.default"))
                .collect(),
        });
        let limiter = Arc::new(RateLimiter::new(config.rate_limits, config.clock.clone()).await?);
        let gates = Arc::new(Gates::new(
            config.download_concurrency,
            config.export_concurrency,
        ));
        let state = AppState {
            service: service.clone(),
            info,
            gates,
            health: Arc::default(),
        };
        let limits = HttpLimits {
            body_bytes: config.body_limit,
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(30 * 60),
        };
        // `/mcp` reads no more than any other route.
        let mcp = tater_mcp::McpConfig {
            body_limit: config.body_limit,
            ..config.mcp.clone()
        };
        let mut router = router(state, limits, limiter, &mcp)?;
        let metrics = match config.metrics_listen {
            Some(addr) => {
                router = router.layer(axum::middleware::from_fn(crate::metrics::http_metrics));
                let tenant_labels = config.metrics_tenant_labels;
                Some(crate::metrics::bind(addr, service.clone(), tenant_labels).await?)
            }
            None => None,
        };
        let metrics_addr = match &metrics {
            Some((l, _)) => Some(l.local_addr()?),
            None => None,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let worker = match (&siem, config.siem.as_ref().and_then(|c| c.worker.clone())) {
            (Some(support), Some(wc)) => Some(Arc::new(tater_siem::worker::Worker::new(
                store.clone(),
                support.sender.clone(),
                support.secrets.clone(),
                wc,
                config.clock.clone(),
            ))),
            _ => None,
        };
        Ok(App {
            addr,
            demo_login,
            service,
            listener,
            router,
            store,
            checkpoint_interval: config.checkpoint_interval,
            runner_poll: config.runner_poll,
            runner_lease: config.runner_lease,
            worker,
            metrics_addr,
            metrics,
        })
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests
    /// finish and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let mut jobs: Vec<tokio::task::JoinHandle<()>> = Vec::new();
        if let Some(every) = self.checkpoint_interval {
            jobs.push(tokio::spawn(checkpoint_job(self.service.clone(), every)));
        }
        let (stop_delivery, delivery_stopped) = tokio::sync::watch::channel(false);
        let delivery = self
            .worker
            .as_ref()
            .map(|worker| tokio::spawn(worker.clone().run(delivery_stopped)));
        jobs.push(tokio::spawn(housekeeping(self.service.clone())));
        let (stop_runner, runner_stopped) = tokio::sync::watch::channel(false);
        let runner = self.runner_poll.map(|every| {
            let options = tater_service::RunnerOptions::leasing(
                i64::try_from(self.runner_lease.as_secs()).unwrap_or(i64::MAX),
            );
            tracing::info!(owner = %options.owner, every = ?every, "background job runner started");
            tokio::spawn(run_jobs(
                self.service.clone(),
                options,
                every,
                runner_stopped,
            ))
        });
        let (stop_metrics, metrics_stopped) = tokio::sync::watch::channel(false);
        let metrics = self.metrics.map(|(listener, router)| {
            let mut stopped = metrics_stopped;
            let stop = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            tokio::spawn(crate::metrics::serve(listener, router, stop))
        });
        let app = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop_metrics.send(true);
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        for job in jobs {
            job.abort();
            let _ = job.await;
        }
        let _ = stop_runner.send(true);
        if let Some(runner) = runner {
            stop_background(runner, "the job runner").await;
        }
        let _ = stop_delivery.send(true);
        if let (Some(worker), Some(delivery)) = (&self.worker, delivery) {
            stop_siem_delivery(worker, delivery).await;
        }
        self.store.close().await;
        Ok(served?)
    }
}

/// Waits for the delivery worker to finish its batch in flight (bounded: a receiver that hangs
/// does not hold the shutdown), then gives back its leases so a restarted server or another
/// replica delivers at once.
async fn stop_siem_delivery(
    worker: &tater_siem::worker::Worker,
    mut delivery: tokio::task::JoinHandle<()>,
) {
    const GRACE: std::time::Duration = std::time::Duration::from_secs(30);
    if tokio::time::timeout(GRACE, &mut delivery).await.is_err() {
        tracing::warn!(
            "SIEM delivery did not stop within {GRACE:?}; abandoning its batch in flight"
        );
        delivery.abort();
        let _ = delivery.await;
    }
    if let Err(e) = worker.release_leases().await {
        tracing::warn!(error = %e, "could not give back SIEM delivery leases; they expire on their own");
    }
}

/// The egress module, sender and secret box behind SIEM destinations.
fn siem_support(
    c: &SiemConfig,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<tater_service::SiemSupport> {
    if c.egress.allow.is_empty() {
        tracing::info!("egress allowlist is empty: destinations must be public addresses");
    } else {
        tracing::warn!(allow = ?c.egress.allow.nets(), "egress allowlist: these non-public ranges may be reached");
    }
    if c.egress.allow_http {
        tracing::warn!("plain http webhook URLs are allowed (TATER_EGRESS_ALLOW_HTTP)");
    }
    let egress = Arc::new(tater_egress::Egress::new(c.egress.clone()).context("egress resolver")?);
    Ok(tater_service::SiemSupport {
        sender: tater_siem::deliver::Sender::new(egress, c.hostname.clone(), clock),
        secrets: tater_siem::secret_box::SecretBox::from_text(&c.master_key)
            .context("master key")?,
        failing_after_secs: c.failing_after_secs,
    })
}

/// The background job runner's loop: a round every `every` (at once again while rounds find
/// work) until told to stop; then its leases are given back so another replica takes over.
async fn run_jobs(
    service: Service,
    options: tater_service::RunnerOptions,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*stop.borrow() {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => break,
        }
        // Drain what is due (bounded, so a flood of work still yields to the stop signal).
        for _ in 0..50 {
            match service.run_work(&options).await {
                Ok(round) if round.finished + round.failed == 0 => break,
                Ok(_) if *stop.borrow() => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "a round of the job runner failed");
                    break;
                }
            }
        }
    }
    match service.release_work(&options).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(jobs = n, "gave back background job leases"),
        Err(e) => {
            tracing::warn!(error = %e, "could not give back background job leases; they expire on their own")
        }
    }
}

/// Waits for a background task told to stop (bounded: a hung mail relay does not hold the
/// shutdown).
async fn stop_background(mut task: tokio::task::JoinHandle<()>, what: &str) {
    const GRACE: Duration = Duration::from_secs(30);
    if tokio::time::timeout(GRACE, &mut task).await.is_err() {
        tracing::warn!("{what} did not stop within {GRACE:?}; abandoning its work in flight");
        task.abort();
        let _ = task.await;
    }
}

/// Says which audit keys are in use (their ids, never the keys).
fn log_audit_keys(keys: &tater_audit::AuditKeys) {
    match keys.signing() {
        Some(k) => tracing::info!(
            key_id = k.id(),
            verify_key_ids = ?keys.ids(),
            "audit entries are signed (HMAC-SHA256)"
        ),
        None => tracing::warn!(
            "AUDIT_SIGNING_KEY is not set: audit entries are hash-chained but not signed"
        ),
    }
}

/// Checkpoints every organization's audit head that moved, every `every`. A failure is
/// logged and retried at the next tick; the inline checkpoints keep working meanwhile.
async fn checkpoint_job(service: Service, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match service.checkpoint_audit_heads().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(checkpoints = n, "audit heads checkpointed"),
            Err(e) => tracing::error!(error = %e, "checkpointing audit heads failed"),
        }
    }
}

/// Every minute: expires commands nobody fetched within the job lifetime and cancels any
/// still queued where remote execution is off (agents' polls do the same for their own
/// commands), and forgets web sessions past their lifetime and page views past their 90 days.
async fn housekeeping(service: Service) {
    let mut ticks = tokio::time::interval(Duration::from_secs(60));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match service.expire_overdue_jobs().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(targets = n, "queued commands expired or cancelled"),
            Err(e) => tracing::error!(error = %e, "the job expiry sweep failed"),
        }
        match service.forget_expired_web_data().await {
            Ok(f) if f == tater_service::Forgotten::default() => {}
            Ok(f) => tracing::info!(
                web_sessions = f.web_sessions,
                page_views = f.page_views,
                identity_codes = f.identity_codes,
                "expired web sessions and page views forgotten"
            ),
            Err(e) => tracing::error!(error = %e, "forgetting expired web data failed"),
        }
        match service.delete_terminated_organizations().await {
            Ok(done) => {
                for cert in done {
                    tracing::warn!(org = %cert.organization_id, "terminated organization deleted");
                }
            }
            Err(e) => tracing::error!(error = %e, "deleting terminated organizations failed"),
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
