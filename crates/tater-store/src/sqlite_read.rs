//! SQLite's read path: read-only transactions on rusqlite connections, run in place.
//!
//! sqlx-sqlite gives every connection a worker thread and sends it each step — `BEGIN`, the
//! statement, each row, the rollback, the ping on return — over a channel; every step is a
//! thread hand-off. On two cores those hand-offs were half the server's CPU under a read load
//! (issue 20). A read transaction here runs each statement on the calling thread: WAL readers
//! never wait for the writer, and a statement over pages in the cache takes microseconds, so
//! this is cheaper than any hand-off. Writes stay on sqlx (`sqlite.rs`): they take the write
//! lock and may wait for it, which must not stall the async runtime.
//!
//! A statement that returns many rows or runs long is finished as blocking work (see
//! [`ReadQuery::rows`]); a single long step (an aggregate over a large table) is interrupted
//! and run again as blocking work, on the same snapshot.
//!
//! The SQL is the engine's shared SQL (see `driver.rs`); this driver only binds, steps and
//! reads rows. Its connections are opened with `query_only`, so a transaction begun as a read
//! cannot write even if a caller tries. At most [`READERS`] read transactions are open at once
//! (callers beyond that wait), and at most that many idle connections are kept.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::OpenFlags;
use rusqlite::types::{FromSql, ToSqlOutput, Value, ValueRef};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::PageFit;
use crate::driver::{Bound, Col, Commit, Done, Driver, Fut, Param, RowRead};

/// Read transactions open at once (and idle connections kept).
pub(crate) const READERS: usize = 32;
/// Rows a statement reads in place before the rest is read as blocking work.
const IN_PLACE_ROWS: usize = 64;
/// Time a statement reads in place before the rest is read as blocking work.
const IN_PLACE_TIME: Duration = Duration::from_millis(1);
/// How long a read waits for one of the [`READERS`] slots (sqlx's pool default).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a statement waits for a lock it cannot get at once.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);
/// Virtual-machine steps between two looks at the clock while a statement runs in place.
const PROGRESS_STEPS: std::ffi::c_int = 1000;
/// Prepared statements kept per connection (rusqlite's default is 16; the engine has more
/// distinct reads than that on a request's path).
const STATEMENT_CACHE: usize = 256;

/// The read path's driver: SQLite spellings, rusqlite underneath.
pub(crate) struct SqliteReadDriver;

/// Open read-only connections to one database file, and the bound on how many are in use.
pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
    permits: Arc<Semaphore>,
}

/// How the read path's connections are doing, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Read transactions open now.
    pub in_use: u32,
    /// Connections kept open between transactions.
    pub idle: u32,
    /// Read transactions that may be open at once.
    pub max: u32,
}

