//! Exceptions: a request to live with a failing control for a while, with a business
//! justification and compensating controls, decided by an OrgAdmin other than the requester.

use serde_json::{Map, Value};
use time::Duration;

use crate::module::{Context, Effect, FieldDef, Flow, Guard, ModuleDef, Transition};
use crate::time::{format_date, parse_date};
use crate::{Role, ValidationErrors};

pub const EXCEPTION_STATUSES: &[&str] = &[
    "Pending",
    "Under Review",
    "Info Requested",
    "Second Approval",
    "Approved",
    "Denied",
    "Expired",
];
pub const RISK_LEVELS: &[&str] = &["Low", "Moderate", "High", "Critical"];

fn high_risk(data: &Map<String, Value>) -> bool {
    matches!(
        data.get("riskLevel").and_then(Value::as_str),
        Some("High" | "Critical")
    )
}

fn not_high_risk(data: &Map<String, Value>) -> bool {
    !high_risk(data)
}

const HIGH: Guard = Guard {
    says: "its risk level is High or Critical",
    holds: high_risk,
};

const BELOW_HIGH: Guard = Guard {
    says: "its risk level is below High (a High or Critical one goes to 'Second Approval' for the organization's designated exception approver)",
    holds: not_high_risk,
};

/// Submitted → reviewed by an OrgAdmin → approved or denied by an OrgAdmin who is not the
/// requester (four eyes), or sent back for information. A High or Critical one, once the
/// first OrgAdmin approves, waits for a second approver: the member the organization's
/// settings designate (not a role), who is neither the requester nor the first approver.
/// Decisions are a person's, never an assistant's; an approval ends early by expiry.
static FLOW: Flow = Flow {
    field: "status",
    initial: "Pending",
    // What a reviewer looks at and an approver approves no longer moves under them: to
    // change it, the exception goes back to the requester (Info Requested → Pending).
    editable: Some(&["Pending", "Info Requested"]),
    transitions: &[
        Transition::new(&["Pending"], "Under Review").by(Role::OrgAdmin),
        Transition::new(&["Under Review"], "Info Requested")
            .by(Role::OrgAdmin)
            .with_comment(),
        Transition::new(&["Info Requested"], "Pending"),
        Transition::new(&["Under Review"], "Approved")
            .by(Role::OrgAdmin)
            .when(BELOW_HIGH)
            .four_eyes()
            .by_person()
            .decision()
            .then(Effect::AcceptRisk),
        Transition::new(&["Under Review"], "Second Approval")
            .by(Role::OrgAdmin)
            .when(HIGH)
            .four_eyes()
            .by_person()
            .decision(),
        Transition::new(&["Second Approval"], "Approved")
            .by_designated_second()
            .four_eyes()
            .by_person()
            .decision()
            .then(Effect::AcceptRisk),
        Transition::new(&["Under Review"], "Denied")
            .by(Role::OrgAdmin)
            .four_eyes()
            .by_person()
            .with_comment()
            .decision(),
        Transition::new(&["Second Approval"], "Denied")
            .by_designated_second()
            .four_eyes()
            .by_person()
            .with_comment()
            .decision(),
        Transition::new(&["Second Approval"], "Under Review")
            .by(Role::OrgAdmin)
            .with_comment(),
        Transition::new(&["Approved"], "Expired")
            .by(Role::OrgAdmin)
            .with_comment()
            .then(Effect::EndAcceptances),
    ],
};

pub static EXCEPTIONS: ModuleDef = ModuleDef {
    name: "exceptions",
    entity_type: "exception",
    singular: "Exception",
    plural: "Exceptions",
    nouns: ("exception", "exceptions"),
    description: "A time-boxed exception to a control: justification, compensating controls, \
                  risk assessment and requested end date. Its status moves Pending → Under \
                  Review → Approved / Denied / Info Requested; an OrgAdmin other than the \
                  requester decides. A High or Critical one goes from Under Review to Second \
                  Approval, where the member the organization's settings designate as \
                  exception approver (not the requester, not the first approver) approves it. Approval creates the risk acceptances (overrides in \
                  posture): one per named endpoint, or one organization-wide; ending it early \
                  (Approved → Expired) revokes them.",
    read_role: Role::Viewer,
    fields: &[
        super::TITLE,
        FieldDef::control_id("control", "Affected control")
            .required()
            .filter()
            .sort(),
        FieldDef::endpoint_refs("endpoints", "Affected endpoints (none: every endpoint)").filter(),
        FieldDef::enumeration("riskLevel", "Risk level", RISK_LEVELS)
            .required()
            .filter()
            .sort(),
        FieldDef::long_text("justification", "Business justification", 8000)
            .required()
            .search(),
        FieldDef::long_text("compensatingControls", "Compensating controls", 8000).search(),
        FieldDef::long_text("riskAssessment", "Risk assessment", 8000),
        FieldDef::date("requestedUntil", "Requested until")
            .required()
            .filter()
            .sort(),
        FieldDef::enumeration("status", "Status", EXCEPTION_STATUSES)
            .default_value("Pending")
            .filter()
            .sort(),
    ],
    derived: &[],
    rules,
    csv_columns: &[
        "id",
        "title",
        "control",
        "endpoints",
        "riskLevel",
        "status",
        "requestedUntil",
        "justification",
        "compensatingControls",
        "riskAssessment",
        "createdBy",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "-createdAt",
    flow: Some(&FLOW),
    on_create: None,
    holds: &[],
    remind: &[],
    starter_records: &[],
    retention: None,
};

/// The end date is in the future and within the organization's longest acceptance.
fn rules(data: &Map<String, Value>, ctx: &Context, errors: &mut ValidationErrors) {
    let Some(until) = data
        .get("requestedUntil")
        .and_then(Value::as_str)
        .and_then(|s| parse_date(s).ok())
    else {
        return;
    };
    let latest = ctx.today + Duration::days(ctx.max_acceptance_days);
    if until <= ctx.today {
        errors.add("requestedUntil", "must be after today");
    } else if until > latest {
        errors.add(
            "requestedUntil",
            format!(
                "must be at most {} days from today ({})",
                ctx.max_acceptance_days,
                format_date(latest)
            ),
        );
    }
}
