//! How long an organization keeps what it keeps (issue 19 §1; OrgAdmin, audited): each
//! period within the operator's bounds (`--retention-min-days`, `--retention-max-days`,
//! `--audit-retention-min-days`). Left out, a period is the default: the trust page's figures,
//! the server's `--ai-retention-days`, audit entries for ever, and finished records of the
//! modules that declare them ([`RecordRetention`]) for ever unless the module names a period.
//!
//! Bounds are applied when a period is set and again when it is used, so an operator who
//! narrows them narrows what every organization chose.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tater_domain::module::{ModuleDef, RecordRetention};
use tater_domain::modules::ALL;
use tater_domain::policy::{Action, Permit, authorize};
use tater_domain::{Actor, AuditAction, AuditDraft, ValidationErrors};
use tater_store::SettingsDoc;

use crate::{Service, ServiceResult};

/// Days page views are kept, and the most an organization may choose (the trust page's
/// "Telemetry: 90 days" is a promise to its people, not a default to raise).
pub const PAGE_VIEW_DAYS: u32 = 90;
/// Days an ended enrollment token stays listed.
pub const ENROLLMENT_TOKEN_DAYS: u32 = 30;
/// Days a SIEM dead letter is kept for replay.
pub const DEAD_LETTER_DAYS: u32 = 30;
/// The longest audit period anyone may name (a century; for ever is `null`).
const MAX_AUDIT_DAYS: u32 = 36_500;

/// The operator's bounds on the periods organizations choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionBounds {
    /// The shortest period of anything but the audit log.
    pub min_days: u32,
    /// The longest period of anything but the audit log.
    pub max_days: u32,
    /// The shortest audit period an organization may choose.
    pub audit_min_days: u32,
}

impl Default for RetentionBounds {
    fn default() -> Self {
        Self {
            min_days: 1,
            max_days: 3650,
            audit_min_days: 365,
        }
    }
}

/// The periods an organization chose; a period left out is its default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetentionPolicy {
    /// Days page views (which pages the web app was used on, counted per organization) are
    /// kept: at most 90.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_view_days: Option<u32>,
    /// Days an idle AI analyst conversation is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_conversation_days: Option<u32>,
    /// Days Evidence Agent jobs, and the drafts of theirs nobody accepted, are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_job_days: Option<u32>,
    /// Days an expired or revoked enrollment token stays listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_token_days: Option<u32>,
    /// Days a SIEM dead letter is kept for replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_days: Option<u32>,
    /// Days audit entries are kept (left out: for ever). Deleting them keeps a signed
    /// statement of where the kept history starts, so the rest still verifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_log_days: Option<u32>,
    /// Per module with finished records (its name, e.g. `tasks`): days a finished record is
    /// kept after its last change.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub records: BTreeMap<String, u32>,
}

/// One period as it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetentionPeriod {
    /// The policy's key: `pageViewDays`, …, or `records.<module>`.
    pub key: String,
    pub label: String,
    /// Days kept (`null`: for ever).
    pub days: Option<u32>,
    /// What applies when the organization chooses nothing (`null`: for ever).
    pub default_days: Option<u32>,
    pub min_days: u32,
    pub max_days: u32,
}

/// The organization's retention: what it chose (the policy's own fields, so the answer fills
/// the change's form), and every period as it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetentionView {
    #[serde(flatten)]
    pub policy: RetentionPolicy,
    pub periods: Vec<RetentionPeriod>,
}

/// The periods the sweep applies, in days (`None`: kept for ever).
#[derive(Clone)]
pub(crate) struct Periods {
    pub page_views: u32,
    pub ai_conversations: u32,
    pub evidence_jobs: u32,
    pub enrollment_tokens: u32,
    pub dead_letters: u32,
    pub audit_log: Option<u32>,
    pub records: Vec<(&'static ModuleDef, u32)>,
}

/// What one period may be: its label, default and bounds.
struct Rule {
    key: String,
    label: String,
    default_days: Option<u32>,
    min: u32,
    max: u32,
}

impl Rule {
    fn apply(&self, chosen: Option<u32>) -> Option<u32> {
        chosen
            .or(self.default_days)
            .map(|d| d.clamp(self.min, self.max))
    }
}

/// The modules whose finished records may be deleted, with their declaration.
fn expiring_modules() -> impl Iterator<Item = (&'static ModuleDef, RecordRetention)> {
    ALL.iter()
        .copied()
        .filter_map(|m| m.retention.map(|r| (m, r)))
}

impl Service {
    /// Every period's rule, in the order the view lists them.
    fn retention_rules(&self) -> Vec<Rule> {
        let b = self.lifecycle.retention;
        let ai = u32::try_from(self.ai.retention_days).unwrap_or(u32::MAX);
        let rule = |key: &str, label: &str, default_days: Option<u32>, max: u32| Rule {
            key: key.into(),
            label: label.into(),
            default_days,
            min: b.min_days.min(max),
            max,
        };
        let mut rules = vec![
            rule(
                "pageViewDays",
                "Page views (web app usage counts)",
                Some(PAGE_VIEW_DAYS),
                PAGE_VIEW_DAYS.min(b.max_days),
            ),
            rule(
                "aiConversationDays",
                "AI analyst conversations (idle)",
                Some(ai),
                b.max_days,
            ),
            rule(
                "evidenceJobDays",
                "Evidence Agent jobs and unaccepted drafts",
                Some(ai),
                b.max_days,
            ),
            rule(
                "enrollmentTokenDays",
                "Expired or revoked enrollment tokens",
                Some(ENROLLMENT_TOKEN_DAYS),
                b.max_days,
            ),
            rule(
                "deadLetterDays",
                "SIEM dead letters",
                Some(DEAD_LETTER_DAYS),
                b.max_days,
            ),
            Rule {
                key: "auditLogDays".into(),
                label: "Audit log entries".into(),
                default_days: None,
                min: b.audit_min_days,
                max: MAX_AUDIT_DAYS.max(b.audit_min_days),
            },
        ];
        for (m, r) in expiring_modules() {
            rules.push(rule(
                &format!("records.{}", m.name),
                &format!("{} (finished, after the last change)", m.plural),
                r.default_days,
                b.max_days,
            ));
        }
        rules
    }

