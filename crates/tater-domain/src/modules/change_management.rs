//! Change management: change requests (standard, normal, emergency) and the change advisory
//! boards (CAB) that decide them.

use serde_json::{Map, Value};

use crate::ValidationErrors;
use crate::module::{Context, FieldDef, Flow, ModuleDef, RecordRetention, Transition};

pub const CHANGE_TYPES: &[&str] = &["Standard", "Normal", "Emergency"];
pub const CHANGE_STATUSES: &[&str] = &[
    "Draft",
    "Submitted",
    "Approved",
    "Rejected",
    "Implemented",
    "Closed",
    "Cancelled",
];
pub const CHANGE_RISKS: &[&str] = &["High", "Moderate", "Low"];
pub const BOARD_ROLES: &[&str] = &["Chair", "Voting", "Observer"];

static BOARD_MEMBER_FIELDS: [FieldDef; 2] = [
    FieldDef::email("email", "Member (e-mail)").required(),
    FieldDef::enumeration("role", "Role on the board", BOARD_ROLES).default_value("Voting"),
];

pub static CAB_BOARDS: ModuleDef = ModuleDef {
    name: "cab-boards",
    entity_type: "cab-board",
    singular: "Change advisory board",
    plural: "Change advisory boards",
    nouns: ("cab_board", "cab_boards"),
    description: "A change advisory board: its members (chair, voting, observer) and how many \
                  approving votes decide a change.",
    fields: &[
        FieldDef::text("name", "Name", 200)
            .required()
            .sort()
            .search(),
        FieldDef::long_text("description", "Remit", 4000).search(),
        FieldDef::objects("members", "Members", &BOARD_MEMBER_FIELDS, 50),
        FieldDef::integer("approvalThreshold", "Approving votes needed", 1, 50)
            .required()
            .sort(),
    ],
    csv_columns: &[
        "id",
        "name",
        "description",
        "members",
        "approvalThreshold",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "name",
    ..ModuleDef::PLAIN
};

/// A change is written, submitted to its board, decided, carried out and closed. A decided
/// change is not edited: what was approved is what gets done.
static FLOW: Flow = Flow {
    field: "status",
    initial: "Draft",
    editable: Some(&["Draft"]),
    transitions: &[
        Transition::new(&["Draft"], "Submitted"),
        Transition::new(&["Submitted"], "Draft").with_comment(),
        Transition::new(&["Submitted"], "Approved")
            .four_eyes()
            .decision(),
        Transition::new(&["Submitted"], "Rejected")
            .with_comment()
            .decision(),
        Transition::new(&["Approved"], "Implemented"),
        Transition::new(&["Implemented", "Rejected"], "Closed"),
        Transition::new(&["Draft", "Submitted", "Approved"], "Cancelled").with_comment(),
    ],
};

pub static CHANGE_REQUESTS: ModuleDef = ModuleDef {
    name: "change-requests",
    entity_type: "change-request",
    singular: "Change request",
    plural: "Change requests",
    nouns: ("change_request", "change_requests"),
    description: "A change to systems in scope: type (standard, normal, emergency), risk, the \
                  endpoints and controls it touches, its window, implementer and back-out \
                  plan, decided by a change advisory board.",
    fields: &[
        super::TITLE,
        FieldDef::enumeration("changeType", "Type", CHANGE_TYPES)
            .default_value("Normal")
            .filter()
            .sort(),
        FieldDef::enumeration("status", "Status", CHANGE_STATUSES)
            .default_value("Draft")
            .filter()
            .sort(),
        FieldDef::enumeration("risk", "Risk", CHANGE_RISKS)
            .filter()
            .sort(),
        FieldDef::long_text("description", "Description (Markdown)", 8000).search(),
        FieldDef::long_text("justification", "Justification", 4000),
        FieldDef::long_text("backoutPlan", "Back-out plan", 4000),
        FieldDef::record_ref("board", "Board", "cab-boards").filter(),
        FieldDef::endpoint_refs("endpoints", "Endpoints affected"),
        FieldDef::control_ids("controls", "Controls affected").filter(),
        FieldDef::date("windowStart", "Window start")
            .filter()
            .sort(),
        FieldDef::date("windowEnd", "Window end").filter().sort(),
        FieldDef::email("implementer", "Implementer (e-mail)")
            .filter()
            .sort(),
    ],
    rules: change_rules,
    csv_columns: &[
        "id",
        "title",
        "changeType",
        "status",
        "risk",
        "board",
        "endpoints",
        "controls",
        "windowStart",
        "windowEnd",
        "implementer",
        "description",
        "justification",
        "backoutPlan",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "windowStart",
    flow: Some(&FLOW),
    retention: Some(RecordRetention {
        status: "status",
        finished: &["Closed"],
        default_days: None,
    }),
    ..ModuleDef::PLAIN
};

fn change_rules(data: &Map<String, Value>, _: &Context, errors: &mut ValidationErrors) {
    super::dates_in_order(data, "windowStart", "windowEnd", errors);
    if super::text_of(data, "changeType") == Some("Emergency")
        && super::text_of(data, "justification").is_none()
    {
        errors.add("justification", "is required for an emergency change");
    }
}
