//! Due-date reminders by email, declared by the modules ([`Remind`]): a task's assignee, a
//! training assignee, a vendor's or a plan's owner, a review's reviewer gets one 7, 3 and 1
//! days before the date and once when it has passed, while the record still owes work. Each
//! is a runner job keyed by organization, record, date, stage and recipient, so however many
//! replicas plan it a person gets it once; moving the date or the person plans afresh. Each
//! is checked again when it runs (the work may be done by then) and audited as a `notify`
//! entry `via: cron`.
//!
//! Mail goes only to members of the organization and to its People (compliance contacts):
//! an e-mail field is not a way to send the organization's text to any address.
//!
//! A stage is a window, not a single day: a record planned 5 days before it is due gets the
//! 7-day reminder (saying 5 days), and a server that was down on the day still sends the
//! stage it missed, once.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tater_domain::module::{FieldKind, ModuleDef, Record, Remind};
use tater_domain::modules::{PEOPLE, by_name};
use tater_domain::time::{format_date, parse_date};
use tater_domain::{AuditAction, AuditDraft, Email, Mode, OrgId, RecordId, authorize};
use time::{Date, Duration};

use crate::Service;
use crate::runner::{Failure, Work, days_until, runner_actor};

/// The longest one reminder's delivery may take.
const SEND_LIMIT: std::time::Duration =
    std::time::Duration::from_secs(crate::runner::JOB_TIME_LIMIT_SECS.unsigned_abs());
/// How long after its date a record can still get its overdue reminder (a server that was
/// down that long sends none).
const OVERDUE_DAYS: i64 = 30;
/// The most characters of one value a mail shows.
const VALUE_CHARS: usize = 200;

/// Which reminder: how close the date is.
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

    /// The stage a date `days` away is in (none more than a week away).
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

/// One planned reminder: the job's payload. Jobs queued before reminders were declared per
/// module were all tasks' (`task`, no `module` or `date`), and still read as such.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Reminder {
    pub(crate) org: OrgId,
    #[serde(default = "tasks")]
    module: String,
    #[serde(rename = "task")]
    record: RecordId,
    /// The date field (a module may remind of several).
    #[serde(default = "due_date")]
    date: String,
    /// The date it was planned for.
    due: String,
    stage: Stage,
    to: String,
}

fn tasks() -> String {
    "tasks".into()
}

fn due_date() -> String {
    "dueDate".into()
}

impl Reminder {
    /// What makes it happen once. A task's keys are what they were before other modules
    /// reminded, so an upgrade sends nothing twice; record ids are unique across modules.
    pub(crate) fn key(&self) -> String {
        let Reminder {
            org,
            record,
            due,
            stage,
            to,
            date,
            ..
        } = self;
        let base = format!("reminder:{org}:{record}:{due}:{}:{to}", stage.as_str());
        if date == "dueDate" {
            base
        } else {
            format!("{base}:{date}")
        }
    }

    /// The declaration it follows, if the module still declares it.
    fn declared(&self) -> Option<(&'static ModuleDef, &'static Remind)> {
        let def = by_name(&self.module)?;
        let remind = def.remind.iter().find(|r| r.rule.date == self.date)?;
        Some((def, remind))
    }
}

/// The subject line: what is due, when, and which record.
fn subject(what: &str, days: i64, headline: &str) -> String {
    let when = match days {
        ..0 => "overdue".to_owned(),
        0 => "due today".to_owned(),
        1 => "due tomorrow".to_owned(),
        n => format!("due in {n} days"),
    };
    format!("{what} {when}: {}", clip(headline, 120))
}

fn clip(text: &str, chars: usize) -> String {
    let one_line: String = text.lines().next().unwrap_or_default().to_owned();
    one_line.chars().take(chars).collect()
}

/// What the mail says about the record.
struct Facts {
    org_name: String,
    headline: String,
    /// `Label: value` lines.
    details: Vec<String>,
    due: String,
    days: i64,
}

