//! The AI analyst's conversations, their turns and proposed actions (issue 16). Prompts and
//! replies live here and nowhere else: nothing in this module writes them to the audit log.

use super::*;
use crate::{AiAction, AiConversation, AiTurn, AiTx, EvidenceJob};
use tater_domain::{AiActionId, ConversationId, EvidenceJobId};

const CONVERSATION_COLUMNS: &str =
    "id, user_id, title, created_at, updated_at, input_tokens, output_tokens";
const ACTION_COLUMNS: &str =
    "a.id, a.conversation_id, a.tool, a.arguments, a.state, a.result, a.created_at, a.decided_at";

fn conversation_from_row(r: &impl RowRead) -> Result<AiConversation> {
    Ok(AiConversation {
        id: parse_col(r, "id")?,
        user: parse_col(r, "user_id")?,
        title: r.try_get("title")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
        input_tokens: r.try_get("input_tokens")?,
        output_tokens: r.try_get("output_tokens")?,
    })
}

fn action_from_row(r: &impl RowRead) -> Result<AiAction> {
    let Json(arguments): Json<Value> = r.try_get("arguments")?;
    let result: Option<Json<Value>> = r.try_get("result")?;
    Ok(AiAction {
        id: parse_col(r, "id")?,
        conversation: parse_col(r, "conversation_id")?,
        tool: r.try_get("tool")?,
        arguments,
        state: r.try_get("state")?,
        result: result.map(|Json(v)| v),
        created_at: ts(r, "created_at")?,
        decided_at: opt_ts(r, "decided_at")?,
    })
}

