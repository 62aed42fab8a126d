//! The declared modules. Adding a module is adding a `static ModuleDef` here and to [`ALL`].

mod access_reviews;
mod audits;
mod bcp;
mod change_management;
mod config_docs;
mod control_overlays;
mod control_testing;
mod data_classification;
mod evidence;
mod exceptions;
mod findings;
mod people;
mod poam;
mod policies;
mod questionnaires;
mod regulatory_changes;
mod risk_acceptances;
mod risks;
mod scripts;
mod system_profile;
mod tasks;
mod training;
mod vendors;

pub use access_reviews::{ACCESS_REVIEW_ITEMS, ACCESS_REVIEWS, ACCOUNT_ROLES, DECISIONS};
pub use audits::{AUDIT_STATUSES, AUDITS, FRAMEWORKS};
pub use bcp::{BCP_EXERCISES, BCP_PLANS};
pub use change_management::{CAB_BOARDS, CHANGE_REQUESTS, CHANGE_TYPES};
pub use config_docs::CONFIG_DOCS;
pub use control_overlays::{
    APPLICABILITY, CONTROL_OVERLAYS, IMPLEMENTATION_STATUSES, overlay_record_id,
};
pub use control_testing::{CONTROL_TEST_PROCEDURES, CONTROL_TEST_RUNS, TEST_RESULTS};
pub use data_classification::{DATA_ASSETS, DATA_LABELS};
pub use evidence::{COLLECTORS, EVIDENCE, EVIDENCE_STATUSES};
pub use exceptions::{EXCEPTION_STATUSES, EXCEPTIONS};
pub use findings::{FINDING_STATUSES, FINDINGS, SEVERITIES};
pub use people::PEOPLE;
pub use poam::POAM;
pub use policies::{MAX_POLICY_BODY_CHARS, POLICIES, POLICY_CATEGORIES, POLICY_STATUSES};
pub use questionnaires::{QUESTIONNAIRE_RESPONSES, QUESTIONNAIRE_TEMPLATES};
pub use regulatory_changes::REGULATORY_CHANGES;
pub use risk_acceptances::{RISK_ACCEPTANCES, is_active as acceptance_is_active};
pub use risks::RISKS;
pub use scripts::{LANGUAGES, RISK_LEVELS, SCRIPTS};
pub use system_profile::{
    BASELINES, IMPACT_LEVELS, SYSTEM_PROFILE, SYSTEM_STATUSES, system_profile_record_id,
};
pub use tasks::{PRIORITIES, TASK_SOURCES, TASK_STATUSES, TASKS};
pub use training::{TRAINING_ASSIGNMENTS, TRAINING_CAMPAIGNS, TRAINING_COURSES};
pub use vendors::{VENDOR_ASSESSMENTS, VENDORS};

use serde_json::{Map, Value};

use crate::ValidationErrors;
use crate::module::{FieldDef, ModuleDef};

/// The one-line title most modules name their records by.
const TITLE: FieldDef = FieldDef::text("title", "Title", 300)
    .required()
    .sort()
    .search();

/// A text field's value, when it has one that is not blank.
fn text_of<'a>(data: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    data.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// A period's end is not before its start (both `YYYY-MM-DD`, so text order is date order).
fn dates_in_order(
    data: &Map<String, Value>,
    start: &str,
    end: &str,
    errors: &mut ValidationErrors,
) {
    if let (Some(s), Some(e)) = (text_of(data, start), text_of(data, end))
        && e < s
    {
        errors.add(end, format!("must not be before {start}"));
    }
}

