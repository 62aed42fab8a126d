//! Evidence: what shows a control is met — text now, files attached to it — with who or what
//! collected it and until when it holds.

use crate::Role;
use crate::module::{
    Due, DueRule, FieldDef, Flow, Holding, ModuleDef, Transition, no_rules, past_due,
};

pub const COLLECTORS: &[&str] = &["person", "agent", "ai"];
/// Drafts (an assistant's above all) wait for a person to accept or reject them.
pub const EVIDENCE_STATUSES: &[&str] = &["draft", "accepted", "rejected"];

/// Accepted evidence stops counting once its valid-until date has passed.
/// A person decides on a draft (never an AI assistant: its drafts wait for a person); a
/// decision can be taken back to draft with a reason.
static FLOW: Flow = Flow {
    field: "status",
    initial: "draft",
    editable: Some(&["draft"]),
    transitions: &[
        Transition::new(&["draft"], "accepted")
            .by_person()
            .decision(),
        Transition::new(&["draft"], "rejected")
            .by_person()
            .with_comment()
            .decision(),
        Transition::new(&["accepted", "rejected"], "draft").with_comment(),
    ],
};

struct Expired;

impl Due for Expired {
    const RULE: DueRule = DueRule {
        status: "status",
        statuses: EVIDENCE_STATUSES,
        open: &["accepted"],
        date: "validUntil",
    };
}

pub static EVIDENCE: ModuleDef = ModuleDef {
    name: "evidence",
    entity_type: "evidence",
    singular: "Evidence",
    plural: "Evidence",
    nouns: ("evidence_item", "evidence_items"),
    description: "Evidence for controls: a description or excerpt, who collected it \
                  (`person`, `agent` or `ai`), its review status and how long it holds.",
    read_role: Role::Viewer,
    fields: &[
        super::TITLE,
        FieldDef::long_text("description", "Description or excerpt (Markdown)", 65_536).search(),
        FieldDef::control_ids("controls", "Controls it supports").filter(),
        FieldDef::enumeration("collectedBy", "Collected by", COLLECTORS)
            .default_value("person")
            .filter()
            .sort(),
        FieldDef::enumeration("status", "Status", EVIDENCE_STATUSES)
            .default_value("draft")
            .filter()
            .sort(),
        FieldDef::date("collectedOn", "Collected on")
            .filter()
            .sort(),
        FieldDef::date("validUntil", "Valid until").filter().sort(),
        FieldDef::text("source", "Source (system, report, URL)", 1000).search(),
        FieldDef::tags("tags", "Tags").filter(),
    ],
    derived: &[past_due::<Expired>("expired", "Expired")],
    rules: no_rules,
    csv_columns: &[
        "id",
        "title",
        "controls",
        "collectedBy",
        "status",
        "collectedOn",
        "validUntil",
        "expired",
        "source",
        "tags",
        "description",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "-createdAt",
    flow: Some(&FLOW),
    on_create: None,
    holds: &[Holding::Files],
    remind: &[],
    starter_records: &[],
    retention: None,
};
