//! The script library of the command channel (issue: endpoint agent, item 5): scripts an Admin
//! may run on enrolled endpoints when the organization has turned remote execution on and the
//! endpoint's own configuration allows it. Every save raises `version`; jobs record the
//! version they ran.

use crate::Role;
use crate::module::{FieldDef, ModuleDef, no_rules};

pub const LANGUAGES: &[&str] = &["bash", "powershell"];
pub const RISK_LEVELS: &[&str] = &["Low", "Medium", "High"];
/// The script text itself; 64 KiB is a long script.
pub const MAX_CONTENT_CHARS: usize = 65_536;

pub static SCRIPTS: ModuleDef = ModuleDef {
    name: "scripts",
    entity_type: "script",
    singular: "Script",
    plural: "Scripts",
    nouns: ("script", "scripts"),
    description: "A script for the command channel. Its `version` goes up on every save. Readable from Auditor up: scripts run as root and may carry secrets.",
    read_role: Role::Auditor,
    fields: &[
        FieldDef::text("name", "Name", 100)
            .required()
            .sort()
            .search(),
        FieldDef::long_text("description", "Description", 4000).search(),
        FieldDef::enumeration("language", "Language", LANGUAGES)
            .required()
            .filter(),
        FieldDef::enumeration("riskLevel", "Risk level", RISK_LEVELS)
            .required()
            .filter()
            .sort(),
        FieldDef::text("runAs", "Run as (user)", 32).default_value("root"),
        FieldDef::integer("timeoutSecs", "Timeout (seconds, 5–3600)", 5, 3600)
            .required()
            .sort(),
        FieldDef::long_text("content", "Script", MAX_CONTENT_CHARS).required(),
    ],
    derived: &[],
    rules: no_rules,
    csv_columns: &[
        "id",
        "name",
        "version",
        "language",
        "riskLevel",
        "runAs",
        "timeoutSecs",
        "description",
        "content",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "name",
    flow: None,
    on_create: None,
    holds: &[],
    remind: &[],
    starter_records: &[],
    retention: None,
};
