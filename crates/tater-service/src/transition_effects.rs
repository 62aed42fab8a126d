//! What a move does besides changing a status ([`Effect`]): carried out in the move's
//! transaction, each change validated as a client's would be and audited as the mover's.

use serde_json::{Value, json};
use tater_domain::module::{
    Effect, LinkEnd, ModuleDef, Record, RecordLink, parse_list_query, validate,
};
use tater_domain::modules::{
    AUDITS, FINDINGS, PEOPLE, POAM, RISK_ACCEPTANCES, TASKS, TRAINING_ASSIGNMENTS,
};
use tater_domain::{Actor, AuditAction, AuditDraft, RecordId, Timestamp, TransitionId};
use tater_store::TenantTx;

use crate::records::{check_references, new_record, next_version};
use crate::reminders::text;
use crate::{Service, ServiceResult};

/// A record the effect made or changed: the move's audit entry names them.
pub(crate) struct Touched {
    pub module: &'static str,
    pub id: RecordId,
    /// What else the entry says of it (a published version's number and hash).
    pub detail: Option<Value>,
}

/// What set an effect off: the move (its id and comment), or nothing when a record's
/// creation did.
#[derive(Clone, Copy, Default)]
pub(crate) struct Cause<'a> {
    pub transition: Option<TransitionId>,
    pub comment: Option<&'a str>,
}

impl Service {
    pub(crate) async fn apply_effect(
        &self,
        tx: &mut dyn TenantTx,
        actor: &Actor,
        effect: Effect,
        source: &Record,
        cause: Cause<'_>,
        now: Timestamp,
    ) -> ServiceResult<Vec<Touched>> {
        let comment = cause.comment;
        match effect {
            Effect::AcceptRisk => self.accept_risk(tx, actor, source, now).await,
            Effect::EndAcceptances => self.end_acceptances(tx, actor, source, comment, now).await,
            Effect::OpenCorrectiveTask => {
                let task = corrective_task(source);
                let made = self
                    .create_linked(tx, actor, &TASKS, &task, finding_end(source), now)
                    .await?;
                Ok(vec![made])
            }
            Effect::OpenPoamItem => {
                // A finding taken into the POA&M again (reopened, tracked anew) keeps the
                // item it opened the first time.
                let end = LinkEnd::record(FINDINGS.name, source.meta.id);
                let links = tx.list_links(&end, crate::links::MAX_LINKS).await?;
                if links
                    .iter()
                    .any(|l| l.a.module() == POAM.name || l.b.module() == POAM.name)
                {
                    return Ok(Vec::new());
                }
                let item = self.poam_item(tx, source).await?;
                let made = self
                    .create_linked(tx, actor, &POAM, &item, finding_end(source), now)
                    .await?;
                Ok(vec![made])
            }
            Effect::PublishPolicyVersion => {
                let published = self
                    .publish_policy_version(tx, actor, source, cause.transition, now)
                    .await?;
                Ok(vec![published])
            }
            Effect::RetirePolicy => Ok(vec![self.retire_policy(tx, source, now).await?]),
            Effect::AssignTraining => self.assign_training(tx, actor, source, now).await,
            Effect::OpenFollowUpTask {
                module,
                about,
                source: from,
            } => {
                let Some(task) = follow_up_task(source, about, from) else {
                    return Ok(Vec::new());
                };
                let end = LinkEnd::record(module, source.meta.id);
                let made = self
                    .create_linked(tx, actor, &TASKS, &task, end, now)
                    .await?;
                Ok(vec![made])
            }
        }
    }

    /// Records `body` in `def` for `actor`, validated as a client's would be, and links it to
    /// `to` (the record or control it was made for) — both audited, in the caller's
    /// transaction, so neither exists without the other.
    pub(crate) async fn create_linked(
        &self,
        tx: &mut dyn TenantTx,
        actor: &Actor,
        def: &'static ModuleDef,
        body: &Value,
        to: LinkEnd,
        now: Timestamp,
    ) -> ServiceResult<Touched> {
        let data = validate(def, body, None, &self.rule_context())?;
        check_references(tx, def, &data, None).await?;
        let record = new_record(RecordId::generate(), actor, data, now);
        tx.insert_record(def.name, &record, &created(actor, def, &record, now))
            .await?;
        let from = LinkEnd::record(def.name, record.meta.id);
        let link = RecordLink::new(from.clone(), to.clone(), actor.audit_user_id(), now);
        let audit = crate::links::link_created(actor, &link, (&from, &to), now);
        tx.insert_link(&link, &audit).await?;
        Ok(Touched {
            module: def.name,
            id: record.meta.id,
            detail: None,
        })
    }

