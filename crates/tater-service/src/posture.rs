//! Compliance posture (SPEC D1): what the latest scan of every active endpoint says, with
//! active risk acceptances applied.
//!
//! The unit is one check result on one endpoint. A `Fail` becomes `Override` when an active
//! risk acceptance names one of the controls the check maps to, organization-wide or for that
//! endpoint. The score is the severity-weighted share of resolved results:
//!
//! ```text
//! score = 100 × Σ w(Pass, Override) / Σ w(Pass, Override, Fail, Manual Review, Error)
//! w: Critical 4, High 3, Medium 2, Low 1;   Skip and Not Applicable are left out
//! ```
//!
//! The counts are kept current at write time (per check in `posture_counts`, per endpoint in
//! each scan's tally), so reading posture costs checks + endpoints, not results; only
//! acceptances need a look at individual results, and only for the checks they cover.

use std::collections::{BTreeMap, HashMap, HashSet};

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use tater_catalog::{Catalog, CheckCatalog, Severity};
use tater_domain::module::parse_list_query;
use tater_domain::modules::{RISK_ACCEPTANCES, acceptance_is_active};
use tater_domain::policy::{Action, Permit, authorize};
use tater_domain::{Actor, CheckStatus, Endpoint, EndpointId, ScanId, Timestamp, ValidationErrors};
use tater_store::{EndpointQuery, ResultFilter, ResultGroup, TenantTx};

use crate::{Service, ServiceResult};

pub const SCORE_FORMULA: &str = "100 × Σw(Pass, Override) / Σw(Pass, Override, Fail, Manual Review, Error); w: Critical 4, High 3, Medium 2, Low 1; Skip and Not Applicable excluded; Override = Fail under an active risk acceptance";

/// Per-endpoint rows in one answer: `/api/posture` holds the first page, and
/// `/api/posture/endpoints` pages on (10,000 endpoints would be 3 MB in one answer).
const BY_ENDPOINT_PAGE: u32 = 50;

/// A hostname cursor: hostnames are at most 253 characters.
fn hostname_cursor(v: &str) -> Option<String> {
    (!v.is_empty() && v.len() <= 253).then(|| v.to_owned())
}

/// A result's status after acceptances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Status(CheckStatus),
    Override,
}

/// Counts by outcome and severity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally(BTreeMap<(Outcome, Severity), i64>);

impl Tally {
    pub fn add(&mut self, outcome: Outcome, severity: Severity, n: i64) {
        *self.0.entry((outcome, severity)).or_default() += n;
    }

    /// Moves up to `n` failed results of `severity` to Override.
    pub fn accept(&mut self, severity: Severity, n: i64) {
        let key = (Outcome::Status(CheckStatus::Fail), severity);
        let moved = n.min(self.0.get(&key).copied().unwrap_or(0));
        self.add(Outcome::Status(CheckStatus::Fail), severity, -moved);
        self.add(Outcome::Override, severity, moved);
    }

    pub fn merge(&mut self, other: &Tally) {
        for (&(o, s), &n) in &other.0 {
            self.add(o, s, n);
        }
    }

    fn count(&self, outcome: Outcome) -> i64 {
        self.0
            .iter()
            .filter(|((o, _), _)| *o == outcome)
            .map(|(_, n)| n)
            .sum()
    }

    fn weighted(&self, outcomes: &[Outcome]) -> i64 {
        self.0
            .iter()
            .filter(|((o, _), _)| outcomes.contains(o))
            .map(|((_, s), n)| n * i64::from(s.weight()))
            .sum()
    }

    /// The score (0–100, one decimal), or `None` when nothing counts.
    pub fn score(&self) -> Option<f64> {
        use CheckStatus::*;
        let resolved = [Outcome::Status(Pass), Outcome::Override];
        let all = [
            Outcome::Status(Pass),
            Outcome::Override,
            Outcome::Status(Fail),
            Outcome::Status(ManualReview),
            Outcome::Status(Error),
        ];
        let denominator = self.weighted(&all);
        (denominator > 0)
            .then(|| (1000.0 * self.weighted(&resolved) as f64 / denominator as f64).round() / 10.0)
    }

