//! How many records of a module there are per value of one of its fields, under the list's
//! own filters: assets per classification label, a training campaign's completion, an access
//! review's decisions, vendors per risk tier. Every module has it by its declaration.

use schemars::JsonSchema;
use serde::Serialize;
use tater_domain::module::{FieldKind, ModuleDef};
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, ValidationErrors};

use crate::{Service, ServiceResult};

/// The most groups an answer lists (largest first); `total` still counts every record.
pub const MAX_GROUPS: u32 = 500;

/// Records per value of a field.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordCounts {
    /// The field counted by.
    pub by: String,
    /// Every record the filters select.
    pub total: i64,
    /// Largest first; a value of `null` counts the records without one.
    pub counts: Vec<ValueCount>,
}

/// How many records hold one value, and their share of the total.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValueCount {
    pub value: Option<String>,
    pub count: i64,
    /// Of `total`, in percent with one decimal (a campaign's completion: the `Completed`
    /// share of its assignments).
    pub percent: f64,
}

/// The fields a module can be counted by: one value per record, filterable (an enum, a
/// reference to another record, an e-mail address, a control, a short text).
pub fn countable(def: &ModuleDef) -> Vec<&'static str> {
    def.fields
        .iter()
        .filter(|f| f.filter)
        .filter(|f| {
            matches!(
                f.kind,
                FieldKind::Enum(_)
                    | FieldKind::RecordRef(_)
                    | FieldKind::Email
                    | FieldKind::ControlId
                    | FieldKind::EndpointRef
                    | FieldKind::Text { .. }
            )
        })
        .map(|f| f.name)
        .collect()
}

impl Service {
    /// Counts `def`'s records per value of `by` among those the list filters in `params`
    /// select (`by` itself is taken out of them).
    pub async fn count_records(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
        params: &[(String, String)],
    ) -> ServiceResult<RecordCounts> {
        let permit = authorize(actor, Action::ReadRecords(def.read_role))?;
        let fields = countable(def);
        let by = params
            .iter()
            .find(|(k, _)| k == "by")
            .map(|(_, v)| v.as_str());
        let Some(by) = by.and_then(|b| fields.iter().copied().find(|f| *f == b)) else {
            let allowed = format!("must be one of {}", fields.join(", "));
            return Err(ValidationErrors::single("by", allowed).into());
        };
        if let Some((paging, _)) = params
            .iter()
            .find(|(k, _)| ["limit", "cursor", "sort"].contains(&k.as_str()))
        {
            return Err(ValidationErrors::single(
                paging.as_str(),
                "a count takes no paging or order",
            )
            .into());
        }
        let query = self.list_query(def, params, &["by"])?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let (groups, total) = tx
            .count_grouped(def.name, by, &query.filter, MAX_GROUPS)
            .await?;
        let percent = |n: i64| {
            if total == 0 {
                0.0
            } else {
                (n as f64 * 1000.0 / total as f64).round() / 10.0
            }
        };
        Ok(RecordCounts {
            by: by.to_owned(),
            total,
            counts: groups
                .into_iter()
                .map(|(value, count)| ValueCount {
                    value,
                    count,
                    percent: percent(count),
                })
                .collect(),
        })
    }
}
