//! People: the compliance program's contacts (owners of controls, risks, policies and tasks),
//! who need not hold an account.

use crate::Role;
use crate::module::{FieldDef, ModuleDef, no_rules};

pub static PEOPLE: ModuleDef = ModuleDef {
    name: "people",
    entity_type: "person",
    singular: "Person",
    plural: "People",
    nouns: ("person", "people"),
    description: "A compliance contact: someone who owns controls, risks, policies or tasks. \
                  `member` is the user id of the organization's member with the same e-mail \
                  address (null when none is), kept by the server.",
    read_role: Role::Viewer,
    fields: &[
        FieldDef::text("name", "Name", 200)
            .required()
            .sort()
            .search(),
        FieldDef::email("email", "E-mail")
            .required()
            .filter()
            .sort()
            .search(),
        FieldDef::text("department", "Department", 200)
            .filter()
            .sort()
            .search(),
        FieldDef::text("title", "Job title", 200).sort().search(),
        FieldDef::text("phone", "Phone", 50),
        FieldDef::tags("tags", "Tags").filter(),
        FieldDef::long_text("notes", "Notes", 4000),
        // Whatever a client sends, the server sets it: the member of the organization whose
        // e-mail address this is, as it stands when the record is written or read.
        FieldDef::text("member", "Member with this e-mail (set by the server)", 64),
    ],
    derived: &[],
    rules: no_rules,
    csv_columns: &[
        "id",
        "name",
        "email",
        "department",
        "title",
        "phone",
        "tags",
        "notes",
        "member",
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
