//! Data classification: the organization's own labels (Public, Internal, Confidential,
//! Restricted unless it says otherwise) and the data assets that carry them.

use crate::module::{FieldDef, ModuleDef};

/// The customary labels every new organization starts with (its own records from then on:
/// renamed, reworded, added to or deleted as it likes).
const STARTER_LABELS: &[&str] = &[
    r#"{"name": "Public", "rank": 1, "description": "Approved for release to anyone.",
        "handling": "No restrictions."}"#,
    r#"{"name": "Internal", "rank": 2,
        "description": "For the organization's people and contractors; not for public release.",
        "handling": "Share inside the organization; do not post publicly."}"#,
    r#"{"name": "Confidential", "rank": 3,
        "description": "Harm if disclosed: contracts, personnel and customer data.",
        "handling": "Need to know only; encrypted in transit and at rest."}"#,
    r#"{"name": "Restricted", "rank": 4,
        "description": "Serious harm if disclosed: CUI, export-controlled data, credentials.",
        "handling": "Named people only; encrypted; marked as its category requires."}"#,
];

pub static DATA_LABELS: ModuleDef = ModuleDef {
    name: "data-labels",
    entity_type: "data-label",
    singular: "Data label",
    plural: "Data labels",
    nouns: ("data_label", "data_labels"),
    description: "A classification label of the organization's own (e.g. Public, Internal, \
                  Confidential, Restricted), ranked by sensitivity (1 lowest), with its \
                  handling rules.",
    fields: &[
        FieldDef::text("name", "Name", 100)
            .required()
            .sort()
            .search(),
        FieldDef::integer("rank", "Sensitivity rank (1 lowest)", 1, 20)
            .filter()
            .sort(),
        FieldDef::long_text("description", "Description", 4000).search(),
        FieldDef::long_text("handling", "Handling rules (Markdown)", 8000),
        FieldDef::control_ids("controls", "Linked controls").filter(),
    ],
    csv_columns: &[
        "id",
        "name",
        "rank",
        "description",
        "handling",
        "controls",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "rank",
    starter_records: STARTER_LABELS,
    ..ModuleDef::PLAIN
};

pub static DATA_ASSETS: ModuleDef = ModuleDef {
    name: "data-assets",
    entity_type: "data-asset",
    singular: "Data asset",
    plural: "Data assets",
    nouns: ("data_asset", "data_assets"),
    description: "A data asset (a database, a share, a SaaS tenant) with its owner, \
                  classification label, location and retention. Filter `label=<label id>` \
                  to count the assets under a label.",
    fields: &[
        FieldDef::text("name", "Name", 300)
            .required()
            .sort()
            .search(),
        FieldDef::long_text("description", "Description", 4000).search(),
        FieldDef::email("owner", "Owner (e-mail)").filter().sort(),
        FieldDef::record_ref("label", "Classification label", "data-labels").filter(),
        FieldDef::text("location", "Location (system, region, vendor)", 500)
            .filter()
            .sort()
            .search(),
        FieldDef::integer("retentionDays", "Retention (days)", 0, 36_500)
            .filter()
            .sort(),
        FieldDef::tags("dataTypes", "Kinds of data (e.g. CUI, PII)").filter(),
        FieldDef::endpoint_refs("endpoints", "Endpoints holding it"),
        FieldDef::control_ids("controls", "Linked controls").filter(),
    ],
    csv_columns: &[
        "id",
        "name",
        "owner",
        "label",
        "location",
        "retentionDays",
        "dataTypes",
        "endpoints",
        "controls",
        "description",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "name",
    ..ModuleDef::PLAIN
};
