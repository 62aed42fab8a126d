//! The AI analyst's conversations (issue 16 §3): each belongs to the member who started it and
//! to nobody else (another member's, even an OrgAdmin's, is not found), holds its turns and
//! the writes the model proposed, and is forgotten once idle for the retention period (the
//! runner's plan, `forget_ai_conversations`). Starting and deleting one is audited; what is
//! said in it never is.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use tater_anthropic::Block;
use tater_domain::policy::{Action, Permit, authorize};
use tater_domain::{
    Actor, AiActionId, AuditAction, AuditDraft, ConversationId, Timestamp, UserId, ValidationErrors,
};
use tater_store::{AiAction, AiConversation, AiTurn};

use crate::records::Page;
use crate::{Service, ServiceError, ServiceResult};

pub(crate) const ENTITY: &str = "ai-conversation";
/// Conversations on one page of the list, at most.
pub const MAX_CONVERSATIONS_PAGE: u32 = 100;
/// Turns read back from a conversation (the model sees the same window).
pub(crate) const TURNS_KEPT: u32 = 200;
/// How long a title is (the start of the first question).
const TITLE_CHARS: usize = 80;
/// A confirmed action still running after this long lost its server.
const STALE_RUN_SECS: i64 = 30 * 60;
/// Conversations one plan deletes per organization (the rest go at the next).
const FORGET_BATCH: u32 = 1_000;

/// A conversation as listed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    pub id: ConversationId,
    /// The start of its first question ("New conversation" before one).
    pub title: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When it is deleted unless another message comes first.
    pub expires_at: Timestamp,
    /// Tokens the model read and wrote for it.
    pub input_tokens: i64,
    pub output_tokens: i64,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    /// The member.
    User,
    /// The analyst.
    Assistant,
}

/// A tool the analyst called in a message.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolCallView {
    pub tool: String,
    pub arguments: Value,
}

/// A message of the conversation as people read it (tool results, which are data for the
/// model, are left out).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub role: Speaker,
    pub text: String,
    pub tool_calls: Vec<ToolCallView>,
    pub at: Timestamp,
}

/// Where a proposed write stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActionState {
    /// Waiting for the member: it has not run.
    Proposed,
    /// Confirmed and running now.
    Running,
    /// Confirmed; it ran (its answer is `result`).
    Confirmed,
    /// Confirmed; the server refused it (the refusal is `result`).
    Failed,
    /// The member turned it down; it never ran.
    Dismissed,
}

impl ActionState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ActionState::Proposed => "proposed",
            ActionState::Running => "running",
            ActionState::Confirmed => "confirmed",
            ActionState::Failed => "failed",
            ActionState::Dismissed => "dismissed",
        }
    }

    pub(crate) fn parse(s: &str) -> ServiceResult<Self> {
        [
            ActionState::Proposed,
            ActionState::Running,
            ActionState::Confirmed,
            ActionState::Failed,
            ActionState::Dismissed,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
        .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("unknown action state {s}")))
    }
}

/// A write the analyst proposed: exactly what would run, and what became of it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionView {
    pub id: AiActionId,
    pub conversation: ConversationId,
    /// The tool (the MCP tool name) and the arguments it runs with, unchanged.
    pub tool: String,
    pub arguments: Value,
    pub state: ActionState,
    /// The tool's answer (confirmed) or the refusal (failed).
    pub result: Option<Value>,
    pub created_at: Timestamp,
    pub decided_at: Option<Timestamp>,
}

impl ActionView {
    pub(crate) fn of(a: &AiAction) -> ServiceResult<Self> {
        Ok(Self {
            id: a.id,
            conversation: a.conversation,
            tool: a.tool.clone(),
            arguments: a.arguments.clone(),
            state: ActionState::parse(&a.state)?,
            result: a.result.clone(),
            created_at: a.created_at,
            decided_at: a.decided_at,
        })
    }
}

/// A conversation with its messages and proposed actions.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationDetail {
    #[serde(flatten)]
    pub conversation: ConversationView,
    pub messages: Vec<MessageView>,
    pub actions: Vec<ActionView>,
}

/// The messages of `turns` people read: the member's words and the analyst's, with the
/// tools it called.
pub(crate) fn messages(turns: &[AiTurn]) -> Vec<MessageView> {
    turns.iter().filter_map(message).collect()
}

fn message(turn: &AiTurn) -> Option<MessageView> {
    // Notes are the server's word to the model (decisions since), not the member's.
    if turn.role == "note" {
        return None;
    }
    let blocks: Vec<Block> = serde_json::from_value(turn.content.clone()).unwrap_or_default();
    let role = match turn.role.as_str() {
        "assistant" => Speaker::Assistant,
        _ => Speaker::User,
    };
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for b in blocks {
        match b {
            Block::Text { text: t } => text.push_str(&t),
            Block::ToolUse { name, input, .. } => tool_calls.push(ToolCallView {
                tool: name,
                arguments: input,
            }),
            Block::ToolResult { .. } | Block::Unknown => {}
        }
    }
    (!text.is_empty() || !tool_calls.is_empty()).then_some(MessageView {
        role,
        text,
        tool_calls,
        at: turn.at,
    })
}

/// The title a conversation takes from its first question.
pub(crate) fn title_of(question: &str) -> String {
    let line = question.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut title: String = line.chars().take(TITLE_CHARS).collect();
    if line.chars().count() > TITLE_CHARS {
        title.push('…');
    }
    title
}

/// The person a conversation belongs to (members only: a session or their API key), and the
/// permit to open their organization's data.
pub(crate) fn member(actor: &Actor) -> ServiceResult<(UserId, Permit)> {
    let permit = authorize(actor, Action::Converse)?;
    let user = actor.user_id().ok_or(ServiceError::NotFound)?;
    Ok((user, permit))
}

