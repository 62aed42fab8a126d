//! The embedded default engine.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use async_trait::async_trait;

use crate::driver::driver;
use crate::engine::{
    EngineDeliveryTx, EngineIdentityTx, EngineRunnerTx, EngineTenantTx, seal_legacy_entries,
};
use crate::{Engine, IdentityTx, Mode, Result, Store, StoreError, TenantTx};

// SQLite has one writer at a time, so claiming needs no row locks.
driver!(SqliteDriver, sqlx::Sqlite, sqlx::sqlite::SqliteRow, Engine::Sqlite, lock: "", skip_locked: "");

/// SQLite in WAL mode, shared safely by the server and the admin CLI: every connection gets a
/// busy timeout and foreign keys, and write transactions take the write lock up front.
pub struct SqliteStore {
    pool: SqlitePool,
    audit: std::sync::Arc<crate::AuditSettings>,
}

impl SqliteStore {
    pub async fn connect(url: &str, audit: std::sync::Arc<crate::AuditSettings>) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Deleted content is overwritten, not left in free pages (an organization's
            // deletion must leave nothing of it in the file).
            .pragma("secure_delete", "on");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A ping before each hand-out is a trip to the connection's worker thread on every
            // transaction's path (issue 20); a local file does not hang up while idle, and
            // returning a connection pings it anyway.
            .test_before_acquire(false)
            // Defence in depth for the above: a connection still inside a transaction when
            // it is handed out again is closed (which rolls it back), never reused.
            .before_acquire(|conn, _| {
                Box::pin(async move {
                    use sqlx::Connection as _;
                    let leaked = conn.is_in_transaction();
                    if leaked {
                        tracing::warn!(
                            "a pooled SQLite connection was left inside a transaction; closed"
                        );
                    }
                    Ok(!leaked)
                })
            })
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        let self_ = Self { pool, audit };
        let mut tx = self_.begin(Mode::Write).await?;
        seal_legacy_entries::<SqliteDriver>(&mut tx, &self_.audit).await?;
        tx.commit().await?;
        Ok(self_)
    }

    /// Opens a transaction in a task of its own. sqlx-sqlite's `begin_with` is not safe to
    /// abandon: a caller dropped between its `BEGIN` and the transaction object (a client
    /// that disconnects, a timeout, an aborted background task) left the connection in the
    /// pool inside a transaction that nobody ends, holding SQLite's write lock and failing
    /// every later write it was given. In a task the opening always completes, and a
    /// transaction nobody waits for any more is dropped there, which rolls it back.
    async fn begin(&self, mode: Mode) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        let pool = self.pool.clone();
        let opening = tokio::spawn(async move {
            match mode {
                // A deferred transaction that reads and then writes can fail to upgrade its
                // lock when another connection wrote in between; take the write lock first.
                Mode::Write => pool.begin_with("BEGIN IMMEDIATE").await,
                Mode::Read => pool.begin().await,
            }
        });
        match opening.await {
            Ok(tx) => Ok(tx?),
            Err(join) => {
                tracing::error!(error = %join, "opening a SQLite transaction failed");
                Err(StoreError::Database(sqlx::Error::WorkerCrashed))
            }
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    async fn tenant(&self, permit: &crate::Permit) -> Result<Box<dyn TenantTx>> {
        let (scope, mode) = (permit.scope(), permit.mode());
        let mut tx = self.begin(mode).await?;
        if !crate::open_when_terminated(permit) {
            let terminated: Option<(Option<i64>,)> =
                sqlx::query_as("SELECT terminated_at FROM organizations WHERE id = ?")
                    .bind(scope.org().to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some((Some(_),)) = terminated {
                return Err(StoreError::OrgTerminated);
            }
        }
        Ok(Box::new(EngineTenantTx::<SqliteDriver> {
            tx,
            scope,
            mode,
            audit: self.audit.clone(),
            refused: false,
        }))
    }

    async fn identity(&self, mode: Mode) -> Result<Box<dyn IdentityTx>> {
        let tx = self.begin(mode).await?;
        Ok(Box::new(EngineIdentityTx::<SqliteDriver> {
            tx,
            audit: self.audit.clone(),
        }))
    }

    async fn delivery(&self) -> Result<Box<dyn crate::DeliveryTx>> {
        let tx = self.begin(Mode::Write).await?;
        Ok(Box::new(EngineDeliveryTx::<SqliteDriver> { tx }))
    }

    async fn runner(&self) -> Result<Box<dyn crate::RunnerTx>> {
        let tx = self.begin(Mode::Write).await?;
        Ok(Box::new(EngineRunnerTx::<SqliteDriver> { tx }))
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn scrub(&self) -> Result<()> {
        // TRUNCATE waits for readers and resets the log to zero bytes; a busy database may
        // leave frames behind, so it is tried a few times.
        for _ in 0..5 {
            let (busy,): (i64,) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.pool)
                .await?;
            if busy == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(StoreError::Config(
            "the write-ahead log could not be truncated (the database stayed busy)".into(),
        ))
    }

    async fn copy_into(&self, path: &std::path::Path) -> Result<()> {
        let path = path
            .to_str()
            .ok_or_else(|| crate::StoreError::Config("the backup path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO ?")
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn pool_stats(&self) -> crate::PoolStats {
        crate::PoolStats {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
