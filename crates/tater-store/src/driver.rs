//! What differs between the engines, and nothing else.
//!
//! The SQL is written once, in ordinary generic modules (`records.rs`, `audit.rs`, …), over a
//! [`Driver`]: the driver names the engine's sqlx types and its few spellings (row locks), and
//! offers the four ways a query runs. Values bound to a query ([`Param`]) and read from a row
//! ([`Col`]) are the types both engines encode the same way, so a query that compiles for one
//! engine compiles for the other.

use std::future::Future;
use std::pin::Pin;

use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

/// The connection a driver's transactions deref to.
pub(crate) type Conn<D> = <<D as Driver>::Db as sqlx::Database>::Connection;

/// A query in flight, boxed so the generic code needs no sqlx executor bounds.
pub(crate) type Fut<'e, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'e>>;

/// One engine's sqlx types and SQL spellings.
pub(crate) trait Driver: Send + Sync + Sized + 'static {
    type Db: sqlx::Database;
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

/// A value both engines bind.
pub(crate) trait Param<'q>:
    'q + Send + Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres>
{
}

impl<'q, T> Param<'q> for T where
    T: 'q + Send + Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres>
{
}

/// A value both engines decode from a column.
pub(crate) trait Col:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

impl<T> Col for T where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
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
            type Db = $db;
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
