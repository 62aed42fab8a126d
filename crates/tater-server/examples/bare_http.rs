//! The ceiling the server's HTTP figures are measured against: a bare axum handler, no
//! middleware, answering the same small JSON the benchmarks' bare row does (`/bare`), and the
//! same with Tater's security headers (`/headers`). `scripts/bench-wrk`
//! runs it beside `tater serve` under the same external load generator.
//!
//! Run: `cargo run --release -p tater-server --example bare_http -- 127.0.0.1:8099`

#![allow(clippy::expect_used)] // a measuring stick, not a service

use axum::Json;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".into());
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
        );
    axum::serve(listener, router).await.expect("serve");
}
