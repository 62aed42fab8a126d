//! User access reviews: a campaign over the organization's members and API keys, an item per
//! account with its reviewer's decision (keep, revoke, change role) and the reason.

use serde_json::{Map, Value};

use crate::module::{
    Context, Due, DueRule, FieldDef, Flow, ModuleDef, Remind, Transition, past_due,
};
use crate::{Role, ValidationErrors};

pub const REVIEW_SCOPES: &[&str] = &["Members", "API keys", "Members and API keys"];
pub const REVIEW_STATUSES: &[&str] = &["Open", "In Review", "Completed", "Cancelled"];
pub const SUBJECT_TYPES: &[&str] = &["Member", "API key"];
pub const DECISIONS: &[&str] = &["Pending", "Keep", "Revoke", "Change role"];
/// The organization roles an account can hold, spelled as the members API spells them.
pub const ACCOUNT_ROLES: &[&str] = &["viewer", "auditor", "admin", "orgadmin"];

static FLOW: Flow = Flow {
    field: "status",
    initial: "Open",
    editable: Some(&["Open", "In Review"]),
    transitions: &[
        Transition::new(&["Open"], "In Review"),
        Transition::new(&["Open", "In Review"], "Completed")
            .by(Role::OrgAdmin)
            .decision(),
        Transition::new(&["Open", "In Review"], "Cancelled").with_comment(),
        Transition::new(&["Completed", "Cancelled"], "In Review")
            .by(Role::OrgAdmin)
            .with_comment(),
    ],
};

struct ReviewDue;
impl Due for ReviewDue {
    const RULE: DueRule = DueRule {
        status: "status",
        statuses: REVIEW_STATUSES,
        open: &["Open", "In Review"],
        date: "dueDate",
    };
}

pub static ACCESS_REVIEWS: ModuleDef = ModuleDef {
    name: "access-reviews",
    entity_type: "access-review",
    singular: "Access review",
    plural: "Access reviews",
    nouns: ("access_review", "access_reviews"),
    description: "A periodic review of who holds access to the organization (members, API keys \
                  or both), its reviewer and due date. Its items are the access-review-items \
                  whose `review` is this id.",
    read_role: Role::Auditor,
    fields: &[
        super::TITLE,
        FieldDef::enumeration("scope", "Scope", REVIEW_SCOPES)
            .default_value("Members and API keys")
            .filter(),
        FieldDef::enumeration("status", "Status", REVIEW_STATUSES)
            .default_value("Open")
            .filter()
            .sort(),
        FieldDef::email("reviewer", "Lead reviewer (e-mail)")
            .filter()
            .sort(),
        FieldDef::date("dueDate", "Due date").filter().sort(),
        FieldDef::control_ids("controls", "Linked controls (e.g. AC-2)").filter(),
    ],
    derived: &[past_due::<ReviewDue>("overdue", "Overdue")],
    remind: &[Remind {
        what: "Access review",
        rule: &ReviewDue::RULE,
        to: "reviewer",
        headline: "title",
        details: &["scope", "status"],
    }],
    csv_columns: &[
        "id",
        "title",
        "scope",
        "status",
        "reviewer",
        "dueDate",
        "overdue",
        "controls",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "dueDate",
    flow: Some(&FLOW),
    ..ModuleDef::PLAIN
};

pub static ACCESS_REVIEW_ITEMS: ModuleDef = ModuleDef {
    name: "access-review-items",
    entity_type: "access-review-item",
    singular: "Access review item",
    plural: "Access review items",
    nouns: ("access_review_item", "access_review_items"),
    description: "One account under review: a member (by e-mail) or an API key (by its \
                  prefix), the role it holds, its reviewer, and the decision — keep, revoke or \
                  change role — with the justification.",
    read_role: Role::Auditor,
    fields: &[
        FieldDef::text("subject", "Account (e-mail or key prefix)", 300)
            .required()
            .filter()
            .sort()
            .search(),
        FieldDef::record_ref("review", "Review", "access-reviews").filter(),
        FieldDef::enumeration("subjectType", "Account type", SUBJECT_TYPES)
            .default_value("Member")
            .filter(),
        FieldDef::enumeration("currentRole", "Role held", ACCOUNT_ROLES)
            .filter()
            .sort(),
        FieldDef::email("reviewer", "Reviewer (e-mail)")
            .filter()
            .sort(),
        FieldDef::enumeration("decision", "Decision", DECISIONS)
            .default_value("Pending")
            .filter()
            .sort(),
        FieldDef::enumeration("newRole", "New role (for Change role)", ACCOUNT_ROLES),
        FieldDef::long_text("justification", "Justification", 4000),
    ],
    rules: item_rules,
    csv_columns: &[
        "id",
        "review",
        "subjectType",
        "subject",
        "currentRole",
        "reviewer",
        "decision",
        "newRole",
        "justification",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "subject",
    ..ModuleDef::PLAIN
};

/// A decision other than keeping the account says why; a role change names the new role.
fn item_rules(data: &Map<String, Value>, _: &Context, errors: &mut ValidationErrors) {
    let decision = super::text_of(data, "decision");
    if matches!(decision, Some("Revoke" | "Change role"))
        && super::text_of(data, "justification").is_none()
    {
        errors.add(
            "justification",
            "is required to revoke access or change a role",
        );
    }
    if decision == Some("Change role") && super::text_of(data, "newRole").is_none() {
        errors.add("newRole", "is required to change a role");
    }
    if decision == Some("Change role") && super::text_of(data, "subjectType") == Some("API key") {
        errors.add(
            "decision",
            "an API key's role cannot change: keep or revoke it",
        );
    }
}
