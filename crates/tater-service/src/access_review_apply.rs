//! Applying a completed access review: what its reviewers decided is done — members revoked
//! or given their new role, API keys revoked — through the members and API-key use cases
//! themselves, so the same rules hold (nobody touches an account ranked above them, the last
//! OrgAdmin stays) and each change is audited as theirs. An item that cannot be applied says
//! why and the rest still are; applying again changes nothing more.

use serde::Serialize;
use serde_json::{Value, json};
use tater_domain::module::Record;
use tater_domain::modules::{ACCESS_REVIEW_ITEMS, ACCESS_REVIEWS};
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, AuditAction, AuditDraft, RecordId, Role};

use crate::{Service, ServiceError, ServiceResult};

/// The most items one review applies.
pub const MAX_REVIEW_ITEMS: usize = 2_000;

/// What applying a review did, item by item.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewApplied {
    /// Items whose decision was carried out now.
    pub applied: usize,
    pub items: Vec<ItemOutcome>,
}

/// One item's outcome.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemOutcome {
    /// The item's id.
    pub item: String,
    pub subject: String,
    pub decision: String,
    /// `applied`, `unchanged` (kept, undecided, or already as decided) or `refused`.
    pub outcome: String,
    /// Why, when it was not applied: the problem's code and message.
    pub detail: Option<String>,
}

fn text<'a>(record: &'a Record, name: &str) -> &'a str {
    record
        .data
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

impl Service {
    /// Carries out the decisions of a Completed access review (OrgAdmin: it changes members).
    pub async fn apply_access_review(
        &self,
        actor: &Actor,
        id: &str,
    ) -> ServiceResult<ReviewApplied> {
        let permit = authorize(actor, Action::ManageMembers)?;
        let review_id: RecordId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let (items, completed_at) = {
            let mut tx = self.store.tenant(&permit.read_only()).await?;
            let review = tx
                .get_record(ACCESS_REVIEWS.name, review_id)
                .await?
                .ok_or(ServiceError::NotFound)?;
            let status = text(&review, "status");
            if status != "Completed" {
                return Err(ServiceError::ConflictCode(
                    "NOT_COMPLETED",
                    format!("a review is applied once Completed; this one is {status}"),
                ));
            }
            // The OrgAdmin decided on the items as they stood when the review was completed;
            // an item an Admin added or changed afterwards is not part of that decision.
            let completed_at = tx
                .list_transitions(ACCESS_REVIEWS.name, review_id, 100)
                .await?
                .into_iter()
                .filter(|m| m.to == "Completed")
                .map(|m| m.at)
                .max()
                .ok_or_else(|| {
                    ServiceError::ConflictCode(
                        "NOT_COMPLETED",
                        "the review has no completion to apply".into(),
                    )
                })?;
            let filter = [("review".to_owned(), review_id.to_string())];
            let items = crate::transition_effects::all_records(
                &mut *tx,
                &ACCESS_REVIEW_ITEMS,
                &filter,
                self.today(),
            )
            .await?;
            (items, completed_at)
        };
        if items.len() > MAX_REVIEW_ITEMS {
            return Err(ServiceError::ConflictCode(
                "TOO_MANY_ITEMS",
                format!("a review applies at most {MAX_REVIEW_ITEMS} items"),
            ));
        }
        let members = self.list_members(actor).await?;
        let keys = self.list_api_keys(actor).await?.items;
        let mut outcomes = Vec::with_capacity(items.len());
        let mut applier_removed = false;
        for item in &items {
            let subject = text(item, "subject");
            let decision = text(item, "decision");
            let is_key = text(item, "subjectType") == "API key";
            // In the same millisecond counts as after: refusing is the safe side.
            let changed_after = item.meta.updated_at >= completed_at;
            let done: Result<bool, ServiceError> = match (decision, is_key) {
                _ if changed_after => Err(ServiceError::ConflictCode(
                    "CHANGED_AFTER_COMPLETION",
                    "this item was added or changed after the review was completed; reopen \
                     the review to decide on it"
                        .into(),
                )),
                // Whoever applies stops acting once an item has removed them.
                _ if applier_removed => Err(ServiceError::ConflictCode(
                    "APPLIER_REMOVED",
                    "an earlier item removed the member applying the review".into(),
                )),
                ("Revoke", true) => match keys.iter().find(|k| k.prefix == subject) {
                    Some(k) if k.revoked_at.is_none() => self
                        .revoke_api_key(actor, &k.id.to_string())
                        .await
                        .map(|()| true),
                    Some(_) => Ok(false),
                    None => Err(ServiceError::NotFound),
                },
                ("Revoke", false) => {
                    match members
                        .iter()
                        .find(|m| m.email.as_str().eq_ignore_ascii_case(subject))
                    {
                        Some(m) => {
                            let removed = self
                                .remove_member(actor, &m.user_id.to_string())
                                .await
                                .map(|()| true);
                            applier_removed |=
                                removed.is_ok() && actor.user_id() == Some(m.user_id);
                            removed
                        }
                        None => Ok(false),
                    }
                }
                ("Change role", false) => {
                    let role: Option<Role> =
                        serde_json::from_value(json!(text(item, "newRole"))).ok();
                    let member = members
                        .iter()
                        .find(|m| m.email.as_str().eq_ignore_ascii_case(subject));
                    match (member, role) {
                        (Some(m), Some(role)) if m.role != role => self
                            .change_member_role(actor, &m.user_id.to_string(), role)
                            .await
                            .map(|_| true),
                        (Some(_), Some(_)) => Ok(false),
                        _ => Err(ServiceError::NotFound),
                    }
                }
                _ => Ok(false),
            };
            let (outcome, detail) = match done {
                Ok(true) => ("applied", None),
                Ok(false) => ("unchanged", None),
                Err(ServiceError::NotFound) => (
                    "refused",
                    Some("NOT_FOUND: no such account in the organization".to_owned()),
                ),
                Err(e) => ("refused", Some(format!("{}: {e}", e.code()))),
            };
            outcomes.push(ItemOutcome {
                item: item.meta.id.to_string(),
                subject: subject.to_owned(),
                decision: decision.to_owned(),
                outcome: outcome.to_owned(),
                detail,
            });
        }
        let applied = outcomes.iter().filter(|o| o.outcome == "applied").count();
        let now = self.clock.now();
        let summary = json!({
            "applied": applied,
            "refused": outcomes.iter().filter(|o| o.outcome == "refused").count(),
            "items": outcomes.len(),
        });
        let audit = AuditDraft::new(
            actor,
            AuditAction::Update,
            ACCESS_REVIEWS.entity_type,
            review_id,
            now,
        )
        .with_detail("_applied", summary);
        let mut tx = self.store.tenant(&permit).await?;
        tx.record_event(&audit).await?;
        tx.commit().await?;
        Ok(ReviewApplied {
            applied,
            items: outcomes,
        })
    }
}
