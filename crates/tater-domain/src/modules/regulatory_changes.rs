//! Regulatory change management: a new or changed regulation, where it applies, when it takes
//! effect, what it does to the program, and the tasks opened from it.

use crate::module::{
    Due, DueRule, Effect, FieldDef, Flow, ModuleDef, RecordRetention, Remind, Transition, past_due,
};

pub const IMPACT_LEVELS: &[&str] = &["High", "Moderate", "Low", "None"];
pub const REGULATORY_STATUSES: &[&str] =
    &["New", "Assessing", "Implementing", "Done", "Not applicable"];

static FLOW: Flow = Flow {
    field: "status",
    initial: "New",
    editable: None,
    transitions: &[
        Transition::new(&["New"], "Assessing"),
        Transition::new(&["New", "Assessing"], "Implementing").then(Effect::OpenFollowUpTask {
            module: "regulatory-changes",
            about: "summary",
            source: "Regulatory change",
        }),
        Transition::new(&["Assessing", "Implementing"], "Done").decision(),
        Transition::new(&["New", "Assessing"], "Not applicable")
            .with_comment()
            .decision(),
        Transition::new(&["Done", "Not applicable"], "Assessing").with_comment(),
    ],
};

struct NotReady;
impl Due for NotReady {
    const RULE: DueRule = DueRule {
        status: "status",
        statuses: REGULATORY_STATUSES,
        open: &["New", "Assessing", "Implementing"],
        date: "effectiveDate",
    };
}

pub static REGULATORY_CHANGES: ModuleDef = ModuleDef {
    name: "regulatory-changes",
    entity_type: "regulatory-change",
    singular: "Regulatory change",
    plural: "Regulatory changes",
    nouns: ("regulatory_change", "regulatory_changes"),
    description: "A new or amended regulation (e.g. DFARS 252.204-7012, CMMC 2.0): where it \
                  applies, when it takes effect, its impact and the controls it touches; link \
                  the tasks opened from it. `pastEffective=true` lists those in effect but \
                  not yet done.",
    fields: &[
        super::TITLE,
        FieldDef::text("regulation", "Regulation", 300)
            .required()
            .filter()
            .sort()
            .search(),
        FieldDef::text("jurisdiction", "Jurisdiction", 200)
            .filter()
            .sort(),
        FieldDef::date("publishedOn", "Published on")
            .filter()
            .sort(),
        FieldDef::date("effectiveDate", "Effective date")
            .filter()
            .sort(),
        FieldDef::enumeration("impact", "Impact", IMPACT_LEVELS)
            .filter()
            .sort(),
        FieldDef::enumeration("status", "Status", REGULATORY_STATUSES)
            .default_value("New")
            .filter()
            .sort(),
        FieldDef::long_text("summary", "Summary (Markdown)", 8000).search(),
        FieldDef::text("source", "Source (URL or citation)", 2000),
        FieldDef::email("owner", "Owner (e-mail)").filter().sort(),
        FieldDef::control_ids("controls", "Controls affected").filter(),
    ],
    derived: &[past_due::<NotReady>("pastEffective", "In effect, not done")],
    csv_columns: &[
        "id",
        "title",
        "regulation",
        "jurisdiction",
        "publishedOn",
        "effectiveDate",
        "pastEffective",
        "impact",
        "status",
        "owner",
        "controls",
        "source",
        "summary",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "effectiveDate",
    flow: Some(&FLOW),
    remind: &[Remind {
        what: "Regulatory change",
        rule: &NotReady::RULE,
        to: "owner",
        headline: "title",
        details: &["regulation", "impact", "status"],
    }],
    retention: Some(RecordRetention {
        status: "status",
        finished: &["Done", "Not applicable"],
        default_days: None,
    }),
    ..ModuleDef::PLAIN
};