impl ReadPool {
    /// The read path for the database file at `path`, or `None` when the database is not in
    /// WAL mode (a file system without shared memory, say): then readers would wait for the
    /// writer, and that wait must not happen on a runtime thread.
    pub(crate) fn for_wal_file(path: &Path) -> rusqlite::Result<Option<Self>> {
        let pool = Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(READERS)),
        };
        let conn = pool.open()?;
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(%mode, "SQLite is not in WAL mode: reads go through the write pool");
            return Ok(None);
        }
        pool.put_back(conn, true);
        Ok(Some(pool))
    }

    pub(crate) fn stats(&self) -> ReadStats {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        ReadStats {
            in_use: count(READERS.saturating_sub(self.permits.available_permits())),
            idle: count(self.idle.lock().map_or(0, |idle| idle.len())),
            max: count(READERS),
        }
    }

    /// Begins a read transaction (a deferred `BEGIN`: the snapshot is taken at the first read).
    pub(crate) async fn begin(self: &Arc<Self>) -> Result<ReadTx, sqlx::Error> {
        // As sqlx's pool does, a wait for a free slot ends after a while with an error
        // rather than holding a request (or a background task) for ever.
        let permit =
            tokio::time::timeout(ACQUIRE_TIMEOUT, Arc::clone(&self.permits).acquire_owned())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)?
                .map_err(|_| sqlx::Error::PoolClosed)?;
        let conn = match self.take_idle() {
            Some(conn) => conn,
            None => self.open().map_err(database)?,
        };
        control(&conn, "BEGIN").map_err(database)?;
        Ok(ReadTx {
            conn: ReadConn {
                conn: Some(conn),
                wrote: false,
            },
            pool: Arc::clone(self),
            _permit: permit,
        })
    }

    fn take_idle(&self) -> Option<rusqlite::Connection> {
        self.idle.lock().ok()?.pop()
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // WAL readers wait only in rare moments (recovery after a crash); such a wait runs on
        // the calling thread, so it is kept short.
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // A read transaction never writes; the connection refuses to.
        conn.pragma_update(None, "query_only", true)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// Takes a connection back after its transaction ended; one that cannot end it cleanly
    /// (or one too many) is closed instead.
    fn put_back(&self, conn: rusqlite::Connection, ended: bool) {
        if !ended || !conn.is_autocommit() || self.permits.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < READERS
        {
            idle.push(conn);
        }
    }

    /// Closes the idle connections (the store is closing).
    pub(crate) fn close(&self) {
        self.permits.close();
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}

/// The connection a read transaction runs its statements on.
pub(crate) struct ReadConn {
    /// `None` only once the transaction has ended.
    conn: Option<rusqlite::Connection>,
    /// A statement tried to write (and `query_only` refused it): the transaction may not
    /// commit, as on the write path, where the engine refuses it.
    wrote: bool,
}

impl ReadConn {
    fn get(&self) -> Result<&rusqlite::Connection, sqlx::Error> {
        self.conn.as_ref().ok_or(sqlx::Error::PoolClosed)
    }

    /// Notes a refused write on the way out of a statement.
    fn noting<T>(&mut self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        if let Err(sqlx::Error::Database(e)) = &result
            && e.try_downcast_ref::<ReadError>()
                .is_some_and(ReadError::is_refused_write)
        {
            self.wrote = true;
        }
        result
    }
}

/// An open read transaction; dropping it rolls back and returns the connection.
pub(crate) struct ReadTx {
    conn: ReadConn,
    pool: Arc<ReadPool>,
    _permit: OwnedSemaphorePermit,
}

impl std::ops::Deref for ReadTx {
    type Target = ReadConn;

    fn deref(&self) -> &ReadConn {
        &self.conn
    }
}

impl std::ops::DerefMut for ReadTx {
    fn deref_mut(&mut self) -> &mut ReadConn {
        &mut self.conn
    }
}

impl ReadTx {
    fn end(&mut self, how: &str) -> Result<(), sqlx::Error> {
        let Some(conn) = self.conn.conn.take() else {
            return Ok(());
        };
        let ended = control(&conn, how);
        self.pool.put_back(conn, ended.is_ok());
        ended.map_err(database)
    }
}

impl Drop for ReadTx {
    fn drop(&mut self) {
        if let Err(e) = self.end("ROLLBACK") {
            tracing::warn!(error = %e, "a SQLite read transaction did not roll back; its connection was closed");
        }
    }
}

impl Commit for ReadTx {
    fn commit(mut self) -> Fut<'static, ()> {
        let ended = if self.conn.wrote {
            self.end("ROLLBACK").and(Err(refused_write()))
        } else {
            self.end("COMMIT")
        };
        Box::pin(std::future::ready(ended))
    }
}

/// A statement and its bound values.
pub(crate) struct ReadQuery<'q> {
    sql: &'q str,
    args: Vec<Value>,
    /// A value that could not be converted; reported when the query runs.
    refused: Option<String>,
}