#[async_trait]
impl<D: Driver> AiTx for EngineTenantTx<D> {
    async fn insert_conversation(&mut self, c: &AiConversation, audit: &AuditDraft) -> Result<()> {
        self.unaudited_write()?;
        D::query(
            "INSERT INTO ai_conversations (tenant_id, id, user_id, title, created_at, \
             updated_at, input_tokens, output_tokens) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(self.tenant())
        .bind(c.id.to_string())
        .bind(c.user.to_string())
        .bind(&c.title)
        .bind(c.created_at.millis())
        .bind(c.updated_at.millis())
        .bind(c.input_tokens)
        .bind(c.output_tokens)
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn conversation(
        &mut self,
        user: UserId,
        id: ConversationId,
    ) -> Result<Option<AiConversation>> {
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM ai_conversations \
             WHERE tenant_id = $1 AND user_id = $2 AND id = $3{}",
            self.lock()
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(user.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    async fn claim_conversation(
        &mut self,
        user: UserId,
        id: ConversationId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool> {
        self.unaudited_write()?;
        let done = D::query(
            "UPDATE ai_conversations SET busy_until = $4 \
             WHERE tenant_id = $1 AND user_id = $2 AND id = $3 \
             AND (busy_until IS NULL OR busy_until < $5)",
        )
        .bind(self.tenant())
        .bind(user.to_string())
        .bind(id.to_string())
        .bind(until.millis())
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_conversation(&mut self, id: ConversationId) -> Result<()> {
        self.unaudited_write()?;
        D::query("UPDATE ai_conversations SET busy_until = NULL WHERE tenant_id = $1 AND id = $2")
            .bind(self.tenant())
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn list_conversations(
        &mut self,
        user: UserId,
        after: Option<(Timestamp, ConversationId)>,
        limit: u32,
    ) -> Result<Vec<AiConversation>> {
        // Latest first; the cursor is the last row shown, so the next page is what sorts
        // after it: updated earlier, or at the same time with a smaller id.
        let (at, id) = match after {
            Some((at, id)) => (at.millis(), id.to_string()),
            None => (i64::MAX, String::new()),
        };
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM ai_conversations \
             WHERE tenant_id = $1 AND user_id = $2 \
             AND (updated_at < $3 OR (updated_at = $3 AND ($4 = '' OR id < $4))) \
             ORDER BY updated_at DESC, id DESC LIMIT $5"
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .bind(user.to_string())
            .bind(at)
            .bind(id)
            .bind(i64::from(limit) + 1)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(conversation_from_row).collect()
    }

    async fn delete_conversation(
        &mut self,
        user: UserId,
        id: ConversationId,
        audit: &AuditDraft,
    ) -> Result<()> {
        self.unaudited_write()?;
        let done = D::query(
            "DELETE FROM ai_conversations WHERE tenant_id = $1 AND user_id = $2 AND id = $3",
        )
        .bind(self.tenant())
        .bind(user.to_string())
        .bind(id.to_string())
        .execute(&mut *self.tx)
        .await?;
        self.audit_if_touched(done.rows_affected(), audit).await
    }

    async fn turns(&mut self, conversation: ConversationId, limit: u32) -> Result<Vec<AiTurn>> {
        let rows = D::query(
            "SELECT seq, role, content, at FROM ai_messages \
             WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(self.tenant())
        .bind(conversation.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        let mut turns = rows
            .iter()
            .map(|r| {
                let Json(content): Json<Value> = r.try_get("content")?;
                Ok(AiTurn {
                    seq: r.try_get("seq")?,
                    role: r.try_get("role")?,
                    content,
                    at: ts(r, "at")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        turns.reverse();
        Ok(turns)
    }

    async fn append_turns(
        &mut self,
        c: &AiConversation,
        turns: &[AiTurn],
        input_tokens: i64,
        output_tokens: i64,
    ) -> Result<()> {
        self.unaudited_write()?;
        let updated = D::query(
            "UPDATE ai_conversations SET title = $4, updated_at = $5, \
             input_tokens = input_tokens + $6, output_tokens = output_tokens + $7 \
             WHERE tenant_id = $1 AND user_id = $2 AND id = $3",
        )
        .bind(self.tenant())
        .bind(c.user.to_string())
        .bind(c.id.to_string())
        .bind(&c.title)
        .bind(c.updated_at.millis())
        .bind(input_tokens)
        .bind(output_tokens)
        .execute(&mut *self.tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        for t in turns {
            D::query(
                "INSERT INTO ai_messages (tenant_id, conversation_id, seq, role, content, at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(self.tenant())
            .bind(c.id.to_string())
            .bind(t.seq)
            .bind(&t.role)
            .bind(Json(t.content.clone()))
            .bind(t.at.millis())
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    async fn insert_action(&mut self, a: &AiAction) -> Result<()> {
        self.unaudited_write()?;
        D::query(
            "INSERT INTO ai_actions (tenant_id, id, conversation_id, tool, arguments, state, \
             result, created_at, decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(self.tenant())
        .bind(a.id.to_string())
        .bind(a.conversation.to_string())
        .bind(&a.tool)
        .bind(Json(a.arguments.clone()))
        .bind(&a.state)
        .bind(a.result.clone().map(Json))
        .bind(a.created_at.millis())
        .bind(a.decided_at.map(|t| t.millis()))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn action(&mut self, user: UserId, id: AiActionId) -> Result<Option<AiAction>> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM ai_actions a JOIN ai_conversations c \
             ON c.tenant_id = a.tenant_id AND c.id = a.conversation_id \
             WHERE a.tenant_id = $1 AND c.user_id = $2 AND a.id = $3{}",
            self.lock()
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(user.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(action_from_row).transpose()
    }

    async fn conversation_actions(
        &mut self,
        conversation: ConversationId,
    ) -> Result<Vec<AiAction>> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM ai_actions a \
             WHERE a.tenant_id = $1 AND a.conversation_id = $2 \
             ORDER BY a.created_at DESC, a.id DESC LIMIT 500"
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .bind(conversation.to_string())
            .fetch_all(&mut *self.tx)
            .await?;
        // The latest 500, in the order they were proposed.
        let mut actions = rows
            .iter()
            .map(action_from_row)
            .collect::<Result<Vec<_>>>()?;
        actions.reverse();
        Ok(actions)
    }

    async fn decide_action(&mut self, a: &AiAction) -> Result<()> {
        self.unaudited_write()?;
        let done = D::query(
            "UPDATE ai_actions SET state = $3, result = $4, decided_at = $5 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(self.tenant())
        .bind(a.id.to_string())
        .bind(&a.state)
        .bind(a.result.clone().map(Json))
        .bind(a.decided_at.map(|t| t.millis()))
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn fail_stale_actions(
        &mut self,
        before: Timestamp,
        result: &Value,
        now: Timestamp,
    ) -> Result<u64> {
        self.unaudited_write()?;
        let done = D::query(
            "UPDATE ai_actions SET state = 'failed', result = $3, decided_at = $4 \
             WHERE tenant_id = $1 AND state = 'running' AND decided_at < $2",
        )
        .bind(self.tenant())
        .bind(before.millis())
        .bind(Json(result.clone()))
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    async fn forget_conversations(
        &mut self,
        before: Timestamp,
        limit: u32,
        audit: &AuditDraft,
    ) -> Result<u64> {
        self.unaudited_write()?;
        let done = D::query(
            "DELETE FROM ai_conversations WHERE tenant_id = $1 AND id IN \
             (SELECT id FROM ai_conversations WHERE tenant_id = $1 AND updated_at < $2 \
              ORDER BY updated_at LIMIT $3)",
        )
        .bind(self.tenant())
        .bind(before.millis())
        .bind(i64::from(limit))
        .execute(&mut *self.tx)
        .await?;
        let gone = done.rows_affected();
        if gone > 0 {
            let mut audit = audit.clone();
            if let Some(o) = audit.changes.as_object_mut() {
                o.insert("_deleted".into(), gone.into());
            }
            self.audited(&audit).await?;
        }
        Ok(gone)
    }

    async fn insert_evidence_job(&mut self, job: &EvidenceJob, audit: &AuditDraft) -> Result<()> {
        self.insert_job(job).await?;
        self.audited(audit).await
    }

    async fn evidence_job(&mut self, id: EvidenceJobId) -> Result<Option<EvidenceJob>> {
        self.evidence_job_row(id).await
    }

    async fn list_evidence_jobs(
        &mut self,
        after: Option<(Timestamp, EvidenceJobId)>,
        limit: u32,
    ) -> Result<Vec<EvidenceJob>> {
        self.jobs_page(after, None, limit + 1).await
    }

    async fn save_evidence_job(
        &mut self,
        job: &EvidenceJob,
        audit: Option<&AuditDraft>,
    ) -> Result<()> {
        self.update_job(job).await?;
        match audit {
            Some(a) => self.audited(a).await,
            None => Ok(()),
        }
    }

    async fn evidence_jobs_before(
        &mut self,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<EvidenceJob>> {
        self.jobs_page(None, Some(before), limit).await
    }

    async fn delete_evidence_job(&mut self, id: EvidenceJobId) -> Result<()> {
        self.unaudited_write()?;
        D::query("DELETE FROM ai_evidence_jobs WHERE tenant_id = $1 AND id = $2")
            .bind(self.tenant())
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}

const JOB_COLUMNS: &str = "id, requested_by, controls, done, drafts, state, error, \
     input_tokens, output_tokens, created_at, updated_at, finished_at";

fn job_from_row(r: &impl RowRead) -> Result<EvidenceJob> {
    let list = |col: &str| -> Result<Vec<String>> {
        let Json(v): Json<Vec<String>> = r.try_get(col)?;
        Ok(v)
    };
    Ok(EvidenceJob {
        id: parse_col(r, "id")?,
        requested_by: parse_col(r, "requested_by")?,
        controls: list("controls")?,
        done: list("done")?,
        drafts: list("drafts")?
            .iter()
            .map(|d| d.parse().map_err(|_| corrupt("ai_evidence_jobs.drafts")))
            .collect::<Result<_>>()?,
        state: r.try_get("state")?,
        error: r.try_get("error")?,
        input_tokens: r.try_get("input_tokens")?,
        output_tokens: r.try_get("output_tokens")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
        finished_at: opt_ts(r, "finished_at")?,
    })
}

fn drafts_json(job: &EvidenceJob) -> Json<Vec<String>> {
    Json(job.drafts.iter().map(|d| d.to_string()).collect())
}

impl<D: Driver> EngineTenantTx<D> {
    pub(super) async fn evidence_job_row(
        &mut self,
        id: EvidenceJobId,
    ) -> Result<Option<EvidenceJob>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM ai_evidence_jobs WHERE tenant_id = $1 AND id = $2{}",
            self.lock()
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    pub(super) async fn insert_job(&mut self, job: &EvidenceJob) -> Result<()> {
        self.unaudited_write()?;
        D::query(
            "INSERT INTO ai_evidence_jobs (tenant_id, id, requested_by, controls, done, drafts, \
             state, error, input_tokens, output_tokens, created_at, updated_at, finished_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(self.tenant())
        .bind(job.id.to_string())
        .bind(job.requested_by.to_string())
        .bind(Json(job.controls.clone()))
        .bind(Json(job.done.clone()))
        .bind(drafts_json(job))
        .bind(&job.state)
        .bind(job.error.clone())
        .bind(job.input_tokens)
        .bind(job.output_tokens)
        .bind(job.created_at.millis())
        .bind(job.updated_at.millis())
        .bind(job.finished_at.map(|t| t.millis()))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub(super) async fn update_job(&mut self, job: &EvidenceJob) -> Result<()> {
        self.unaudited_write()?;
        let done = D::query(
            "UPDATE ai_evidence_jobs SET done = $3, drafts = $4, state = $5, error = $6, \
             input_tokens = $7, output_tokens = $8, updated_at = $9, finished_at = $10 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(self.tenant())
        .bind(job.id.to_string())
        .bind(Json(job.done.clone()))
        .bind(drafts_json(job))
        .bind(&job.state)
        .bind(job.error.clone())
        .bind(job.input_tokens)
        .bind(job.output_tokens)
        .bind(job.updated_at.millis())
        .bind(job.finished_at.map(|t| t.millis()))
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(super) async fn jobs_page(
        &mut self,
        after: Option<(Timestamp, EvidenceJobId)>,
        before: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<EvidenceJob>> {
        // Newest first with a cursor (a list), or the oldest made before a time (retention).
        let sql = match before {
            None => format!(
                "SELECT {JOB_COLUMNS} FROM ai_evidence_jobs WHERE tenant_id = $1 \
                 AND (created_at < $2 OR (created_at = $2 AND ($3 = '' OR id < $3))) \
                 ORDER BY created_at DESC, id DESC LIMIT $4"
            ),
            Some(_) => format!(
                "SELECT {JOB_COLUMNS} FROM ai_evidence_jobs WHERE tenant_id = $1 \
                 AND created_at < $2 AND $3 = '' ORDER BY created_at, id LIMIT $4"
            ),
        };
        let (at, id) = match (after, before) {
            (_, Some(b)) => (b.millis(), String::new()),
            (Some((at, id)), None) => (at.millis(), id.to_string()),
            (None, None) => (i64::MAX, String::new()),
        };
        let rows = D::query(&sql)
            .bind(self.tenant())
            .bind(at)
            .bind(id)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(job_from_row).collect()
    }
}