fn body(def: &ModuleDef, remind: &Remind, id: RecordId, f: &Facts) -> String {
    let when = if f.days < 0 {
        format!("It was due on {} ({} days ago).", f.due, -f.days)
    } else {
        format!("It is due on {}.", f.due)
    };
    let date_label = def
        .field(remind.rule.date)
        .map_or(remind.rule.date, |d| d.label);
    format!(
        "{what} in Tater ({org}) needs your attention.\n\n\
         {headline}\n\
         {details}\n\
         {when}\n\n\
         {singular} id: {id}\n\
         Reminders stop once its {status} is no longer {open}, or its {date} moves ({plural} in \
         Tater).\n",
        what = remind.what,
        org = f.org_name,
        headline = f.headline,
        details = f.details.join("\n"),
        singular = def.singular,
        status = remind.rule.status,
        open = remind.rule.open.join(" or "),
        date = date_label.to_lowercase(),
        plural = def.plural,
    )
}

/// A text field of a record's data.
pub(crate) fn text<'a>(data: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    data.get(name).and_then(Value::as_str)
}

/// Whether a record still owes the work `remind` is about, due on `due` at `stage`, from `to`.
fn still_owed(
    remind: &Remind,
    data: &Map<String, Value>,
    due: &str,
    to: &str,
    today: Date,
) -> bool {
    let days = parse_date(due).map(|d| days_until(today, d)).ok();
    text(data, remind.rule.date) == Some(due)
        && text(data, remind.to) == Some(to)
        && text(data, remind.rule.status).is_some_and(|s| remind.rule.open.contains(&s))
        && days.is_some()
}

impl Service {
    /// Queues the reminders due in `org` today (none when the server sends no email).
    pub(crate) async fn plan_reminders(&self, org: OrgId, today: Date) -> Result<(), Failure> {
        if self.mailer.is_none() {
            return Ok(());
        }
        for def in tater_domain::modules::ALL {
            for remind in def.remind {
                self.plan_reminders_of(org, def, remind, today).await?;
            }
        }
        Ok(())
    }

    async fn plan_reminders_of(
        &self,
        org: OrgId,
        def: &'static ModuleDef,
        remind: &'static Remind,
        today: Date,
    ) -> Result<(), Failure> {
        let date = remind.rule.date;
        // Records owing work, dated within a week or past by at most a month, soonest first:
        // finished and long-forgotten ones never crowd out the ones still to remind.
        let records = self
            .scan_records(
                org,
                def,
                &[
                    (remind.rule.status, remind.rule.open.join(",")),
                    (
                        &format!("{date}.lte"),
                        format_date(today + Duration::days(7)),
                    ),
                    (
                        &format!("{date}.gte"),
                        format_date(today - Duration::days(OVERDUE_DAYS)),
                    ),
                    ("sort", date.into()),
                ],
            )
            .await?;
        let now = self.now();
        for record in records {
            let data = &record.data;
            let (Some(to), Some(due)) = (text(data, remind.to), text(data, date)) else {
                continue;
            };
            let Some(stage) = parse_date(due)
                .ok()
                .and_then(|d| Stage::of(days_until(today, d)))
            else {
                continue;
            };
            if !still_owed(remind, data, due, to, today) {
                continue;
            }
            let reminder = Reminder {
                org,
                module: def.name.into(),
                record: record.meta.id,
                date: date.into(),
                due: due.to_owned(),
                stage,
                to: to.to_owned(),
            };
            self.enqueue(&Work::Remind(reminder), now).await?;
        }
        Ok(())
    }

