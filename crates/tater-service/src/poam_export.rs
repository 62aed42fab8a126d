//! The POA&M exports for federal toolchains (issue: federal artifacts, items 3 and 6): OSCAL
//! JSON and the DoD eMASS import workbook, both with the list's filters.

use serde_json::Value;
use tater_domain::module::ListQuery;
use tater_domain::modules::POAM;
use tater_domain::{Actor, Timestamp};
use tater_export::emass::{EmassError, EmassHeader, Layout, emass_xlsx};
use tater_export::oscal_poam::PoamWriter;

use crate::{Service, ServiceError, ServiceResult};

impl Service {
    /// The POA&M (with the list's filters) as OSCAL 1.2.1 JSON bytes; deterministic like
    /// the SSP. Items are written as their pages arrive.
    pub async fn poam_oscal(&self, actor: &Actor, query: ListQuery) -> ServiceResult<Vec<u8>> {
        let mut export = self.export_records(actor, &POAM, query)?;
        let mut writer = PoamWriter::new(&actor.org().to_string());
        let mut newest = String::new();
        while let Some(page) = export.next_page().await? {
            for v in page {
                let Value::Object(map) = v else { continue };
                let id = map.get("id").and_then(Value::as_str).unwrap_or_default();
                if let Some(u) = map.get("updatedAt").and_then(Value::as_str)
                    && u > newest.as_str()
                {
                    newest = u.to_owned();
                }
                writer.push(id, &map);
            }
        }
        if writer.is_empty() {
            return Err(tater_domain::ValidationErrors::single(
                "format",
                "an OSCAL POA&M needs at least one item, and this selection has none",
            )
            .into());
        }
        let profile = self.system_profile_record(export.permit()).await?;
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
        Ok(writer.finish(&system_name, &newest, &newest))
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
        let profile = self
            .system_profile_record(export.permit())
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
        // The workbook is written on a blocking thread (CPU work and a temporary file) while
        // pages are read here and handed over, so the items never all sit in memory at once.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Value>>(2);
        let writer = tokio::task::spawn_blocking(move || {
            let items = std::iter::from_fn(move || rx.blocking_recv())
                .flatten()
                .filter_map(|v| match v {
                    Value::Object(m) => Some(m),
                    _ => None,
                });
            emass_xlsx(&header, layout, items)
        });
        while let Some(page) = export.next_page().await? {
            if tx.send(page).await.is_err() {
                break; // the writer failed; its error is reported below
            }
        }
        drop(tx);
        writer
            .await
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("eMASS export task: {e}")))?
            .map_err(|e| match e {
                too_many @ EmassError::TooManyRows { .. } => {
                    tater_domain::ValidationErrors::single("filters", too_many.to_string()).into()
                }
                EmassError::Xlsx(e) => {
                    ServiceError::Internal(anyhow::anyhow!("eMASS workbook: {e}"))
                }
            })
    }
}
