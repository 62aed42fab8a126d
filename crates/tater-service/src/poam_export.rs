//! The POA&M exports for federal toolchains (issue: federal artifacts, items 3 and 6): OSCAL
//! JSON and the DoD eMASS import workbook, both with the list's filters.

use serde_json::Value;
use tater_domain::module::ListQuery;
use tater_domain::modules::POAM;
use tater_domain::{Actor, Timestamp};
use tater_export::emass::{EmassHeader, Layout, emass_xlsx};

use crate::{Service, ServiceError, ServiceResult};

impl Service {
    /// The POA&M (with the list's filters) as OSCAL 1.2.1 JSON; deterministic like the SSP.
    pub async fn poam_oscal(&self, actor: &Actor, query: ListQuery) -> ServiceResult<Value> {
        let mut export = self.export_records(actor, &POAM, query)?;
        let mut items = Vec::new();
        let mut newest = String::new();
        while let Some(page) = export.next_page().await? {
            for v in page {
                let Value::Object(map) = v else { continue };
                let id = map
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                if let Some(u) = map.get("updatedAt").and_then(Value::as_str)
                    && u > newest.as_str()
                {
                    newest = u.to_owned();
                }
                items.push((id, map));
            }
        }
        if items.is_empty() {
            return Err(tater_domain::ValidationErrors::single(
                "format",
                "an OSCAL POA&M needs at least one item, and this selection has none",
            )
            .into());
        }
        let profile = self.system_profile_record(actor).await?;
        let system_name = match profile
            .as_ref()
            .and_then(|p| p.data.get("name"))
            .and_then(Value::as_str)
        {
            Some(n) => n.to_owned(),
            None => format!("{} system", self.org_name(actor).await?),
        };
        if newest.is_empty() {
            newest = Timestamp::from_millis(0).to_string();
        }
        let input = tater_export::oscal_poam::PoamInput {
            org_id: actor.org().to_string(),
            system_name,
            version: newest.clone(),
            last_modified: newest,
            items,
        };
        Ok(tater_export::oscal_poam::poam(&input))
    }
}

impl Service {
    /// The POA&M (with the list's filters) as a DoD eMASS import workbook in `layout`.
    pub async fn poam_emass(
        &self,
        actor: &Actor,
        query: ListQuery,
        layout: Layout,
    ) -> ServiceResult<Vec<u8>> {
        let mut export = self.export_records(actor, &POAM, query)?;
        let mut items = Vec::new();
        while let Some(page) = export.next_page().await? {
            items.extend(page.into_iter().filter_map(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            }));
        }
        let profile = self
            .system_profile_record(actor)
            .await?
            .map(|r| r.data)
            .unwrap_or_default();
        let organization = self.org_name(actor).await?;
        let field = |k: &str| {
            profile
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let header = EmassHeader {
            classification: field("classification"),
            date_exported: tater_domain::time::format_date(self.now().date()),
            exported_by: actor.audit_upn(),
            component: field("component"),
            system_name: match field("name") {
                n if n.is_empty() => format!("{organization} system"),
                n => n,
            },
            it_registration: field("itRegistrationNumber"),
            system_type: field("systemType"),
            omb_project_id: field("ombProjectId"),
            poc_name: field("issoName"),
            poc_phone: field("issoPhone"),
            poc_email: field("issoEmail"),
            security_costs: field("securityCosts"),
            organization,
        };
        // Building the workbook is CPU work (and writes a temporary file): off the runtime.
        tokio::task::spawn_blocking(move || emass_xlsx(&header, layout, items))
            .await
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("eMASS export task: {e}")))?
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("eMASS workbook: {e}")))
    }
}
