//! What the server forgets on its own. Across organizations, every minute (the housekeeping
//! job): web sessions past their lifetime (no cookie can use them again), page views past
//! their 90 days (the trust page's TTL), identity codes a day after they expired. Per
//! organization, in its hourly plan on the leased job runner (one runner across replicas,
//! via `cron`), by the periods it chose within the operator's bounds
//! (`retention_settings.rs`): page views, idle analyst conversations, Evidence Agent jobs with
//! their unaccepted drafts, ended enrollment tokens, SIEM dead letters, audit entries (only
//! when it chose a period: a signed history start is kept at the cut) and the finished
//! records of modules that declare them. Each sweep is audited as one entry of counts;
//! conversations, jobs and records also have their own deletion entries.

use serde_json::{Map, Value, json};
use tater_domain::policy::{Action, authorize};
use tater_domain::{AuditAction, AuditDraft, OrgId, RecordId, Timestamp};
use tater_store::Mode;

use crate::retention_settings::Periods;
use crate::runner::runner_actor;
use crate::{Service, ServiceResult};

/// Days an expired identity code is kept (the send limit counts the last 15 minutes).
const EXPIRED_CODE_DAYS: i64 = 1;
const DAY_SECS: i64 = 86_400;

/// How many rows a sweep forgot.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Forgotten {
    pub web_sessions: u64,
    pub page_views: u64,
    pub identity_codes: u64,
}

/// What one organization's sweep deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub page_views: u64,
    pub ai_conversations: u64,
    pub evidence_jobs: u64,
    pub enrollment_tokens: u64,
    pub dead_letters: u64,
    pub audit_entries: u64,
    pub records: u64,
}

impl Swept {
    fn add(&mut self, o: Swept) {
        self.page_views += o.page_views;
        self.ai_conversations += o.ai_conversations;
        self.evidence_jobs += o.evidence_jobs;
        self.enrollment_tokens += o.enrollment_tokens;
        self.dead_letters += o.dead_letters;
        self.audit_entries += o.audit_entries;
        self.records += o.records;
    }

    /// The counts that are not zero, as the sweep's audit entry records them.
    fn counts(&self) -> Value {
        let all = [
            ("pageViews", self.page_views),
            ("aiConversations", self.ai_conversations),
            ("evidenceJobs", self.evidence_jobs),
            ("enrollmentTokens", self.enrollment_tokens),
            ("deadLetters", self.dead_letters),
            ("auditEntries", self.audit_entries),
            ("records", self.records),
        ];
        let map: Map<String, Value> = all
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.to_owned(), json!(n)))
            .collect();
        Value::Object(map)
    }
}

/// `days` before `now`.
fn days_before(now: Timestamp, days: u32) -> Timestamp {
    now.plus_seconds(-i64::from(days).saturating_mul(DAY_SECS))
}

/// The start of the UTC day `days` before `now`: audit entries go a day at a time, so a log
/// is cut once a day, not at every sweep (an export or verification running then would see
/// its oldest entries go).
fn audit_cut(now: Timestamp, days: u32) -> Timestamp {
    let t = days_before(now, days).millis();
    Timestamp::from_millis(t - t.rem_euclid(DAY_SECS * 1000))
}

impl Service {
    /// Deletes the web sessions whose absolute end has passed, the page views whose expiry
    /// has, and identity codes a day past theirs.
    pub async fn forget_expired_web_data(&self) -> ServiceResult<Forgotten> {
        let now = self.clock.now();
        let mut tx = self.store.identity(Mode::Write).await?;
        let forgotten = Forgotten {
            web_sessions: tx.delete_expired_web_sessions(now).await?,
            page_views: tx.delete_expired_page_views(now).await?,
            identity_codes: tx
                .delete_identity_codes_expired_before(
                    now.plus_seconds(-EXPIRED_CODE_DAYS * DAY_SECS),
                )
                .await?,
        };
        tx.commit().await?;
        Ok(forgotten)
    }