    /// The POA&M item for a finding: its weakness, the recommendation as the first
    /// milestone, the audit it came from as the source.
    async fn poam_item(&self, tx: &mut dyn TenantTx, finding: &Record) -> ServiceResult<Value> {
        let data = &finding.data;
        let mut source = format!("Audit finding {}", finding.meta.id);
        let audit_id = text(data, "audit").and_then(|id| id.parse().ok());
        if let Some(id) = audit_id
            && let Some(audit) = tx.get_record(AUDITS.name, id).await?
        {
            let title = text(&audit.data, "title").unwrap_or_default();
            source = clip(
                &format!("Audit: {title} (finding {})", finding.meta.id),
                500,
            );
        }
        let impact = match text(data, "severity") {
            Some("Critical" | "High") => "High",
            Some("Moderate") => "Moderate",
            _ => "Low",
        };
        let mut item = json!({
            "title": text(data, "title"),
            "weaknessDescription": text(data, "description"),
            "impact": impact,
            "controls": [text(data, "control")],
            "source": source,
            "scheduledCompletion": text(data, "dueDate"),
            "pointOfContact": text(data, "owner"),
        });
        if let Some(recommendation) = text(data, "recommendation") {
            item["milestones"] = json!([{
                "description": clip(recommendation, 2000),
                "scheduledCompletion": text(data, "dueDate"),
            }]);
        }
        Ok(item)
    }

    /// One acceptance per named endpoint, or one organization-wide, until the exception's end.
    async fn accept_risk(
        &self,
        tx: &mut dyn TenantTx,
        actor: &Actor,
        exception: &Record,
        now: Timestamp,
    ) -> ServiceResult<Vec<Touched>> {
        let text = |name: &str| exception.data.get(name).cloned().unwrap_or(Value::Null);
        let endpoints: Vec<Value> = match exception.data.get("endpoints") {
            Some(Value::Array(ids)) if !ids.is_empty() => ids.clone(),
            _ => vec![Value::Null],
        };
        let mut made = Vec::new();
        for endpoint in endpoints {
            let body = json!({
                "control": text("control"),
                "endpoint": endpoint,
                "justification": text("justification"),
                "compensatingControls": text("compensatingControls"),
                "approvedBy": actor.audit_upn(),
                "expires": text("requestedUntil"),
                "exception": exception.meta.id.to_string(),
            });
            let data = validate(&RISK_ACCEPTANCES, &body, None, &self.rule_context())?;
            check_references(tx, &RISK_ACCEPTANCES, &data, None).await?;
            let record = new_record(RecordId::generate(), actor, data, now);
            let audit = created(actor, &RISK_ACCEPTANCES, &record, now);
            tx.insert_record(RISK_ACCEPTANCES.name, &record, &audit)
                .await?;
            made.push(Touched {
                module: RISK_ACCEPTANCES.name,
                id: record.meta.id,
                detail: None,
            });
        }
        Ok(made)
    }

    /// The acceptances naming the exception that are still in force are revoked today.
    async fn end_acceptances(
        &self,
        tx: &mut dyn TenantTx,
        actor: &Actor,
        exception: &Record,
        comment: Option<&str>,
        now: Timestamp,
    ) -> ServiceResult<Vec<Touched>> {
        let today = now.date();
        let query = parse_list_query(
            &RISK_ACCEPTANCES,
            &[
                ("exception".into(), exception.meta.id.to_string()),
                ("status".into(), "Active".into()),
                ("limit".into(), "500".into()),
            ],
            today,
            &[],
        )?;
        let mut ended = Vec::new();
        for current in tx.list_records(RISK_ACCEPTANCES.name, &query).await? {
            let mut data = current.data.clone();
            data.insert(
                "revokedOn".into(),
                Value::String(tater_domain::time::format_date(today)),
            );
            let reason = format!(
                "The exception ended: {}",
                comment.unwrap_or("no reason given")
            );
            data.insert(
                "revocationReason".into(),
                Value::String(reason.chars().take(4000).collect()),
            );
            let updated = next_version(&current, actor, data, now);
            let audit = AuditDraft::new(
                actor,
                AuditAction::Update,
                RISK_ACCEPTANCES.entity_type,
                current.meta.id,
                now,
            )
            .with_changes(
                Some(&Value::Object(current.data.clone())),
                Some(&Value::Object(updated.data.clone())),
                &[],
            );
            tx.update_record(
                RISK_ACCEPTANCES.name,
                &updated,
                current.meta.version,
                &audit,
            )
            .await?;
            ended.push(Touched {
                module: RISK_ACCEPTANCES.name,
                id: current.meta.id,
                detail: None,
            });
        }
        Ok(ended)
    }
}

fn created(actor: &Actor, def: &ModuleDef, record: &Record, now: Timestamp) -> AuditDraft {
    let after = Value::Object(record.data.clone());
    AuditDraft::new(
        actor,
        AuditAction::Create,
        def.entity_type,
        record.meta.id,
        now,
    )
    .with_changes(None, Some(&after), &[])
}

/// The task a record's `about` text calls for, if it has any.
fn follow_up_task(record: &Record, about: &str, source: &str) -> Option<Value> {
    let body = text(&record.data, about)
        .map(str::trim)
        .filter(|b| !b.is_empty())?;
    let title = text(&record.data, "title").unwrap_or("record");
    Some(json!({
        "title": clip(&format!("Follow up: {title}"), 300),
        "description": clip(body, 8000),
        "source": source,
        "controls": record.data.get("controls").cloned().unwrap_or(json!([])),
    }))
}

