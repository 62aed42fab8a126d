//! Third-party risk: vendors with their risk tier, contract and data, and the assessments
//! that rate them (with a questionnaire response).

use crate::module::{Due, DueRule, FieldDef, ModuleDef, Remind, past_due};

pub const RISK_TIERS: &[&str] = &["Critical", "High", "Medium", "Low"];
pub const VENDOR_STATUSES: &[&str] = &["Prospective", "Active", "Offboarding", "Terminated"];
pub const ASSESSMENT_RESULTS: &[&str] = &["Approved", "Approved with conditions", "Rejected"];

struct AssessmentDue;
impl Due for AssessmentDue {
    const RULE: DueRule = DueRule {
        status: "status",
        statuses: VENDOR_STATUSES,
        open: &["Prospective", "Active"],
        date: "nextAssessment",
    };
}

pub static VENDORS: ModuleDef = ModuleDef {
    name: "vendors",
    entity_type: "vendor",
    singular: "Vendor",
    plural: "Vendors",
    nouns: ("vendor", "vendors"),
    description: "A vendor or service provider: risk tier, status, the services it provides and \
                  the data shared with it, contract dates, owner and next assessment. \
                  `assessmentOverdue=true` lists the vendors past their assessment date.",
    fields: &[
        FieldDef::text("name", "Name", 300)
            .required()
            .sort()
            .search(),
        FieldDef::enumeration("riskTier", "Risk tier", RISK_TIERS)
            .filter()
            .sort(),
        FieldDef::enumeration("status", "Status", VENDOR_STATUSES)
            .default_value("Prospective")
            .filter()
            .sort(),
        FieldDef::long_text("services", "Services provided", 4000).search(),
        FieldDef::tags("dataShared", "Data shared (e.g. CUI, PII)").filter(),
        FieldDef::text("website", "Website", 2000),
        FieldDef::date("contractStart", "Contract start")
            .filter()
            .sort(),
        FieldDef::date("contractEnd", "Contract end")
            .filter()
            .sort(),
        FieldDef::email("owner", "Owner (e-mail)").filter().sort(),
        FieldDef::date("nextAssessment", "Next assessment due")
            .filter()
            .sort(),
        FieldDef::control_ids("controls", "Linked controls (e.g. SR-6, SA-9)").filter(),
    ],
    derived: &[past_due::<AssessmentDue>(
        "assessmentOverdue",
        "Assessment overdue",
    )],
    rules: |data, _, errors| super::dates_in_order(data, "contractStart", "contractEnd", errors),
    csv_columns: &[
        "id",
        "name",
        "riskTier",
        "status",
        "services",
        "dataShared",
        "website",
        "contractStart",
        "contractEnd",
        "owner",
        "nextAssessment",
        "assessmentOverdue",
        "controls",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "name",
    remind: &[Remind {
        what: "Vendor assessment",
        rule: &AssessmentDue::RULE,
        to: "owner",
        headline: "name",
        details: &["riskTier", "status"],
    }],
    ..ModuleDef::PLAIN
};

pub static VENDOR_ASSESSMENTS: ModuleDef = ModuleDef {
    name: "vendor-assessments",
    entity_type: "vendor-assessment",
    singular: "Vendor assessment",
    plural: "Vendor assessments",
    nouns: ("vendor_assessment", "vendor_assessments"),
    description: "An assessment of a vendor on a date: the questionnaire response it rests on, \
                  the assessor, the resulting tier and decision, and when to assess again.",
    fields: &[
        super::TITLE,
        FieldDef::record_ref("vendor", "Vendor", "vendors").filter(),
        FieldDef::record_ref(
            "questionnaire",
            "Questionnaire response",
            "questionnaire-responses",
        )
        .filter(),
        FieldDef::email("assessor", "Assessor (e-mail)")
            .filter()
            .sort(),
        FieldDef::date("assessedOn", "Assessed on")
            .required()
            .filter()
            .sort(),
        FieldDef::enumeration("riskTier", "Resulting risk tier", RISK_TIERS)
            .filter()
            .sort(),
        FieldDef::enumeration("result", "Decision", ASSESSMENT_RESULTS)
            .filter()
            .sort(),
        FieldDef::long_text("conditions", "Conditions and notes", 8000).search(),
        FieldDef::date("nextAssessment", "Next assessment due")
            .filter()
            .sort(),
    ],
    rules: |data, _, errors| {
        if super::text_of(data, "result") == Some("Approved with conditions")
            && super::text_of(data, "conditions").is_none()
        {
            errors.add("conditions", "is required when the approval has conditions");
        }
    },
    csv_columns: &[
        "id",
        "title",
        "vendor",
        "questionnaire",
        "assessor",
        "assessedOn",
        "riskTier",
        "result",
        "conditions",
        "nextAssessment",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "-assessedOn",
    ..ModuleDef::PLAIN
};
