//! Audits: an assessment of the program against a framework over a period, run by a lead
//! auditor through planning, fieldwork, review and reporting to completion.

use serde_json::{Map, Value};

use crate::module::{Context, FieldDef, Flow, Holding, ModuleDef, Transition};
use crate::time::parse_date;
use crate::{Role, ValidationErrors};

pub const AUDIT_STATUSES: &[&str] = &["Planning", "Fieldwork", "Review", "Reporting", "Complete"];
pub const FRAMEWORKS: &[&str] = &[
    "NIST SP 800-53",
    "NIST SP 800-171",
    "CMMC",
    "FedRAMP",
    "ISO 27001",
    "SOC 2",
    "Internal",
];

/// Forward one phase at a time; back one phase with a reason. Completing is the decision
/// (the record as it stood is kept), and only an OrgAdmin reopens a completed audit.
static FLOW: Flow = Flow {
    field: "status",
    initial: "Planning",
    // A completed audit's period, scope and auditor are what its report says they were.
    editable: Some(&["Planning", "Fieldwork", "Review", "Reporting"]),
    transitions: &[
        Transition::new(&["Planning"], "Fieldwork"),
        Transition::new(&["Fieldwork"], "Review"),
        Transition::new(&["Review"], "Reporting"),
        Transition::new(&["Reporting"], "Complete").decision(),
        Transition::new(&["Fieldwork"], "Planning").with_comment(),
        Transition::new(&["Review"], "Fieldwork").with_comment(),
        Transition::new(&["Reporting"], "Review").with_comment(),
        Transition::new(&["Complete"], "Reporting")
            .by(Role::OrgAdmin)
            .with_comment(),
    ],
};

pub static AUDITS: ModuleDef = ModuleDef {
    name: "audits",
    entity_type: "audit",
    singular: "Audit",
    plural: "Audits",
    nouns: ("audit", "audits"),
    description: "An audit or assessment: framework, period, the controls in scope (none: \
                  every control) and the lead auditor. Its status moves Planning → Fieldwork → \
                  Review → Reporting → Complete, one phase at a time (back one phase with a \
                  comment). Its findings are in `findings` (filter `audit=<id>`).",
    read_role: Role::Viewer,
    fields: &[
        super::TITLE,
        FieldDef::enumeration("framework", "Framework", FRAMEWORKS)
            .required()
            .filter()
            .sort(),
        FieldDef::date("periodStart", "Period start")
            .required()
            .filter()
            .sort(),
        FieldDef::date("periodEnd", "Period end")
            .required()
            .filter()
            .sort(),
        FieldDef::control_ids("scope", "Controls in scope (none: every control)").filter(),
        FieldDef::long_text("scopeNotes", "Scope (systems, sites, exclusions)", 8000).search(),
        FieldDef::email("leadAuditor", "Lead auditor (e-mail)")
            .filter()
            .sort()
            .search(),
        FieldDef::text(
            "auditingBody",
            "Auditing body (firm, C3PAO, internal team)",
            300,
        )
        .filter()
        .search(),
        FieldDef::enumeration("status", "Status", AUDIT_STATUSES)
            .default_value("Planning")
            .filter()
            .sort(),
    ],
    derived: &[],
    rules,
    csv_columns: &[
        "id",
        "title",
        "framework",
        "status",
        "periodStart",
        "periodEnd",
        "leadAuditor",
        "auditingBody",
        "scope",
        "scopeNotes",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "-periodStart",
    flow: Some(&FLOW),
    on_create: None,
    holds: &[Holding::AuditorAccess],
    remind: &[],
    starter_records: &[],
    retention: None,
};

/// The period ends on or after it starts.
fn rules(data: &Map<String, Value>, _: &Context, errors: &mut ValidationErrors) {
    let date = |name: &str| {
        data.get(name)
            .and_then(Value::as_str)
            .and_then(|s| parse_date(s).ok())
    };
    if let (Some(start), Some(end)) = (date("periodStart"), date("periodEnd"))
        && end < start
    {
        errors.add("periodEnd", "must be on or after the period start");
    }
}