    /// One organization's retention sweep by its periods, audited as one entry with what
    /// went (none when nothing did). Each kind is tried even when another failed; the first
    /// failure is returned after.
    pub(crate) async fn sweep_org_retention(&self, org: OrgId) -> ServiceResult<Swept> {
        let actor = runner_actor(org, "retention");
        let permit = authorize(&actor, Action::ManageSettings)?;
        let periods = self.retention_periods(&self.stored_retention(&permit).await?);
        let now = self.clock.now();
        let mut swept = Swept::default();
        let mut failed = None;
        let mut note = |what: &str, e: crate::ServiceError| {
            tracing::warn!(%org, error = %e, "retention: could not delete {what}");
            failed.get_or_insert(e);
        };
        match self
            .forget_ai_conversations(&actor, periods.ai_conversations)
            .await
        {
            Ok(n) => swept.ai_conversations = n,
            Err(e) => note("analyst conversations", e),
        }
        match self.forget_evidence_jobs(org, periods.evidence_jobs).await {
            Ok(n) => swept.evidence_jobs = n,
            Err(e) => note(
                "Evidence Agent jobs",
                crate::ServiceError::Internal(anyhow::anyhow!(e.message)),
            ),
        }
        match self.forget_finished_records(org, &periods).await {
            Ok(n) => swept.records = n,
            Err(e) => note("finished records", e),
        }
        match self.sweep_org_rows(org, &periods, now, swept).await {
            Ok(all) => swept = all,
            Err(e) => note("expired rows", e),
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(swept),
        }
    }

    /// The rows deleted in one transaction with the sweep's audit entry: page views (first,
    /// in their own store), ended enrollment tokens, dead letters, and audit entries past the
    /// organization's audit period. `before` holds what other steps deleted, for the entry.
    async fn sweep_org_rows(
        &self,
        org: OrgId,
        periods: &Periods,
        now: Timestamp,
        before: Swept,
    ) -> ServiceResult<Swept> {
        let mut swept = before;
        let mut tx = self.store.identity(Mode::Write).await?;
        swept.page_views = tx
            .delete_org_page_views(org, days_before(now, periods.page_views))
            .await?;
        tx.commit().await?;
        let actor = runner_actor(org, "retention");
        let permit = authorize(&actor, Action::ManageSettings)?;
        let mut tx = self.store.tenant(&permit).await?;
        swept.enrollment_tokens = tx
            .delete_enrollment_tokens_ended_before(days_before(now, periods.enrollment_tokens))
            .await?;
        swept.dead_letters = tx
            .delete_dead_letters_before(days_before(now, periods.dead_letters))
            .await?;
        let mut history = None;
        if let Some(days) = periods.audit_log
            && let Some(pruned) = tx.prune_audit(audit_cut(now, days), now).await?
        {
            swept.audit_entries = pruned.entries;
            history = Some(pruned.through_seq + 1);
        }
        if swept != Swept::default() {
            let mut after = json!({ "deleted": swept.counts() });
            if let Some(seq) = history {
                after["auditHistoryStartsAt"] = json!(seq);
            }
            let sweep = RecordId::generate();
            let draft = AuditDraft::new(&actor, AuditAction::Delete, "retention", sweep, now)
                .with_changes(None, Some(&after), &[]);
            tx.record_event(&draft).await?;
        }
        tx.commit().await?;
        Ok(swept)
    }

    /// Deletes the finished records past their module's period (each audited, as any
    /// deletion is); at most one planning page per module per sweep.
    async fn forget_finished_records(&self, org: OrgId, periods: &Periods) -> ServiceResult<u64> {
        let actor = runner_actor(org, "retention");
        let mut deleted = 0;
        for (def, days) in &periods.records {
            let Some(r) = def.retention else { continue };
            let before = days_before(self.clock.now(), *days);
            let filters = [
                (r.status, r.finished.join(",")),
                ("updatedAt.lt", before.to_string()),
            ];
            let found = self
                .scan_records(org, def, &filters)
                .await
                .map_err(|f| crate::ServiceError::Internal(anyhow::anyhow!(f.message)))?;
            for record in found {
                match self
                    .delete_record(&actor, def, &record.meta.id.to_string())
                    .await
                {
                    Ok(()) => deleted += 1,
                    // Gone already, or kept by what refers to it: tried again next sweep.
                    Err(e) => {
                        tracing::info!(%org, module = def.name, error = %e, "retention kept a finished record")
                    }
                }
            }
        }
        Ok(deleted)
    }

    /// Every active organization's retention sweep now (`tater admin retention run`; the
    /// runner does the same per organization every hour).
    pub async fn sweep_retention(&self) -> ServiceResult<Swept> {
        let mut tx = self.store.identity(Mode::Read).await?;
        let orgs = tx.orgs().await?;
        tx.commit().await?;
        let mut total = Swept::default();
        for org in orgs.iter().filter(|o| o.termination.is_none()) {
            total.add(self.sweep_org_retention(org.id).await?);
        }
        Ok(total)
    }
}