    /// Whether `address` belongs to a member of `org` or to one of its People.
    async fn is_known_address(&self, org: OrgId, address: &Email) -> Result<bool, Failure> {
        let actor = runner_actor(org, "reminder");
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

    /// A record of `org` by module name (none if gone).
    async fn record_of(
        &self,
        org: OrgId,
        module: &str,
        id: RecordId,
    ) -> Result<Option<Record>, Failure> {
        let actor = runner_actor(org, "reminder");
        let permit = authorize(&actor, tater_domain::Action::Read)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        Ok(tx.get_record(module, id).await?)
    }

    /// A field's value as the mail shows it: a referenced record by its title or name.
    async fn shown(
        &self,
        org: OrgId,
        def: &ModuleDef,
        name: &str,
        data: &Map<String, Value>,
    ) -> String {
        let value = data.get(name).unwrap_or(&Value::Null);
        let kind = def.field(name).map(|f| f.kind);
        if let (Some(FieldKind::RecordRef(target)), Some(id)) = (kind, value.as_str()) {
            let named = match id.parse::<RecordId>() {
                Ok(id) => self.record_of(org, target, id).await.ok().flatten(),
                Err(_) => None,
            };
            let title = named
                .as_ref()
                .and_then(|r| text(&r.data, "title").or_else(|| text(&r.data, "name")));
            return clip(title.unwrap_or(id), VALUE_CHARS);
        }
        let shown = match value {
            Value::Null => "-".to_owned(),
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        clip(&shown, VALUE_CHARS)
    }

    /// What the mail about `record` says.
    async fn facts(
        &self,
        org: OrgId,
        def: &ModuleDef,
        remind: &Remind,
        data: &Map<String, Value>,
        due: &str,
        days: i64,
    ) -> Result<Facts, Failure> {
        let org_name = {
            let mut tx = self.store.identity(Mode::Read).await?;
            tx.org(org).await?.map(|o| o.name)
        };
        let mut details = Vec::new();
        for name in remind.details {
            let label = def.field(name).map_or(*name, |f| f.label);
            details.push(format!(
                "{label}: {}",
                self.shown(org, def, name, data).await
            ));
        }
        Ok(Facts {
            org_name: org_name.unwrap_or_else(|| "your organization".into()),
            headline: self.shown(org, def, remind.headline, data).await,
            details,
            due: due.to_owned(),
            days,
        })
    }

    /// Sends one planned reminder if the record still owes the work, is still due then and
    /// still names the same person, and the stage is still the current one; audits it.
    pub(crate) async fn remind(&self, planned: &Reminder) -> Result<(), Failure> {
        let Some(mailer) = self.mailer.clone() else {
            return Ok(());
        };
        let Some((def, remind)) = planned.declared() else {
            return Ok(());
        };
        let Reminder {
            org,
            record: id,
            due,
            stage,
            to,
            ..
        } = planned;
        let (org, id) = (*org, *id);
        let Some(record) = self.record_of(org, def.name, id).await? else {
            return Ok(());
        };
        let today = self.today();
        let days = parse_date(due)
            .map(|d| days_until(today, d))
            .unwrap_or(i64::MAX);
        if !still_owed(remind, &record.data, due, to, today) || Stage::of(days) != Some(*stage) {
            return Ok(());
        }
        let Ok(address) = Email::parse(to) else {
            return Ok(());
        };
        if !self.is_known_address(org, &address).await? {
            // Only members and the organization's own contacts (People) get mail from it:
            // an e-mail field is not a way to send the organization's text to anyone.
            return Ok(());
        }
        let facts = self
            .facts(org, def, remind, &record.data, due, days)
            .await?;
        // One bound on the whole delivery (the relay's own timeout is per SMTP step), so a
        // round never outlives its lease.
        let subject = subject(remind.what, days, &facts.headline);
        let send = mailer.send(&address, &subject, body(def, remind, id, &facts));
        match tokio::time::timeout(SEND_LIMIT, send).await {
            Ok(sent) => sent.map_err(|e| Failure::retry(format!("{e:#}")))?,
            Err(_) => return Err(Failure::retry("the mail relay took too long")),
        }
        let actor = runner_actor(org, "reminder");
        let permit = authorize(&actor, tater_domain::Action::WriteRecord)?;
        let audit = AuditDraft::new(&actor, AuditAction::Notify, def.entity_type, id, self.now())
            .with_detail(
                "_reminder",
                json!({ "stage": stage.as_str(), "to": to, remind.rule.date: due,
                        "channel": "email" }),
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
        assert_eq!(subject("Task", -2, "Patch"), "Task overdue: Patch");
        assert_eq!(subject("Task", 1, "Patch"), "Task due tomorrow: Patch");
        assert_eq!(
            subject("Training", 5, "AT 101"),
            "Training due in 5 days: AT 101"
        );
        assert_eq!(subject("Task", 0, "a\nb"), "Task due today: a");
    }

    #[test]
    fn reminders_queued_before_modules_declared_them_are_tasks() {
        let old = json!({"org": OrgId::generate(), "task": RecordId::generate(), "due": "2026-01-02",
                         "stage": "3d", "to": "a@example.com"});
        let Ok(r) = serde_json::from_value::<Reminder>(old) else {
            panic!("an old payload reads")
        };
        assert_eq!((r.module.as_str(), r.date.as_str()), ("tasks", "dueDate"));
        assert!(r.declared().is_some());
        assert_eq!(
            r.key(),
            format!(
                "reminder:{}:{}:2026-01-02:3d:a@example.com",
                r.org, r.record
            )
        );
    }
}