/// A conversation's id as a caller wrote it (one that is not an id names nothing).
pub(crate) fn conversation_id(id: &str) -> ServiceResult<ConversationId> {
    id.parse().map_err(|_| ServiceError::NotFound)
}

/// A list's cursor: the time and id of the last item of the previous page.
pub(crate) fn parse_time_cursor<I: std::str::FromStr>(
    cursor: &str,
) -> ServiceResult<(Timestamp, I)> {
    let bad = || ValidationErrors::single("cursor", "is not a cursor this list gave");
    let (at, id) = cursor.split_once('.').ok_or_else(bad)?;
    let at: i64 = at.parse().map_err(|_| bad())?;
    let id = id.parse().map_err(|_| bad())?;
    Ok((Timestamp::from_millis(at), id))
}

/// The cursor after `(at, id)`, when more follow.
pub(crate) fn time_cursor(more: bool, last: Option<(Timestamp, String)>) -> Option<String> {
    match last {
        Some((at, id)) if more => Some(format!("{}.{id}", at.millis())),
        _ => None,
    }
}

impl Service {
    pub(crate) fn conversation_view(&self, c: &AiConversation) -> ConversationView {
        ConversationView {
            id: c.id,
            title: c.title.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            expires_at: c.updated_at.plus_seconds(self.ai.retention_days * 86_400),
            input_tokens: c.input_tokens,
            output_tokens: c.output_tokens,
        }
    }

    /// Starts a conversation for the calling member. Refused while the AI features are off.
    pub async fn create_ai_conversation(&self, actor: &Actor) -> ServiceResult<ConversationView> {
        let (user, permit) = member(actor)?;
        self.ai_enabled(actor).await?;
        let now = self.now();
        let c = AiConversation {
            id: ConversationId::generate(),
            user,
            title: "New conversation".into(),
            created_at: now,
            updated_at: now,
            input_tokens: 0,
            output_tokens: 0,
        };
        let audit = AuditDraft::new(actor, AuditAction::Create, ENTITY, c.id, now);
        let mut tx = self.store.tenant(&permit).await?;
        tx.insert_conversation(&c, &audit).await?;
        tx.commit().await?;
        Ok(self.conversation_view(&c))
    }

    /// The calling member's conversations, the latest first.
    pub async fn list_ai_conversations(
        &self,
        actor: &Actor,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> ServiceResult<Page<ConversationView>> {
        let (user, permit) = member(actor)?;
        self.ai_enabled(actor).await?;
        let limit = limit.unwrap_or(50).clamp(1, MAX_CONVERSATIONS_PAGE);
        let after = cursor.map(parse_time_cursor).transpose()?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let mut rows = tx.list_conversations(user, after, limit).await?;
        tx.commit().await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = time_cursor(more, rows.last().map(|c| (c.updated_at, c.id.to_string())));
        Ok(Page {
            items: rows.iter().map(|c| self.conversation_view(c)).collect(),
            next_cursor,
        })
    }

    /// One of the calling member's conversations, with its messages and proposed actions.
    pub async fn get_ai_conversation(
        &self,
        actor: &Actor,
        id: &str,
    ) -> ServiceResult<ConversationDetail> {
        let (user, permit) = member(actor)?;
        self.ai_enabled(actor).await?;
        let id = conversation_id(id)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let c = tx
            .conversation(user, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let turns = tx.turns(id, TURNS_KEPT).await?;
        let actions = tx.conversation_actions(id).await?;
        tx.commit().await?;
        Ok(ConversationDetail {
            conversation: self.conversation_view(&c),
            messages: messages(&turns),
            actions: actions
                .iter()
                .map(ActionView::of)
                .collect::<ServiceResult<_>>()?,
        })
    }

    /// Deletes one of the calling member's conversations with everything said in it
    /// (audited: that it was deleted, not what it held). The one AI route open with the
    /// features off: what a member said stays theirs to take back.
    pub async fn delete_ai_conversation(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        let (user, permit) = member(actor)?;
        let id = conversation_id(id)?;
        let audit = AuditDraft::new(actor, AuditAction::Delete, ENTITY, id, self.now());
        let mut tx = self.store.tenant(&permit).await?;
        tx.delete_conversation(user, id, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes `org`'s conversations idle for longer than the retention period (the runner's
    /// plan, as the system); how many.
    pub(crate) async fn forget_ai_conversations(
        &self,
        actor: &Actor,
        days: u32,
    ) -> ServiceResult<u64> {
        // The retention period is the organization's rule, applied by the system.
        let permit = authorize(actor, Action::ManageSettings)?;
        let now = self.now();
        let before = now.plus_seconds(-i64::from(days).saturating_mul(86_400));
        // One entry for the sweep, with how many went (none: no entry).
        let audit = AuditDraft::new(actor, AuditAction::Delete, ENTITY, "retention", now)
            .with_detail("_idleBefore", serde_json::json!(before.to_string()));
        let mut tx = self.store.tenant(&permit).await?;
        // A confirmed action whose server stopped while it ran is not left running for ever:
        // its outcome is unknown (the Activity Log says whether its change was made).
        let unknown = serde_json::json!({
            "error": "OUTCOME_UNKNOWN",
            "detail": "the server stopped while this ran; the Activity Log shows whether its change was made",
        });
        tx.fail_stale_actions(now.plus_seconds(-STALE_RUN_SECS), &unknown, now)
            .await?;
        let gone = tx
            .forget_conversations(before, FORGET_BATCH, &audit)
            .await?;
        tx.commit().await?;
        Ok(gone)
    }
}