/// A row read out of its statement: the column names and the values.
pub(crate) struct ReadRow {
    names: Arc<[String]>,
    values: Vec<Value>,
}

impl Driver for SqliteReadDriver {
    type Conn = ReadConn;
    type Tx = ReadTx;
    type Row = ReadRow;
    type Query<'q> = ReadQuery<'q>;
    const KIND: crate::Engine = crate::Engine::Sqlite;
    const LOCK: &'static str = "";
    const SKIP_LOCKED: &'static str = "";

    fn query(sql: &str) -> ReadQuery<'_> {
        ReadQuery {
            sql,
            args: Vec::new(),
            refused: None,
        }
    }
}

impl<'q> Bound<'q, SqliteReadDriver> for ReadQuery<'q> {
    fn bind<T: Param<'q>>(mut self, value: T) -> Self {
        match value.to_sql() {
            Ok(ToSqlOutput::Borrowed(v)) => self.args.push(v.into()),
            Ok(ToSqlOutput::Owned(v)) => self.args.push(v),
            Ok(_) => self.refused = Some("an unsupported parameter type".into()),
            Err(e) => self.refused = Some(e.to_string()),
        }
        self
    }

    fn fetch_all<'e>(self, conn: &'e mut ReadConn) -> Fut<'e, Vec<ReadRow>>
    where
        'q: 'e,
    {
        let rows = self.first(conn, usize::MAX);
        Box::pin(std::future::ready(conn.noting(rows)))
    }

    fn fetch_optional<'e>(self, conn: &'e mut ReadConn) -> Fut<'e, Option<ReadRow>>
    where
        'q: 'e,
    {
        let row = self.first(conn, 1).map(|rows| rows.into_iter().next());
        Box::pin(std::future::ready(conn.noting(row)))
    }

    fn fetch_one<'e>(self, conn: &'e mut ReadConn) -> Fut<'e, ReadRow>
    where
        'q: 'e,
    {
        let row = self
            .first(conn, 1)
            .and_then(|rows| rows.into_iter().next().ok_or(sqlx::Error::RowNotFound));
        Box::pin(std::future::ready(conn.noting(row)))
    }

    fn execute<'e>(self, conn: &'e mut ReadConn) -> Fut<'e, Done>
    where
        'q: 'e,
    {
        let done = self.run(conn);
        Box::pin(std::future::ready(conn.noting(done)))
    }

    fn fetch_page<'e>(
        self,
        conn: &'e mut ReadConn,
        page: PageFit,
        size: &str,
    ) -> Option<Fut<'e, (Vec<ReadRow>, bool)>>
    where
        'q: 'e,
    {
        let read = self
            .rows(conn, Keep::Page { page, size })
            .map(|read| (read.out, read.left));
        Some(Box::pin(std::future::ready(conn.noting(read))))
    }
}