    pub fn totals(&self) -> PostureTotals {
        use CheckStatus::*;
        PostureTotals {
            pass: self.count(Outcome::Status(Pass)),
            fail: self.count(Outcome::Status(Fail)),
            manual_review: self.count(Outcome::Status(ManualReview)),
            not_applicable: self.count(Outcome::Status(NotApplicable)),
            accepted: self.count(Outcome::Override),
            skip: self.count(Outcome::Status(Skip)),
            error: self.count(Outcome::Status(Error)),
        }
    }

    pub(crate) fn summary(&self) -> Summary {
        Summary {
            score: self.score(),
            totals: self.totals(),
        }
    }
}

/// Latest results by outcome, risk acceptances applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostureTotals {
    pub pass: i64,
    pub fail: i64,
    pub manual_review: i64,
    pub not_applicable: i64,
    /// Failed results under an active risk acceptance (they count as resolved).
    #[serde(rename = "override")]
    pub accepted: i64,
    pub skip: i64,
    pub error: i64,
}

/// A score and the totals it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Summary {
    /// 0–100 with one decimal; null when no result counts.
    pub score: Option<f64>,
    pub totals: PostureTotals,
}

/// The posture of the checks mapped to one framework's controls.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FrameworkPosture {
    pub id: String,
    pub title: String,
    #[serde(flatten)]
    pub summary: Summary,
}

/// The posture of the checks mapped to one control family.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FamilyPosture {
    pub family: String,
    pub title: String,
    #[serde(flatten)]
    pub summary: Summary,
}

fn severity_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "enum": ["Critical", "High", "Medium", "Low"] })
}

/// A control with failed results after acceptances.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailingControl {
    pub control: String,
    pub label: Option<String>,
    pub title: Option<String>,
    pub family: Option<String>,
    /// The worst severity among its failed checks.
    #[schemars(schema_with = "severity_schema")]
    pub severity: Severity,
    pub failed_results: i64,
    pub checks: Vec<String>,
}

/// One active endpoint's posture.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPosture {
    pub endpoint_id: EndpointId,
    pub hostname: String,
    pub last_seen_at: Option<Timestamp>,
    pub last_scan_id: Option<ScanId>,
    /// No scan within the staleness window.
    pub stale: bool,
    #[serde(flatten)]
    pub summary: Summary,
}

/// How many endpoints the posture covers.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub struct EndpointCounts {
    pub active: usize,
    /// Active endpoints with at least one scan.
    pub reporting: usize,
    pub stale: usize,
}

/// The organization's compliance posture.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostureView {
    pub generated_at: Timestamp,
    /// 0–100 with one decimal; null when no result counts.
    pub score: Option<f64>,
    pub score_formula: &'static str,
    pub totals: PostureTotals,
    pub by_framework: Vec<FrameworkPosture>,
    pub by_family: Vec<FamilyPosture>,
    /// The first page of per-endpoint rows, by hostname.
    pub by_endpoint: Vec<EndpointPosture>,
    /// Continues `byEndpoint` at `GET /api/posture/endpoints?cursor=`.
    pub by_endpoint_next_cursor: Option<String>,
    pub failing: Vec<FailingControl>,
    pub endpoints: EndpointCounts,
}

/// One scan in the trend: raw counts at scan time.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrendPoint {
    pub scan_id: ScanId,
    pub endpoint_id: EndpointId,
    pub finished_at: Timestamp,
    pub counts: tater_domain::Counts,
}

/// The current resolved posture, for the end of the trend line.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TrendLatest {
    pub at: Timestamp,
    #[serde(flatten)]
    pub summary: Summary,
}

/// The posture over time.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PostureTrend {
    pub points: Vec<TrendPoint>,
    /// More scans fell in the window than points were asked for.
    pub truncated: bool,
    pub latest: TrendLatest,
}

pub(crate) fn severity(s: &str) -> Severity {
    Severity::parse(s).unwrap_or(Severity::Low)
}

