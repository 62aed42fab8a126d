//! "Past due": a record whose status still owes work and whose date has passed. Computed at
//! read time (it depends on today), never stored as a status, so it cannot go stale; and the
//! same rule as a store condition, so a list can filter on it.

use serde_json::{Map, Value};
use time::Date;

use super::def::{Derived, DerivedWhen, ValueType};
use super::query::{CmpOp, Condition, Operand, Scalar};
use crate::time::{format_date, parse_date};

/// Which status field and values owe work, and which date field they are due by.
pub struct DueRule {
    pub status: &'static str,
    /// Every value of the status field (its sort order).
    pub statuses: &'static [&'static str],
    /// The values in which work is still owed.
    pub open: &'static [&'static str],
    pub date: &'static str,
}

impl DueRule {
    /// `true` when the record owes work and its date is before `today`.
    pub fn value(&self, data: &Map<String, Value>, today: Date) -> Value {
        let text = |name: &str| data.get(name).and_then(Value::as_str);
        let open = text(self.status).is_some_and(|s| self.open.contains(&s));
        let past = text(self.date)
            .and_then(|s| parse_date(s).ok())
            .is_some_and(|d| d < today);
        Value::Bool(open && past)
    }

    /// The same rule as [`Self::value`] for `?<name>=true|false`.
    pub fn condition(&self, value: &str, today: Date) -> Result<Condition, String> {
        let wanted = match value {
            "true" => true,
            "false" => false,
            _ => return Err("must be true or false".into()),
        };
        let status = Operand::Field {
            name: self.status,
            ty: ValueType::Rank(self.statuses),
        };
        let due = Operand::Field {
            name: self.date,
            ty: ValueType::Text,
        };
        let open: Vec<Scalar> = self
            .open
            .iter()
            .map(|s| Scalar::Text((*s).into()))
            .collect();
        let today = Scalar::Text(format_date(today));
        Ok(if wanted {
            Condition::All(vec![
                Condition::In(status, open),
                Condition::NotNull(due),
                Condition::Cmp(due, CmpOp::Lt, today),
            ])
        } else {
            Condition::Any(vec![
                Condition::NotIn(status, open),
                Condition::IsNull(due),
                Condition::Cmp(due, CmpOp::Gte, today),
            ])
        })
    }
}

/// A module's past-due rule, named by a type so that [`past_due`] can make plain functions of it.
pub trait Due {
    const RULE: DueRule;
}

/// The read-time `true|false` field of a [`Due`] rule, filterable as `?<name>=true`.
pub const fn past_due<D: Due>(name: &'static str, label: &'static str) -> Derived {
    Derived {
        name,
        label,
        value_type: ValueType::Bool,
        when: DerivedWhen::Read,
        compute: due_value::<D>,
        filter: Some(due_condition::<D>),
        sort: false,
    }
}

fn due_value<D: Due>(data: &Map<String, Value>, today: Date) -> Value {
    D::RULE.value(data, today)
}

fn due_condition<D: Due>(value: &str, today: Date) -> Result<Condition, String> {
    D::RULE.condition(value, today)
}

/// An email reminder of a due date, declared by the module that has one: the person named in
/// the `to` field gets it 7, 3 and 1 days before the rule's date and once when it has passed,
/// while the record's status still owes work (see the server's `reminders.rs`).
pub struct Remind {
    /// What is due, as the mail names it ("Task", "Vendor assessment", "Plan review").
    pub what: &'static str,
    /// Which date, and which statuses still owe work.
    pub rule: &'static DueRule,
    /// The e-mail field of the person reminded.
    pub to: &'static str,
    /// The field that names the record in the subject (a record reference shows the title of
    /// the record it names).
    pub headline: &'static str,
    /// Fields listed in the body under their labels.
    pub details: &'static [&'static str],
}
