//! Declarations: what a module is made of.

use serde_json::{Map, Value};
use time::Date;

use super::flow::Flow;
use super::query::Condition;
use crate::{Role, ValidationErrors};

/// A module of GRC records, declared once as a `static`.
pub struct ModuleDef {
    /// URL segment and module key: `/api/<name>`.
    pub name: &'static str,
    /// `entityType` in audit entries.
    pub entity_type: &'static str,
    /// Human names, for documents and pages.
    pub singular: &'static str,
    pub plural: &'static str,
    /// What an assistant calls one record and many, in snake case (`poam_item`,
    /// `poam_items`): the module's tools are `list_<many>`, `get_<one>`, `create_<one>`, …
    pub nouns: (&'static str, &'static str),
    pub description: &'static str,
    /// The least role that reads the module's records (lists, records, exports); writes
    /// need Admin. Most modules are for every member; some hold what only auditors and above
    /// should see (the command channel's scripts).
    pub read_role: Role,
    pub fields: &'static [FieldDef],
    pub derived: &'static [Derived],
    /// Rules across fields (e.g. "False Positive needs a justification"), run after every field
    /// has passed its own checks.
    pub rules: fn(&Map<String, Value>, &Context, &mut ValidationErrors),
    /// Columns of the CSV export, in order: field, derived or meta names.
    pub csv_columns: &'static [&'static str],
    /// Sort used when the client names none, e.g. `-createdAt`.
    pub default_sort: &'static str,
    /// The status flow, for modules whose status moves only by transitions.
    pub flow: Option<&'static Flow>,
    /// What recording a record also does, in the same transaction (a finding opens its
    /// corrective-action task).
    pub on_create: Option<super::Effect>,
    /// What a record keeps besides its fields, links and comments, which goes when it is
    /// deleted (the deletion's audit entry says how much).
    pub holds: &'static [Holding],
    /// The due dates its people are reminded of by email.
    pub remind: &'static [super::Remind],
    /// Records (as JSON bodies) every new organization starts with: the customary data
    /// labels. They are the organization's own from then on.
    pub starter_records: &'static [&'static str],
    /// Finished records an organization may choose to delete after a period of its own.
    pub retention: Option<RecordRetention>,
}

/// Which records of a module are finished, so that an organization may have them deleted a
/// number of days after their last change (`GET/PUT /api/settings/retention`, the retention
/// sweep): kept for ever unless the module or the organization names a period.
#[derive(Debug, Clone, Copy)]
pub struct RecordRetention {
    /// The status field (filterable), and its values in which a record is finished.
    pub status: &'static str,
    pub finished: &'static [&'static str],
    /// Days a finished record is kept when the organization chose nothing (`None`: for ever).
    pub default_days: Option<u32>,
}

/// Something a record of a module keeps besides its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holding {
    /// An audit's snapshots and auditor tokens: taking away what an outside auditor holds is
    /// an OrgAdmin's, as giving it is.
    AuditorAccess,
    /// Attached files (evidence): their bytes go once no record holds them.
    Files,
    /// A policy's published versions and the members' acknowledgements of them: the record
    /// of who agreed to what, so removing it is an OrgAdmin's.
    PublishedVersions,
}

impl ModuleDef {
    /// What a declaration need not spell out (`..ModuleDef::PLAIN`): read by every member, no
    /// derived fields, no rules across fields, no status flow, nothing done on create and
    /// nothing held besides fields, links and comments.
    pub const PLAIN: ModuleDef = ModuleDef {
        name: "",
        entity_type: "",
        singular: "",
        plural: "",
        nouns: ("", ""),
        description: "",
        read_role: Role::Viewer,
        fields: &[],
        derived: &[],
        rules: no_rules,
        csv_columns: &[],
        default_sort: "-createdAt",
        flow: None,
        on_create: None,
        holds: &[],
        remind: &[],
        starter_records: &[],
        retention: None,
    };

    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn derived(&self, name: &str) -> Option<&'static Derived> {
        self.derived.iter().find(|d| d.name == name)
    }
}

/// No rules beyond each field's own.
pub fn no_rules(_: &Map<String, Value>, _: &Context, _: &mut ValidationErrors) {}

/// What validation may depend on besides the input: today's date and the organization-wide
/// limits that rules enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub today: Date,
    /// The longest a risk acceptance may run, in days from today.
    pub max_acceptance_days: i64,
}

impl Context {
    /// Today, with default limits.
    pub fn on(today: Date) -> Self {
        Self {
            today,
            max_acceptance_days: 365,
        }
    }
}

/// One input field.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    /// Value used when the client sends none (enums such as a status).
    pub default: Option<&'static str>,
    /// Offered as a list filter (`?name=value`, or `name.gte`/`name.lte` for numbers and dates).
    pub filter: bool,
    /// Offered as a sort key (`?sort=name` or `?sort=-name`).
    pub sort: bool,
    /// Searched by the `q` parameter (case-insensitive substring).
    pub search: bool,
}

