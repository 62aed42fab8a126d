//! Task reminders by email: to the assignee 7, 3 and 1 days before the due date and once when
//! overdue. Each is a runner job keyed by organization, task, due date, stage and recipient, so
//! however many replicas plan it a person gets it once; moving the due date or the assignee
//! plans afresh. Each is checked again when it runs (the task may be done by then) and
//! audited as a `notify` entry `via: cron`.
//!
//! Mail goes only to members of the organization and to its People (compliance contacts):
//! an assignee field is not a way to send the organization's text to any address.
//!
//! A stage is a window, not a single day: a task planned 5 days before it is due gets the
//! 7-day reminder (saying 5 days), and a server that was down on the day still sends the
//! stage it missed, once.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tater_domain::modules::{PEOPLE, TASKS};
use tater_domain::time::{format_date, parse_date};
use tater_domain::{AuditAction, AuditDraft, Email, Mode, OrgId, RecordId, authorize};
use time::{Date, Duration};

use crate::Service;
use crate::runner::{Failure, Work, days_until, runner_actor};

/// Task statuses that still owe work (every status but Done).
const OPEN: &[&str] = &["To Do", "In Progress", "In Review"];
/// The longest one reminder's delivery may take.
const SEND_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long after its due date an open task can still get its overdue reminder (a server
/// that was down that long sends none).
const OVERDUE_DAYS: i64 = 30;

/// Which reminder: how close the due date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Stage {
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "3d")]
    ThreeDays,
    #[serde(rename = "1d")]
    Day,
    #[serde(rename = "overdue")]
    Overdue,
}

impl Stage {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Stage::Week => "7d",
            Stage::ThreeDays => "3d",
            Stage::Day => "1d",
            Stage::Overdue => "overdue",
        }
    }

    /// The stage a due date `days` away is in (none more than a week away).
    fn of(days: i64) -> Option<Stage> {
        match days {
            ..0 => Some(Stage::Overdue),
            0..=1 => Some(Stage::Day),
            2..=3 => Some(Stage::ThreeDays),
            4..=7 => Some(Stage::Week),
            _ => None,
        }
    }
}

/// The reminder's subject line.
fn subject(days: i64, title: &str) -> String {
    let when = match days {
        ..0 => "Overdue".to_owned(),
        0 => "Due today".to_owned(),
        1 => "Due tomorrow".to_owned(),
        n => format!("Due in {n} days"),
    };
    let title: String = title.chars().take(120).collect();
    format!("{when}: {title}")
}

struct TaskFacts<'a> {
    org_name: &'a str,
    id: RecordId,
    title: &'a str,
    priority: &'a str,
    status: &'a str,
    due: &'a str,
    days: i64,
}

fn body(t: &TaskFacts) -> String {
    let late = if t.days < 0 {
        format!("It was due on {} ({} days ago).", t.due, -t.days)
    } else {
        format!("It is due on {}.", t.due)
    };
    format!(
        "A task assigned to you in Tater ({org}) needs attention.\n\n\
         {title}\n\
         Priority: {priority}\n\
         Status: {status}\n\
         {late}\n\n\
         Task id: {id}\n\
         Mark it done in Tater (Tasks) to stop the reminders.\n",
        org = t.org_name,
        title = t.title,
        priority = t.priority,
        status = t.status,
        id = t.id,
    )
}

/// A text field of a record's data.
pub(crate) fn text<'a>(data: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a str> {
    data.get(name).and_then(Value::as_str)
}

impl Service {
    /// Queues the reminders due in `org` today (none when the server sends no email).
    pub(crate) async fn plan_reminders(&self, org: OrgId, today: Date) -> Result<(), Failure> {
        if self.mailer.is_none() {
            return Ok(());
        }
        // Open tasks due within a week or overdue by at most a month, soonest first: done
        // and long-forgotten tasks never crowd out the ones still to remind.
        let tasks = self
            .scan_records(
                org,
                &TASKS,
                &[
                    ("status", OPEN.join(",")),
                    ("dueDate.lte", format_date(today + Duration::days(7))),
                    (
                        "dueDate.gte",
                        format_date(today - Duration::days(OVERDUE_DAYS)),
                    ),
                    ("sort", "dueDate".into()),
                ],
            )
            .await?;
        let now = self.now();
        for task in tasks {
            let data = &task.data;
            let (Some(status), Some(to), Some(due)) = (
                text(data, "status"),
                text(data, "assignee"),
                text(data, "dueDate"),
            ) else {
                continue;
            };
            let Ok(date) = parse_date(due) else { continue };
            let Some(stage) = Stage::of(days_until(today, date)) else {
                continue;
            };
            if !OPEN.contains(&status) {
                continue;
            }
            let work = Work::Remind {
                org,
                task: task.meta.id,
                due: due.to_owned(),
                stage,
                to: to.to_owned(),
            };
            self.enqueue(&work, now).await?;
        }
        Ok(())
    }

