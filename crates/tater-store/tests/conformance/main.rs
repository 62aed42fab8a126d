//! The store conformance suite: the same tests on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a panic is a failed assertion

mod cancellation;
mod checkpoints;
mod endpoints;
mod files;
mod identity;
mod invitations;
mod jobs;
mod links;
mod members;
mod policies;
mod records;
mod releases;
mod rls;
mod runner;
mod siem;
mod support;
mod transitions;