impl ReadQuery<'_> {
    /// Prepares the statement (from the connection's cache) and binds the values the way
    /// sqlx-sqlite does: `$N` and `?N` take the N-th value, any other placeholder the next.
    fn prepare<'c>(
        &self,
        conn: &'c ReadConn,
    ) -> Result<rusqlite::CachedStatement<'c>, sqlx::Error> {
        if let Some(refused) = &self.refused {
            return Err(sqlx::Error::Encode(refused.clone().into()));
        }
        // rusqlite runs only the first statement of a string (sqlx-sqlite runs them all); the
        // engine's reads are single statements, and a string that is not is refused.
        if self.sql.trim_end().trim_end_matches(';').contains(';') {
            return Err(sqlx::Error::Protocol(
                "the SQLite read path runs one statement at a time".into(),
            ));
        }
        let mut stmt = conn.get()?.prepare_cached(self.sql).map_err(database)?;
        for index in 1..=stmt.parameter_count() {
            let position = stmt
                .parameter_name(index)
                .and_then(|name| name.strip_prefix(['$', '?']))
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(index);
            let value = position
                .checked_sub(1)
                .and_then(|i| self.args.get(i))
                .ok_or_else(|| {
                    sqlx::Error::Protocol(format!("no value bound for parameter {position}"))
                })?;
            stmt.raw_bind_parameter(index, value).map_err(database)?;
        }
        Ok(stmt)
    }

    /// The rows of the statement that `keep` keeps. It starts in place; a statement that goes
    /// on for more than [`IN_PLACE_ROWS`] rows is finished, and one that runs more than
    /// [`IN_PLACE_TIME`] before its next row (an aggregate, a scan that finds little) is
    /// interrupted and run again, with the runtime told that this thread blocks
    /// (`block_in_place`: the worker's other tasks move to another thread). A large read so
    /// never stalls the requests queued behind it. Run again inside the same transaction,
    /// the statement reads the same snapshot, so the result is the same.
    fn rows(&self, conn: &ReadConn, keep: Keep<'_>) -> Result<Reading, sqlx::Error> {
        let handle = conn.get()?;
        let mut stmt = self.prepare(conn)?;
        let mut read = Reading::new(&stmt, keep)?;
        if !may_block_in_place() {
            read.step(&mut stmt.raw_query(), |_| false)?;
            return Ok(read);
        }
        let started = Instant::now();
        handle.progress_handler(
            PROGRESS_STEPS,
            Some(move || started.elapsed() >= IN_PLACE_TIME),
        );
        let mut rows = stmt.raw_query();
        let in_place = read.step(&mut rows, |n| n >= IN_PLACE_ROWS);
        handle.progress_handler(PROGRESS_STEPS, None::<fn() -> bool>);
        match in_place {
            Ok(true) => Ok(read),
            // Many rows: the rest of them off the runtime's core.
            Ok(false) => tokio::task::block_in_place(|| {
                read.step(&mut rows, |_| false)?;
                Ok(read)
            }),
            // A long step: interrupted (which ends nothing but the statement), run again.
            Err(e) if interrupted(&e) => {
                drop(rows);
                read.restart();
                tokio::task::block_in_place(|| {
                    read.step(&mut stmt.raw_query(), |_| false)?;
                    Ok(read)
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The first `limit` rows of the statement.
    fn first(&self, conn: &ReadConn, limit: usize) -> Result<Vec<ReadRow>, sqlx::Error> {
        self.rows(conn, Keep::Rows(limit)).map(|read| read.out)
    }

    /// Runs a statement to its end and reports the rows it changed (on a `query_only`
    /// connection only reads and transaction control succeed, so that is none).
    fn run(&self, conn: &ReadConn) -> Result<Done, sqlx::Error> {
        let mut stmt = self.prepare(conn)?;
        let mut rows = stmt.raw_query();
        while rows.next().map_err(database)?.is_some() {}
        drop(rows);
        Ok(Done::new(conn.get()?.changes()))
    }
}

/// What a read keeps of its statement's rows, in order.
#[derive(Debug, Clone, Copy)]
enum Keep<'a> {
    /// The first this many.
    Rows(usize),
    /// The leading rows that fit a page; each row's size is in its integer column `size`.
    Page { page: PageFit, size: &'a str },
}

/// A page being filled by a read.
struct Filling {
    /// The page before its first row (a statement run again starts from it).
    empty: PageFit,
    /// The page with the rows kept so far.
    now: PageFit,
    /// The index of the column holding each row's size.
    size: usize,
}

/// A statement's rows being read: those kept so far, and whether one was left out.
struct Reading {
    names: Arc<[String]>,
    /// At most this many rows.
    limit: usize,
    /// For a page: how full it is, and where each row's size is.
    page: Option<Filling>,
    out: Vec<ReadRow>,
    /// A row was read that the page had no room for.
    left: bool,
}

impl Reading {
    fn new(stmt: &rusqlite::Statement<'_>, keep: Keep<'_>) -> Result<Self, sqlx::Error> {
        let names: Arc<[String]> = stmt.column_names().into_iter().map(str::to_owned).collect();
        let (limit, page) = match keep {
            Keep::Rows(limit) => (limit, None),
            // The last column of that name, as a row reads it by name.
            Keep::Page { page, size } => match names.iter().rposition(|n| n == size) {
                Some(size) => (
                    usize::MAX,
                    Some(Filling {
                        empty: page,
                        now: page,
                        size,
                    }),
                ),
                None => return Err(sqlx::Error::ColumnNotFound(size.to_owned())),
            },
        };
        Ok(Self {
            names,
            limit,
            page,
            out: Vec::new(),
            left: false,
        })
    }

    /// Back to the first row (the statement runs again).
    fn restart(&mut self) {
        if let Some(filling) = &mut self.page {
            filling.now = filling.empty;
        }
        self.out.clear();
        self.left = false;
    }

    /// Reads rows until the read is complete (`true`: the end, the limit, or a row that does
    /// not fit the page) or `pause`, given the rows kept so far, says stop (`false`). A row
    /// that does not fit is not copied.
    fn step(
        &mut self,
        rows: &mut rusqlite::Rows<'_>,
        pause: impl Fn(usize) -> bool,
    ) -> Result<bool, sqlx::Error> {
        loop {
            if self.out.len() >= self.limit {
                return Ok(true);
            }
            if pause(self.out.len()) {
                return Ok(false);
            }
            let Some(row) = rows.next().map_err(database)? else {
                return Ok(true);
            };
            if let Some(Filling { now, size, .. }) = &mut self.page {
                // Not an integer (a damaged file): an error, as reading it by name would be.
                let bytes =
                    i64::column_result(row.get_ref(*size).map_err(database)?).map_err(|e| {
                        sqlx::Error::ColumnDecode {
                            index: self.names.get(*size).cloned().unwrap_or_default(),
                            source: Box::new(e),
                        }
                    })?;
                if !now.admits(bytes) {
                    self.left = true;
                    return Ok(true);
                }
            }
            let mut values = Vec::with_capacity(self.names.len());
            for i in 0..self.names.len() {
                values.push(owned(row.get_ref(i).map_err(database)?));
            }
            self.out.push(ReadRow {
                names: Arc::clone(&self.names),
                values,
            });
        }
    }
}

/// Runs `BEGIN`, `COMMIT` or `ROLLBACK` from the connection's statement cache (every read
/// transaction runs two of them, so they are not parsed again each time).
fn control(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// A column's value, owned. Text that is not UTF-8 (a damaged or hand-edited file) is kept as
/// bytes, so reading that column as text fails with a decode error, as on sqlx, instead of
/// rusqlite's conversion panicking.
fn owned(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(text) => Value::Text(text.to_owned()),
            Err(_) => Value::Blob(t.to_vec()),
        },
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// Whether a statement stopped because the progress handler interrupted it.
fn interrupted(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if db.try_downcast_ref::<ReadError>().is_some_and(|r| matches!(&r.0,
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::OperationInterrupted)))
}

/// `block_in_place` exists only on a worker of the multi-threaded runtime (the server's);
/// elsewhere (a single-threaded test runtime, no runtime) statements run in place.
fn may_block_in_place() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

impl RowRead for ReadRow {
    fn try_get<T: Col>(&self, column: &str) -> Result<T, sqlx::Error> {
        let index = self
            .names
            .iter()
            .rposition(|n| n == column)
            .ok_or_else(|| sqlx::Error::ColumnNotFound(column.to_owned()))?;
        self.try_get_at(index)
    }

    fn try_get_at<T: Col>(&self, index: usize) -> Result<T, sqlx::Error> {
        let value = self
            .values
            .get(index)
            .ok_or_else(|| sqlx::Error::ColumnIndexOutOfBounds {
                index,
                len: self.values.len(),
            })?;
        <T as FromSql>::column_result(ValueRef::from(value)).map_err(|e| {
            sqlx::Error::ColumnDecode {
                index: self.names.get(index).cloned().unwrap_or_default(),
                source: Box::new(e),
            }
        })
    }
}

/// A rusqlite error as the sqlx error the engine code propagates: a database error that keeps
/// SQLite's message and extended result code.
fn database(e: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::Database(Box::new(ReadError(e)))
}

/// What a write on a read transaction's connection fails with.
fn refused_write() -> sqlx::Error {
    database(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
        Some("a write in a read-only transaction".into()),
    ))
}

#[derive(Debug)]
pub(crate) struct ReadError(rusqlite::Error);

impl ReadError {
    /// `query_only` refused a write: plain SQLITE_READONLY. Its extended codes (a file that
    /// cannot be locked or recovered) are failures of the environment, not refused writes.
    pub(crate) fn is_refused_write(&self) -> bool {
        matches!(&self.0, rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_READONLY)
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl sqlx::error::DatabaseError for ReadError {
    fn message(&self) -> &str {
        match &self.0 {
            rusqlite::Error::SqliteFailure(_, Some(message)) => message,
            _ => "SQLite read failed",
        }
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        match &self.0 {
            rusqlite::Error::SqliteFailure(e, _) => Some(e.extended_code.to_string().into()),
            _ => None,
        }
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        sqlx::error::ErrorKind::Other
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn database() -> (tempfile::TempDir, Arc<ReadPool>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let setup = rusqlite::Connection::open(&path).unwrap();
        setup
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, doc TEXT);
                 INSERT INTO t VALUES (1, 'one', '{\"a\":1}'), (2, 'two', NULL);",
            )
            .unwrap();
        (
            dir,
            Arc::new(ReadPool::for_wal_file(&path).unwrap().unwrap()),
        )
    }

    /// Rows of a statement that takes a while before its only row: a count over a generated
    /// series of three million values.
    const LONG_STEP: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                             WHERE x < 3000000) SELECT count(*) AS n FROM c";

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_long_read_lets_the_runtime_run_other_tasks_and_reads_everything() {
        let (_dir, pool) = database();
        let ticks = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let ticker = tokio::spawn({
            let ticks = Arc::clone(&ticks);
            async move {
                loop {
                    ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
            }
        });
        // On the runtime's only worker (a test's own body runs beside the workers).
        let on_worker = tokio::spawn(async move {
            let mut tx = pool.begin().await.unwrap();
            // One long step: interrupted in place, then run again as blocking work. Between
            // the two reads of the counter nothing else could run on the only worker unless
            // the statement left it.
            let before = ticks.load(std::sync::atomic::Ordering::Relaxed);
            let row = SqliteReadDriver::query(LONG_STEP)
                .fetch_one(&mut tx)
                .await
                .unwrap();
            let after = ticks.load(std::sync::atomic::Ordering::Relaxed);
            assert_eq!(row.try_get::<i64>("n").unwrap(), 3_000_000);
            assert!(after > before, "the other task ran while the count did");
            // Many rows: the first ones in place, the rest as blocking work, all in order.
            let rows = SqliteReadDriver::query(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 500) \
                 SELECT x FROM c",
            )
            .fetch_all(&mut tx)
            .await
            .unwrap();
            let xs: Vec<i64> = rows.iter().map(|r| r.try_get("x").unwrap()).collect();
            assert_eq!(xs, (1..=500).collect::<Vec<_>>());
        });
        on_worker.await.unwrap();
        ticker.abort();
    }

    /// Rows 1..=500, each of size `x % 7` bytes (0 to 6).
    const SIZED: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                         WHERE x < 500) SELECT x, x % 7 AS size FROM c";

    /// A page read: what `page` keeps of `sql`'s rows (their `x`), and whether one was left.
    async fn page_of(tx: &mut ReadTx, sql: &str, limit: u32, max_bytes: u64) -> (Vec<i64>, bool) {
        let read = SqliteReadDriver::query(sql)
            .fetch_page(tx, PageFit::new(limit, max_bytes), "size")
            .expect("SQLite's read path reads pages in one statement");
        let (rows, left) = read.await.unwrap();
        (rows.iter().map(|r| r.try_get("x").unwrap()).collect(), left)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_page_stops_at_the_first_row_that_does_not_fit_in_place_or_not() {
        let (_dir, pool) = database();
        let on_worker = tokio::spawn(async move {
            let mut tx = pool.begin().await.unwrap();
            // The row limit, past the rows read in place: the page goes on as blocking work
            // with what it has counted so far.
            let (xs, left) = page_of(&mut tx, SIZED, 100, u64::MAX).await;
            assert_eq!((xs, left), ((1..=100).collect::<Vec<_>>(), true));
            // Seven rows weigh 1 + 2 + … + 6 + 0 = 21 bytes: rows 1..=98 weigh 294, rows 99,
            // 100 and 101 (1, 2 and 3 bytes) fill 300 exactly, row 102 (4 bytes) does not fit.
            let (xs, left) = page_of(&mut tx, SIZED, 500, 300).await;
            assert_eq!((xs, left), ((1..=101).collect::<Vec<_>>(), true));
            // Every row fits: nothing is left.
            let (xs, left) = page_of(&mut tx, SIZED, 500, u64::MAX).await;
            assert_eq!((xs.len(), left), (500, false));
            // One large first row still comes alone.
            let (xs, left) = page_of(
                &mut tx,
                "SELECT 1 AS x, 900 AS size UNION ALL SELECT 2, 1",
                50,
                100,
            )
            .await;
            assert_eq!((xs, left), (vec![1], true));
            // A statement interrupted in place (a long step before its row) is run again with
            // a fresh page: the same answer.
            let long = format!("SELECT n AS x, 5 AS size FROM ({LONG_STEP})");
            let (xs, left) = page_of(&mut tx, &long, 50, 100).await;
            assert_eq!((xs, left), (vec![3_000_000], false));
            // Interrupted after three rows were kept: the run again counts from nothing, so
            // a page of four holds the three and the count.
            let late = format!(
                "SELECT 1 AS x, 1 AS size UNION ALL SELECT 2, 1 UNION ALL SELECT 3, 1 \
                 UNION ALL SELECT n, 1 FROM ({LONG_STEP})"
            );
            let (xs, left) = page_of(&mut tx, &late, 4, 100).await;
            assert_eq!((xs, left), (vec![1, 2, 3, 3_000_000], false));
            // A page over a column that is not there is an error, not a page without bounds.
            let missing = SqliteReadDriver::query("SELECT 1 AS x")
                .fetch_page(&mut tx, PageFit::new(10, 10), "size")
                .expect("a page read")
                .await;
            assert!(
                matches!(&missing, Err(sqlx::Error::ColumnNotFound(c)) if c == "size"),
                "{:?}",
                missing.map(|(rows, left)| (rows.len(), left))
            );
        });
        on_worker.await.unwrap();
    }

    #[tokio::test]
    async fn text_that_is_not_utf8_is_a_decode_error_and_one_statement_runs_at_a_time() {
        let (dir, pool) = database();
        let setup = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        setup
            .execute("INSERT INTO t VALUES (3, CAST(x'ff' AS TEXT), NULL)", [])
            .unwrap();
        let mut tx = pool.begin().await.unwrap();
        let row = SqliteReadDriver::query("SELECT id, name FROM t WHERE id = 3")
            .fetch_one(&mut tx)
            .await
            .unwrap();
        assert_eq!(row.try_get::<i64>("id").unwrap(), 3);
        assert!(matches!(
            row.try_get::<String>("name"),
            Err(sqlx::Error::ColumnDecode { .. })
        ));
        let two = SqliteReadDriver::query("SELECT 1; SELECT 2")
            .fetch_all(&mut tx)
            .await;
        assert!(two.is_err(), "a second statement is refused, not skipped");
        let trailing = SqliteReadDriver::query("SELECT 1 AS one;")
            .fetch_one(&mut tx)
            .await
            .unwrap();
        assert_eq!(trailing.try_get::<i64>("one").unwrap(), 1);
    }

    #[tokio::test]
    async fn numbered_placeholders_take_their_own_value_in_any_order() {
        let (_dir, pool) = database();
        let mut tx = pool.begin().await.unwrap();
        let row = SqliteReadDriver::query("SELECT name FROM t WHERE name = $2 AND id = $1")
            .bind(2_i64)
            .bind("two")
            .fetch_one(&mut tx)
            .await
            .unwrap();
        assert_eq!(row.try_get::<String>("name").unwrap(), "two");
        let rows = SqliteReadDriver::query("SELECT id FROM t WHERE id >= ? ORDER BY id")
            .bind(1_i64)
            .fetch_all(&mut tx)
            .await
            .unwrap();
        let ids: Vec<i64> = rows.iter().map(|r| r.try_get_at(0).unwrap()).collect();
        assert_eq!(ids, [1, 2]);
        let missing = SqliteReadDriver::query("SELECT id FROM t WHERE id = $2")
            .bind(1_i64)
            .fetch_optional(&mut tx)
            .await;
        assert!(missing.is_err(), "a placeholder with no value is an error");
    }

    #[tokio::test]
    async fn json_and_null_columns_decode_as_on_sqlx() {
        let (_dir, pool) = database();
        let mut tx = pool.begin().await.unwrap();
        let rows = SqliteReadDriver::query("SELECT doc FROM t ORDER BY id")
            .fetch_all(&mut tx)
            .await
            .unwrap();
        let docs: Vec<Option<crate::driver::Json<serde_json::Value>>> =
            rows.iter().map(|r| r.try_get("doc").unwrap()).collect();
        assert_eq!(docs[0].as_ref().unwrap().0, serde_json::json!({"a": 1}));
        assert!(docs[1].is_none());
        assert!(
            rows[0].try_get::<i64>("doc").is_err(),
            "text is not an integer"
        );
        assert!(matches!(
            rows[0].try_get::<i64>("nope"),
            Err(sqlx::Error::ColumnNotFound(_))
        ));
    }

    #[tokio::test]
    async fn a_write_is_refused_and_the_transaction_cannot_commit() {
        let (dir, pool) = database();
        let mut tx = pool.begin().await.unwrap();
        let wrote = SqliteReadDriver::query("UPDATE t SET name = 'x' WHERE id = 1")
            .execute(&mut tx)
            .await;
        let refused = wrote.unwrap_err();
        assert!(matches!(
            crate::StoreError::from(refused),
            crate::StoreError::ReadOnly
        ));
        assert!(Commit::commit(tx).await.is_err());
        let check = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        let name: String = check
            .query_row("SELECT name FROM t WHERE id = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(name, "one");
    }

    #[tokio::test]
    async fn at_most_readers_transactions_are_open_and_connections_are_reused() {
        let (_dir, pool) = database();
        let mut open = Vec::new();
        for _ in 0..READERS {
            open.push(pool.begin().await.unwrap());
        }
        let waiting = tokio::time::timeout(Duration::from_millis(100), pool.begin()).await;
        assert!(waiting.is_err(), "one more waits while {READERS} are open");
        open.pop();
        let next = tokio::time::timeout(Duration::from_secs(5), pool.begin()).await;
        assert!(next.is_ok(), "and goes on when one ends");
        drop(next);
        drop(open);
        assert_eq!(pool.idle.lock().unwrap().len(), READERS);
    }
}
