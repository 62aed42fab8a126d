//! The System Security Plan export (issue: federal artifacts, item 4): the system profile, the
//! selected baseline with the organization's overlays, and the endpoints, as OSCAL JSON.

use serde_json::{Map, Value};
use tater_domain::modules::{SYSTEM_PROFILE, system_profile_record_id};
use tater_domain::policy::{Action, Permit, authorize};
use tater_domain::{Actor, Timestamp};
use tater_export::oscal_ssp::{SspInput, ssp};
use tater_export::ssp_docx::{ControlHeading, SspDocument, ssp_docx};
use tater_store::{EndpointQuery, Mode};

use crate::{Service, ServiceError, ServiceResult};

/// Where NIST publishes each baseline profile (what an OSCAL tool resolves `import-profile`
/// against).
fn baseline_href(baseline: &str) -> String {
    let level = baseline
        .rsplit('-')
        .next()
        .unwrap_or("moderate")
        .to_uppercase();
    format!(
        "https://raw.githubusercontent.com/usnistgov/oscal-content/main/nist.gov/SP800-53/rev5/json/NIST_SP-800-53_rev5_{level}-baseline_profile.json"
    )
}

impl Service {
    /// The organization's SSP as OSCAL 1.2.1 JSON. Deterministic: unchanged data gives the
    /// same bytes (`last-modified` is the newest change among its inputs).
    pub async fn ssp_oscal(&self, actor: &Actor) -> ServiceResult<Value> {
        let (input, _) = self.ssp_input(actor).await?;
        Ok(ssp(&input))
    }

    /// The organization's SSP as a Word document, from the same data as the OSCAL export.
    pub async fn ssp_docx(&self, actor: &Actor) -> ServiceResult<Vec<u8>> {
        let (input, baseline_title) = self.ssp_input(actor).await?;
        let catalog = self.catalog()?;
        let headings: Vec<ControlHeading> = input
            .controls
            .iter()
            .map(|(id, _)| match catalog.control(id) {
                Some(c) => ControlHeading {
                    label: c.label.clone(),
                    title: c.title.clone(),
                    family: c.family.clone(),
                    family_title: c.family_title.clone(),
                },
                None => ControlHeading {
                    label: id.to_uppercase(),
                    title: String::new(),
                    family: id.split('-').next().unwrap_or_default().to_owned(),
                    family_title: String::new(),
                },
            })
            .collect();
        let date = tater_domain::time::format_date(self.now().date());
        // Building the document is CPU work: off the runtime.
        tokio::task::spawn_blocking(move || {
            ssp_docx(&SspDocument {
                ssp: &input,
                headings: &headings,
                baseline_title,
                date,
            })
        })
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("SSP document task: {e}")))?
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("SSP document: {e}")))
    }

    /// What both SSP exports show, and the baseline's title.
    async fn ssp_input(&self, actor: &Actor) -> ServiceResult<(SspInput, String)> {
        let permit = authorize(actor, Action::Read)?;
        let catalog = self.catalog()?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let profile = tx
            .get_record(SYSTEM_PROFILE.name, system_profile_record_id())
            .await?;
        let mut newest = profile.as_ref().map(|r| r.meta.updated_at);
        let data: Map<String, Value> = profile.as_ref().map(|r| r.data.clone()).unwrap_or_default();
        let baseline = data
            .get("baseline")
            .and_then(Value::as_str)
            .unwrap_or("nist-800-53-rev5-moderate")
            .to_owned();
        let framework = catalog.framework(&baseline).ok_or_else(|| {
            ServiceError::Internal(anyhow::anyhow!("baseline {baseline} is not in the catalog"))
        })?;
        let baseline_title = framework.title.clone();
        // One read for every overlay (not one per baseline control).
        let mut overlays = crate::controls::overlays(&mut *tx, self.now().date()).await?;
        let mut controls = Vec::with_capacity(framework.controls.len());
        for id in &framework.controls {
            let overlay = overlays.remove(id);
            if let Some(o) = &overlay {
                newest = newest.max(Some(o.meta.updated_at));
            }
            controls.push((id.clone(), overlay.map(|o| o.data).unwrap_or_default()));
        }
        let mut endpoints = Vec::new();
        let mut query = EndpointQuery {
            status: Some("active".into()),
            limit: 500,
            ..Default::default()
        };
        loop {
            // The store returns one row beyond the limit when there are more.
            let mut page = tx.endpoints(&query).await?;
            let more = page.len() > query.limit as usize;
            page.truncate(query.limit as usize);
            for e in &page {
                newest = newest.max(Some(e.updated_at));
                endpoints.push([
                    e.id.to_string(),
                    e.hostname.clone(),
                    e.os.clone(),
                    e.os_version.clone(),
                ]);
            }
            match page.last() {
                Some(last) if more => query.after_hostname = Some(last.hostname.clone()),
                _ => break,
            }
        }
        let org_name = self.org_name(actor).await?;
        let input = SspInput {
            org_id: actor.org().to_string(),
            org_name,
            profile: data,
            baseline_href: baseline_href(&baseline),
            baseline_id: baseline,
            controls,
            endpoints,
            last_modified: newest.unwrap_or(Timestamp::from_millis(0)).to_string(),
            version: profile.map_or_else(|| "0".into(), |r| r.meta.version.to_string()),
        };
        Ok((input, baseline_title))
    }

    pub(crate) async fn system_profile_record(
        &self,
        permit: &Permit,
    ) -> ServiceResult<Option<tater_domain::module::Record>> {
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        Ok(tx
            .get_record(SYSTEM_PROFILE.name, system_profile_record_id())
            .await?)
    }

    /// The active organization's name.
    pub async fn org_name(&self, actor: &Actor) -> ServiceResult<String> {
        let mut tx = self.store.identity(Mode::Read).await?;
        Ok(tx
            .org(actor.org())
            .await?
            .map(|o| o.name)
            .unwrap_or_default())
    }
}
