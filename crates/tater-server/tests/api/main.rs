//! The API suite: the real router on a random port against a throwaway database, on SQLite
//! and (when `TATER_TEST_POSTGRES_URL` is set) PostgreSQL as an ordinary role under RLS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a panic is a failed assertion

mod ai_analyst;
mod ai_settings;
mod architecture;
mod attacks;
mod audit;
mod audit_trail;
mod audits;
mod background;
mod backup;
mod bad_input;
mod browser;
mod cli;
mod command_channel;
mod compliance;
mod controls;
mod data_export;
mod emass;
mod enrollment;
mod evidence_agent;
mod evidence_files;
mod exports;
mod http;
mod identity;
mod invitations;
mod invoke;
mod isolation;
mod lifecycle;
mod links;
mod mcp;
mod mcp_attacks;
mod mcp_identity;
mod members;
mod memory;
mod metrics;
mod modules;
mod policies;
mod process;
mod rate_limits;
mod references;
mod registers;
mod roles;
mod settings;
mod siem;
mod ssp_docx;
mod support;
mod syslog;
mod system_profile;
mod use_cases;
mod web;
mod web_entra;
mod web_isolation;
mod web_settings;
mod workflows;