/// Active acceptances: organization-wide controls, and controls per endpoint.
pub(crate) struct Acceptances {
    pub(crate) org_wide: HashSet<String>,
    pub(crate) scoped: HashMap<EndpointId, HashSet<String>>,
}

pub(crate) async fn active_acceptances(
    tx: &mut dyn TenantTx,
    today: time::Date,
) -> ServiceResult<Acceptances> {
    let mut q = parse_list_query(&RISK_ACCEPTANCES, &[], today, &[])?;
    q.limit = 1_000_000;
    let mut out = Acceptances {
        org_wide: HashSet::new(),
        scoped: HashMap::new(),
    };
    for r in tx.list_records(RISK_ACCEPTANCES.name, &q).await? {
        if !acceptance_is_active(&r.data, today) {
            continue;
        }
        let Some(control) = r.data.get("control").and_then(Value::as_str) else {
            continue;
        };
        match r
            .data
            .get("endpoint")
            .and_then(Value::as_str)
            .and_then(|e| e.parse::<EndpointId>().ok())
        {
            Some(e) => {
                out.scoped.entry(e).or_default().insert(control.to_owned());
            }
            None => {
                out.org_wide.insert(control.to_owned());
            }
        }
    }
    Ok(out)
}

/// The organization's active endpoints, every one.
pub(crate) async fn active_endpoints(tx: &mut dyn TenantTx) -> ServiceResult<Vec<Endpoint>> {
    Ok(tx
        .endpoints(&EndpointQuery {
            status: Some("active".into()),
            limit: 1_000_000,
            ..Default::default()
        })
        .await?)
}

/// Checks (ids) that map to any of `controls`.
fn checks_for(checks: &CheckCatalog, controls: &HashSet<String>) -> Vec<String> {
    checks
        .checks()
        .iter()
        .filter(|c| c.controls.iter().any(|k| controls.contains(k)))
        .map(|c| c.id.clone())
        .collect()
}

/// The organization's posture by check, with what acceptances move per endpoint: the
/// per-endpoint rows are read a page at a time (`endpoint_page`), never all at once.
pub struct Computed {
    pub by_check: HashMap<String, Tally>,
    /// Checks under an organization-wide acceptance (every endpoint's failed results of
    /// them count as Override).
    org_checks: Vec<String>,
    /// Failed results moved to Override by endpoint-scoped acceptances: per endpoint,
    /// how many of each severity.
    scoped: HashMap<EndpointId, Vec<(Severity, i64)>>,
}

impl Computed {
    pub fn total(&self) -> Tally {
        let mut t = Tally::default();
        for tally in self.by_check.values() {
            t.merge(tally);
        }
        t
    }
}

const SEVERITIES: [Severity; 4] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
];

fn failed_of(checks: Vec<String>) -> ResultFilter {
    ResultFilter {
        status: Some(CheckStatus::Fail),
        checks: Some(checks),
        ..Default::default()
    }
}

impl Service {
    /// Latest results with acceptances applied, by check.
    pub(crate) async fn compute_posture(&self, permit: &Permit) -> ServiceResult<Computed> {
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        self.posture_in(&mut *tx).await
    }

