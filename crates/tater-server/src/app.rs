//! The composition root: store, service, router and listener, built once.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use tater_service::{Clock, EntraConfig, Service, ServiceConfig};
use tater_store::Store;
use tokio::net::TcpListener;

use crate::demo::{self, DemoLogin};
use crate::rate_limit::{RateLimitConfig, RateLimiter};
use crate::routes::{HttpLimits, router};
use crate::state::{AppState, ServerInfo};

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
    pub rate_limits: RateLimitConfig,
    pub compliance: tater_service::ComplianceConfig,
    /// The control catalog; `None` means the built-in one.
    pub catalog: Option<Arc<tater_catalog::Catalog>>,
    /// The check catalog; `None` means the built-in one (tests and benchmarks use others).
    pub checks: Option<Arc<tater_catalog::CheckCatalog>>,
}

/// A built server, bound to its port but not yet serving.
pub struct App {
    pub addr: SocketAddr,
    pub demo_login: Option<DemoLogin>,
    pub service: Service,
    listener: TcpListener,
    router: axum::Router,
    store: Arc<dyn Store>,
}

impl App {
    /// Opens the store (running migrations), seeds the demo if asked, and binds the listener
    /// (port 0 picks a free port; see `addr`).
    pub async fn build(config: AppConfig) -> anyhow::Result<App> {
        let store = tater_store::open(&config.database_url)
            .await
            .context("opening the database")?;
        let service = Service::new(
            store.clone(),
            config.clock.clone(),
            ServiceConfig {
                jwt_secret: config.jwt_secret,
                session_ttl_secs: config.session_ttl_secs,
                entra: config.entra,
                catalog: config.catalog,
                checks: config.checks,
                compliance: config.compliance,
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
            started: Instant::now(),
            started_at: service.now(),
            engine: store.engine(),
            security_contact: config.security_contact,
            demo_email: demo_login.as_ref().map(|d| d.email.clone()),
            openapi: OnceLock::new(),
        });
        let limiter = Arc::new(RateLimiter::new(config.rate_limits).await?);
        let state = AppState {
            service: service.clone(),
            info,
        };
        let limits = HttpLimits {
            body_bytes: config.body_limit,
            request_timeout: Duration::from_secs(30),
        };
        let router = router(state, limits, limiter);
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let addr = listener.local_addr()?;
        Ok(App {
            addr,
            demo_login,
            service,
            listener,
            router,
            store,
        })
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests
    /// finish and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let app = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await?;
        self.store.close().await;
        Ok(())
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
