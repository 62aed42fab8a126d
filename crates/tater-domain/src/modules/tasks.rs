//! Tasks: work someone owes the compliance program, with an assignee and a due date.

use crate::Role;
use crate::module::{
    Due, DueRule, FieldDef, Flow, ModuleDef, RecordRetention, Remind, Transition, no_rules,
    past_due,
};

pub const TASK_STATUSES: &[&str] = &["To Do", "In Progress", "In Review", "Done"];
pub const PRIORITIES: &[&str] = &["Critical", "High", "Medium", "Low"];
/// Where a task came from: made by hand, or opened by the program.
pub const TASK_SOURCES: &[&str] = &[
    "Manual",
    "Failing control",
    "Audit finding",
    "Expiring exception",
    "Continuity exercise",
    "Regulatory change",
];

/// Work moves forward through review, can be sent back from review, and reopened when done.
static FLOW: Flow = Flow {
    field: "status",
    initial: "To Do",
    editable: None,
    transitions: &[
        Transition::new(&["To Do", "In Review"], "In Progress"),
        Transition::new(&["To Do", "In Progress"], "In Review"),
        Transition::new(&["To Do", "In Progress", "In Review"], "Done").decision(),
        Transition::new(&["Done"], "To Do").with_comment(),
    ],
};

struct Overdue;

impl Due for Overdue {
    const RULE: DueRule = DueRule {
        status: "status",
        statuses: TASK_STATUSES,
        open: &["To Do", "In Progress", "In Review"],
        date: "dueDate",
    };
}

pub static TASKS: ModuleDef = ModuleDef {
    name: "tasks",
    entity_type: "task",
    singular: "Task",
    plural: "Tasks",
    nouns: ("task", "tasks"),
    description: "A task with an assignee (an e-mail address), a priority and a due date. \
                  Filter `assignee=<your e-mail>` for your own; `overdue=true` for late ones.",
    read_role: Role::Viewer,
    fields: &[
        super::TITLE,
        FieldDef::long_text("description", "Description (Markdown)", 8000).search(),
        FieldDef::enumeration("priority", "Priority", PRIORITIES)
            .default_value("Medium")
            .filter()
            .sort(),
        FieldDef::enumeration("status", "Status", TASK_STATUSES)
            .default_value("To Do")
            .filter()
            .sort(),
        FieldDef::email("assignee", "Assignee (e-mail)")
            .filter()
            .sort()
            .search(),
        FieldDef::date("dueDate", "Due date").filter().sort(),
        FieldDef::control_ids("controls", "Linked controls").filter(),
        FieldDef::enumeration("source", "Source", TASK_SOURCES)
            .default_value("Manual")
            .filter(),
        FieldDef::tags("tags", "Tags").filter(),
    ],
    derived: &[past_due::<Overdue>("overdue", "Overdue")],
    rules: no_rules,
    csv_columns: &[
        "id",
        "title",
        "priority",
        "status",
        "assignee",
        "dueDate",
        "overdue",
        "controls",
        "source",
        "tags",
        "description",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "dueDate",
    flow: Some(&FLOW),
    on_create: None,
    holds: &[],
    remind: &[Remind {
        what: "Task",
        rule: &Overdue::RULE,
        to: "assignee",
        headline: "title",
        details: &["priority", "status"],
    }],
    starter_records: &[],
    retention: Some(RecordRetention {
        status: "status",
        finished: &["Done"],
        default_days: None,
    }),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::{Context, validate};
    use serde_json::json;
    use time::macros::date;

    #[test]
    fn a_task_is_overdue_until_done_and_its_assignee_is_normalised() {
        let today = date!(2026 - 12 - 03);
        let task = |status: &str| {
            validate(
                &TASKS,
                &json!({"title": "t", "status": status, "dueDate": "2026-12-02",
                        "assignee": " Ann@Example.COM "}),
                Some(&json!({ "status": status }).as_object().unwrap().clone()),
                &Context::on(today),
            )
            .unwrap()
        };
        assert_eq!(task("In Review")["assignee"], json!("ann@example.com"));
        assert_eq!(Overdue::RULE.value(&task("In Review"), today), json!(true));
        assert_eq!(Overdue::RULE.value(&task("Done"), today), json!(false));
        assert_eq!(
            Overdue::RULE.value(&task("To Do"), date!(2026 - 12 - 02)),
            json!(false)
        );
        let bad = validate(
            &TASKS,
            &json!({"title": "t", "assignee": "not an address"}),
            None,
            &Context::on(today),
        )
        .unwrap_err();
        assert_eq!(bad.0[0].field, "assignee");
    }
}
