//! Status-flow moves of module records: `POST /api/<module>/{id}/transitions` and the
//! record's history. The module's declaration says which moves exist and who may make them;
//! this checks the move against the stored state, writes the new state, the move (with a
//! snapshot for decisions) and one `transition` audit entry in one transaction.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tater_domain::ValidationErrors;
use tater_domain::module::{
    DerivedWhen, Flow, ModuleDef, Mover, Record, RecordTransition, Refusal, Transition,
};
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, AuditAction, AuditDraft, Principal, RecordId, Timestamp, TransitionId};
use tater_store::TenantTx;

use crate::{Service, ServiceError, ServiceResult};

/// The longest comment a move keeps.
pub const MAX_COMMENT_CHARS: usize = 4000;
/// How many moves a history shows (newest first).
pub const HISTORY_LIMIT: u32 = 200;

/// A move to make: `{"to": "Approved", "comment": "…"}`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionInput {
    /// The state to move to.
    #[schemars(length(min = 1, max = 100))]
    pub to: String,
    /// Why (Markdown); some moves need one, such as a denial.
    #[schemars(length(max = 4000))]
    pub comment: Option<String>,
}

/// A move as clients see it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransitionView {
    pub id: String,
    pub from: String,
    pub to: String,
    /// Who made it (the audit log's `userId`).
    pub by: String,
    pub at: Timestamp,
    pub comment: Option<String>,
    /// A decision, which kept a snapshot of the record as it stood.
    pub decision: bool,
    /// The record's fields when decided (only when one move is read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Map<String, Value>>,
}

/// A record's moves, newest first.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TransitionHistory {
    pub items: Vec<TransitionView>,
}

impl From<RecordTransition> for TransitionView {
    fn from(t: RecordTransition) -> Self {
        Self {
            id: t.id.to_string(),
            from: t.from,
            to: t.to,
            by: t.actor,
            at: t.at,
            comment: t.comment,
            decision: t.decision,
            snapshot: t.snapshot,
        }
    }
}

fn flow_of(def: &ModuleDef) -> ServiceResult<&'static Flow> {
    def.flow.ok_or(ServiceError::NotFound)
}

fn record_id(id: &str) -> ServiceResult<RecordId> {
    id.parse().map_err(|_| ServiceError::NotFound)
}

/// A refusal as every channel shows it: the role is 403 `FORBIDDEN`, four eyes 403
/// `FOUR_EYES_REQUIRED`, a person's decision asked through an assistant 403 `PERSON_REQUIRED`, a missing comment a field error, any other 409 `INVALID_TRANSITION`.
fn refused(r: Refusal) -> ServiceError {
    let say = format!("this transition is refused: {r}");
    match r {
        Refusal::Role { .. } => ServiceError::ForbiddenCode("FORBIDDEN", say),
        Refusal::FourEyes { .. } | Refusal::SameApprover { .. } => {
            ServiceError::ForbiddenCode("FOUR_EYES_REQUIRED", say)
        }
        Refusal::NotDesignated { .. } => ServiceError::ForbiddenCode("FORBIDDEN", say),
        Refusal::PersonRequired { .. } => ServiceError::ForbiddenCode("PERSON_REQUIRED", say),
        Refusal::CommentRequired { .. } => ValidationErrors::single("comment", &say).into(),
        Refusal::UnknownState { .. } | Refusal::NotAllowed { .. } | Refusal::Condition { .. } => {
            ServiceError::ConflictCode("INVALID_TRANSITION", say)
        }
    }
}

/// Who asks for a move, as far as the flow asks: their role, whether they created the record
/// (four eyes), whether they come through an assistant, whether the organization designates
/// them (read only for flows that ask), and whether they made the record's last move.
async fn mover(
    tx: &mut dyn TenantTx,
    actor: &Actor,
    def: &ModuleDef,
    flow: &Flow,
    id: RecordId,
    created_by: &str,
) -> ServiceResult<Mover> {
    let asks = |f: fn(&Transition) -> bool| flow.transitions.iter().any(f);
    let is_designated = if asks(|t| t.designated) {
        let approver = tx.settings().await?.exception_approver;
        matches!(actor.principal(), Principal::User { email, .. }
            if approver.as_deref() == Some(email.as_str()))
    } else {
        false
    };
    let made_last_move = if asks(|t| t.not_last_mover) {
        let last = tx.list_transitions(def.name, id, 1).await?;
        last.first()
            .is_some_and(|m| m.actor == actor.audit_user_id())
    } else {
        false
    };
    Ok(Mover {
        role: actor.role(),
        is_requester: created_by == actor.audit_user_id(),
        is_assistant: actor.channel().is_assistant(),
        is_designated,
        made_last_move,
    })
}

fn check_input(input: &TransitionInput) -> ServiceResult<Option<String>> {
    let mut errors = ValidationErrors::new();
    if input.to.trim().is_empty() || input.to.chars().count() > 100 {
        errors.add("to", "must be a state name of 1 to 100 characters");
    }
    let comment = input
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS) {
        errors.add(
            "comment",
            format!("must be at most {MAX_COMMENT_CHARS} characters"),
        );
    }
    if comment.is_some_and(|c| {
        c.chars()
            .any(|ch| ch.is_control() && !"\n\r\t".contains(ch))
    }) {
        errors.add("comment", "must not hold control characters");
    }
    Ok(errors.into_result(comment.map(str::to_owned))?)
}

/// SHA-256 of the snapshot as stored, so the audit chain vouches for it.
fn snapshot_hash(snapshot: &Map<String, Value>) -> ServiceResult<String> {
    let bytes = serde_json::to_vec(snapshot).map_err(|e| ServiceError::Internal(e.into()))?;
    Ok(crate::secrets::sha256_hex(&bytes))
}