    /// The periods that apply under `policy`, within today's bounds.
    pub(crate) fn retention_periods(&self, policy: &RetentionPolicy) -> Periods {
        let rules = self.retention_rules();
        let days = |key: &str| {
            rules
                .iter()
                .find(|r| r.key == key)
                .and_then(|r| r.apply(chosen(policy, key)))
        };
        let records = expiring_modules()
            .filter_map(|(m, _)| Some((m, days(&format!("records.{}", m.name))?)))
            .collect();
        Periods {
            page_views: days("pageViewDays").unwrap_or(PAGE_VIEW_DAYS),
            ai_conversations: days("aiConversationDays").unwrap_or(u32::MAX),
            evidence_jobs: days("evidenceJobDays").unwrap_or(u32::MAX),
            enrollment_tokens: days("enrollmentTokenDays").unwrap_or(ENROLLMENT_TOKEN_DAYS),
            dead_letters: days("deadLetterDays").unwrap_or(DEAD_LETTER_DAYS),
            audit_log: days("auditLogDays"),
            records,
        }
    }

    fn retention_view(&self, policy: RetentionPolicy) -> RetentionView {
        let periods = self
            .retention_rules()
            .into_iter()
            .map(|r| RetentionPeriod {
                days: r.apply(chosen(&policy, &r.key)),
                key: r.key,
                label: r.label,
                default_days: r.default_days,
                min_days: r.min,
                max_days: r.max,
            })
            .collect();
        RetentionView { policy, periods }
    }

    /// Refuses a period outside its bounds and a module without finished records.
    fn checked_policy(&self, policy: &RetentionPolicy) -> ServiceResult<()> {
        let mut errors = ValidationErrors::new();
        let rules = self.retention_rules();
        for r in &rules {
            match chosen(policy, &r.key) {
                Some(d) if d < r.min || d > r.max => {
                    errors.add(&r.key, format!("must be from {} to {} days", r.min, r.max));
                }
                _ => {}
            }
        }
        for module in policy.records.keys() {
            let key = format!("records.{module}");
            if !rules.iter().any(|r| r.key == key) {
                errors.add(key, "is not a module whose finished records can be deleted");
            }
        }
        Ok(errors.into_result(())?)
    }

    /// The organization's retention (Admin and above read it: it says what is deleted when).
    pub async fn get_retention(&self, actor: &Actor) -> ServiceResult<RetentionView> {
        let permit = authorize(actor, Action::ReadAudit)?;
        let policy = self.stored_retention(&permit).await?;
        Ok(self.retention_view(policy))
    }

    /// The policy as stored (the defaults when never set).
    pub(crate) async fn stored_retention(&self, permit: &Permit) -> ServiceResult<RetentionPolicy> {
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        stored(tx.settings_doc(SettingsDoc::Retention).await?)
    }

    /// Replaces the organization's periods (OrgAdmin; audited when they change).
    pub async fn update_retention(
        &self,
        actor: &Actor,
        input: RetentionPolicy,
    ) -> ServiceResult<RetentionView> {
        let permit = authorize(actor, Action::ManageSettings)?;
        self.checked_policy(&input)?;
        let mut tx = self.store.tenant(&permit).await?;
        // An unreadable document is replaced (its audit entry shows the defaults before).
        let old = stored(tx.settings_doc(SettingsDoc::Retention).await?).unwrap_or_default();
        if old != input {
            let now = self.now();
            let json = |p: &RetentionPolicy| serde_json::to_value(p).unwrap_or_default();
            let audit = AuditDraft::new(
                actor,
                AuditAction::Update,
                "retention-policy",
                actor.org(),
                now,
            )
            .with_changes(Some(&json(&old)), Some(&json(&input)), &[]);
            tx.put_settings_doc(SettingsDoc::Retention, &json(&input), now, &audit)
                .await?;
            tx.commit().await?;
        }
        Ok(self.retention_view(input))
    }
}

/// What `policy` chose for the period `key` (`None`: the default).
fn chosen(policy: &RetentionPolicy, key: &str) -> Option<u32> {
    match key {
        "pageViewDays" => policy.page_view_days,
        "aiConversationDays" => policy.ai_conversation_days,
        "evidenceJobDays" => policy.evidence_job_days,
        "enrollmentTokenDays" => policy.enrollment_token_days,
        "deadLetterDays" => policy.dead_letter_days,
        "auditLogDays" => policy.audit_log_days,
        other => other
            .strip_prefix("records.")
            .and_then(|m| policy.records.get(m).copied()),
    }
}

/// The stored document (the defaults when never set). One this server cannot read (a newer
/// version's, say) is an error, not the defaults: they could delete sooner than it says.
fn stored(value: Option<Value>) -> ServiceResult<RetentionPolicy> {
    match value {
        None => Ok(RetentionPolicy::default()),
        Some(v) => serde_json::from_value(v).map_err(|e| {
            crate::ServiceError::Internal(anyhow::anyhow!("unreadable retention policy: {e}"))
        }),
    }
}