    /// Whether `address` belongs to a member of `org` or to one of its People.
    async fn is_known_address(&self, org: OrgId, address: &Email) -> Result<bool, Failure> {
        let actor = runner_actor(org, "task reminder");
        let permit = authorize(&actor, tater_domain::Action::Read)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        if tx.members().await?.iter().any(|(_, u)| &u.email == address) {
            return Ok(true);
        }
        drop(tx);
        let contacts = self
            .scan_records(org, &PEOPLE, &[("email", address.as_str().to_owned())])
            .await?;
        Ok(!contacts.is_empty())
    }

    /// Sends one planned reminder if the task still owes work, is still due then and still
    /// assigned to the same person, and the stage is still the current one; audits it.
    pub(crate) async fn remind(
        &self,
        org: OrgId,
        id: RecordId,
        due: &str,
        stage: Stage,
        to: &str,
    ) -> Result<(), Failure> {
        let Some(mailer) = self.mailer.clone() else {
            return Ok(());
        };
        let actor = runner_actor(org, "task reminder");
        let permit = authorize(&actor, tater_domain::Action::WriteRecord)?;
        let task = {
            let mut tx = self.store.tenant(&permit.read_only()).await?;
            tx.get_record(TASKS.name, id).await?
        };
        let Some(task) = task else { return Ok(()) };
        let today = self.today();
        let data = &task.data;
        let days = parse_date(due)
            .map(|d| days_until(today, d))
            .unwrap_or(i64::MAX);
        let wanted = text(data, "dueDate") == Some(due)
            && text(data, "assignee") == Some(to)
            && text(data, "status").is_some_and(|s| OPEN.contains(&s))
            && Stage::of(days) == Some(stage);
        if !wanted {
            return Ok(());
        }
        let Ok(address) = Email::parse(to) else {
            return Ok(());
        };
        if !self.is_known_address(org, &address).await? {
            // Only members and the organization's own contacts (People) get mail from it:
            // an assignee field is not a way to send the organization's text to anyone.
            return Ok(());
        }
        let org_name = {
            let mut tx = self.store.identity(Mode::Read).await?;
            tx.org(org).await?.map(|o| o.name)
        };
        let title = text(data, "title").unwrap_or("(untitled)");
        let facts = TaskFacts {
            org_name: org_name.as_deref().unwrap_or("your organization"),
            id,
            title,
            priority: text(data, "priority").unwrap_or("-"),
            status: text(data, "status").unwrap_or("-"),
            due,
            days,
        };
        // One bound on the whole delivery (the relay's own timeout is per SMTP step), so a
        // round never outlives its lease.
        let subject = subject(days, title);
        let send = mailer.send(&address, &subject, body(&facts));
        match tokio::time::timeout(SEND_LIMIT, send).await {
            Ok(sent) => sent.map_err(|e| Failure::retry(format!("{e:#}")))?,
            Err(_) => return Err(Failure::retry("the mail relay took too long")),
        }
        let audit = AuditDraft::new(
            &actor,
            AuditAction::Notify,
            TASKS.entity_type,
            id,
            self.now(),
        )
        .with_detail(
            "_reminder",
            json!({ "stage": stage.as_str(), "to": to, "dueDate": due, "channel": "email" }),
        );
        let mut tx = self.store.tenant(&permit).await?;
        tx.record_event(&audit).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_windows_before_the_due_date() {
        let stages: Vec<Option<Stage>> = [9, 8, 7, 4, 3, 2, 1, 0, -1, -30]
            .into_iter()
            .map(Stage::of)
            .collect();
        use Stage::*;
        assert_eq!(
            stages,
            [
                None,
                None,
                Some(Week),
                Some(Week),
                Some(ThreeDays),
                Some(ThreeDays),
                Some(Day),
                Some(Day),
                Some(Overdue),
                Some(Overdue)
            ]
        );
        assert_eq!(subject(-2, "Patch"), "Overdue: Patch");
        assert_eq!(subject(1, "Patch"), "Due tomorrow: Patch");
        assert_eq!(subject(5, "Patch"), "Due in 5 days: Patch");
    }
}
