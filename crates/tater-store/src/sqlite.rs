//! The embedded default engine.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use async_trait::async_trait;

use crate::driver::{Bound as _, Driver, RowRead as _, driver};
use crate::engine::{
    EngineDeliveryTx, EngineIdentityTx, EngineRunnerTx, EngineTenantTx, seal_legacy_entries,
};
use crate::sqlite_read::{ReadPool, SqliteReadDriver};
use crate::{Engine, IdentityTx, Mode, Result, Store, StoreError, TenantTx};

// SQLite has one writer at a time, so claiming needs no row locks.
driver!(SqliteDriver, sqlx::Sqlite, sqlx::sqlite::SqliteRow, Engine::Sqlite, lock: "", skip_locked: "");

/// SQLite in WAL mode, shared safely by the server and the admin CLI: every connection gets a
/// busy timeout and foreign keys, and write transactions take the write lock up front. Read
/// transactions run on the read path (`sqlite_read.rs`) when the database is a file.
pub struct SqliteStore {
    pool: SqlitePool,
    /// `None` for an in-memory database (a second connection would see another database).
    reads: Option<std::sync::Arc<ReadPool>>,
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
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        // A database that is a file by now (an in-memory one is not) gets the read path.
        let file = options.get_filename();
        let reads = if file.is_file() {
            ReadPool::for_wal_file(file)
                .map_err(|e| StoreError::Config(format!("SQLite read path: {e}")))?
                .map(std::sync::Arc::new)
        } else {
            None
        };
        let self_ = Self { pool, reads, audit };
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

impl SqliteStore {
    /// The tenant transaction on an open transaction of either driver: refused when the
    /// organization is terminated, unless the permit is for what may still run then.
    async fn tenant_on<D: Driver>(
        &self,
        mut tx: D::Tx,
        permit: &crate::Permit,
    ) -> Result<Box<dyn TenantTx>> {
        let scope = permit.scope();
        if !crate::open_when_terminated(permit) {
            let terminated = D::query("SELECT terminated_at FROM organizations WHERE id = ?")
                .bind(scope.org().to_string())
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = terminated
                && row.try_get::<Option<i64>>("terminated_at")?.is_some()
            {
                return Err(StoreError::OrgTerminated);
            }
        }
        Ok(Box::new(EngineTenantTx::<D> {
            tx,
            scope,
            mode: permit.mode(),
            audit: self.audit.clone(),
            refused: false,
        }))
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    async fn tenant(&self, permit: &crate::Permit) -> Result<Box<dyn TenantTx>> {
        let mode = permit.mode();
        if let (Mode::Read, Some(reads)) = (mode, &self.reads) {
            let tx = reads.begin().await?;
            return self.tenant_on::<SqliteReadDriver>(tx, permit).await;
        }
        let tx = self.begin(mode).await?;
        self.tenant_on::<SqliteDriver>(tx, permit).await
    }

    async fn identity(&self, mode: Mode) -> Result<Box<dyn IdentityTx>> {
        let audit = self.audit.clone();
        if let (Mode::Read, Some(reads)) = (mode, &self.reads) {
            let tx = reads.begin().await?;
            return Ok(Box::new(EngineIdentityTx::<SqliteReadDriver> { tx, audit }));
        }
        let tx = self.begin(mode).await?;
        Ok(Box::new(EngineIdentityTx::<SqliteDriver> { tx, audit }))
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
            reads: self.reads.as_ref().map(|r| r.stats()),
        }
    }

    async fn close(&self) {
        if let Some(reads) = &self.reads {
            reads.close();
        }
        self.pool.close().await;
    }
}