impl Service {
    /// Moves the record to `input.to` if its module's flow allows the move from its current
    /// state for this actor; answers the record as it now stands.
    pub async fn transition_record(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
        id: &str,
        input: &TransitionInput,
    ) -> ServiceResult<Value> {
        let flow = flow_of(def)?;
        let permit = authorize(actor, Action::WriteRecord)?;
        let id = record_id(id)?;
        let comment = check_input(input)?;
        let mut tx = self.store.tenant(&permit).await?;
        let current = tx
            .get_record(def.name, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let from = current
            .data
            .get(flow.field)
            .and_then(Value::as_str)
            .unwrap_or(flow.initial)
            .to_owned();
        let mover = mover(&mut *tx, actor, def, flow, id, &current.meta.created_by).await?;
        let step = flow
            .check(
                &from,
                input.to.trim(),
                mover,
                comment.as_deref(),
                &current.data,
            )
            .map_err(refused)?;
        let now = self.clock.now();
        let updated = self.moved(def, flow, &current, step.to, actor, now);
        let snapshot = step.decision.then(|| current.data.clone());
        let moved = RecordTransition {
            id: TransitionId::generate(),
            record_id: id,
            from,
            to: step.to.to_owned(),
            actor: actor.audit_user_id(),
            at: now,
            comment: comment.clone(),
            decision: step.decision,
            snapshot,
        };
        let mut touched = Vec::new();
        if let Some(effect) = step.effect {
            touched = self
                .apply_effect(
                    &mut *tx,
                    actor,
                    effect,
                    &current,
                    crate::transition_effects::Cause {
                        transition: Some(moved.id),
                        comment: comment.as_deref(),
                    },
                    now,
                )
                .await?;
        }
        let effects: Vec<Value> = touched
            .iter()
            .map(|t| {
                let mut effect = json!({ "module": t.module, "id": t.id.to_string() });
                if let (Some(all), Some(Value::Object(more))) = (effect.as_object_mut(), &t.detail)
                {
                    all.extend(more.clone());
                }
                effect
            })
            .collect();
        let detail = json!({
            "id": moved.id.to_string(),
            "comment": comment,
            "snapshotSha256": moved.snapshot.as_ref().map(snapshot_hash).transpose()?,
            "effects": effects,
        });
        let audit = AuditDraft::new(actor, AuditAction::Transition, def.entity_type, id, now)
            .with_changes(
                Some(&Value::Object(current.data.clone())),
                Some(&Value::Object(updated.data.clone())),
                &[],
            )
            .with_detail("_transition", detail);
        tx.update_record(def.name, &updated, current.meta.version, &audit)
            .await?;
        tx.insert_transition(def.name, &moved).await?;
        tx.commit().await?;
        Ok(self.view(def, &updated))
    }

    /// The record with its status at `to`, write-time derived fields recomputed.
    fn moved(
        &self,
        def: &ModuleDef,
        flow: &Flow,
        current: &Record,
        to: &str,
        actor: &Actor,
        now: Timestamp,
    ) -> Record {
        let mut data = current.data.clone();
        data.insert(flow.field.to_owned(), Value::String(to.to_owned()));
        for d in def.derived.iter().filter(|d| d.when == DerivedWhen::Write) {
            let value = (d.compute)(&data, now.date());
            data.insert(d.name.to_owned(), value);
        }
        crate::records::next_version(current, actor, data, now)
    }

    /// The record's moves, newest first (at most [`HISTORY_LIMIT`]), without snapshots.
    pub async fn list_transitions(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
        id: &str,
    ) -> ServiceResult<TransitionHistory> {
        flow_of(def)?;
        let permit = authorize(actor, Action::ReadRecords(def.read_role))?;
        let id = record_id(id)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        if tx.get_record(def.name, id).await?.is_none() {
            return Err(ServiceError::NotFound);
        }
        let items = tx.list_transitions(def.name, id, HISTORY_LIMIT).await?;
        Ok(TransitionHistory {
            items: items.into_iter().map(TransitionView::from).collect(),
        })
    }

    /// One move of the record, with the snapshot a decision kept.
    pub async fn get_transition(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
        id: &str,
        transition: &str,
    ) -> ServiceResult<TransitionView> {
        flow_of(def)?;
        let permit = authorize(actor, Action::ReadRecords(def.read_role))?;
        let id = record_id(id)?;
        let transition: TransitionId = transition.parse().map_err(|_| ServiceError::NotFound)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        tx.get_transition(def.name, id, transition)
            .await?
            .map(TransitionView::from)
            .ok_or(ServiceError::NotFound)
    }

    /// The moves `actor` may make from the record's current state (for pages' buttons): the
    /// declaration's own check, so nothing is offered that would be refused.
    pub async fn transitions_offered(
        &self,
        actor: &Actor,
        def: &ModuleDef,
        record: &Value,
    ) -> ServiceResult<Vec<(&'static str, bool)>> {
        let Some(flow) = def.flow else {
            return Ok(Vec::new());
        };
        let (Ok(permit), Some(data)) = (authorize(actor, Action::WriteRecord), record.as_object())
        else {
            return Ok(Vec::new());
        };
        let id = record_id(data.get("id").and_then(Value::as_str).unwrap_or_default())?;
        let from = data
            .get(flow.field)
            .and_then(Value::as_str)
            .unwrap_or(flow.initial);
        let created_by = data.get("createdBy").and_then(Value::as_str);
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let mover = mover(
            &mut *tx,
            actor,
            def,
            flow,
            id,
            created_by.unwrap_or_default(),
        )
        .await?;
        Ok(flow
            .from(from)
            .filter(|t| flow.check(from, t.to, mover, Some("-"), data).is_ok())
            .map(|t| (t.to, t.comment_required))
            .collect())
    }
}
