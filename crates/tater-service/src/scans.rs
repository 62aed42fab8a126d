//! Scan ingestion from endpoint agents: validated whole, stored whole, idempotent by scan id.

use std::collections::HashSet;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tater_catalog::Severity;
use tater_domain::policy::{Action, authorize};
use tater_domain::{
    Actor, AuditAction, AuditDraft, CheckStatus, Counts, EndpointId, Scan, ScanId, ScanResult,
    Timestamp, ValidationErrors,
};

use crate::{Service, ServiceError, ServiceResult};

/// Results one scan may carry.
pub const MAX_RESULTS: usize = 5000;
/// Evidence kept per result.
pub const MAX_EVIDENCE_BYTES: usize = 16 * 1024;
/// Reports finishing later than this after the server's now are refused (clock skew).
const MAX_FUTURE_SECS: i64 = 300;
/// A report with more problems than this lists only the first ones.
const MAX_ERRORS: usize = 50;

/// A stored scan: when it ran, when it arrived, its results counted by status.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanView {
    pub id: ScanId,
    pub endpoint_id: EndpointId,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub received_at: Timestamp,
    pub counts: Counts,
}

pub fn scan_view(s: &Scan) -> ScanView {
    ScanView {
        id: s.id,
        endpoint_id: s.endpoint,
        started_at: s.started_at,
        finished_at: s.finished_at,
        received_at: s.received_at,
        counts: s.counts,
    }
}

/// One check's outcome in a scan.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanResultView {
    pub check_id: String,
    pub status: CheckStatus,
    pub severity: String,
    /// What the agent saw, as it reported it.
    pub evidence: String,
}

/// A scan with its results.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanDetail {
    #[serde(flatten)]
    pub scan: ScanView,
    pub results: Vec<ScanResultView>,
}

/// A stored scan as its agent is told: `id` is the server's, `scanId` the one the agent sent.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestedScan {
    #[serde(flatten)]
    pub scan: ScanView,
    pub scan_id: ScanId,
}

/// Outcome of an ingestion.
pub struct Ingested {
    /// False when the same scan had been stored before (a retry).
    pub created: bool,
    pub scan: IngestedScan,
}

fn time_field(
    errors: &mut ValidationErrors,
    obj: &Map<String, Value>,
    name: &str,
) -> Option<Timestamp> {
    match obj.get(name).and_then(Value::as_str).map(Timestamp::parse) {
        Some(Ok(t)) => Some(t),
        _ => {
            errors.add(name, "must be an RFC 3339 timestamp");
            None
        }
    }
}

/// The answer to a report stored before: the stored scan, not created again.
fn retried(existing: Scan, id: ScanId) -> Ingested {
    Ingested {
        created: false,
        scan: IngestedScan {
            scan: scan_view(&existing),
            scan_id: id,
        },
    }
}

impl Service {
    /// An agent's sign of life. Authenticating it already recorded the contact (at most once
    /// a minute); this only checks that the caller is an endpoint agent.
    pub fn agent_heartbeat(&self, actor: &Actor) -> ServiceResult<()> {
        authorize(actor, Action::AgentReport)?;
        Ok(())
    }

