//! The ceilings the server's HTTP figures are measured against: a bare axum handler, no
//! middleware, answering the same small JSON the benchmarks' bare row does (`/bare`); the same
//! with Tater's security headers (`/headers`); and the same handler reading one row of about a
//! POAM item's size by primary key from SQLite through sqlx (`/sqlite`), on a pool set up for
//! reads as Tater's is (WAL, synchronous NORMAL, no ping before a connection is handed out) — the ceiling
//! of any read that goes through sqlx-sqlite, before identity, tenancy and rendering; and the
//! same read through rusqlite in place (`/rusqlite`), as Tater's SQLite read path runs it (a
//! `query_only` connection taken from a small pool, a cached statement) — that path's ceiling;
//! and a prepared body the size of a 50-item POAM page (`/page`, about 33 KB), the ceiling of
//! sending a list's answer at all, before anything is read or rendered.
//! `scripts/bench-wrk` runs it beside `tater serve` under the same external load generator.
//!
//! Run: `cargo run --release -p tater-server --example bare_http -- 127.0.0.1:8099 [DIR]`
//! (the SQLite file goes into DIR, default the system's temporary directory).

#![allow(clippy::expect_used)] // a measuring stick, not a service

use std::str::FromStr;

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};

/// A table with one row the size of a POAM item's stored JSON (about a kilobyte).
async fn sqlite_pool(path: &std::path::Path) -> SqlitePool {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .expect("SQLite URL")
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(8)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .expect("open SQLite");
    sqlx::query("CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, data TEXT NOT NULL)")
        .execute(&pool)
        .await
        .expect("create table");
    let data = json!({
        "title": "Finding 59", "weaknessDescription": "Configuration drift on a production host.",
        "impact": "High", "scheduledCompletion": "2027-06-30", "controls": ["CM-6", "SI-2"],
        "milestones": [{ "description": "Remediate", "id": "0193f1d2-7c4e-7b1a-9f3e-2a6b8c0d1e2f" }],
        "status": "Ongoing", "notes": "x".repeat(600),
    });
    sqlx::query("INSERT OR REPLACE INTO items (id, data) VALUES ('one', ?)")
        .bind(data.to_string())
        .execute(&pool)
        .await
        .expect("insert the row");
    pool
}

/// Read-only rusqlite connections to the same file, handed out as Tater's read path does.
#[derive(Clone)]
struct InPlace {
    path: std::sync::Arc<std::path::PathBuf>,
    idle: std::sync::Arc<std::sync::Mutex<Vec<rusqlite::Connection>>>,
}

impl InPlace {
    fn connection(&self) -> rusqlite::Connection {
        let idle = self.idle.lock().expect("pool lock").pop();
        idle.unwrap_or_else(|| {
            let conn = rusqlite::Connection::open(&*self.path).expect("open SQLite");
            conn.pragma_update(None, "query_only", true)
                .expect("query_only");
            conn
        })
    }
}

async fn read_in_place(State(pool): State<InPlace>) -> Json<Value> {
    let conn = pool.connection();
    let data: String = conn
        .prepare_cached("SELECT data FROM items WHERE id = ?")
        .and_then(|mut s| s.query_row(["one"], |r| r.get(0)))
        .expect("read the row");
    pool.idle.lock().expect("pool lock").push(conn);
    Json(serde_json::from_str(&data).expect("stored JSON"))
}

async fn read_one(State(pool): State<SqlitePool>) -> Json<Value> {
    let (data,): (String,) = sqlx::query_as("SELECT data FROM items WHERE id = ?")
        .bind("one")
        .fetch_one(&pool)
        .await
        .expect("read the row");
    Json(serde_json::from_str(&data).expect("stored JSON"))
}

/// A page of 50 POAM items as `GET /api/poam?limit=50` renders the benchmark's items, built
/// once: what answering a list costs in the transport alone.
fn page_body() -> axum::body::Bytes {
    let items: Vec<Value> = (0..50)
        .map(|n| {
            json!({
                "id": format!("01a24cce-edc5-718f-b518-33112a3c{n:04}"), "title": format!("Finding {n}"),
                "weaknessDescription": "Configuration drift on a production host.", "impact": "High",
                "status": "Open", "scheduledCompletion": "2027-06-30", "completionDate": null,
                "controls": ["cm-6", "si-2"], "source": null, "asset": null, "pointOfContact": null,
                "resourcesRequired": null, "justification": null,
                "milestones": [{ "id": 1, "description": "Remediate", "status": "Open",
                                 "scheduledCompletion": null, "completionDate": null }],
                "overdue": false, "version": 1, "createdAt": "2026-12-06T19:22:39.429Z",
                "updatedAt": "2026-12-06T19:22:39.429Z",
                "createdBy": "01a24cce-ebc3-70e2-91b2-892292c1b7c1",
                "updatedBy": "01a24cce-ebc3-70e2-91b2-892292c1b7c1",
            })
        })
        .collect();
    json!({ "items": items, "nextCursor": "x".repeat(60) })
        .to_string()
        .into()
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8099".into());
    let dir = args.next().map_or_else(std::env::temp_dir, Into::into);
    let path = dir.join(format!("bare-http-{}.db", std::process::id()));
    let pool = sqlite_pool(&path).await;
    let in_place = InPlace {
        path: std::sync::Arc::new(path),
        idle: std::sync::Arc::default(),
    };
    let page = page_body();
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!(
        "bare handler at http://{}/bare",
        listener.local_addr().expect("address")
    );
    let router = axum::Router::new()
        .route(
            "/bare",
            get(|| async { Json(json!({ "status": "ok", "items": [] })) }),
        )
        // The same, with the security headers every Tater response carries (SPEC H1/H2): the
        // ceiling of what the server can reach while keeping them.
        .route(
            "/headers",
            get(|| async {
                let mut res = Json(json!({ "status": "ok", "items": [] })).into_response();
                tater_server::middleware::security_headers(res.headers_mut());
                res
            }),
        )
        .route(
            "/page",
            get(move || {
                let body = page.clone();
                async move {
                    let mut res = body.into_response();
                    res.headers_mut().insert(
                        axum::http::header::CONTENT_TYPE,
                        axum::http::HeaderValue::from_static("application/json"),
                    );
                    res
                }
            }),
        )
        .route("/sqlite", get(read_one))
        .with_state(pool)
        .route("/rusqlite", get(read_in_place).with_state(in_place));
    axum::serve(listener, router).await.expect("serve");
}
