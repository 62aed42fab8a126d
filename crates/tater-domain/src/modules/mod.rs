//! The declared modules. Adding a module is adding a `static ModuleDef` here and to [`ALL`].

mod audits;
mod config_docs;
mod control_overlays;
mod evidence;
mod exceptions;
mod findings;
mod people;
mod poam;
mod policies;
mod risk_acceptances;
mod risks;
mod scripts;
mod system_profile;
mod tasks;

pub use audits::{AUDIT_STATUSES, AUDITS, FRAMEWORKS};
pub use config_docs::CONFIG_DOCS;
pub use control_overlays::{
    APPLICABILITY, CONTROL_OVERLAYS, IMPLEMENTATION_STATUSES, overlay_record_id,
};
pub use evidence::{COLLECTORS, EVIDENCE, EVIDENCE_STATUSES};
pub use exceptions::{EXCEPTION_STATUSES, EXCEPTIONS};
pub use findings::{FINDING_STATUSES, FINDINGS, SEVERITIES};
pub use people::PEOPLE;
pub use poam::POAM;
pub use policies::{MAX_POLICY_BODY_CHARS, POLICIES, POLICY_CATEGORIES, POLICY_STATUSES};
pub use risk_acceptances::{RISK_ACCEPTANCES, is_active as acceptance_is_active};
pub use risks::RISKS;
pub use scripts::{LANGUAGES, RISK_LEVELS, SCRIPTS};
pub use system_profile::{
    BASELINES, IMPACT_LEVELS, SYSTEM_PROFILE, SYSTEM_STATUSES, system_profile_record_id,
};
pub use tasks::{PRIORITIES, TASK_SOURCES, TASK_STATUSES, TASKS};

use crate::module::{FieldDef, ModuleDef};

/// The one-line title most modules name their records by.
const TITLE: FieldDef = FieldDef::text("title", "Title", 300)
    .required()
    .sort()
    .search();

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
];

/// The module served at `/api/<name>`.
pub fn by_name(name: &str) -> Option<&'static ModuleDef> {
    ALL.iter().copied().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
    }
}
