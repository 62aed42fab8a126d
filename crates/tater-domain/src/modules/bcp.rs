//! Business continuity and disaster recovery: plans with their recovery objectives, and the
//! exercises that test them. A plan whose review or test date has passed is flagged.

use serde_json::{Map, Value};

use crate::ValidationErrors;
use crate::module::{Context, Due, DueRule, Effect, FieldDef, ModuleDef, Remind, past_due};

pub const PLAN_STATUSES: &[&str] = &["Draft", "Active", "Retired"];
pub const EXERCISE_TYPES: &[&str] = &["Tabletop", "Partial", "Full"];
pub const EXERCISE_RESULTS: &[&str] = &["Passed", "Passed with findings", "Failed"];
/// A plan in force or being written owes its reviews and tests; a retired one does not.
const OWED: &[&str] = &["Draft", "Active"];

struct ReviewDue;
impl Due for ReviewDue {
    const RULE: DueRule = DueRule {
        status: "status",
        statuses: PLAN_STATUSES,
        open: OWED,
        date: "nextReview",
    };
}

struct TestDue;
impl Due for TestDue {
    const RULE: DueRule = DueRule {
        status: "status",
        statuses: PLAN_STATUSES,
        open: OWED,
        date: "nextTest",
    };
}

pub static BCP_PLANS: ModuleDef = ModuleDef {
    name: "bcp-plans",
    entity_type: "bcp-plan",
    singular: "Continuity plan",
    plural: "Continuity plans",
    nouns: ("bcp_plan", "bcp_plans"),
    description: "A business continuity / disaster recovery plan: its scope, owner, recovery \
                  time and point objectives (hours), critical processes and recovery steps. \
                  `reviewOverdue=true` / `testOverdue=true` list plans past their dates.",
    fields: &[
        super::TITLE,
        FieldDef::long_text("scope", "Scope", 4000).search(),
        FieldDef::email("owner", "Owner (e-mail)").filter().sort(),
        FieldDef::enumeration("status", "Status", PLAN_STATUSES)
            .default_value("Draft")
            .filter()
            .sort(),
        FieldDef::integer("rtoHours", "Recovery time objective (hours)", 0, 8760)
            .filter()
            .sort(),
        FieldDef::integer("rpoHours", "Recovery point objective (hours)", 0, 8760)
            .filter()
            .sort(),
        FieldDef::tags("criticalProcesses", "Critical processes").filter(),
        FieldDef::long_text("recoverySteps", "Recovery steps (Markdown)", 20_000),
        FieldDef::date("lastTested", "Last tested").filter().sort(),
        FieldDef::date("nextTest", "Next test due").filter().sort(),
        FieldDef::date("nextReview", "Next review due")
            .filter()
            .sort(),
        FieldDef::control_ids("controls", "Linked controls").filter(),
    ],
    derived: &[
        past_due::<ReviewDue>("reviewOverdue", "Review overdue"),
        past_due::<TestDue>("testOverdue", "Test overdue"),
    ],
    csv_columns: &[
        "id",
        "title",
        "status",
        "owner",
        "rtoHours",
        "rpoHours",
        "criticalProcesses",
        "lastTested",
        "nextTest",
        "testOverdue",
        "nextReview",
        "reviewOverdue",
        "controls",
        "scope",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "nextReview",
    remind: &[
        Remind {
            what: "Plan review",
            rule: &ReviewDue::RULE,
            to: "owner",
            headline: "title",
            details: &["status"],
        },
        Remind {
            what: "Plan test",
            rule: &TestDue::RULE,
            to: "owner",
            headline: "title",
            details: &["status", "lastTested"],
        },
    ],
    ..ModuleDef::PLAIN
};

pub static BCP_EXERCISES: ModuleDef = ModuleDef {
    name: "bcp-exercises",
    entity_type: "bcp-exercise",
    singular: "Continuity exercise",
    plural: "Continuity exercises",
    nouns: ("bcp_exercise", "bcp_exercises"),
    description: "An exercise of a continuity plan (tabletop, partial or full) on a date, with \
                  its result and findings; link the tasks its findings open.",
    fields: &[
        super::TITLE,
        FieldDef::record_ref("plan", "Plan", "bcp-plans").filter(),
        FieldDef::enumeration("exerciseType", "Type", EXERCISE_TYPES)
            .required()
            .filter()
            .sort(),
        FieldDef::date("heldOn", "Held on")
            .required()
            .filter()
            .sort(),
        FieldDef::enumeration("result", "Result", EXERCISE_RESULTS)
            .filter()
            .sort(),
        FieldDef::tags("participants", "Participants"),
        FieldDef::long_text("findings", "Findings (Markdown)", 8000).search(),
    ],
    rules: exercise_rules,
    csv_columns: &[
        "id",
        "title",
        "plan",
        "exerciseType",
        "heldOn",
        "result",
        "participants",
        "findings",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "-heldOn",
    on_create: Some(Effect::OpenFollowUpTask {
        module: "bcp-exercises",
        about: "findings",
        source: "Continuity exercise",
    }),
    ..ModuleDef::PLAIN
};

/// An exercise that found something says what.
fn exercise_rules(data: &Map<String, Value>, _: &Context, errors: &mut ValidationErrors) {
    let result = super::text_of(data, "result");
    if matches!(result, Some("Passed with findings" | "Failed"))
        && super::text_of(data, "findings").is_none()
    {
        errors.add("findings", "is required when the exercise found something");
    }
}
