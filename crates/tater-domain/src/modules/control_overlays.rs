//! An organization's tailoring of one catalog control (its "overlay"). Stored like a module
//! record, one per control, but served under `/api/controls/{id}/overlay` rather than as a
//! module of its own.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::Role;
use crate::module::{Context, FieldDef, ModuleDef};
use crate::{RecordId, ValidationErrors};

/// OSCAL implementation-status values.
pub const IMPLEMENTATION_STATUSES: &[&str] = &[
    "implemented",
    "partial",
    "planned",
    "alternative",
    "not-applicable",
];
pub const APPLICABILITY: &[&str] = &["applicable", "not-applicable"];

pub static CONTROL_OVERLAYS: ModuleDef = ModuleDef {
    name: "control-overlays",
    entity_type: "control-overlay",
    singular: "Control overlay",
    plural: "Control overlays",
    nouns: ("control_overlay", "control_overlays"),
    description: "An organization's tailoring of a catalog control: applicability, implementation status and narrative, responsible roles, parameter values, owner and notes.",
    read_role: Role::Viewer,
    fields: &[
        FieldDef::text("control", "Control id (set by the server)", 20),
        // No stored default: unset reads as "applicable", with provenance "default".
        FieldDef::enumeration("applicability", "Applicability", APPLICABILITY),
        FieldDef::long_text(
            "justification",
            "Justification (required when not applicable)",
            4000,
        ),
        FieldDef::enumeration(
            "implementationStatus",
            "Implementation status",
            IMPLEMENTATION_STATUSES,
        ),
        FieldDef::long_text("narrative", "Implementation narrative", 20_000),
        FieldDef::tags("responsibleRoles", "Responsible roles"),
        FieldDef::text_map(
            "parameterValues",
            "Parameter values (by parameter id)",
            100,
            1000,
        ),
        FieldDef::text("owner", "Control owner", 300),
        FieldDef::long_text("notes", "Notes", 8000),
    ],
    derived: &[],
    rules,
    csv_columns: &[
        "control",
        "applicability",
        "implementationStatus",
        "owner",
        "responsibleRoles",
        "narrative",
        "justification",
        "notes",
        "updatedAt",
    ],
    default_sort: "-updatedAt",
    flow: None,
    on_create: None,
    holds: &[],
    remind: &[],
    starter_records: &[],
    retention: None,
};

fn rules(data: &Map<String, Value>, _: &Context, errors: &mut ValidationErrors) {
    let text = |k: &str| data.get(k).and_then(Value::as_str);
    let not_applicable = text("applicability") == Some("not-applicable");
    if not_applicable && text("justification").is_none() {
        errors.add(
            "justification",
            "is required when the control is not applicable",
        );
    }
    if !not_applicable && text("implementationStatus") == Some("not-applicable") {
        errors.add(
            "implementationStatus",
            "is not-applicable only when applicability is not-applicable",
        );
    }
}

/// The fixed record id of `control`'s overlay, so each organization has at most one per control.
pub fn overlay_record_id(control: &str) -> RecordId {
    const NAMESPACE: Uuid = Uuid::from_u128(0x7a7e_0001_c0de_4c0a_8f1e_5e7a_11c0_b1a5);
    RecordId::from_uuid(Uuid::new_v5(&NAMESPACE, control.as_bytes()))
}
