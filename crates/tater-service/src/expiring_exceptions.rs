//! What the runner does about approved exceptions as their end date comes:
//!
//! * [`EXPIRY_NOTICE_DAYS`] before it, a task for the requester to renew the exception, fix
//!   the control or let it end (source "Expiring exception", due on the end date, linked to
//!   the exception), once per exception and end date;
//! * the day after it, the exception moves to Expired, as `system:runner` `via: cron`.
//!
//! Both check again when they run that the exception is still approved with the same end
//! date, so an exception renewed, denied or deleted since it was planned is left alone.

use serde_json::json;
use tater_domain::module::{LinkEnd, Record};
use tater_domain::modules::{EXCEPTIONS, TASKS};
use tater_domain::time::{format_date, parse_date};
use tater_domain::{Action, OrgId, RecordId, UserId, authorize};
use time::{Date, Duration};

use crate::runner::{Failure, Work, runner_actor};
use crate::transitions::TransitionInput;
use crate::{Service, ServiceError};

/// How long before an approved exception ends its renewal task is opened.
pub const EXPIRY_NOTICE_DAYS: i64 = 30;

fn text<'a>(r: &'a Record, name: &str) -> Option<&'a str> {
    crate::reminders::text(&r.data, name)
}

impl Service {
    /// Queues the approved exceptions of `org` that ended (to expire) or end within
    /// [`EXPIRY_NOTICE_DAYS`] (to open their renewal task).
    pub(crate) async fn plan_exceptions(&self, org: OrgId, today: Date) -> Result<(), Failure> {
        let horizon = format_date(today + Duration::days(EXPIRY_NOTICE_DAYS));
        let approved = self
            .scan_records(
                org,
                &EXCEPTIONS,
                &[
                    ("status", "Approved".to_owned()),
                    ("requestedUntil.lte", horizon),
                ],
            )
            .await?;
        let now = self.now();
        for exception in approved {
            let Some(until) = text(&exception, "requestedUntil") else {
                continue;
            };
            let Ok(end) = parse_date(until) else { continue };
            let (exception, until) = (exception.meta.id, until.to_owned());
            let work = if end < today {
                Work::ExpireException {
                    org,
                    exception,
                    until,
                }
            } else {
                Work::ExceptionTask {
                    org,
                    exception,
                    until,
                }
            };
            self.enqueue(&work, now).await?;
        }
        Ok(())
    }

    /// The exception if it is still approved and still ends on `until`.
    async fn approved_until(
        &self,
        org: OrgId,
        id: RecordId,
        until: &str,
    ) -> Result<Option<Record>, Failure> {
        let actor = runner_actor(org, "exception end date");
        let permit = authorize(&actor, Action::ReadRecords(EXCEPTIONS.read_role))?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let current = tx.get_record(EXCEPTIONS.name, id).await?;
        Ok(current.filter(|r| {
            text(r, "status") == Some("Approved") && text(r, "requestedUntil") == Some(until)
        }))
    }

    /// Ends an approved exception whose period is over: the move is audited `via: cron` and
    /// its acceptances still in force are revoked with it.
    pub(crate) async fn expire_exception(
        &self,
        org: OrgId,
        id: RecordId,
        until: &str,
    ) -> Result<(), Failure> {
        let past = parse_date(until).is_ok_and(|d| d < self.today());
        if !past || self.approved_until(org, id, until).await?.is_none() {
            return Ok(());
        }
        let actor = runner_actor(org, "exception end date");
        let input = TransitionInput {
            to: "Expired".into(),
            comment: Some(format!("The approved period ended on {until}.")),
        };
        match self
            .transition_record(&actor, &EXCEPTIONS, &id.to_string(), &input)
            .await
        {
            // Moved or deleted by someone else meanwhile: nothing left to do.
            Ok(_) | Err(ServiceError::NotFound) | Err(ServiceError::ConflictCode(..)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens the renewal task of an exception that ends soon, assigned to its requester and
    /// linked to it, unless a run before this one already did.
    pub(crate) async fn open_exception_task(
        &self,
        org: OrgId,
        id: RecordId,
        until: &str,
    ) -> Result<(), Failure> {
        let Some(exception) = self.approved_until(org, id, until).await? else {
            return Ok(());
        };
        let actor = runner_actor(org, "expiring exception");
        if self.renewal_task_exists(org, id, until).await? {
            return Ok(());
        }
        let title: String = text(&exception, "title")
            .unwrap_or("exception")
            .chars()
            .take(200)
            .collect();
        let control = text(&exception, "control").unwrap_or_default();
        let mut task = json!({
            "title": format!("Exception ends {until}: {title}"),
            "description": format!(
                "The approved exception for {} ends on {until}. Renew it (request a new \
                 exception), fix the control, or let it end; its risk acceptances end with it.",
                control.to_uppercase()
            ),
            "priority": crate::transition_effects::task_priority(text(&exception, "riskLevel")),
            "dueDate": until,
            "controls": [control],
            "source": "Expiring exception",
        });
        if let Some(email) = self
            .requester_email(org, &exception.meta.created_by)
            .await?
        {
            task["assignee"] = json!(email);
        }
        // The task and its link to the exception are one write: a run that dies between
        // them leaves neither, so the next run's check above sees no task and makes both.
        let permit = authorize(&actor, Action::WriteRecord)?;
        let mut tx = self.store.tenant(&permit).await?;
        let now = self.clock.now();
        self.create_linked(
            &mut *tx,
            &actor,
            &TASKS,
            &task,
            LinkEnd::record(EXCEPTIONS.name, exception.meta.id),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether a renewal task for this exception and end date is already linked to it (a run
    /// that made the task but died before it was recorded as done).
    async fn renewal_task_exists(
        &self,
        org: OrgId,
        id: RecordId,
        until: &str,
    ) -> Result<bool, Failure> {
        let actor = runner_actor(org, "expiring exception");
        let links = self
            .list_links(&actor, &EXCEPTIONS, &id.to_string())
            .await?;
        let permit = authorize(&actor, Action::ReadRecords(TASKS.read_role))?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        for link in links.items.iter().filter(|l| l.to.module == TASKS.name) {
            let Ok(task_id) = link.to.id.parse::<RecordId>() else {
                continue;
            };
            let task = tx.get_record(TASKS.name, task_id).await?;
            if task.is_some_and(|t| {
                text(&t, "source") == Some("Expiring exception")
                    && text(&t, "dueDate") == Some(until)
            }) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The e-mail address of the member who requested a record, if a person did and is still
    /// a member of `org` (a leaver gets nothing of the organization's).
    async fn requester_email(
        &self,
        org: OrgId,
        created_by: &str,
    ) -> Result<Option<String>, Failure> {
        let Ok(user) = created_by.parse::<UserId>() else {
            return Ok(None);
        };
        let actor = runner_actor(org, "expiring exception");
        let permit = authorize(&actor, Action::Read)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        Ok(tx
            .member(user)
            .await?
            .map(|(_, u)| u.email.as_str().to_owned()))
    }
}