/// The most people one campaign assigns: a larger audience is refused rather than cut.
pub const MAX_ASSIGNEES: usize = 2_000;

impl Service {
    /// A campaign's assignments: one per e-mail address of its audience (the organization's
    /// members, its People, or both) that has none in the campaign yet, due when the
    /// campaign is; each audited as the launcher's.
    async fn assign_training(
        &self,
        tx: &mut dyn TenantTx,
        actor: &Actor,
        campaign: &Record,
        now: Timestamp,
    ) -> ServiceResult<Vec<Touched>> {
        let audience = text(&campaign.data, "audience").unwrap_or("Members");
        let mut emails = std::collections::BTreeSet::new();
        if audience.contains("Members") {
            for (_, user) in tx.members().await? {
                emails.insert(user.email.as_str().to_owned());
            }
        }
        if audience.contains("people") || audience == "People" {
            for person in all_records(tx, &PEOPLE, &[], self.today()).await? {
                if let Some(email) = text(&person.data, "email") {
                    emails.insert(email.to_owned());
                }
            }
        }
        let id = campaign.meta.id.to_string();
        let campaign_filter = [("campaign".to_owned(), id.clone())];
        let assigned = all_records(tx, &TRAINING_ASSIGNMENTS, &campaign_filter, self.today());
        for assigned in assigned.await? {
            if let Some(email) = text(&assigned.data, "assignee") {
                emails.remove(email);
            }
        }
        if emails.len() > MAX_ASSIGNEES {
            return Err(tater_domain::ValidationErrors::single(
                "audience",
                format!(
                    "holds {} people; a campaign assigns at most {MAX_ASSIGNEES}",
                    emails.len()
                ),
            )
            .into());
        }
        let mut made = Vec::with_capacity(emails.len());
        for email in emails {
            let body = json!({
                "assignee": email,
                "campaign": id,
                "course": campaign.data.get("course"),
                "dueDate": campaign.data.get("dueDate"),
            });
            let data = validate(&TRAINING_ASSIGNMENTS, &body, None, &self.rule_context())?;
            let record = new_record(RecordId::generate(), actor, data, now);
            let audit = created(actor, &TRAINING_ASSIGNMENTS, &record, now);
            tx.insert_record(TRAINING_ASSIGNMENTS.name, &record, &audit)
                .await?;
            made.push(Touched {
                module: TRAINING_ASSIGNMENTS.name,
                id: record.meta.id,
                detail: None,
            });
        }
        Ok(made)
    }
}

/// Every record of `def` that `filters` select, a page at a time, at most
/// [`MAX_ASSIGNEES`] + 1 (enough to tell a too-large audience).
pub(crate) async fn all_records(
    tx: &mut dyn TenantTx,
    def: &ModuleDef,
    filters: &[(String, String)],
    today: time::Date,
) -> ServiceResult<Vec<Record>> {
    let mut out = Vec::new();
    let mut params = filters.to_vec();
    params.push(("limit".into(), "500".into()));
    loop {
        let query = parse_list_query(def, &params, today, &[])?;
        let page = tx.list_records(def.name, &query).await?;
        let more = page.len() > query.limit as usize;
        out.extend(page.into_iter().take(query.limit as usize));
        let Some(last) = out.last().filter(|_| more && out.len() <= MAX_ASSIGNEES) else {
            return Ok(out);
        };
        let cursor = tater_domain::module::PageCursor {
            value: query.sort.value_of(last),
            id: last.meta.id,
        };
        params.retain(|(k, _)| k != "cursor");
        params.push(("cursor".into(), cursor.encode(&query.sort)));
    }
}

/// At most `max` characters of `s`: a field of the record made holds less than its source's.
fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A task's priority for a finding's severity or an exception's risk level.
pub(crate) fn task_priority(level: Option<&str>) -> &'static str {
    match level {
        Some("Critical") => "Critical",
        Some("High") => "High",
        Some("Low" | "Informational") => "Low",
        _ => "Medium",
    }
}

/// The corrective-action task a finding opens: for its owner, by its due date.
fn corrective_task(finding: &Record) -> Value {
    let data = &finding.data;
    let title = text(data, "title").unwrap_or("finding");
    let found = text(data, "description").unwrap_or_default();
    let description = match text(data, "recommendation") {
        Some(fix) => format!("{fix}\n\n**Finding:** {found}"),
        None => format!("**Finding:** {found}"),
    };
    json!({
        "title": clip(&format!("Corrective action: {title}"), 300),
        "description": clip(&description, 8000),
        "priority": task_priority(text(data, "severity")),
        "assignee": text(data, "owner"),
        "dueDate": text(data, "dueDate"),
        "controls": [text(data, "control")],
        "source": "Audit finding",
    })
}

fn finding_end(finding: &Record) -> LinkEnd {
    LinkEnd::record(FINDINGS.name, finding.meta.id)
}
