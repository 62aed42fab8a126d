//! Test support: throwaway databases on both engines, and a local Entra ID stand-in
//! ([`entra`]).
//!
//! Databases:
//!
//! * SQLite: a file in a fresh temporary directory.
//! * PostgreSQL: when `TATER_TEST_POSTGRES_URL` is set (CI sets it), a fresh schema owned by
//!   `tater_app`, an ordinary role (no superuser, no BYPASSRLS), and a URL that connects as
//!   that role — so every PostgreSQL test runs with row-level security enforced, as production
//!   should. The schema is dropped when the value is dropped.

#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)] // test support: failing loudly is the point

pub mod anthropic;
pub mod dns;
pub mod entra;
pub mod entra_sign_in;
pub mod listen;
pub mod rsyslog;
pub mod sbom;
pub mod smtp;

use std::path::PathBuf;

use sqlx::Connection;

/// The environment variable that enables the PostgreSQL leg of the suites.
pub const POSTGRES_ENV: &str = "TATER_TEST_POSTGRES_URL";
/// The ordinary role the application connects as in PostgreSQL tests.
pub const APP_ROLE: &str = "tater_app";

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
pub struct TestDb {
    pub engine: Engine,
    /// The URL the application uses.
    pub url: String,
    /// For SQLite: the data directory holding the file.
    pub dir: Option<tempfile::TempDir>,
    pg: Option<PgSchema>,
}

struct PgSchema {
    admin_url: String,
    schema: String,
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("tater.db").display());
        Self {
            engine: Engine::Sqlite,
            url,
            dir: Some(dir),
            pg: None,
        }
    }

    /// `None` (after printing why) when `TATER_TEST_POSTGRES_URL` is not set.
    pub async fn postgres() -> Option<Self> {
        let Ok(admin_url) = std::env::var(POSTGRES_ENV) else {
            eprintln!("skipped: PostgreSQL leg ({POSTGRES_ENV} is not set)");
            return None;
        };
        let schema = format!("tt_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is set but PostgreSQL refused: {e}"));
        // Parallel tests race to create the role; either error means it exists.
        sqlx::raw_sql(&format!(
            "DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;"
        ))
        .execute(&mut admin)
        .await
        .expect("create app role");
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema} AUTHORIZATION {APP_ROLE}"))
            .execute(&mut admin)
            .await
            .expect("create schema");
        let mut url = url::Url::parse(&admin_url).expect("TATER_TEST_POSTGRES_URL is a URL");
        url.set_username(APP_ROLE).expect("URL takes a user");
        url.set_password(None).expect("URL takes no password");
        url.query_pairs_mut()
            .append_pair("options[search_path]", &schema)
            .append_pair("application_name", "tater-test");
        Some(Self {
            engine: Engine::Postgres,
            url: url.to_string(),
            dir: None,
            pg: Some(PgSchema { admin_url, schema }),
        })
    }

    /// The SQLite data directory (for the CLI's `--data-dir`), or a fresh temporary one.
    pub fn data_dir(&self) -> PathBuf {
        match &self.dir {
            Some(d) => d.path().to_path_buf(),
            None => std::env::temp_dir(),
        }
    }

    /// Direct access to this database as its owner (see [`DbOwner`]); usable after the
    /// `TestDb` itself has moved into a server.
    pub fn owner(&self) -> DbOwner {
        DbOwner {
            url: self.url.clone(),
            pg: self
                .pg
                .as_ref()
                .map(|p| (p.admin_url.clone(), p.schema.clone())),
        }
    }

    /// The PostgreSQL schema of this test.
    pub fn pg_schema(&self) -> Option<&str> {
        self.pg.as_ref().map(|p| p.schema.as_str())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(pg) = self.pg.take() else { return };
        // Drop may run inside an async runtime; use a thread with its own runtime.
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(mut c) = sqlx::PgConnection::connect(&pg.admin_url).await {
                        let _ =
                            sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", pg.schema))
                                .execute(&mut c)
                                .await;
                    }
                });
            }
        });
        let _ = handle.join();
    }
}

/// Runs `$body` (an async fn taking a `TestDb`) once per engine: `sqlite` and `postgres` test
/// functions in a module named after the test. The PostgreSQL one passes with a "skipped" line
/// when no PostgreSQL is configured.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::TestDb::sqlite()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(db) = $crate::TestDb::postgres().await {
                        super::$name(db).await;
                    }
                }
            }
        )+
    };
}

