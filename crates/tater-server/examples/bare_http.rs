//! The ceiling the server's HTTP figures are measured against: a bare axum handler, no
//! middleware, answering the same small JSON the benchmarks' bare row does. `scripts/bench-wrk`
//! runs it beside `tater serve` under the same external load generator.
//!
//! Run: `cargo run --release -p tater-server --example bare_http -- 127.0.0.1:8099`

#![allow(clippy::expect_used)] // a measuring stick, not a service

use axum::Json;
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
    let router = axum::Router::new().route(
        "/bare",
        get(|| async { Json(json!({ "status": "ok", "items": [] })) }),
    );
    axum::serve(listener, router).await.expect("serve");
}
