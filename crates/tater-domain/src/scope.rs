//! The tenant scope: the only way to reach tenant data.

use crate::{Actor, OrgId};

/// The one organization a transaction on tenant data is confined to (SPEC T1). It is held
/// inside a [`crate::policy::Permit`], the only thing the store opens a tenant transaction
/// from, so it is made only by [`crate::policy::authorize`] or, for named system work, by
/// [`crate::policy::Permit::system`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantScope {
    org: OrgId,
}

/// Why the system reaches into a tenant without a user. Each variant is a named operation;
/// an architecture test lists where production code may use one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemPurpose {
    /// Reading a tenant's data from operator tooling and test suites, outside any request.
    Inspection,
}

/// Whether a transaction will write. SQLite write transactions take the write lock up front
/// (`BEGIN IMMEDIATE`); PostgreSQL write transactions lock the rows they read for update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Read,
    Write,
}

impl TenantScope {
    /// The actor's organization. Crate-private: outside the domain a scope comes only in a
    /// permit.
    pub(crate) fn of(actor: &Actor) -> Self {
        Self { org: actor.org() }
    }

    pub(crate) fn system(org: OrgId) -> Self {
        Self { org }
    }

    pub fn org(&self) -> OrgId {
        self.org
    }
}
