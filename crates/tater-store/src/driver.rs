//! What differs between the engines, and nothing else.
//!
//! The SQL is written once, in ordinary generic modules (`records.rs`, `audit.rs`, …), over a
//! [`Driver`]: the driver names the engine's connection, transaction and row types and its few
//! spellings (row locks), and offers the four ways a query runs. Values bound to a query
//! ([`Param`]) and read from a row ([`Col`]) are the types every driver encodes the same way,
//! so a query that compiles for one driver compiles for the others.
//!
//! Three drivers exist: sqlx's PostgreSQL and SQLite ones (the [`driver!`] macro), and
//! SQLite's read path (`sqlite_read.rs`), which runs read-only transactions on rusqlite
//! connections in place instead of through sqlx-sqlite's worker threads.

use std::future::Future;
use std::pin::Pin;

use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

use crate::PageFit;

/// The connection a driver's transactions deref to.
pub(crate) type Conn<D> = <D as Driver>::Conn;

/// A query in flight, boxed so the generic code needs no sqlx executor bounds.
pub(crate) type Fut<'e, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'e>>;

/// One engine's sqlx types and SQL spellings.
pub(crate) trait Driver: Send + Sync + Sized + 'static {
    /// What a query runs on.
    type Conn: Send;
    /// An open transaction: queries run on the connection it derefs to; dropping it rolls
    /// back.
    type Tx: std::ops::DerefMut<Target = Self::Conn> + Commit + Send + 'static;
    type Row: RowRead + Send + Sync + 'static;
    type Query<'q>: Bound<'q, Self>;
    /// Which engine this is (for the spellings in `sql.rs`).
    const KIND: crate::Engine;
    /// Appended to a `SELECT` that a write transaction will change: `FOR UPDATE` where rows
    /// lock, nothing on SQLite (one writer at a time already).
    const LOCK: &'static str;
    /// Appended to a claim that concurrent replicas race for: a row another one holds is
    /// skipped instead of waited for.
    const SKIP_LOCKED: &'static str;

    fn query(sql: &str) -> Self::Query<'_>;
}

/// How a driver's transaction ends well.
pub(crate) trait Commit: Sized {
    fn commit(self) -> Fut<'static, ()>;
}

impl<DB: sqlx::Database> Commit for sqlx::Transaction<'static, DB> {
    fn commit(self) -> Fut<'static, ()> {
        Box::pin(sqlx::Transaction::commit(self))
    }
}

/// A query with its parameters, ready to run on a connection of driver `D`.
pub(crate) trait Bound<'q, D: Driver>: Sized + Send {
    fn bind<T: Param<'q>>(self, value: T) -> Self;
    fn fetch_all<'e>(self, conn: &'e mut Conn<D>) -> Fut<'e, Vec<D::Row>>
    where
        'q: 'e;
    fn fetch_optional<'e>(self, conn: &'e mut Conn<D>) -> Fut<'e, Option<D::Row>>
    where
        'q: 'e;
    fn fetch_one<'e>(self, conn: &'e mut Conn<D>) -> Fut<'e, D::Row>
    where
        'q: 'e;
    fn execute<'e>(self, conn: &'e mut Conn<D>) -> Fut<'e, Done>
    where
        'q: 'e;
    /// The leading rows that fit `page`, each row's size read from its integer column `size`,
    /// and whether a row was left out — where the driver reads a statement's rows one at a
    /// time and can stop at any of them (SQLite's read path), so the row that does not fit is
    /// the last one read. `None` on the sqlx drivers: a PostgreSQL server sends every row of a
    /// statement however early its reader stops (and sqlx-sqlite, used for SQLite's writes,
    /// steps on a thread of its own), so there a page reads its rows' sizes first and then
    /// only the rows that fit.
    fn fetch_page<'e>(
        self,
        conn: &'e mut Conn<D>,
        page: PageFit,
        size: &str,
    ) -> Option<Fut<'e, (Vec<D::Row>, bool)>>
    where
        'q: 'e;
}

/// What a statement that returns no rows reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Done {
    rows: u64,
}

impl Done {
    pub(crate) fn new(rows: u64) -> Self {
        Self { rows }
    }

    pub(crate) fn rows_affected(&self) -> u64 {
        self.rows
    }
}

/// A value every driver binds.
pub(crate) trait Param<'q>:
    'q
    + Send
    + Encode<'q, Sqlite>
    + Type<Sqlite>
    + Encode<'q, Postgres>
    + Type<Postgres>
    + rusqlite::ToSql
{
}

impl<'q, T> Param<'q> for T where
    T: 'q
        + Send
        + Encode<'q, Sqlite>
        + Type<Sqlite>
        + Encode<'q, Postgres>
        + Type<Postgres>
        + rusqlite::ToSql
{
}

/// A value every driver decodes from a column.
pub(crate) trait Col:
    for<'r> Decode<'r, Sqlite>
    + Type<Sqlite>
    + for<'r> Decode<'r, Postgres>
    + Type<Postgres>
    + rusqlite::types::FromSql
{
}

impl<T> Col for T where
    T: for<'r> Decode<'r, Sqlite>
        + Type<Sqlite>
        + for<'r> Decode<'r, Postgres>
        + Type<Postgres>
        + rusqlite::types::FromSql
{
}

