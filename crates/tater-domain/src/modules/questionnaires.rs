//! Questionnaires: templates of sectioned questions with answer types and weights, and
//! responses (a vendor's, or an internal scope's) scored from their answers.

use serde_json::{Map, Value};

use crate::module::{Derived, DerivedWhen, FieldDef, Flow, ModuleDef, Transition, ValueType};

pub const ANSWER_TYPES: &[&str] = &["Yes/No", "Text", "Scale 1-5", "Choice"];
pub const RESPONSE_SCOPES: &[&str] = &["Vendor", "Internal"];
pub const RESPONSE_STATUSES: &[&str] = &["Draft", "Submitted", "Reviewed"];

static QUESTION_FIELDS: [FieldDef; 5] = [
    FieldDef::text("section", "Section", 200),
    FieldDef::long_text("question", "Question", 2000).required(),
    FieldDef::enumeration("answerType", "Answer type", ANSWER_TYPES).default_value("Yes/No"),
    FieldDef::text("choices", "Choices (for Choice; separated by |)", 1000),
    FieldDef::integer("weight", "Weight", 0, 100),
];

pub static QUESTIONNAIRE_TEMPLATES: ModuleDef = ModuleDef {
    name: "questionnaire-templates",
    entity_type: "questionnaire-template",
    singular: "Questionnaire template",
    plural: "Questionnaire templates",
    nouns: ("questionnaire_template", "questionnaire_templates"),
    description: "A questionnaire: questions in sections, each with an answer type and a \
                  weight, at most 500.",
    fields: &[
        super::TITLE,
        FieldDef::long_text("description", "Description", 4000).search(),
        FieldDef::objects("questions", "Questions", &QUESTION_FIELDS, 500),
        FieldDef::tags("tags", "Tags").filter(),
    ],
    csv_columns: &[
        "id",
        "title",
        "description",
        "questions",
        "tags",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "title",
    ..ModuleDef::PLAIN
};

static ANSWER_FIELDS: [FieldDef; 4] = [
    FieldDef::long_text("question", "Question", 2000).required(),
    FieldDef::long_text("answer", "Answer", 8000),
    FieldDef::number("score", "Score earned", 0.0, 100.0),
    FieldDef::number("maxScore", "Score possible", 0.0, 100.0),
];

/// Answered, submitted by the respondent, reviewed by the organization (or sent back).
static FLOW: Flow = Flow {
    field: "status",
    initial: "Draft",
    editable: Some(&["Draft"]),
    transitions: &[
        Transition::new(&["Draft"], "Submitted"),
        Transition::new(&["Submitted"], "Reviewed").decision(),
        Transition::new(&["Submitted", "Reviewed"], "Draft").with_comment(),
    ],
};

pub static QUESTIONNAIRE_RESPONSES: ModuleDef = ModuleDef {
    name: "questionnaire-responses",
    entity_type: "questionnaire-response",
    singular: "Questionnaire response",
    plural: "Questionnaire responses",
    nouns: ("questionnaire_response", "questionnaire_responses"),
    description: "Answers to a questionnaire template, for a vendor or an internal scope. \
                  `score` is the percentage of the possible score the answers earned.",
    fields: &[
        super::TITLE,
        FieldDef::record_ref("template", "Template", "questionnaire-templates").filter(),
        FieldDef::enumeration("scope", "Scope", RESPONSE_SCOPES)
            .default_value("Vendor")
            .filter(),
        FieldDef::record_ref("vendor", "Vendor", "vendors").filter(),
        FieldDef::email("respondent", "Respondent (e-mail)")
            .filter()
            .sort(),
        FieldDef::enumeration("status", "Status", RESPONSE_STATUSES)
            .default_value("Draft")
            .filter()
            .sort(),
        FieldDef::objects("answers", "Answers", &ANSWER_FIELDS, 500),
    ],
    derived: &[Derived {
        name: "score",
        label: "Score (% of possible)",
        value_type: ValueType::Number,
        when: DerivedWhen::Write,
        compute: score,
        filter: None,
        sort: true,
    }],
    csv_columns: &[
        "id",
        "title",
        "template",
        "scope",
        "vendor",
        "respondent",
        "status",
        "score",
        "answers",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "-updatedAt",
    flow: Some(&FLOW),
    ..ModuleDef::PLAIN
};

/// Earned over possible, as a percentage with one decimal; none while nothing is scored.
fn score(data: &Map<String, Value>, _: time::Date) -> Value {
    let answers = data.get("answers").and_then(Value::as_array);
    let sum = |key: &str| -> f64 {
        answers
            .into_iter()
            .flatten()
            .filter_map(|a| a.get(key).and_then(Value::as_f64))
            .sum()
    };
    let (earned, possible) = (sum("score"), sum("maxScore"));
    if possible <= 0.0 {
        return Value::Null;
    }
    let pct = (earned / possible * 1000.0).round() / 10.0;
    serde_json::Number::from_f64(pct.min(100.0)).map_or(Value::Null, Value::Number)
}