    /// Reads counts kept at write time: no pass over every result, nor over every endpoint.
    async fn posture_in(&self, tx: &mut dyn TenantTx) -> ServiceResult<Computed> {
        let checks = self.check_catalog()?;
        let acceptances = active_acceptances(tx, self.clock.now().date()).await?;
        let mut by_check: HashMap<String, Tally> = HashMap::new();
        for row in tx.posture_counts().await? {
            let check = row.check_id.clone().unwrap_or_default();
            by_check.entry(check).or_default().add(
                Outcome::Status(row.status),
                severity(&row.severity),
                row.count,
            );
        }
        // Organization-wide acceptances: every failed result of their checks.
        let org_checks = checks_for(&checks, &acceptances.org_wide);
        for check in &org_checks {
            if let Some(t) = by_check.get_mut(check) {
                for s in SEVERITIES {
                    t.accept(s, i64::MAX);
                }
            }
        }
        // Endpoint-scoped acceptances: that endpoint's failed results of their checks (those
        // not already accepted organization-wide).
        let org_set: HashSet<&String> = org_checks.iter().collect();
        let mut scoped: HashMap<EndpointId, Vec<(Severity, i64)>> = HashMap::new();
        for (endpoint, controls) in &acceptances.scoped {
            let own: Vec<String> = checks_for(&checks, controls)
                .into_iter()
                .filter(|c| !org_set.contains(c))
                .collect();
            if own.is_empty() {
                continue;
            }
            let filter = ResultFilter {
                endpoint: Some(*endpoint),
                ..failed_of(own)
            };
            for row in tx.latest_result_counts(ResultGroup::Check, &filter).await? {
                let s = severity(&row.severity);
                if let Some(t) = row.check_id.as_ref().and_then(|c| by_check.get_mut(c)) {
                    t.accept(s, row.count);
                }
                scoped.entry(*endpoint).or_default().push((s, row.count));
            }
        }
        Ok(Computed {
            by_check,
            org_checks,
            scoped,
        })
    }

    /// `GET /api/posture`.
    pub async fn posture(&self, actor: &Actor) -> ServiceResult<PostureView> {
        let permit = authorize(actor, Action::Read)?;
        let catalog = self.catalog()?;
        let checks = self.check_catalog()?;
        let now = self.clock.now();
        // One read-only transaction for the whole answer (one snapshot on SQLite; on
        // PostgreSQL each statement sees what was committed when it ran).
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let computed = self.posture_in(&mut *tx).await?;
        let by_endpoint = self
            .endpoint_page(&mut *tx, &computed, now, None, BY_ENDPOINT_PAGE)
            .await?;
        let counts = tx
            .endpoint_totals(now.plus_seconds(-self.compliance.stale_after_secs))
            .await?;
        drop(tx);
        let total = computed.total();
        let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Ok(PostureView {
            generated_at: now,
            score: total.score(),
            score_formula: SCORE_FORMULA,
            totals: total.totals(),
            by_framework: by_framework(&catalog, &checks, &computed),
            by_family: by_family(&catalog, &checks, &computed),
            by_endpoint: by_endpoint.items,
            by_endpoint_next_cursor: by_endpoint.next_cursor,
            failing: failing(&catalog, &checks, &computed),
            endpoints: EndpointCounts {
                active: count(counts.active),
                reporting: count(counts.reporting),
                stale: count(counts.stale),
            },
        })
    }

    /// `GET /api/posture/endpoints`: the per-endpoint rows of the posture, by hostname,
    /// `limit` (1–500, default 50) at a time after `cursor` (the last hostname of a page).
    pub async fn posture_endpoints(
        &self,
        actor: &Actor,
        query: &crate::use_cases::Paging,
    ) -> ServiceResult<crate::Page<EndpointPosture>> {
        let permit = authorize(actor, Action::Read)?;
        let mut errors = ValidationErrors::new();
        let limit = query
            .limit
            .map_or(BY_ENDPOINT_PAGE, |_| query.page_size(&mut errors));
        let after = query
            .cursor
            .as_deref()
            .and_then(|c| crate::paging::parse_cursor(c, hostname_cursor, &mut errors));
        errors.into_result(())?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let computed = self.posture_in(&mut *tx).await?;
        self.endpoint_page(
            &mut *tx,
            &computed,
            self.clock.now(),
            after.as_deref(),
            limit,
        )
        .await
    }