/// Every module, in the order the API document and UI list them.
pub static ALL: &[&ModuleDef] = &[
    &POAM,
    &RISKS,
    &TASKS,
    &EVIDENCE,
    &POLICIES,
    &CONFIG_DOCS,
    &EXCEPTIONS,
    &RISK_ACCEPTANCES,
    &AUDITS,
    &FINDINGS,
    &PEOPLE,
    &SCRIPTS,
    &BCP_PLANS,
    &BCP_EXERCISES,
    &DATA_LABELS,
    &DATA_ASSETS,
    &TRAINING_COURSES,
    &TRAINING_CAMPAIGNS,
    &TRAINING_ASSIGNMENTS,
    &CONTROL_TEST_PROCEDURES,
    &CONTROL_TEST_RUNS,
    &VENDORS,
    &VENDOR_ASSESSMENTS,
    &QUESTIONNAIRE_TEMPLATES,
    &QUESTIONNAIRE_RESPONSES,
    &CHANGE_REQUESTS,
    &CAB_BOARDS,
    &REGULATORY_CHANGES,
    &ACCESS_REVIEWS,
    &ACCESS_REVIEW_ITEMS,
];

/// The module served at `/api/<name>`.
pub fn by_name(name: &str) -> Option<&'static ModuleDef> {
    ALL.iter().copied().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::{Context, validate};
    use serde_json::json;

    /// The fields a module's rules refuse `body` for (empty: accepted).
    fn refused(def: &ModuleDef, body: Value) -> Vec<String> {
        let ctx = Context::on(time::macros::date!(2026 - 12 - 04));
        match validate(def, &body, None, &ctx) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.into_iter().map(|e| e.field).collect(),
        }
    }

    /// A record's view takes each value out of the stored data by name
    /// (`into_record_view`): a name declared twice would lose its value the second time, and
    /// would be one key of the JSON object anyway.
    #[test]
    fn no_module_declares_a_view_name_twice() {
        // `ALL` lists the registers; the overlays and the system profile are modules too.
        for def in ALL.iter().chain([&&CONTROL_OVERLAYS, &&SYSTEM_PROFILE]) {
            let mut seen = std::collections::HashSet::new();
            let names = def.fields.iter().map(|f| f.name);
            let names = names.chain(def.derived.iter().map(|d| d.name));
            for name in names.chain(crate::module::META_FIELDS) {
                assert!(
                    seen.insert(name),
                    "{}: `{name}` is declared twice",
                    def.name
                );
            }
        }
    }

    #[test]
    fn the_registers_rules_say_which_field_is_wrong() {
        let change = |extra: Value| {
            let mut body =
                json!({"title": "c", "windowStart": "2026-12-10", "windowEnd": "2026-12-11"});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            refused(&CHANGE_REQUESTS, body)
        };
        assert!(change(json!({})).is_empty());
        assert_eq!(change(json!({"windowEnd": "2026-12-09"})), ["windowEnd"]);
        assert_eq!(
            change(json!({"changeType": "Emergency"})),
            ["justification"]
        );
        assert!(change(json!({"changeType": "Emergency", "justification": "outage"})).is_empty());

        let item = |body: Value| refused(&ACCESS_REVIEW_ITEMS, body);
        assert!(item(json!({"subject": "a@x.test", "decision": "Keep"})).is_empty());
        assert_eq!(
            item(json!({"subject": "a@x.test", "decision": "Change role"})),
            ["justification", "newRole"]
        );
        assert_eq!(
            item(
                json!({"subject": "tk_1", "subjectType": "API key", "decision": "Change role",
                        "newRole": "viewer", "justification": "left"})
            ),
            ["decision"]
        );
        assert_eq!(
            refused(
                &TRAINING_ASSIGNMENTS,
                json!({"assignee": "a@x.test", "status": "Completed"})
            ),
            ["completedOn"]
        );
        assert_eq!(
            refused(
                &BCP_EXERCISES,
                json!({"title": "t", "exerciseType": "Full",
                                            "heldOn": "2026-12-01", "result": "Failed"})
            ),
            ["findings"]
        );
        assert_eq!(
            refused(
                &VENDORS,
                json!({"name": "v", "contractStart": "2026-12-01",
                                      "contractEnd": "2025-01-01"})
            ),
            ["contractEnd"]
        );
    }

    #[test]
    fn a_questionnaire_response_is_scored_from_its_answers() {
        let ctx = Context::on(time::macros::date!(2026 - 12 - 04));
        let scored = |answers: Value| {
            validate(
                &QUESTIONNAIRE_RESPONSES,
                &json!({"title": "r", "answers": answers}),
                None,
                &ctx,
            )
            .unwrap()["score"]
                .clone()
        };
        assert_eq!(scored(json!([])), Value::Null);
        let answers = json!([
            {"question": "MFA?", "answer": "Yes", "score": 10, "maxScore": 10},
            {"question": "Encryption at rest?", "answer": "Partly", "score": 2, "maxScore": 5},
            {"question": "Anything else?", "answer": "No"},
        ]);
        assert_eq!(scored(answers), json!(80.0));
    }

    #[test]
    fn declarations_are_consistent() {
        for m in ALL {
            for col in m.csv_columns {
                let known = m.field(col).is_some()
                    || m.derived(col).is_some()
                    || crate::module::META_FIELDS.contains(col);
                assert!(known, "{}: csv column {col} is not a field", m.name);
            }
            assert!(
                crate::module::parse_list_query(m, &[], time::macros::date!(2026 - 01 - 01), &[])
                    .is_ok(),
                "{}: default sort {} is not sortable",
                m.name,
                m.default_sort
            );
            if let Some(flow) = m.flow {
                let field = m.field(flow.field);
                let Some(crate::module::FieldKind::Enum(values)) = field.map(|f| f.kind) else {
                    panic!("{}: flow field {} is not an enum", m.name, flow.field);
                };
                for state in flow.states() {
                    assert!(values.contains(&state), "{}: state {state}", m.name);
                }
                assert_eq!(
                    field.and_then(|f| f.default),
                    Some(flow.initial),
                    "{}",
                    m.name
                );
            }
            for f in m.fields {
                if let (Some(d), crate::module::FieldKind::Enum(values)) = (f.default, f.kind) {
                    assert!(values.contains(&d), "{}.{} default", m.name, f.name);
                }
            }
            reminders_are_consistent(m);
            if let Some(r) = m.retention {
                // The sweep lists finished records by this filter.
                let field = m.field(r.status).filter(|f| f.filter);
                let Some(crate::module::FieldKind::Enum(values)) = field.map(|f| f.kind) else {
                    panic!(
                        "{}: retention status {} is not a filterable enum",
                        m.name, r.status
                    );
                };
                assert!(!r.finished.is_empty(), "{}", m.name);
                for v in r.finished {
                    assert!(values.contains(v), "{}: finished status {v}", m.name);
                }
            }
            for body in m.starter_records {
                let body: Value = serde_json::from_str(body).expect("starter JSON");
                let context = crate::module::Context {
                    today: time::macros::date!(2026 - 01 - 01),
                    max_acceptance_days: 365,
                };
                let valid = crate::module::validate(m, &body, None, &context);
                assert!(valid.is_ok(), "{}: starter {body} {valid:?}", m.name);
            }
        }
    }

    /// A reminder's status and date are filters (the planner lists by them), the person is an
    /// e-mail field and the fields the mail shows exist.
    fn reminders_are_consistent(m: &ModuleDef) {
        use crate::module::FieldKind;
        for r in m.remind {
            let filter = |name: &str| m.field(name).is_some_and(|f| f.filter);
            assert!(
                filter(r.rule.status),
                "{}: {} filter",
                m.name,
                r.rule.status
            );
            assert!(filter(r.rule.date), "{}: {} filter", m.name, r.rule.date);
            let to = m.field(r.to).map(|f| f.kind);
            assert!(matches!(to, Some(FieldKind::Email)), "{}: {}", m.name, r.to);
            for name in std::iter::once(&r.headline).chain(r.details) {
                assert!(m.field(name).is_some(), "{}: remind shows {name}", m.name);
            }
        }
    }
}
