//! The tenant scope: the only way to reach tenant data.

use crate::{Actor, OrgId};

/// Proof that the holder may touch one organization's data. Every store method on tenant data
/// takes one, so a query without a tenant cannot be written (SPEC T1).
///
/// It can be obtained only from an authenticated [`Actor`] or, for named cross-tenant work
/// (SPEC T2), from [`TenantScope::system`], whose `purpose` says why.
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

impl TenantScope {
    pub fn of(actor: &Actor) -> Self {
        Self { org: actor.org() }
    }

    /// A scope for a system operation, not for a request.
    pub fn system(org: OrgId, purpose: SystemPurpose) -> Self {
        let _ = purpose;
        Self { org }
    }

    pub fn org(&self) -> OrgId {
        self.org
    }
}
