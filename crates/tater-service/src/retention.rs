//! What the server forgets on its own. Across organizations, every minute (the housekeeping
//! job): web sessions past their lifetime (no cookie can use them again), page views past
//! their 90 days (the trust page's TTL), identity codes a day after they expired. Per
//! organization, in its hourly plan on the leased job runner (one runner across replicas,
//! audited in its log as counts, via `cron`): enrollment tokens 30 days after they expired or
//! were revoked, SIEM dead letters 30 days after they were given up; analyst conversations and
//! Evidence Agent jobs past `--ai-retention-days` (`ai_conversations.rs`,
//! `evidence_agent.rs`).

use serde_json::json;
use tater_domain::policy::{Action, authorize};
use tater_domain::{AuditAction, AuditDraft, OrgId, RecordId};
use tater_store::Mode;

use crate::{Service, ServiceResult};

/// Days an ended (expired or revoked) enrollment token stays listed before it is deleted.
pub const ENDED_TOKEN_DAYS: i64 = 30;
/// Days a SIEM dead letter is kept for replay before it is deleted.
pub const DEAD_LETTER_DAYS: i64 = 30;
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
    pub enrollment_tokens: u64,
    pub dead_letters: u64,
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

    /// One organization's retention sweep, in one transaction, audited as one entry with
    /// what went (none when nothing did).
    pub(crate) async fn sweep_org_retention(&self, org: OrgId) -> ServiceResult<Swept> {
        let actor = crate::runner::runner_actor(org, "retention");
        let permit = authorize(&actor, Action::ManageSettings)?;
        let now = self.clock.now();
        let mut tx = self.store.tenant(&permit).await?;
        let swept = Swept {
            enrollment_tokens: tx
                .delete_enrollment_tokens_ended_before(
                    now.plus_seconds(-ENDED_TOKEN_DAYS * DAY_SECS),
                )
                .await?,
            dead_letters: tx
                .delete_dead_letters_before(now.plus_seconds(-DEAD_LETTER_DAYS * DAY_SECS))
                .await?,
        };
        if swept != Swept::default() {
            let counts = json!({
                "enrollmentTokens": swept.enrollment_tokens,
                "deadLetters": swept.dead_letters,
            });
            let sweep = RecordId::generate();
            let draft = AuditDraft::new(&actor, AuditAction::Delete, "retention", sweep, now)
                .with_changes(None, Some(&json!({ "deleted": counts })), &[]);
            tx.record_event(&draft).await?;
        }
        tx.commit().await?;
        Ok(swept)
    }

    /// Every active organization's retention sweep now (`tater admin retention run`; the
    /// runner does the same per organization every hour).
    pub async fn sweep_retention(&self) -> ServiceResult<Swept> {
        let mut tx = self.store.identity(Mode::Read).await?;
        let orgs = tx.orgs().await?;
        tx.commit().await?;
        let mut total = Swept::default();
        for org in orgs.iter().filter(|o| o.termination.is_none()) {
            let swept = self.sweep_org_retention(org.id).await?;
            total.enrollment_tokens += swept.enrollment_tokens;
            total.dead_letters += swept.dead_letters;
        }
        Ok(total)
    }
}
