//! Policies: the organization's written rules (Markdown), approved by a second person before
//! they are published. Each publication is a numbered version that members acknowledge; the
//! record itself is the working draft between publications.

use crate::Role;
use serde_json::{Map, Value};

use crate::module::{
    Due, DueRule, Effect, FieldDef, Flow, Guard, Holding, ModuleDef, Remind, Transition, no_rules,
    past_due,
};

pub const POLICY_STATUSES: &[&str] = &["Draft", "In Review", "Published", "Retired"];
pub const POLICY_CATEGORIES: &[&str] = &[
    "Information Security",
    "Access Control",
    "Acceptable Use",
    "Asset Management",
    "Business Continuity",
    "Change Management",
    "Data Protection",
    "Incident Response",
    "Personnel Security",
    "Physical Security",
    "Risk Management",
    "Vendor Management",
    "Other",
];
/// The longest policy text kept (characters).
pub const MAX_POLICY_BODY_CHARS: usize = 131_072;

/// Written in Draft, sent for review, published by someone other than whoever sent it (the
/// publication is the approval: it freezes the text as the next numbered version). Revising
/// a published policy opens a new draft while the published version stays in force;
/// retiring (an OrgAdmin's, final) ends it.
static FLOW: Flow = Flow {
    field: "status",
    initial: "Draft",
    // What was approved is what stays published: the text changes only in a new draft.
    editable: Some(&["Draft"]),
    transitions: &[
        Transition::new(&["Draft"], "In Review").when(HAS_TEXT),
        Transition::new(&["In Review"], "Draft").with_comment(),
        Transition::new(&["In Review"], "Published")
            .by_second_person()
            .by_person()
            .decision()
            .then(Effect::PublishPolicyVersion),
        Transition::new(&["Published"], "Draft"),
        // Final: a policy brought back is a new policy, approved anew.
        Transition::new(&["Draft", "In Review", "Published"], "Retired")
            .by(Role::OrgAdmin)
            .with_comment()
            .then(Effect::RetirePolicy),
    ],
};

/// Nothing is sent for review, or published, without its text.
const HAS_TEXT: Guard = Guard {
    says: "it has a text (`body`)",
    holds: has_text,
};

fn has_text(data: &Map<String, Value>) -> bool {
    data.get("body")
        .and_then(Value::as_str)
        .is_some_and(|b| !b.trim().is_empty())
}

struct ReviewDue;

impl Due for ReviewDue {
    const RULE: DueRule = DueRule {
        status: "status",
        statuses: POLICY_STATUSES,
        open: &["Published"],
        date: "reviewBy",
    };
}

pub static POLICIES: ModuleDef = ModuleDef {
    name: "policies",
    entity_type: "policy",
    singular: "Policy",
    plural: "Policies",
    nouns: ("policy", "policies"),
    description: "A policy: its text (Markdown), owner, effective date and the controls it \
                  answers. Status Draft → In Review → Published, where publishing is the \
                  approval (by someone other than whoever sent it for review) and freezes the \
                  text as the next numbered version, which members acknowledge \
                  (`/api/policies/{id}/versions`). Editing happens in Draft; revising a \
                  published policy opens a new draft while the published version stays in \
                  force. Retiring (OrgAdmin, with a comment) is final.",
    read_role: Role::Viewer,
    fields: &[
        super::TITLE,
        FieldDef::enumeration("category", "Category", POLICY_CATEGORIES)
            .default_value("Information Security")
            .filter()
            .sort(),
        FieldDef::email("owner", "Owner (e-mail)")
            .filter()
            .sort()
            .search(),
        FieldDef::long_text("body", "Policy text (Markdown)", MAX_POLICY_BODY_CHARS).search(),
        FieldDef::date("effectiveDate", "Effective date")
            .required()
            .filter()
            .sort(),
        FieldDef::date("reviewBy", "Next review by").filter().sort(),
        FieldDef::control_ids("controls", "Controls it answers").filter(),
        FieldDef::enumeration("status", "Status", POLICY_STATUSES)
            .default_value("Draft")
            .filter()
            .sort(),
    ],
    derived: &[past_due::<ReviewDue>("reviewOverdue", "Review overdue")],
    rules: no_rules,
    csv_columns: &[
        "id",
        "title",
        "category",
        "status",
        "owner",
        "effectiveDate",
        "reviewBy",
        "reviewOverdue",
        "controls",
        "body",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "title",
    flow: Some(&FLOW),
    on_create: None,
    holds: &[Holding::PublishedVersions],
    remind: &[Remind {
        what: "Policy review",
        rule: &ReviewDue::RULE,
        to: "owner",
        headline: "title",
        details: &["category", "status"],
    }],
    starter_records: &[],
    retention: None,
};
