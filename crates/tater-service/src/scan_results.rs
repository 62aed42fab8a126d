//! The organization's current scan results: the latest result of every check on every active
//! endpoint, one row each, with the check's title and mapped controls. Listed a page at a time
//! (keyset on hostname, endpoint and check), so an export of a large fleet streams.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, ValidationErrors};
use tater_store::{LatestResult, ResultFilter, ResultKey};

use crate::paging::{PAGE_BYTES, next_cursor, parse_cursor};
use crate::{Page, Service, ServiceResult};

fn encode_cursor(k: &ResultKey) -> String {
    let raw = json!([k.hostname, k.endpoint.to_string(), k.check_id]).to_string();
    URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(s: &str) -> Option<ResultKey> {
    let raw = URL_SAFE_NO_PAD.decode(s).ok()?;
    let v: Vec<String> = serde_json::from_slice(&raw).ok()?;
    match v.as_slice() {
        [hostname, endpoint, check_id] => Some(ResultKey {
            hostname: hostname.clone(),
            endpoint: endpoint.parse().ok()?,
            check_id: check_id.clone(),
        }),
        _ => None,
    }
}

impl Service {
    /// Latest results: `status`, `endpoint`, `check`, `control` (the checks mapped to it),
    /// `limit` (1–500, default 50) and `cursor`.
    pub async fn list_scan_results(
        &self,
        actor: &Actor,
        input: &crate::use_cases::ScanResultsQuery,
    ) -> ServiceResult<Page<LatestResultView>> {
        let permit = authorize(actor, Action::Read)?;
        let checks = self.check_catalog()?;
        let catalog = self.catalog()?;
        let mut errors = ValidationErrors::new();
        let mut filter = ResultFilter {
            status: input.status,
            ..Default::default()
        };
        if let Some(v) = &input.endpoint {
            match v.parse() {
                Ok(id) => filter.endpoint = Some(id),
                Err(_) => errors.add("endpoint", "must be an endpoint id"),
            }
        }
        if let Some(v) = &input.check {
            match checks.get(v) {
                Some(c) => filter.checks = Some(vec![c.id.clone()]),
                None => errors.add("check", "is not a check of the catalog"),
            }
        }
        if let Some(v) = &input.control {
            match catalog.control(&v.to_lowercase()) {
                Some(c) => {
                    let mapped = checks
                        .checks()
                        .iter()
                        .filter(|k| k.controls.contains(&c.id))
                        .map(|k| k.id.clone())
                        .collect();
                    filter.checks = Some(mapped);
                }
                None => errors.add("control", "is not a control of the catalog"),
            }
        }
        let paging = crate::use_cases::Paging {
            limit: input.limit,
            cursor: None,
        };
        let limit = paging.page_size(&mut errors);
        let after = input
            .cursor
            .as_deref()
            .and_then(|c| parse_cursor(c, decode_cursor, &mut errors));
        errors.into_result(())?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let (rows, more) = tx
            .latest_results_page(&filter, after.as_ref(), limit, PAGE_BYTES)
            .await?;
        let next_cursor = next_cursor(&rows, more, |r| {
            encode_cursor(&ResultKey {
                hostname: r.hostname.clone(),
                endpoint: r.endpoint,
                check_id: r.result.check_id.clone(),
            })
        });
        let items = rows.iter().map(|r| self.result_view(&checks, r)).collect();
        Ok(Page { items, next_cursor })
    }

    fn result_view(
        &self,
        checks: &tater_catalog::CheckCatalog,
        r: &LatestResult,
    ) -> LatestResultView {
        let check = checks.get(&r.result.check_id);
        LatestResultView {
            endpoint_id: r.endpoint,
            hostname: r.hostname.clone(),
            scan_id: r.scan,
            check_id: r.result.check_id.clone(),
            check_title: check.map(|c| c.title.clone()),
            controls: check.map(|c| c.controls.clone()).unwrap_or_default(),
            status: r.result.status,
            severity: r.result.severity.clone(),
            evidence: r.result.evidence.clone(),
        }
    }
}

/// The latest result of a check on an active endpoint.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LatestResultView {
    pub endpoint_id: tater_domain::EndpointId,
    pub hostname: String,
    pub scan_id: tater_domain::ScanId,
    pub check_id: String,
    /// Null for a check the server's catalog does not know.
    pub check_title: Option<String>,
    /// The SP 800-53 controls the check maps to.
    pub controls: Vec<String>,
    pub status: tater_domain::CheckStatus,
    pub severity: String,
    pub evidence: String,
}