    /// One page of per-endpoint rows: up to `limit` active endpoints whose hostname sorts
    /// (bytewise, whatever the database's collation) after `after`, each with its latest
    /// scan's tally and the acceptances that apply to it.
    async fn endpoint_page(
        &self,
        tx: &mut dyn TenantTx,
        computed: &Computed,
        now: Timestamp,
        after: Option<&str>,
        limit: u32,
    ) -> ServiceResult<crate::Page<EndpointPosture>> {
        let mut page = tx
            .endpoints(&EndpointQuery {
                status: Some("active".into()),
                after_hostname: after.map(str::to_owned),
                limit,
                ..Default::default()
            })
            .await?;
        let more = page.len() > limit as usize;
        page.truncate(limit as usize);
        let ids: Vec<EndpointId> = page.iter().map(|e| e.id).collect();
        let mut tallies: HashMap<EndpointId, Tally> = HashMap::new();
        for row in tx.latest_tallies(&ids).await? {
            if let Some(e) = row.endpoint {
                tallies.entry(e).or_default().add(
                    Outcome::Status(row.status),
                    severity(&row.severity),
                    row.count,
                );
            }
        }
        if !computed.org_checks.is_empty() {
            let filter = ResultFilter {
                endpoints: Some(ids),
                ..failed_of(computed.org_checks.clone())
            };
            for row in tx
                .latest_result_counts(ResultGroup::Endpoint, &filter)
                .await?
            {
                if let Some(t) = row.endpoint.and_then(|e| tallies.get_mut(&e)) {
                    t.accept(severity(&row.severity), row.count);
                }
            }
        }
        for (endpoint, moves) in &computed.scoped {
            if let Some(t) = tallies.get_mut(endpoint) {
                for &(s, n) in moves {
                    t.accept(s, n);
                }
            }
        }
        let next_cursor = crate::paging::next_cursor(&page, more, |e| e.hostname.clone());
        let items = page
            .into_iter()
            .map(|e| {
                let summary = tallies.remove(&e.id).unwrap_or_default().summary();
                EndpointPosture {
                    endpoint_id: e.id,
                    stale: self.endpoint_is_stale(&e, now),
                    hostname: e.hostname,
                    last_seen_at: e.last_seen_at,
                    last_scan_id: e.last_scan_id,
                    summary,
                }
            })
            .collect();
        Ok(crate::Page { items, next_cursor })
    }

    pub(crate) fn endpoint_is_stale(&self, e: &Endpoint, now: Timestamp) -> bool {
        e.status == "active"
            && e.last_seen_at
                .is_none_or(|t| t.plus_seconds(self.compliance.stale_after_secs) < now)
    }

    /// `GET /api/posture/trend`: one point per scan (raw counts at scan time) in the window,
    /// and the current resolved totals.
    pub async fn posture_trend(
        &self,
        actor: &Actor,
        query: &crate::use_cases::TrendQuery,
    ) -> ServiceResult<PostureTrend> {
        let permit = authorize(actor, Action::Read)?;
        let mut errors = ValidationErrors::new();
        let from = crate::paging::time_bound("from", query.from.as_deref(), &mut errors);
        let to = crate::paging::time_bound("to", query.to.as_deref(), &mut errors);
        let limit = query.points(&mut errors);
        errors.into_result(())?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let mut scans = tx.scans(from, to, limit).await?;
        drop(tx);
        let truncated = scans.len() > limit as usize;
        scans.truncate(limit as usize);
        let points = scans
            .iter()
            .map(|s| TrendPoint {
                scan_id: s.id,
                endpoint_id: s.endpoint,
                finished_at: s.finished_at,
                counts: s.counts,
            })
            .collect();
        let total = self.compute_posture(&permit).await?.total();
        Ok(PostureTrend {
            points,
            truncated,
            latest: TrendLatest {
                at: self.clock.now(),
                summary: total.summary(),
            },
        })
    }
}

/// Tallies of the checks that map to any control selected by `keep`.
pub(crate) fn grouped<'a>(
    checks: &CheckCatalog,
    computed: &Computed,
    keep: impl Fn(&str) -> Option<&'a str>,
) -> BTreeMap<&'a str, Tally> {
    let mut out: BTreeMap<&str, Tally> = BTreeMap::new();
    for (check_id, tally) in &computed.by_check {
        let Some(check) = checks.get(check_id) else {
            continue;
        };
        let groups: HashSet<&str> = check.controls.iter().filter_map(|c| keep(c)).collect();
        for g in groups {
            out.entry(g).or_default().merge(tally);
        }
    }
    out
}

