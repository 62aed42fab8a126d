//! Customer-authored configuration documents (SPEC D1).

use crate::Role;
use crate::module::{FieldDef, ModuleDef, no_rules};

/// 256 KiB of Markdown is a long document; the request limit is 1 MiB.
const MAX_BODY_CHARS: usize = 262_144;

pub static CONFIG_DOCS: ModuleDef = ModuleDef {
    name: "config-docs",
    entity_type: "config-doc",
    singular: "Configuration document",
    plural: "Configuration documents",
    nouns: ("config_doc", "config_docs"),
    description: "A configuration document in Markdown. Its `version` goes up on every update.",
    read_role: Role::Viewer,
    fields: &[
        super::TITLE,
        FieldDef::long_text("body", "Body (Markdown)", MAX_BODY_CHARS).search(),
        FieldDef::tags("tags", "Tags").filter(),
        FieldDef::control_ids("controls", "Linked controls").filter(),
    ],
    derived: &[],
    rules: no_rules,
    csv_columns: &[
        "id",
        "title",
        "version",
        "tags",
        "controls",
        "body",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "title",
    flow: None,
    on_create: None,
    holds: &[],
    remind: &[],
    starter_records: &[],
    retention: None,
};
