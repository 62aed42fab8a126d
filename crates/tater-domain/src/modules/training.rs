//! Security awareness and role-based training: courses, campaigns that assign a course to an
//! audience by a due date, and each person's assignment with its completion.

use serde_json::{Map, Value};

use crate::ValidationErrors;
use crate::module::{
    Context, Due, DueRule, Effect, FieldDef, Flow, ModuleDef, Remind, Transition, past_due,
};

pub const FREQUENCIES: &[&str] = &["Once", "Annual", "Semi-annual", "Quarterly", "Monthly"];
pub const CAMPAIGN_STATUSES: &[&str] = &["Draft", "Active", "Closed"];
pub const AUDIENCES: &[&str] = &["Members", "People", "Members and people"];
pub const ASSIGNMENT_STATUSES: &[&str] = &["Assigned", "In Progress", "Completed", "Exempt"];

pub static TRAINING_COURSES: ModuleDef = ModuleDef {
    name: "training-courses",
    entity_type: "training-course",
    singular: "Training course",
    plural: "Training courses",
    nouns: ("training_course", "training_courses"),
    description: "A training course (security awareness, role-based, insider threat), how long \
                  it takes and how often it is owed.",
    fields: &[
        super::TITLE,
        FieldDef::long_text("description", "Description", 4000).search(),
        FieldDef::text("provider", "Provider", 200)
            .filter()
            .sort()
            .search(),
        FieldDef::text("url", "Where it is taken (URL)", 2000),
        FieldDef::integer("durationMinutes", "Duration (minutes)", 1, 10_000).sort(),
        FieldDef::enumeration("frequency", "Frequency", FREQUENCIES)
            .default_value("Annual")
            .filter()
            .sort(),
        FieldDef::control_ids("controls", "Linked controls (e.g. AT-2, AT-3)").filter(),
    ],
    csv_columns: &[
        "id",
        "title",
        "provider",
        "url",
        "durationMinutes",
        "frequency",
        "controls",
        "description",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "title",
    ..ModuleDef::PLAIN
};

/// A campaign is drafted, launched, and closed when its period ends (reopened if need be).
static CAMPAIGN_FLOW: Flow = Flow {
    field: "status",
    initial: "Draft",
    editable: Some(&["Draft", "Active"]),
    transitions: &[
        Transition::new(&["Draft"], "Active")
            .decision()
            .then(Effect::AssignTraining),
        Transition::new(&["Active"], "Closed").decision(),
        Transition::new(&["Closed"], "Active")
            .with_comment()
            .then(Effect::AssignTraining),
    ],
};

struct CampaignDue;
impl Due for CampaignDue {
    const RULE: DueRule = DueRule {
        status: "status",
        statuses: CAMPAIGN_STATUSES,
        open: &["Active"],
        date: "dueDate",
    };
}

pub static TRAINING_CAMPAIGNS: ModuleDef = ModuleDef {
    name: "training-campaigns",
    entity_type: "training-campaign",
    singular: "Training campaign",
    plural: "Training campaigns",
    nouns: ("training_campaign", "training_campaigns"),
    description: "A campaign assigning a course to an audience (the organization's members, \
                  its People, or both) by a due date. Its assignments are the \
                  training-assignments whose `campaign` is this id.",
    fields: &[
        super::TITLE,
        FieldDef::record_ref("course", "Course", "training-courses").filter(),
        FieldDef::enumeration("audience", "Audience", AUDIENCES)
            .default_value("Members")
            .filter(),
        FieldDef::enumeration("status", "Status", CAMPAIGN_STATUSES)
            .default_value("Draft")
            .filter()
            .sort(),
        FieldDef::date("startDate", "Start date").filter().sort(),
        FieldDef::date("dueDate", "Due date")
            .required()
            .filter()
            .sort(),
        FieldDef::email("owner", "Owner (e-mail)").filter().sort(),
    ],
    derived: &[past_due::<CampaignDue>("overdue", "Overdue")],
    rules: |data, _, errors| super::dates_in_order(data, "startDate", "dueDate", errors),
    csv_columns: &[
        "id",
        "title",
        "course",
        "audience",
        "status",
        "startDate",
        "dueDate",
        "overdue",
        "owner",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "dueDate",
    flow: Some(&CAMPAIGN_FLOW),
    ..ModuleDef::PLAIN
};

struct AssignmentDue;
impl Due for AssignmentDue {
    const RULE: DueRule = DueRule {
        status: "status",
        statuses: ASSIGNMENT_STATUSES,
        open: &["Assigned", "In Progress"],
        date: "dueDate",
    };
}

pub static TRAINING_ASSIGNMENTS: ModuleDef = ModuleDef {
    name: "training-assignments",
    entity_type: "training-assignment",
    singular: "Training assignment",
    plural: "Training assignments",
    nouns: ("training_assignment", "training_assignments"),
    description: "One person's assignment of a course in a campaign, with its due date and \
                  completion. Filter `campaign=<id>` and `status=Completed` for a campaign's \
                  completion; `overdue=true` for late ones.",
    fields: &[
        FieldDef::email("assignee", "Assignee (e-mail)")
            .required()
            .filter()
            .sort()
            .search(),
        FieldDef::record_ref("campaign", "Campaign", "training-campaigns").filter(),
        FieldDef::record_ref("course", "Course", "training-courses").filter(),
        FieldDef::enumeration("status", "Status", ASSIGNMENT_STATUSES)
            .default_value("Assigned")
            .filter()
            .sort(),
        FieldDef::date("dueDate", "Due date").filter().sort(),
        FieldDef::date("completedOn", "Completed on")
            .filter()
            .sort(),
        FieldDef::integer("score", "Score (%)", 0, 100).sort(),
        FieldDef::long_text("notes", "Notes (the reason for an exemption)", 2000),
    ],
    derived: &[past_due::<AssignmentDue>("overdue", "Overdue")],
    rules: assignment_rules,
    remind: &[Remind {
        what: "Training",
        rule: &AssignmentDue::RULE,
        to: "assignee",
        headline: "course",
        details: &["campaign", "status"],
    }],
    csv_columns: &[
        "id",
        "assignee",
        "campaign",
        "course",
        "status",
        "dueDate",
        "overdue",
        "completedOn",
        "score",
        "notes",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "dueDate",
    ..ModuleDef::PLAIN
};

fn assignment_rules(data: &Map<String, Value>, _: &Context, errors: &mut ValidationErrors) {
    match super::text_of(data, "status") {
        Some("Completed") if super::text_of(data, "completedOn").is_none() => {
            errors.add("completedOn", "is required when the status is Completed");
        }
        Some("Exempt") if super::text_of(data, "notes").is_none() => {
            errors.add("notes", "must give the reason for an exemption");
        }
        _ => {}
    }
}
