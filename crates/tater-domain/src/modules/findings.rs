//! Findings: what an audit (or an assessment, a test) found wrong, each with a
//! corrective-action task opened when it is recorded, and a POA&M item when it is to be
//! tracked there.

use crate::Role;
use crate::module::{Effect, FieldDef, Flow, ModuleDef, Transition, no_rules};

pub const FINDING_STATUSES: &[&str] = &["Open", "Tracked in POA&M", "Closed"];
pub const SEVERITIES: &[&str] = &["Critical", "High", "Moderate", "Low", "Informational"];

/// A finding is open until someone verifies it closed (a decision, with how it was
/// verified); on the way it may be taken into the POA&M, which opens an item for it.
static FLOW: Flow = Flow {
    field: "status",
    initial: "Open",
    // What the auditor found stays as found once it is decided.
    editable: Some(&["Open", "Tracked in POA&M"]),
    transitions: &[
        Transition::new(&["Open"], "Tracked in POA&M").then(Effect::OpenPoamItem),
        Transition::new(&["Open", "Tracked in POA&M"], "Closed")
            .by_person()
            .with_comment()
            .decision(),
        Transition::new(&["Closed"], "Open").with_comment(),
    ],
};

pub static FINDINGS: ModuleDef = ModuleDef {
    name: "findings",
    entity_type: "finding",
    singular: "Finding",
    plural: "Findings",
    nouns: ("finding", "findings"),
    description: "An audit finding: severity, the control concerned, what was found and what \
                  is recommended, optionally the audit it came from. Recording one opens a \
                  corrective-action task (linked, assigned to `owner`, due `dueDate`). Its \
                  status moves Open → Tracked in POA&M (which opens a linked POA&M item) → \
                  Closed; closing needs a comment saying how the fix was verified.",
    read_role: Role::Viewer,
    fields: &[
        super::TITLE,
        FieldDef::record_ref("audit", "Audit", "audits").filter(),
        FieldDef::enumeration("severity", "Severity", SEVERITIES)
            .required()
            .filter()
            .sort(),
        FieldDef::control_id("control", "Control")
            .required()
            .filter()
            .sort(),
        FieldDef::long_text("description", "What was found (Markdown)", 8000)
            .required()
            .search(),
        FieldDef::long_text("recommendation", "Recommendation (Markdown)", 8000).search(),
        FieldDef::email("owner", "Owner of the corrective action (e-mail)")
            .filter()
            .sort()
            .search(),
        FieldDef::date("dueDate", "Corrective action due")
            .filter()
            .sort(),
        FieldDef::enumeration("status", "Status", FINDING_STATUSES)
            .default_value("Open")
            .filter()
            .sort(),
    ],
    derived: &[],
    rules: no_rules,
    csv_columns: &[
        "id",
        "title",
        "audit",
        "severity",
        "control",
        "status",
        "owner",
        "dueDate",
        "description",
        "recommendation",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "-createdAt",
    flow: Some(&FLOW),
    on_create: Some(Effect::OpenCorrectiveTask),
    holds: &[],
    remind: &[],
    starter_records: &[],
    retention: None,
};