    /// Validates a whole report first, so a bad report stores nothing; then stores the scan
    /// and its results with one audit entry. The same scan id from the same endpoint again is
    /// a retry: answered, not stored twice. Scan ids are the agent's, unique per endpoint: the
    /// answer carries the agent's `scanId` and the stored `id`.
    pub async fn ingest_scan(&self, actor: &Actor, body: &Value) -> ServiceResult<Ingested> {
        let permit = authorize(actor, Action::AgentReport)?;
        let endpoint = actor.endpoint_id().ok_or(ServiceError::NotFound)?;
        let checks = self.check_catalog()?;
        let now = self.clock.now();
        let mut errors = ValidationErrors::new();
        let Some(obj) = body.as_object() else {
            return Err(ValidationErrors::single("", "expected a JSON object").into());
        };
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "scanId" | "startedAt" | "finishedAt" | "results"
            ) {
                errors.add(key.as_str(), "unknown field");
            }
        }
        let scan_id = obj
            .get("scanId")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<ScanId>().ok());
        if scan_id.is_none() {
            errors.add("scanId", "must be a UUID chosen by the agent");
        }
        let started = time_field(&mut errors, obj, "startedAt");
        let finished = time_field(&mut errors, obj, "finishedAt");
        if let (Some(s), Some(f)) = (started, finished) {
            if f < s {
                errors.add("finishedAt", "must not be before startedAt");
            }
            if f > now.plus_seconds(MAX_FUTURE_SECS) {
                errors.add("finishedAt", "is in the future; check the endpoint's clock");
            }
        }
        let raw = obj.get("results").and_then(Value::as_array);
        match raw {
            None => errors.add("results", "must be a list"),
            Some(list) if list.len() > MAX_RESULTS => {
                errors.add("results", format!("at most {MAX_RESULTS} results per scan"))
            }
            _ => {}
        }
        let mut results = Vec::new();
        let mut seen = HashSet::new();
        for (i, item) in raw.into_iter().flatten().enumerate().take(MAX_RESULTS) {
            if errors.0.len() >= MAX_ERRORS {
                break;
            }
            let path = |f: &str| format!("results[{i}].{f}");
            let Some(r) = item.as_object() else {
                errors.add(format!("results[{i}]"), "must be an object");
                continue;
            };
            for key in r.keys() {
                if !matches!(key.as_str(), "checkId" | "status" | "evidence" | "severity") {
                    errors.add(path(key), "unknown field");
                }
            }
            let check = r
                .get("checkId")
                .and_then(Value::as_str)
                .and_then(|id| checks.get(id));
            let Some(check) = check else {
                errors.add(
                    path("checkId"),
                    "is not a known check (see GET /api/checks)",
                );
                continue;
            };
            if !seen.insert(check.id.clone()) {
                errors.add(path("checkId"), "appears twice in this scan");
            }
            let status = r
                .get("status")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<CheckStatus>().ok());
            if status.is_none() {
                errors.add(
                    path("status"),
                    tater_domain::scan::UnknownStatus.to_string(),
                );
            }
            let severity = match r.get("severity") {
                None | Some(Value::Null) => Some(check.severity),
                Some(v) => v.as_str().and_then(Severity::parse),
            };
            if severity.is_none() {
                errors.add(path("severity"), "must be Critical, High, Medium or Low");
            }
            let evidence = match r.get("evidence") {
                None | Some(Value::Null) => String::new(),
                // PostgreSQL text cannot hold NUL; both engines store U+FFFD instead.
                Some(Value::String(s)) if s.len() <= MAX_EVIDENCE_BYTES => {
                    s.replace('\0', "\u{fffd}")
                }
                Some(Value::String(_)) => {
                    errors.add(
                        path("evidence"),
                        format!("must be at most {MAX_EVIDENCE_BYTES} bytes"),
                    );
                    String::new()
                }
                Some(_) => {
                    errors.add(path("evidence"), "must be text");
                    String::new()
                }
            };
            if let (Some(status), Some(severity)) = (status, severity) {
                results.push(ScanResult {
                    check_id: check.id.clone(),
                    status,
                    severity: severity.as_str().to_owned(),
                    evidence,
                });
            }
        }
        errors.into_result(())?;
        let (Some(id), Some(started_at), Some(finished_at)) = (scan_id, started, finished) else {
            return Err(ServiceError::Internal(anyhow::anyhow!(
                "validated scan lacks its id or times"
            )));
        };
        let stored = tater_domain::scan::stored_scan_id(endpoint, id);
        let scan = Scan {
            id: stored,
            org: actor.org(),
            endpoint,
            started_at,
            finished_at,
            received_at: now,
            counts: Counts::of(&results),
        };
        if let Some(existing) = self.stored_scan(&permit, endpoint, id, stored).await? {
            return Ok(retried(existing, id));
        }
        let after = json!({ "scanId": id, "endpointId": endpoint, "startedAt": started_at, "finishedAt": finished_at, "counts": scan.counts });
        let audit = AuditDraft::new(actor, AuditAction::Create, "scan", stored, now).with_changes(
            None,
            Some(&after),
            &[],
        );
        let mut tx = self.store.tenant(&permit).await?;
        let inserted = match tx.insert_scan(&scan, &results, &audit).await {
            Ok(()) => tx.commit().await,
            Err(err) => {
                // Ended before looking again: it holds the endpoint's row (and SQLite's
                // write lock) and a pooled connection.
                drop(tx);
                Err(err)
            }
        };
        match inserted {
            Ok(()) => {}
            // The same report sent twice at once (an agent retrying a request that was
            // still running): the other one stored it, so this one is its retry.
            Err(tater_store::StoreError::Conflict(_)) => {
                return match self.stored_scan(&permit, endpoint, id, stored).await? {
                    Some(existing) => Ok(retried(existing, id)),
                    None => Err(ServiceError::Conflict(
                        "the scan was being stored by another request; send it again".into(),
                    )),
                };
            }
            Err(err) => return Err(err.into()),
        }
        Ok(Ingested {
            created: true,
            scan: IngestedScan {
                scan: scan_view(&scan),
                scan_id: id,
            },
        })
    }

    /// The scan stored before for this report, if any: under the derived id, or (reported
    /// before scan ids were per endpoint) under the agent's own id by this same endpoint.
    /// Anyone else's scan with that id is not looked at.
    async fn stored_scan(
        &self,
        permit: &tater_domain::Permit,
        endpoint: EndpointId,
        id: ScanId,
        stored: ScanId,
    ) -> ServiceResult<Option<Scan>> {
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let legacy = tx.scan(id).await?.filter(|s| s.endpoint == endpoint);
        Ok(match legacy {
            Some(s) => Some(s),
            None => tx.scan(stored).await?,
        })
    }

    /// A scan with its results.
    pub async fn get_scan(&self, actor: &Actor, id: &str) -> ServiceResult<ScanDetail> {
        let permit = authorize(actor, Action::Read)?;
        let id: ScanId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let scan = tx.scan(id).await?.ok_or(ServiceError::NotFound)?;
        let results = tx
            .scan_results(id)
            .await?
            .into_iter()
            .map(|r| ScanResultView {
                check_id: r.check_id,
                status: r.status,
                severity: r.severity,
                evidence: r.evidence,
            })
            .collect();
        Ok(ScanDetail {
            scan: scan_view(&scan),
            results,
        })
    }
}
