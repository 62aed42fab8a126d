//! What refers to a record, counted on its page: a training campaign's assignments by status
//! (its completion), an access review's items by decision, a data label's assets, a plan's
//! exercises by result. Found from the declarations alone — every module with a reference
//! field to this one — so a new module's references show without code here.

use tater_domain::Actor;
use tater_domain::module::{FieldKind, ModuleDef};
use tater_domain::modules::ALL;
use tater_domain::policy::{Action, authorize};
use tater_service::countable;

use crate::Web;
use crate::error::PageResult;

/// Fields that say how far a referring record has got, in the order they are looked for
/// (after the module's status flow).
const PROGRESS_FIELDS: &[&str] = &["status", "decision", "result"];

/// Records of one module that refer to the record, counted.
pub struct Referrers {
    /// Their list, filtered to this record.
    pub href: String,
    /// "Training assignments (campaign)".
    pub label: String,
    pub total: i64,
    /// "Completed 7 (70%)", largest first; empty where there is nothing to group by.
    pub groups: Vec<String>,
}

/// The module's field to group referring records by, if any.
fn progress_field(def: &ModuleDef) -> Option<&'static str> {
    let fields = countable(def);
    let enums = |name: &&str| {
        fields.contains(name) && matches!(def.field(name).map(|f| f.kind), Some(FieldKind::Enum(_)))
    };
    def.flow
        .map(|f| f.field)
        .into_iter()
        .chain(PROGRESS_FIELDS.iter().copied())
        .find(enums)
}

/// Every filterable reference to `def` in the modules `actor` may read: (module, field).
fn references(def: &ModuleDef, actor: &Actor) -> Vec<(&'static ModuleDef, &'static str)> {
    ALL.iter()
        .copied()
        .filter(|m| authorize(actor, Action::ReadRecords(m.read_role)).is_ok())
        .flat_map(|m| {
            m.fields
                .iter()
                .filter(|f| f.filter && matches!(f.kind, FieldKind::RecordRef(t) if t == def.name))
                .map(move |f| (m, f.name))
        })
        .collect()
}

fn percent(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// The records referring to record `id` of `def`, per referring module and field.
pub async fn referrers(
    web: &Web,
    actor: &Actor,
    def: &ModuleDef,
    id: &str,
) -> PageResult<Vec<Referrers>> {
    let mut found = Vec::new();
    for (module, field) in references(def, actor) {
        // Grouped by how far they got; by the reference itself (one group) where there is
        // nothing to group by.
        let by = progress_field(module).unwrap_or(field);
        let params = [
            ("by".to_owned(), by.to_owned()),
            (field.to_owned(), id.to_owned()),
        ];
        let counts = web.service.count_records(actor, module, &params).await?;
        let label = module.field(field).map_or(field, |f| f.label);
        let groups = if by == field {
            Vec::new()
        } else {
            counts
                .counts
                .iter()
                .map(|c| {
                    let value = c.value.as_deref().unwrap_or("(none)");
                    format!("{value} {} ({})", c.count, percent(c.percent))
                })
                .collect()
        };
        found.push(Referrers {
            href: format!(
                "/app/{}?{}",
                module.name,
                super::records::encode(&params[1..])
            ),
            label: format!("{} ({})", module.plural, label.to_lowercase()),
            total: counts.total,
            groups,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tater_domain::Role;
    use tater_domain::modules::{
        ACCESS_REVIEW_ITEMS, DATA_ASSETS, TRAINING_ASSIGNMENTS, TRAINING_CAMPAIGNS,
    };

    fn member(role: Role) -> Actor {
        let user = tater_domain::Principal::User {
            id: tater_domain::UserId::generate(),
            email: tater_domain::Email::parse("a@example.com").unwrap(),
            oid: None,
        };
        let org = tater_domain::OrgId::generate();
        Actor::authenticated(user, org, role, tater_domain::Channel::Web, true)
    }

    #[test]
    fn referring_records_group_by_how_far_they_got() {
        assert_eq!(progress_field(&TRAINING_ASSIGNMENTS), Some("status"));
        assert_eq!(progress_field(&ACCESS_REVIEW_ITEMS), Some("decision"));
        let admin = member(Role::Admin);
        let refs: Vec<(&str, &str)> = references(&TRAINING_CAMPAIGNS, &admin)
            .iter()
            .map(|(m, f)| (m.name, *f))
            .collect();
        assert_eq!(refs, [("training-assignments", "campaign")]);
        assert!(
            references(&tater_domain::modules::DATA_LABELS, &admin)
                .iter()
                .any(|(m, _)| m.name == DATA_ASSETS.name)
        );
        // Access review items are for auditors and above: a viewer is not told of them.
        let viewer = member(Role::Viewer);
        assert!(references(&tater_domain::modules::ACCESS_REVIEWS, &viewer).is_empty());
        assert_eq!(percent(70.0), "70%");
        assert_eq!(percent(33.3), "33.3%");
    }
}