/// What a field holds, and so how it is validated, filtered, sorted and exported.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    /// One line of text, at most `max` characters.
    Text {
        max: usize,
    },
    /// Multi-line text (Markdown allowed), at most `max` characters.
    LongText {
        max: usize,
    },
    /// One of the listed values, exactly as spelled. Sorting follows the listed order.
    Enum(&'static [&'static str]),
    Integer {
        min: i64,
        max: i64,
    },
    Number {
        min: f64,
        max: f64,
    },
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// One control id, normalised to OSCAL form.
    ControlId,
    /// Control ids, normalised to OSCAL form (`AC-2(1)` becomes `ac-2.1`).
    ControlIds,
    /// The id of one of the organization's endpoints (the service checks it exists there).
    EndpointRef,
    /// Ids of the organization's endpoints, at most [`MAX_ENDPOINT_REFS`] (the service
    /// checks each exists there).
    EndpointRefs,
    /// The id of a record of the named module in the same organization (the service checks
    /// it exists there): a finding's audit, an acceptance's exception.
    RecordRef(&'static str),
    /// An e-mail address, stored trimmed and lower-cased (a member's or a contact's), so a
    /// filter on it matches however it was typed.
    Email,
    /// Short labels.
    Tags,
    /// A list of small objects (e.g. milestones), each with an integer `id` that the server
    /// assigns when absent and keeps across updates.
    Objects {
        fields: &'static [FieldDef],
        max_items: usize,
    },
    /// Named text values (`{"ac-02_odp.01": "quarterly"}`): at most `max_entries`, each value
    /// at most `max_len` characters. What the names may be is for the caller to check.
    TextMap {
        max_entries: usize,
        max_len: usize,
    },
}

/// Limits shared by list-valued fields.
pub const MAX_CONTROL_IDS: usize = 500;
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_LEN: usize = 64;
pub const MAX_ENDPOINT_REFS: usize = 100;

impl FieldDef {
    const fn new(name: &'static str, label: &'static str, kind: FieldKind) -> Self {
        Self {
            name,
            label,
            kind,
            required: false,
            default: None,
            filter: false,
            sort: false,
            search: false,
        }
    }

    pub const fn text(name: &'static str, label: &'static str, max: usize) -> Self {
        Self::new(name, label, FieldKind::Text { max })
    }

    pub const fn long_text(name: &'static str, label: &'static str, max: usize) -> Self {
        Self::new(name, label, FieldKind::LongText { max })
    }

    pub const fn enumeration(
        name: &'static str,
        label: &'static str,
        values: &'static [&'static str],
    ) -> Self {
        Self::new(name, label, FieldKind::Enum(values))
    }

    pub const fn integer(name: &'static str, label: &'static str, min: i64, max: i64) -> Self {
        Self::new(name, label, FieldKind::Integer { min, max })
    }

    pub const fn number(name: &'static str, label: &'static str, min: f64, max: f64) -> Self {
        Self::new(name, label, FieldKind::Number { min, max })
    }

    pub const fn date(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, FieldKind::Date)
    }

    pub const fn control_id(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, FieldKind::ControlId)
    }

    pub const fn endpoint_ref(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, FieldKind::EndpointRef)
    }

    pub const fn endpoint_refs(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, FieldKind::EndpointRefs)
    }

    pub const fn record_ref(name: &'static str, label: &'static str, module: &'static str) -> Self {
        Self::new(name, label, FieldKind::RecordRef(module))
    }

    pub const fn email(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, FieldKind::Email)
    }

    pub const fn control_ids(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, FieldKind::ControlIds)
    }

    pub const fn tags(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, FieldKind::Tags)
    }

    pub const fn objects(
        name: &'static str,
        label: &'static str,
        fields: &'static [FieldDef],
        max_items: usize,
    ) -> Self {
        Self::new(name, label, FieldKind::Objects { fields, max_items })
    }

    pub const fn text_map(
        name: &'static str,
        label: &'static str,
        max_entries: usize,
        max_len: usize,
    ) -> Self {
        Self::new(
            name,
            label,
            FieldKind::TextMap {
                max_entries,
                max_len,
            },
        )
    }

    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub const fn default_value(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }

    pub const fn filter(mut self) -> Self {
        self.filter = true;
        self
    }

    pub const fn sort(mut self) -> Self {
        self.sort = true;
        self
    }

    pub const fn search(mut self) -> Self {
        self.search = true;
        self
    }

    /// How the stored value compares in filters and sorts.
    pub fn value_type(&self) -> ValueType {
        match self.kind {
            FieldKind::Text { .. }
            | FieldKind::LongText { .. }
            | FieldKind::Date
            | FieldKind::ControlId
            | FieldKind::EndpointRef
            | FieldKind::RecordRef(_)
            | FieldKind::Email => ValueType::Text,
            FieldKind::Enum(values) => ValueType::Rank(values),
            FieldKind::Integer { .. } | FieldKind::Number { .. } => ValueType::Number,
            FieldKind::ControlIds
            | FieldKind::Tags
            | FieldKind::EndpointRefs
            | FieldKind::Objects { .. } => ValueType::List,
            FieldKind::TextMap { .. } => ValueType::List,
        }
    }
}

/// How a stored JSON value is compared by the store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueType {
    Text,
    Number,
    Bool,
    /// Text sorted by its position in the list (e.g. High, Moderate, Low).
    Rank(&'static [&'static str]),
    /// An array of strings.
    List,
}

/// Turns `name=<value>` on a read-time derived field into a store condition for `today`.
pub type DerivedFilter = fn(&str, Date) -> Result<Condition, String>;

/// When a derived field is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerivedWhen {
    /// On every write, from the record alone; stored, so it filters and sorts like a field.
    Write,
    /// On every read, because it depends on today's date; filtered through `filter`.
    Read,
}

/// A field the server computes (ALE, overdue, ...). Clients may send it back; it is ignored.
pub struct Derived {
    pub name: &'static str,
    pub label: &'static str,
    pub value_type: ValueType,
    pub when: DerivedWhen,
    pub compute: fn(&Map<String, Value>, Date) -> Value,
    /// For `Read` fields that can be filtered: the condition equivalent to `name=<value>`
    /// today, or why the value is not one the field can take.
    pub filter: Option<DerivedFilter>,
    pub sort: bool,
}
