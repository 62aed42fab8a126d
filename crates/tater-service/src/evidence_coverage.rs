//! Evidence coverage: how much current evidence supports each control. Evidence counts when
//! it is accepted and still valid (not past its valid-until date), and supports a control
//! when it names the control in its `controls` field or is linked to it; an evidence record
//! that does both counts once.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use tater_domain::Actor;
use tater_domain::modules::EVIDENCE;
use tater_domain::policy::{Action, authorize};

use crate::{Service, ServiceResult};

/// At most this many evidence records, and as many links to controls, are read per
/// request: the work a controls list does stays bounded whatever an organization holds.
pub const MAX_COVERAGE_EVIDENCE: u32 = 10_000;

/// The number of current evidence records supporting each control, by control id (controls
/// without any are absent).
#[derive(Debug, Default)]
pub struct Coverage(HashMap<String, u32>);

impl Coverage {
    pub fn of(&self, control: &str) -> u32 {
        self.0.get(control).copied().unwrap_or(0)
    }
}

impl Service {
    /// Counts the organization's current evidence per control.
    pub async fn evidence_coverage(&self, actor: &Actor) -> ServiceResult<Coverage> {
        let permit = authorize(actor, Action::ReadRecords(EVIDENCE.read_role))?;
        let params = [("status", "accepted"), ("expired", "false")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let query = self.list_query(&EVIDENCE, &params, &[])?;
        let mut export = self.export_records(actor, &EVIDENCE, query)?;
        let mut current = HashSet::new();
        let mut pairs: HashSet<(String, String)> = HashSet::new();
        'pages: while let Some(page) = export.next_page().await? {
            for view in page {
                if current.len() >= MAX_COVERAGE_EVIDENCE as usize {
                    break 'pages;
                }
                let Some(id) = view.get("id").and_then(Value::as_str) else {
                    continue;
                };
                current.insert(id.to_owned());
                for control in named_controls(&view) {
                    pairs.insert((control.to_owned(), id.to_owned()));
                }
            }
        }
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let links = tx
            .control_links_of(EVIDENCE.name, MAX_COVERAGE_EVIDENCE)
            .await?;
        drop(tx);
        for (id, control) in links {
            let id = id.to_string();
            if current.contains(&id) {
                pairs.insert((control, id));
            }
        }
        let mut counts = HashMap::new();
        for (control, _) in pairs {
            *counts.entry(control).or_insert(0) += 1;
        }
        Ok(Coverage(counts))
    }
}

fn named_controls(view: &Value) -> impl Iterator<Item = &str> {
    view.get("controls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}
