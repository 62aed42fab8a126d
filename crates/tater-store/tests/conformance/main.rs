//! The store conformance suite: the same tests on SQLite and on PostgreSQL.

mod identity;
mod records;
mod rls;
mod support;
