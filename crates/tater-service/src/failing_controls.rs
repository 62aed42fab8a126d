//! Work opened from a control that is failing now: a POA&M item or a task, each describing
//! the failed checks, the endpoints they failed on and their evidence (risk acceptances
//! applied, as in posture).

use serde_json::{Value, json};
use tater_catalog::Severity;
use tater_domain::module::LinkEnd;
use tater_domain::modules::{POAM, TASKS};
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, CheckStatus, EndpointId, ValidationErrors};

use crate::posture::{active_acceptances, active_endpoints, severity};
use crate::{Service, ServiceError, ServiceResult};

/// A control failing now, as the work opened for it describes it.
struct FailingReport {
    id: String,
    label: String,
    title: String,
    /// The endpoints it fails on, by hostname.
    hosts: Vec<String>,
    /// The worst severity among its failed checks.
    worst: Severity,
    description: String,
}

impl FailingReport {
    /// `AC-2 Account Management: failing on 3 endpoint(s)`, after `prefix`.
    fn headline(&self, prefix: &str) -> String {
        format!(
            "{prefix}{} {}: failing on {} endpoint(s)",
            self.label,
            self.title,
            self.hosts.len()
        )
        .chars()
        .take(300)
        .collect()
    }
}

impl Service {
    /// What is failing of `control` now (acceptances applied, as in posture): its failed
    /// checks, the endpoints they failed on and their evidence; a field error when nothing is.
    async fn failing_report(&self, actor: &Actor, control: &str) -> ServiceResult<FailingReport> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let catalog = self.catalog()?;
        let checks = self.check_catalog()?;
        let control = catalog.control(control).ok_or_else(|| {
            ValidationErrors::single("control", "is not a control of the catalog")
        })?;
        let mapped: Vec<String> = checks
            .checks()
            .iter()
            .filter(|c| c.controls.contains(&control.id))
            .map(|c| c.id.clone())
            .collect();
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let accepted = active_acceptances(&mut *tx, self.clock.now().date()).await?;
        // Results under an active acceptance are Overrides, not failures (as in posture).
        let failed: Vec<(EndpointId, tater_domain::ScanResult)> = tx
            .latest_results_of(&mapped, CheckStatus::Fail, 1000)
            .await?
            .into_iter()
            .filter(|(endpoint, r)| {
                let controls = checks
                    .get(&r.check_id)
                    .map(|c| c.controls.as_slice())
                    .unwrap_or_default();
                !controls.iter().any(|c| {
                    accepted.org_wide.contains(c)
                        || accepted.scoped.get(endpoint).is_some_and(|s| s.contains(c))
                })
            })
            .collect();
        let endpoints = active_endpoints(&mut *tx).await?;
        drop(tx);
        if failed.is_empty() {
            return Err(ValidationErrors::single(
                "control",
                format!(
                    "{} has no failed results in the latest scans",
                    control.label
                ),
            )
            .into());
        }
        let hostnames: std::collections::HashMap<EndpointId, &str> = endpoints
            .iter()
            .map(|e| (e.id, e.hostname.as_str()))
            .collect();
        let host = |id: &EndpointId| {
            hostnames
                .get(id)
                .map_or_else(|| id.to_string(), |h| (*h).to_owned())
        };
        let mut hosts: Vec<String> = failed.iter().map(|(e, _)| host(e)).collect();
        hosts.sort();
        hosts.dedup();
        let worst = failed
            .iter()
            .map(|(_, r)| severity(&r.severity))
            .min()
            .unwrap_or(Severity::Low);
        let mut lines = vec![format!(
            "{} {} is failing in the latest scans.",
            control.label, control.title
        )];
        for check_id in &mapped {
            let on: Vec<&(EndpointId, tater_domain::ScanResult)> = failed
                .iter()
                .filter(|(_, r)| &r.check_id == check_id)
                .collect();
            if on.is_empty() {
                continue;
            }
            let title = checks
                .get(check_id)
                .map_or(check_id.as_str(), |c| c.title.as_str());
            let mut names: Vec<String> = on.iter().map(|(e, _)| host(e)).collect();
            names.sort();
            lines.push(format!(
                "- {title} ({check_id}) failed on {}.",
                names.join(", ")
            ));
            if let Some((_, r)) = on.iter().find(|(_, r)| !r.evidence.is_empty()) {
                let evidence: String = r.evidence.chars().take(500).collect();
                lines.push(format!("  Evidence: {evidence}"));
            }
        }
        let mut description: String = lines.join("\n");
        if description.chars().count() > 7900 {
            description = description.chars().take(7900).collect::<String>() + "…";
        }
        Ok(FailingReport {
            label: control.label.clone(),
            title: control.title.clone(),
            id: control.id.clone(),
            hosts,
            worst,
            description,
        })
    }

    /// Creates a POAM item for a control that is failing now: its failed checks, the endpoints
    /// they failed on and their evidence, source `Scan`. The item lists the control, and the
    /// control's reads list the item, so each leads to the other.
    pub async fn poam_from_control(
        &self,
        actor: &Actor,
        control: &str,
        scheduled: Option<&str>,
    ) -> ServiceResult<Value> {
        let report = self.failing_report(actor, control).await?;
        let impact = match report.worst {
            Severity::Critical | Severity::High => "High",
            Severity::Medium => "Moderate",
            Severity::Low => "Low",
        };
        let mut asset = report.hosts.join(", ");
        if asset.chars().count() > 500 {
            asset = asset.chars().take(480).collect::<String>()
                + &format!("… ({} endpoints)", report.hosts.len());
        }
        let body = json!({
            "title": report.headline(""),
            "weaknessDescription": report.description,
            "impact": impact,
            "status": "Open",
            "source": "Scan",
            "asset": asset,
            "controls": [report.id],
            "scheduledCompletion": scheduled,
        });
        self.create_record(actor, &POAM, &body).await
    }

    /// Opens a task to fix a control that is failing now (source `Failing control`, priority
    /// from its worst failed check, the failures as its description), linked to the control
    /// in the same transaction.
    pub async fn task_from_control(
        &self,
        actor: &Actor,
        control: &str,
        assignee: Option<&str>,
        due: Option<&str>,
    ) -> ServiceResult<Value> {
        let report = self.failing_report(actor, control).await?;
        let priority = match report.worst {
            Severity::Critical => "Critical",
            Severity::High => "High",
            Severity::Medium => "Medium",
            Severity::Low => "Low",
        };
        let body = json!({
            "title": report.headline("Fix "),
            "description": report.description,
            "priority": priority,
            "assignee": assignee,
            "dueDate": due,
            "controls": [report.id],
            "source": "Failing control",
        });
        let permit = authorize(actor, Action::WriteRecord)?;
        let mut tx = self.store.tenant(&permit).await?;
        let control = LinkEnd::Control(report.id.clone());
        let made = self
            .create_linked(&mut *tx, actor, &TASKS, &body, control, self.clock.now())
            .await?;
        let task = tx
            .get_record(TASKS.name, made.id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        tx.commit().await?;
        Ok(self.view(&TASKS, &task))
    }
}