/// Runs SQL directly, as the database's owner would — an attacker with database credentials,
/// or a test arranging a broken state. On PostgreSQL it connects as the superuser, which
/// row-level security does not stop.
#[derive(Debug, Clone)]
pub struct DbOwner {
    url: String,
    pg: Option<(String, String)>,
}

impl DbOwner {
    /// Everything the database holds, as an attacker with a copy of it would read it: the
    /// SQLite file and its write-ahead log as bytes, or PostgreSQL's `pg_dump` of the schema.
    /// For checking that a secret is nowhere in clear.
    pub fn everything(&self) -> Vec<u8> {
        match &self.pg {
            None => {
                let path = self.url.trim_start_matches("sqlite://");
                let mut bytes = std::fs::read(path).expect("read the SQLite file");
                // The write-ahead log holds recent pages until a checkpoint.
                bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
                bytes
            }
            Some((admin_url, schema)) => {
                let out = std::process::Command::new("pg_dump")
                    .args(["--data-only", "--schema", schema, admin_url])
                    .output()
                    .expect("pg_dump runs (apt install postgresql-client)");
                assert!(
                    out.status.success(),
                    "pg_dump: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            }
        }
    }

    /// Every row of every table as text, one line per row, each line starting with its
    /// table's name and a tab (SQLite read by Python's `sqlite3`, PostgreSQL by `pg_dump`):
    /// for checking what a table other than some holds.
    pub fn rows_text(&self) -> Vec<(String, String)> {
        match &self.pg {
            None => {
                let path = self.url.trim_start_matches("sqlite://");
                let script = include_str!("sqlite_rows.py");
                let out = std::process::Command::new("python3")
                    .args(["-c", script, path])
                    .output()
                    .expect("python3 runs");
                assert!(
                    out.status.success(),
                    "python3 sqlite3: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|l| l.split_once('\t'))
                    .map(|(t, r)| (t.to_owned(), r.to_owned()))
                    .collect()
            }
            Some(_) => {
                let dump = String::from_utf8_lossy(&self.everything()).into_owned();
                let mut table = None;
                let mut rows = Vec::new();
                for line in dump.lines() {
                    if let Some(rest) = line.strip_prefix("COPY ") {
                        let name = rest.split_whitespace().next().unwrap_or("");
                        table = Some(name.rsplit('.').next().unwrap_or(name).to_owned());
                    } else if line == "\\." {
                        table = None;
                    } else if let Some(t) = &table {
                        rows.push((t.clone(), line.to_owned()));
                    }
                }
                rows
            }
        }
    }

    /// The rows `sql` selects, every column read as text (cast each one in the query, e.g.
    /// `attempts::text` on PostgreSQL, `CAST(attempts AS TEXT)` on SQLite); NULL is `None`.
    pub async fn text_rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        use sqlx::Row;
        fn texts<R: Row>(rows: Vec<R>) -> Vec<Vec<Option<String>>>
        where
            for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            usize: sqlx::ColumnIndex<R>,
        {
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| r.try_get::<Option<String>, _>(i).expect("a text column"))
                        .collect()
                })
                .collect()
        }
        match &self.pg {
            None => {
                let mut c = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("open SQLite");
                texts(sqlx::query(sql).fetch_all(&mut c).await.expect("query"))
            }
            Some((admin_url, schema)) => {
                let mut c = sqlx::PgConnection::connect(admin_url)
                    .await
                    .expect("connect");
                sqlx::raw_sql(&format!("SET search_path TO {schema}"))
                    .execute(&mut c)
                    .await
                    .expect("search path");
                texts(sqlx::query(sql).fetch_all(&mut c).await.expect("query"))
            }
        }
    }

    pub async fn exec(&self, sql: &str) {
        match &self.pg {
            None => {
                let mut c = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("open SQLite");
                sqlx::raw_sql(sql).execute(&mut c).await.expect("raw SQL");
            }
            Some((admin_url, schema)) => {
                let mut c = sqlx::PgConnection::connect(admin_url)
                    .await
                    .expect("connect");
                sqlx::raw_sql(&format!("SET search_path TO {schema}; {sql}"))
                    .execute(&mut c)
                    .await
                    .expect("raw SQL");
            }
        }
    }
}