/// A result row, read by column name.
pub(crate) trait RowRead {
    fn try_get<T: Col>(&self, column: &str) -> Result<T, sqlx::Error>;
    fn try_get_at<T: Col>(&self, index: usize) -> Result<T, sqlx::Error>;
}

/// Implements [`Driver`] for one engine: the same forwarding for each, only the types differ.
macro_rules! driver {
    ($driver:ident, $db:ty, $row:ty, $kind:expr, lock: $lock:expr, skip_locked: $skip:expr) => {
        /// This engine's [`Driver`](crate::driver::Driver).
        pub(crate) struct $driver;

        impl crate::driver::Driver for $driver {
            type Conn = <$db as sqlx::Database>::Connection;
            type Tx = sqlx::Transaction<'static, $db>;
            type Row = $row;
            type Query<'q> = sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>;
            const KIND: crate::Engine = $kind;
            const LOCK: &'static str = $lock;
            const SKIP_LOCKED: &'static str = $skip;

            fn query(sql: &str) -> Self::Query<'_> {
                sqlx::query(sql)
            }
        }

        impl<'q> crate::driver::Bound<'q, $driver>
            for sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>
        {
            fn bind<T: crate::driver::Param<'q>>(self, value: T) -> Self {
                sqlx::query::Query::bind(self, value)
            }

            fn fetch_all<'e>(
                self,
                conn: &'e mut crate::driver::Conn<$driver>,
            ) -> crate::driver::Fut<'e, Vec<$row>>
            where
                'q: 'e,
            {
                Box::pin(sqlx::query::Query::fetch_all(self, conn))
            }

            fn fetch_optional<'e>(
                self,
                conn: &'e mut crate::driver::Conn<$driver>,
            ) -> crate::driver::Fut<'e, Option<$row>>
            where
                'q: 'e,
            {
                Box::pin(sqlx::query::Query::fetch_optional(self, conn))
            }

            fn fetch_one<'e>(
                self,
                conn: &'e mut crate::driver::Conn<$driver>,
            ) -> crate::driver::Fut<'e, $row>
            where
                'q: 'e,
            {
                Box::pin(sqlx::query::Query::fetch_one(self, conn))
            }

            fn execute<'e>(
                self,
                conn: &'e mut crate::driver::Conn<$driver>,
            ) -> crate::driver::Fut<'e, crate::driver::Done>
            where
                'q: 'e,
            {
                Box::pin(async move {
                    let done = sqlx::query::Query::execute(self, conn).await?;
                    Ok(crate::driver::Done::new(done.rows_affected()))
                })
            }

            fn fetch_page<'e>(
                self,
                _: &'e mut crate::driver::Conn<$driver>,
                _: crate::PageFit,
                _: &str,
            ) -> Option<crate::driver::Fut<'e, (Vec<$row>, bool)>>
            where
                'q: 'e,
            {
                None
            }
        }

        impl crate::driver::RowRead for $row {
            fn try_get<T: crate::driver::Col>(&self, column: &str) -> Result<T, sqlx::Error> {
                sqlx::Row::try_get(self, column)
            }

            fn try_get_at<T: crate::driver::Col>(&self, index: usize) -> Result<T, sqlx::Error> {
                sqlx::Row::try_get(self, index)
            }
        }
    };
}

pub(crate) use driver;

/// JSON in a column, for every driver: TEXT on SQLite, `jsonb` on PostgreSQL (through sqlx's
/// own `Json`, which this forwards to), and TEXT through rusqlite on SQLite's read path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Json<T>(pub T);

/// `Json` on a sqlx engine: whatever sqlx's own `Json` does there.
macro_rules! sqlx_json {
    ($db:ty) => {
        impl<T> Type<$db> for Json<T> {
            fn type_info() -> <$db as sqlx::Database>::TypeInfo {
                <sqlx::types::Json<T> as Type<$db>>::type_info()
            }

            fn compatible(ty: &<$db as sqlx::Database>::TypeInfo) -> bool {
                <sqlx::types::Json<T> as Type<$db>>::compatible(ty)
            }
        }

        impl<'q, T: serde::Serialize> Encode<'q, $db> for Json<T> {
            fn encode_by_ref(
                &self,
                buf: &mut <$db as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <sqlx::types::Json<&T> as Encode<'q, $db>>::encode_by_ref(
                    &sqlx::types::Json(&self.0),
                    buf,
                )
            }
        }

        impl<'r, T: serde::de::DeserializeOwned + 'r> Decode<'r, $db> for Json<T> {
            fn decode(
                value: <$db as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                <sqlx::types::Json<T> as Decode<'r, $db>>::decode(value).map(|j| Json(j.0))
            }
        }
    };
}

sqlx_json!(Sqlite);
sqlx_json!(Postgres);

impl<T: serde::Serialize> rusqlite::ToSql for Json<T> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        serde_json::to_string(&self.0)
            .map(rusqlite::types::ToSqlOutput::from)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
    }
}

impl<T: serde::de::DeserializeOwned> rusqlite::types::FromSql for Json<T> {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        use rusqlite::types::{FromSqlError, ValueRef};
        match value {
            // TEXT only, as sqlx-sqlite reads it.
            ValueRef::Text(text) => serde_json::from_slice(text)
                .map(Json)
                .map_err(|e| FromSqlError::Other(Box::new(e))),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}
