//! The member's decision on a change the analyst proposed (issue 16 §3): confirmed, it runs
//! exactly as proposed, with the member's own role (checked again now, with the
//! organization's tool policy), audited `via: copilot` with the conversation under
//! `_conversation`; dismissed, it never runs. Only the person who holds the conversation
//! decides, never an assistant, and an API key only once its owner verified who they are
//! (as for writes through MCP).

use serde_json::{Value, json};
use tater_domain::{AiActionId, Channel};
use tater_store::AiAction;

use crate::ai_analyst::analyst_may_use;
use crate::ai_conversations::{ActionState, ActionView, member};
use crate::use_cases::{Answer, Caller, registry};
use crate::{Service, ServiceError, ServiceResult};

impl Service {
    /// Runs a proposed action as the member. A refusal by the service is recorded on the
    /// action (`failed`) and answered as the refusal.
    pub async fn confirm_ai_action(&self, caller: &Caller, id: &str) -> ServiceResult<ActionView> {
        let action = self.decide(caller, id, ActionState::Running).await?;
        // The change and the record of it finish even when the member's connection drops
        // meanwhile: a task of its own, not the request's future.
        let service = self.clone();
        let caller = caller.clone();
        tokio::spawn(async move { service.run_and_record(&caller, action).await })
            .await
            .map_err(|e| {
                ServiceError::Internal(anyhow::anyhow!("the confirmed action stopped: {e}"))
            })?
    }

    async fn run_and_record(
        &self,
        caller: &Caller,
        mut action: AiAction,
    ) -> ServiceResult<ActionView> {
        let outcome = self.run_confirmed(caller, &action).await;
        let (state, result) = match &outcome {
            Ok(Answer::Json(v)) => (ActionState::Confirmed, v.clone()),
            Ok(Answer::Nothing) => (ActionState::Confirmed, json!({ "done": true })),
            Err(e) => (
                ActionState::Failed,
                json!({ "error": e.code(), "detail": e.to_string() }),
            ),
        };
        action.state = state.as_str().into();
        action.result = Some(result);
        action.decided_at = Some(self.now());
        let (_, permit) = member(&caller.actor)?;
        let mut tx = self.store.tenant(&permit).await?;
        tx.decide_action(&action).await?;
        tx.commit().await?;
        outcome?;
        ActionView::of(&action)
    }

    /// Turns a proposed action down: it never runs.
    pub async fn dismiss_ai_action(&self, caller: &Caller, id: &str) -> ServiceResult<ActionView> {
        let action = self.decide(caller, id, ActionState::Dismissed).await?;
        ActionView::of(&action)
    }

    /// Moves one of the member's proposed actions to `to`, once: a second decision, or one
    /// racing this, finds it decided.
    async fn decide(&self, caller: &Caller, id: &str, to: ActionState) -> ServiceResult<AiAction> {
        let (user, permit) = member(&caller.actor)?;
        let id: AiActionId = id.parse().map_err(|_| ServiceError::NotFound)?;
        if caller.actor.channel().is_assistant() {
            return Err(ServiceError::ForbiddenCode(
                "PERSON_REQUIRED",
                "a proposed change is decided by the member, never through an assistant".into(),
            ));
        }
        if !caller.actor.is_verified() {
            return Err(ServiceError::ForbiddenCode(
                "IDENTITY_UNVERIFIED",
                "confirming a change needs a verified identity: sign in, or verify this API key's owner first".into(),
            ));
        }
        self.ai_enabled(&caller.actor).await?;
        let mut tx = self.store.tenant(&permit).await?;
        let mut action = tx.action(user, id).await?.ok_or(ServiceError::NotFound)?;
        if action.state != ActionState::Proposed.as_str() {
            return Err(ServiceError::ConflictCode(
                "ALREADY_DECIDED",
                format!("this action was already {}", action.state),
            ));
        }
        action.state = to.as_str().into();
        action.decided_at = Some(self.now());
        tx.decide_action(&action).await?;
        tx.commit().await?;
        Ok(action)
    }

    /// The proposed tool, run as the member through the analyst's channel, if the member may
    /// still use it.
    async fn run_confirmed(&self, caller: &Caller, action: &AiAction) -> ServiceResult<Answer> {
        let policy = self.mcp_policy_for(&caller.actor).await?;
        let case = registry()
            .iter()
            .find(|c| c.tool == action.tool && analyst_may_use(c, caller, &policy));
        let (Some(case), Value::Object(_)) = (case, &action.arguments) else {
            return Err(ServiceError::ForbiddenCode(
                "TOOL_NOT_ALLOWED",
                format!("{} is not a tool you may use now", action.tool),
            ));
        };
        let Some(invoker) = case.invoke.as_ref() else {
            return Err(ServiceError::ForbiddenCode(
                "TOOL_NOT_ALLOWED",
                format!("{} cannot run here", action.tool),
            ));
        };
        let as_member = caller
            .clone()
            .through(Channel::Copilot)
            .in_conversation(action.conversation);
        invoker
            .call(self.clone(), as_member, action.arguments.clone())
            .await
    }
}
