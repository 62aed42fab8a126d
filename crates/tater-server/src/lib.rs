//! Tater's HTTP server and the `tater` binary's commands.
//!
//! Entry points: [`app::App::build`] (the composition root), [`routes::router`] (every route
//! and layer), [`cli`] (`tater serve` and `tater admin`).

pub mod api_doc;
pub mod app;
pub mod audit_cli;
pub mod backup;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod demo;
pub mod error;
pub mod extract;
pub mod gate;
pub mod health_probe;
pub mod metrics;
pub mod middleware;
pub mod routes;
pub mod state;

pub use app::{App, AppConfig};
pub mod rate_limit;
