//! The operator's usage view (SuperAdmin): per organization its members, endpoints, records
//! per module, stored file bytes, audit entries, last activity and status — what an MSP or a
//! hosting operator checks before a renewal, a quota talk or a termination.

use std::collections::BTreeMap;

use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, Timestamp};
use tater_store::Mode;

use crate::{Items, OrgView, Service, ServiceResult};

/// One organization's usage.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgUsageView {
    /// The organization, with its status (active, or terminated with its delete date).
    pub organization: OrgView,
    pub members: u64,
    /// Active endpoints (retired ones not counted).
    pub endpoints: u64,
    /// Records per module (by the module's API name), modules with none left out.
    pub records: BTreeMap<String, u64>,
    pub records_total: u64,
    /// Bytes of evidence files stored (each stored content once).
    pub file_bytes: u64,
    pub audit_entries: u64,
    /// The time of its newest audit entry: the last change anyone made in it.
    pub last_activity: Option<Timestamp>,
}

impl Service {
    /// Every organization's usage, in the order of the organization list (by name).
    pub async fn cross_org_usage(&self, actor: &Actor) -> ServiceResult<Items<OrgUsageView>> {
        authorize(actor, Action::CrossOrg)?;
        let mut tx = self.store.identity(Mode::Read).await?;
        let orgs = tx.orgs().await?;
        let mut usage = tx.org_usage().await?;
        tx.commit().await?;
        let items = orgs
            .iter()
            .map(|org| {
                let u = usage.remove(&org.id).unwrap_or_default();
                // A module's stored name is its API path (`/api/<name>`).
                let records: BTreeMap<String, u64> = u.records.into_iter().collect();
                OrgUsageView {
                    organization: OrgView::of(org),
                    members: u.members,
                    endpoints: u.endpoints,
                    records_total: records.values().sum(),
                    records,
                    file_bytes: u.file_bytes,
                    audit_entries: u.audit_entries,
                    last_activity: u.last_activity,
                }
            })
            .collect();
        Ok(Items { items })
    }
}