fn by_framework(
    catalog: &Catalog,
    checks: &CheckCatalog,
    computed: &Computed,
) -> Vec<FrameworkPosture> {
    catalog
        .frameworks()
        .iter()
        .map(|f| {
            let tally = grouped(checks, computed, |c| f.contains(c).then_some(f.id.as_str()))
                .remove(f.id.as_str())
                .unwrap_or_default();
            FrameworkPosture {
                id: f.id.clone(),
                title: f.title.clone(),
                summary: tally.summary(),
            }
        })
        .collect()
}

fn by_family(catalog: &Catalog, checks: &CheckCatalog, computed: &Computed) -> Vec<FamilyPosture> {
    let tallies = grouped(checks, computed, |c| {
        catalog.control(c).map(|k| k.family.as_str())
    });
    catalog
        .families()
        .iter()
        .filter_map(|(id, title)| {
            let tally = tallies.get(id.as_str())?;
            Some(FamilyPosture {
                family: id.clone(),
                title: title.clone(),
                summary: tally.summary(),
            })
        })
        .collect()
}

/// Controls with failed results (after acceptances), worst severity first.
fn failing(catalog: &Catalog, checks: &CheckCatalog, computed: &Computed) -> Vec<FailingControl> {
    struct Failing<'a> {
        worst: Severity,
        results: i64,
        checks: Vec<&'a str>,
    }
    let mut by_control: BTreeMap<&str, Failing> = BTreeMap::new();
    for (check_id, tally) in &computed.by_check {
        let Some(check) = checks.get(check_id) else {
            continue;
        };
        for s in SEVERITIES {
            let n = tally
                .0
                .get(&(Outcome::Status(CheckStatus::Fail), s))
                .copied()
                .unwrap_or(0);
            if n <= 0 {
                continue;
            }
            for control in &check.controls {
                let f = by_control.entry(control.as_str()).or_insert(Failing {
                    worst: s,
                    results: 0,
                    checks: Vec::new(),
                });
                f.worst = f.worst.min(s);
                f.results += n;
                if !f.checks.contains(&check.id.as_str()) {
                    f.checks.push(check.id.as_str());
                }
            }
        }
    }
    let mut rows: Vec<(&str, Failing)> = by_control.into_iter().collect();
    rows.sort_by(|a, b| {
        a.1.worst
            .cmp(&b.1.worst)
            .then(b.1.results.cmp(&a.1.results))
            .then(a.0.cmp(b.0))
    });
    rows.into_iter()
        .map(|(id, mut f)| {
            f.checks.sort();
            let c = catalog.control(id);
            FailingControl {
                control: id.to_owned(),
                label: c.map(|c| c.label.clone()),
                title: c.map(|c| c.title.clone()),
                family: c.map(|c| c.family.clone()),
                severity: f.worst,
                failed_results: f.results,
                checks: f.checks.into_iter().map(str::to_owned).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_weights_severity_and_ignores_skip_and_na() {
        let mut t = Tally::default();
        t.add(Outcome::Status(CheckStatus::Pass), Severity::Low, 2); // 2
        t.add(Outcome::Status(CheckStatus::Fail), Severity::Critical, 1); // 4
        t.add(Outcome::Status(CheckStatus::Skip), Severity::High, 5);
        t.add(
            Outcome::Status(CheckStatus::NotApplicable),
            Severity::High,
            5,
        );
        assert_eq!(t.score(), Some(33.3), "2 / 6");
        t.accept(Severity::Critical, 1);
        assert_eq!(t.score(), Some(100.0));
        assert_eq!(t.totals().accepted, 1);
        assert_eq!(t.totals().fail, 0);
        t.add(
            Outcome::Status(CheckStatus::ManualReview),
            Severity::Medium,
            1,
        ); // 2 unresolved
        assert_eq!(t.score(), Some(75.0), "6 / 8");
        assert_eq!(Tally::default().score(), None);
        let mut only_skip = Tally::default();
        only_skip.add(Outcome::Status(CheckStatus::Skip), Severity::High, 1);
        assert_eq!(only_skip.score(), None);
    }
}
