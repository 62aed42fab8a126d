//! What an SSP needs that the catalog cannot know (issue: federal artifacts, item 2): the
//! system's name and description, FIPS 199 categorization, information types, boundary and
//! architecture, status, the people responsible, and the selected baseline. One record per
//! organization, served at `/api/system-profile` (OrgAdmin writes, audited).

use uuid::Uuid;

use crate::RecordId;
use crate::Role;
use crate::module::{FieldDef, ModuleDef, no_rules};

/// FIPS 199 impact levels (OSCAL writes them `fips-199-low` and so on).
pub const IMPACT_LEVELS: &[&str] = &["low", "moderate", "high"];
/// OSCAL system statuses.
pub const SYSTEM_STATUSES: &[&str] = &[
    "operational",
    "under-development",
    "under-major-modification",
    "disposition",
    "other",
];
/// The baselines an SSP can select (framework ids of the built-in catalog).
pub const BASELINES: &[&str] = &[
    "nist-800-53-rev5-low",
    "nist-800-53-rev5-moderate",
    "nist-800-53-rev5-high",
];

static INFORMATION_TYPE_FIELDS: [FieldDef; 5] = [
    FieldDef::text("title", "Title", 300).required(),
    FieldDef::long_text("description", "Description", 4000),
    FieldDef::enumeration("confidentiality", "Confidentiality impact", IMPACT_LEVELS),
    FieldDef::enumeration("integrity", "Integrity impact", IMPACT_LEVELS),
    FieldDef::enumeration("availability", "Availability impact", IMPACT_LEVELS),
];

pub static SYSTEM_PROFILE: ModuleDef = ModuleDef {
    name: "system-profile",
    entity_type: "system-profile",
    singular: "System profile",
    plural: "System profiles",
    nouns: ("system_profile", "system_profiles"),
    description: "The organization's system as an SSP describes it: name, categorization, boundary, people, baseline.",
    read_role: Role::Viewer,
    fields: &[
        FieldDef::text("name", "System name", 300).required(),
        FieldDef::text("abbreviation", "Abbreviation", 40),
        FieldDef::long_text("description", "Description", 20_000),
        FieldDef::enumeration("status", "Status", SYSTEM_STATUSES).default_value("operational"),
        FieldDef::enumeration(
            "confidentiality",
            "Confidentiality impact (FIPS 199)",
            IMPACT_LEVELS,
        ),
        FieldDef::enumeration("integrity", "Integrity impact (FIPS 199)", IMPACT_LEVELS),
        FieldDef::enumeration(
            "availability",
            "Availability impact (FIPS 199)",
            IMPACT_LEVELS,
        ),
        FieldDef::objects(
            "informationTypes",
            "Information types",
            &INFORMATION_TYPE_FIELDS,
            50,
        ),
        FieldDef::long_text("authorizationBoundary", "Authorization boundary", 20_000),
        FieldDef::long_text("networkArchitecture", "Network architecture", 20_000),
        FieldDef::long_text("dataFlow", "Data flow", 20_000),
        FieldDef::text("systemOwnerName", "System owner", 200),
        FieldDef::text("systemOwnerEmail", "System owner's email", 254),
        FieldDef::text("issoName", "ISSO", 200),
        FieldDef::text("issoEmail", "ISSO's email", 254),
        FieldDef::text("authorizingOfficialName", "Authorizing official", 200),
        FieldDef::text(
            "authorizingOfficialEmail",
            "Authorizing official's email",
            254,
        ),
        FieldDef::enumeration("baseline", "Selected baseline", BASELINES)
            .default_value("nist-800-53-rev5-moderate"),
        // What the eMASS POA&M header block and banner carry.
        FieldDef::text("issoPhone", "ISSO's phone", 50),
        FieldDef::text("classification", "Classification marking", 100)
            .default_value("CONTROLLED UNCLASSIFIED INFORMATION"),
        FieldDef::text("component", "CC/S/A/FA (DoD component)", 200),
        FieldDef::text("itRegistrationNumber", "DoD IT registration number", 50),
        FieldDef::text("systemType", "System type (eMASS)", 100),
        FieldDef::text("ombProjectId", "OMB project ID", 100),
        FieldDef::text("securityCosts", "Security costs", 100),
    ],
    derived: &[],
    rules: no_rules,
    csv_columns: &[
        "id",
        "name",
        "abbreviation",
        "status",
        "baseline",
        "version",
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

/// The profile's record id (the same in every organization; records are per tenant).
pub fn system_profile_record_id() -> RecordId {
    const NAMESPACE: Uuid = Uuid::from_u128(0x7a7e_0002_5935_4e1d_9c0f_3d2a_6b1e_77a1);
    RecordId::from_uuid(Uuid::new_v5(&NAMESPACE, b"system-profile"))
}
