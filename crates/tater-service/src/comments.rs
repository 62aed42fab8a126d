//! Comments on any record of a declared module: who wrote what (Markdown) and when, each one
//! audited as a `comment` created.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tater_domain::module::{ModuleDef, RecordComment};
use tater_domain::policy::{Action, authorize};
use tater_domain::{
    Actor, AuditAction, AuditDraft, CommentId, RecordId, Timestamp, ValidationErrors,
};

use crate::{Service, ServiceError, ServiceResult};

/// The longest comment, in characters.
pub const MAX_COMMENT_BODY: usize = 16_000;
/// How many comments a record's list shows (newest first).
pub const COMMENTS_LIMIT: u32 = 200;

/// A comment to add: `{"body": "…"}` (Markdown).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentInput {
    #[schemars(length(min = 1, max = 16000))]
    pub body: String,
}

/// A comment as clients see it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommentView {
    pub id: String,
    /// Who wrote it (the audit log's `userId`).
    pub by: String,
    pub at: Timestamp,
    pub body: String,
}

/// A record's comments, newest first.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CommentList {
    pub items: Vec<CommentView>,
}

impl From<RecordComment> for CommentView {
    fn from(c: RecordComment) -> Self {
        Self {
            id: c.id.to_string(),
            by: c.author,
            at: c.at,
            body: c.body,
        }
    }
}

fn check_body(body: &str) -> ServiceResult<String> {
    let body = body.trim();
    let problem = if body.is_empty() {
        Some("must not be empty".to_owned())
    } else if body.chars().count() > MAX_COMMENT_BODY {
        Some(format!("must be at most {MAX_COMMENT_BODY} characters"))
    } else if body
        .chars()
        .any(|c| c.is_control() && !"\n\r\t".contains(c))
    {
        Some("must not hold control characters".to_owned())
    } else {
        None
    };
    match problem {
        Some(p) => Err(ValidationErrors::single("body", &p).into()),
        None => Ok(body.to_owned()),
    }
}

fn record_id(id: &str) -> ServiceResult<RecordId> {
    id.parse().map_err(|_| ServiceError::NotFound)
}

impl Service {
    /// Adds a comment to the record (Admin and above, as any write).
    pub async fn add_comment(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
        id: &str,
        input: &CommentInput,
    ) -> ServiceResult<CommentView> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let record_id = record_id(id)?;
        let body = check_body(&input.body)?;
        let mut tx = self.store.tenant(&permit).await?;
        if tx.get_record(def.name, record_id).await?.is_none() {
            return Err(ServiceError::NotFound);
        }
        let now = self.clock.now();
        let comment = RecordComment {
            id: CommentId::generate(),
            record_id,
            author: actor.audit_user_id(),
            at: now,
            body,
        };
        let after = json!({
            "module": def.name,
            "recordId": record_id.to_string(),
            "body": comment.body,
        });
        let audit = AuditDraft::new(actor, AuditAction::Create, "comment", comment.id, now)
            .with_changes(None, Some(&after), &[]);
        tx.insert_comment(def.name, &comment, &audit).await?;
        tx.commit().await?;
        Ok(comment.into())
    }

    /// The record's comments, newest first (at most [`COMMENTS_LIMIT`]).
    pub async fn list_comments(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
        id: &str,
    ) -> ServiceResult<CommentList> {
        let permit = authorize(actor, Action::ReadRecords(def.read_role))?;
        let record_id = record_id(id)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        if tx.get_record(def.name, record_id).await?.is_none() {
            return Err(ServiceError::NotFound);
        }
        let items = tx
            .list_comments(def.name, record_id, COMMENTS_LIMIT)
            .await?;
        Ok(CommentList {
            items: items.into_iter().map(CommentView::from).collect(),
        })
    }
}
