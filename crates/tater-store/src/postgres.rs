//! The scale-out engine, with row-level security as a second wall behind the typed scope.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use async_trait::async_trait;
use tater_domain::OrgId;

use crate::driver::driver;
use crate::engine::{
    EngineDeliveryTx, EngineIdentityTx, EngineRunnerTx, EngineTenantTx, seal_legacy_entries,
};
use crate::{Engine, IdentityTx, Mode, Result, Store, StoreError, TenantTx};

// Replicas claim different destinations: a row another one is claiming is skipped.
driver!(PgDriver, sqlx::Postgres, sqlx::postgres::PgRow, Engine::Postgres, lock: " FOR UPDATE", skip_locked: " FOR UPDATE SKIP LOCKED");

/// How many dead connections one operation may meet before it gives up: every pooled one (a
/// database restart leaves them all dead) and then one more.
const DEAD_CONNECTION_RETRIES: u32 = MAX_CONNECTIONS + 1;
const MAX_CONNECTIONS: u32 = 16;

/// A connection the server closed under us (a restart, an administrator's
/// `pg_terminate_backend`, a crash): the operation can run again on another one. Only for
/// operations that did nothing before failing, such as beginning a transaction.
fn is_dead_connection(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) => true,
        // admin_shutdown, crash_shutdown
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("57P01" | "57P02")),
        _ => false,
    }
}

/// Runs `op` until it gets a live connection: sqlx no longer pings each connection before
/// handing it out, so after a database restart the pool still holds connections that are
/// dead. Each one found is dropped (its return ping fails and the pool closes it) and the
/// operation runs again on another; no request fails for it.
async fn on_live_connection<T, F, Fut>(mut op: F) -> std::result::Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, sqlx::Error>>,
{
    let mut tries = 0;
    loop {
        match op().await {
            Err(e) if is_dead_connection(&e) && tries < DEAD_CONNECTION_RETRIES => {
                tries += 1;
                tracing::info!(error = %e, "a pooled PostgreSQL connection was dead; using another");
            }
            done => return done,
        }
    }
}

/// The transaction-local setting row-level security reads.
enum Setting {
    /// The organization, and whether it opens even when terminated.
    Tenant(OrgId, bool),
    CrossTenant,
}

/// PostgreSQL. Tenant transactions set `tater.tenant_id` for the transaction only; identity
/// transactions set `tater.cross_tenant`. The policies in `migrations/postgres` admit a row
/// only under one of those settings, so even a query without a tenant filter cannot see or
/// change another tenant's rows — provided the server connects as a role that row-level
/// security applies to (not a superuser, not `BYPASSRLS`); start-up warns otherwise.
pub struct PgStore {
    pool: PgPool,
    audit: std::sync::Arc<crate::AuditSettings>,
}

impl PgStore {
    pub async fn connect(url: &str, audit: std::sync::Arc<crate::AuditSettings>) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            // sqlx pings every idle connection before handing it out by default: a round trip
            // on every transaction's path (issue 20). Not here: a connection found dead when a
            // transaction begins is replaced instead (`on_live_connection`).
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let bypass: bool = sqlx::query_scalar(
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&pool)
        .await?;
        if bypass {
            tracing::warn!(
                "connected to PostgreSQL as a superuser or BYPASSRLS role: row-level security is \
                 not enforced; tenant isolation rests on the typed scope alone. Connect as an \
                 ordinary role that owns the schema."
            );
        }
        let self_ = Self { pool, audit };
        let mut tx = self_.begin(Setting::CrossTenant).await?;
        seal_legacy_entries::<PgDriver>(&mut tx, &self_.audit).await?;
        tx.commit().await?;
        Ok(self_)
    }

    /// Begins a transaction and sets one transaction-local setting, in one round trip. The
    /// value is written into the statement, so it must come from a trusted type: an `OrgId`
    /// (canonical UUID: hex digits and hyphens) or a constant.
    async fn begin(&self, setting: Setting) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        let value = match setting {
            Setting::Tenant(org, _) => org.to_string(),
            Setting::CrossTenant => "on".to_owned(),
        };
        if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(StoreError::Config(
                "refusing an unsafe session setting".into(),
            ));
        }
        // A terminated organization is refused (SQLSTATE TT403) in the same round trip, by a
        // check run before the BEGIN: when it fails the rest of the string does not run and
        // the connection goes back to the pool with no transaction open.
        let statement = match setting {
            Setting::Tenant(_, open) => format!(
                "SELECT tater_tenant_open('{value}', {open}); BEGIN; \
                 SELECT set_config('tater.tenant_id', '{value}', true)"
            ),
            Setting::CrossTenant => {
                format!("BEGIN; SELECT set_config('tater.cross_tenant', '{value}', true)")
            }
        };
        Ok(on_live_connection(|| self.pool.begin_with(statement.clone())).await?)
    }
}

#[async_trait]
impl Store for PgStore {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    async fn tenant(&self, permit: &crate::Permit) -> Result<Box<dyn TenantTx>> {
        let (scope, mode) = (permit.scope(), permit.mode());
        let setting = Setting::Tenant(scope.org(), crate::open_when_terminated(permit));
        let tx = self.begin(setting).await?;
        Ok(Box::new(EngineTenantTx::<PgDriver> {
            tx,
            scope,
            mode,
            audit: self.audit.clone(),
            refused: false,
        }))
    }

    async fn identity(&self, _mode: Mode) -> Result<Box<dyn IdentityTx>> {
        let tx = self.begin(Setting::CrossTenant).await?;
        Ok(Box::new(EngineIdentityTx::<PgDriver> {
            tx,
            audit: self.audit.clone(),
        }))
    }

    async fn delivery(&self) -> Result<Box<dyn crate::DeliveryTx>> {
        let tx = self.begin(Setting::CrossTenant).await?;
        Ok(Box::new(EngineDeliveryTx::<PgDriver> { tx }))
    }

    async fn runner(&self) -> Result<Box<dyn crate::RunnerTx>> {
        let tx = self.begin(Setting::CrossTenant).await?;
        Ok(Box::new(EngineRunnerTx::<PgDriver> { tx }))
    }

    async fn ping(&self) -> Result<()> {
        on_live_connection(|| sqlx::query("SELECT 1").execute(&self.pool)).await?;
        Ok(())
    }

    async fn scrub(&self) -> Result<()> {
        // VACUUM cannot run in a transaction; each tenant table is vacuumed on its own.
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT table_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND column_name = 'tenant_id'",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut owned: Vec<String> = tables.into_iter().map(|(t,)| t).collect();
        owned.extend(["organizations", "users", "page_views", "web_sessions"].map(String::from));
        for table in owned {
            if table.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                sqlx::query(&format!("VACUUM {table}"))
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    async fn copy_into(&self, _: &std::path::Path) -> Result<()> {
        Err(crate::StoreError::Config(
            "a PostgreSQL database is backed up with pg_dump or point-in-time recovery \
             (README: Backups)"
                .into(),
        ))
    }

    fn pool_stats(&self) -> crate::PoolStats {
        crate::PoolStats {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
            reads: None,
        }
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
