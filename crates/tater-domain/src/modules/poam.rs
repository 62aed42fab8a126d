//! Plan of Action and Milestones items (OMB A-130, DoD eMASS).

use serde_json::{Map, Value};

use crate::Role;
use crate::ValidationErrors;
use crate::module::{Context, Due, DueRule, FieldDef, ModuleDef, past_due};

pub const STATUSES: &[&str] = &[
    "Open",
    "In Progress",
    "Completed",
    "Risk Accepted",
    "False Positive",
];
/// Statuses in which work is still owed, so a past due date makes the item overdue.
const OPEN_STATUSES: &[&str] = &["Open", "In Progress"];
pub const IMPACTS: &[&str] = &["High", "Moderate", "Low"];
pub const MILESTONE_STATUSES: &[&str] = &["Open", "In Progress", "Completed"];

static MILESTONE_FIELDS: [FieldDef; 4] = [
    FieldDef::long_text("description", "Description", 2000).required(),
    FieldDef::enumeration("status", "Status", MILESTONE_STATUSES).default_value("Open"),
    FieldDef::date("scheduledCompletion", "Scheduled completion"),
    FieldDef::date("completionDate", "Completion date"),
];

pub static POAM: ModuleDef = ModuleDef {
    name: "poam",
    entity_type: "poam",
    singular: "POAM item",
    plural: "POAM items",
    nouns: ("poam_item", "poam_items"),
    description: "A weakness with its plan of action and milestones (eMASS POA&M).",
    read_role: Role::Viewer,
    fields: &[
        super::TITLE,
        FieldDef::long_text("weaknessDescription", "Weakness description", 8000)
            .required()
            .search(),
        FieldDef::enumeration("impact", "Impact", IMPACTS)
            .filter()
            .sort(),
        FieldDef::enumeration("status", "Status", STATUSES)
            .default_value("Open")
            .filter()
            .sort(),
        FieldDef::date("scheduledCompletion", "Scheduled completion date")
            .filter()
            .sort(),
        FieldDef::date("completionDate", "Completion date")
            .filter()
            .sort(),
        FieldDef::control_ids("controls", "Security controls").filter(),
        FieldDef::text("source", "Source identifying the weakness", 500)
            .filter()
            .search(),
        FieldDef::text("asset", "Affected asset", 500)
            .filter()
            .search(),
        FieldDef::text("pointOfContact", "Point of contact", 300)
            .filter()
            .sort()
            .search(),
        FieldDef::long_text("resourcesRequired", "Resources required", 2000),
        FieldDef::long_text(
            "justification",
            "Justification (required for False Positive)",
            4000,
        ),
        FieldDef::objects("milestones", "Milestones", &MILESTONE_FIELDS, 100),
    ],
    derived: &[past_due::<Overdue>("overdue", "Overdue")],
    rules,
    csv_columns: &[
        "id",
        "title",
        "weaknessDescription",
        "impact",
        "status",
        "overdue",
        "scheduledCompletion",
        "completionDate",
        "controls",
        "source",
        "asset",
        "pointOfContact",
        "resourcesRequired",
        "justification",
        "milestones",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "-createdAt",
    flow: None,
    on_create: None,
    holds: &[],
    remind: &[],
    starter_records: &[],
    retention: None,
};

fn str_field<'a>(data: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    data.get(name).and_then(Value::as_str)
}

/// Overdue: work is still owed (Open or In Progress) and the scheduled completion date has
/// passed.
struct Overdue;

impl Due for Overdue {
    const RULE: DueRule = DueRule {
        status: "status",
        statuses: STATUSES,
        open: OPEN_STATUSES,
        date: "scheduledCompletion",
    };
}

fn rules(data: &Map<String, Value>, _: &Context, errors: &mut ValidationErrors) {
    let status = str_field(data, "status");
    if status == Some("False Positive") && str_field(data, "justification").is_none() {
        errors.add(
            "justification",
            "is required when the status is False Positive",
        );
    }
    if status == Some("Completed") && str_field(data, "completionDate").is_none() {
        errors.add("completionDate", "is required when the status is Completed");
    }
    let milestones = data.get("milestones").and_then(Value::as_array);
    for (i, m) in milestones.into_iter().flatten().enumerate() {
        let done = m.get("status").and_then(Value::as_str) == Some("Completed");
        if done && m.get("completionDate").is_none_or(Value::is_null) {
            errors.add(
                format!("milestones[{i}].completionDate"),
                "is required when the milestone is Completed",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::validate;
    use serde_json::json;
    use time::macros::date;

    const TODAY: time::Date = date!(2026 - 11 - 29);

    #[test]
    fn overdue_is_computed_from_status_and_date() {
        let rec = |status: &str, due: &str| {
            validate(
                &POAM,
                &json!({"title": "t", "weaknessDescription": "w", "status": status,
                "scheduledCompletion": due, "completionDate": "2026-01-01", "justification": "j"}),
                None,
                &Context::on(TODAY),
            )
            .unwrap()
        };
        assert_eq!(
            Overdue::RULE.value(&rec("Open", "2026-11-28"), TODAY),
            json!(true)
        );
        assert_eq!(
            Overdue::RULE.value(&rec("In Progress", "2026-11-28"), TODAY),
            json!(true)
        );
        assert_eq!(
            Overdue::RULE.value(&rec("Open", "2026-11-29"), TODAY),
            json!(false)
        );
        assert_eq!(
            Overdue::RULE.value(&rec("Completed", "2026-01-01"), TODAY),
            json!(false)
        );
        assert_eq!(
            Overdue::RULE.value(&rec("Risk Accepted", "2026-01-01"), TODAY),
            json!(false)
        );
    }

    #[test]
    fn false_positive_needs_justification_and_milestones_get_ids() {
        let err = validate(
            &POAM,
            &json!({"title": "t", "weaknessDescription": "w", "status": "False Positive"}),
            None,
            &Context::on(TODAY),
        )
        .unwrap_err();
        assert_eq!(err.0[0].field, "justification");
        let ok = validate(&POAM, &json!({"title": "t", "weaknessDescription": "w",
            "milestones": [{"description": "a"}, {"id": 7, "description": "b"}, {"description": "c"}]}), None, &Context::on(TODAY))
            .unwrap();
        let ids: Vec<i64> = ok["milestones"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![8, 7, 9]);
        assert_eq!(ok["status"], json!("Open"));
    }
}
