//! Stored records and the JSON clients see.

use serde_json::{Map, Value};
use time::Date;

use super::def::{DerivedWhen, ModuleDef};
use crate::{RecordId, Timestamp};

/// Read-only fields every record carries. Clients may echo them back on update; they are
/// ignored, except `version`, which (when sent) must match the stored version.
pub const META_FIELDS: [&str; 6] = [
    "id",
    "version",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
];

/// Bookkeeping the server keeps for every record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordMeta {
    pub id: RecordId,
    /// 1 on create, +1 on every update.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Audit `userId` of the creator and of the last writer.
    pub created_by: String,
    pub updated_by: String,
}

/// A stored record of a module: validated data plus bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub meta: RecordMeta,
    pub data: Map<String, Value>,
}

/// The record as clients see it: `id`, the declared fields in order, derived fields (read-time
/// ones computed for `today`), then the bookkeeping fields.
pub fn record_view(def: &ModuleDef, record: &Record, today: Date) -> Value {
    into_record_view(def, record.clone(), today)
}

/// [`record_view`], taking the record: its values move into the view instead of being copied
/// (a page of records is rendered this way; a copy of every value was a tenth of a list's cost,
/// issue 20).
pub fn into_record_view(def: &ModuleDef, record: Record, today: Date) -> Value {
    let Record { meta, mut data } = record;
    // Read-time derived values first: they read fields that are moved out below.
    let computed: Vec<Option<Value>> = def
        .derived
        .iter()
        .map(|d| match d.when {
            DerivedWhen::Read => Some((d.compute)(&data, today)),
            DerivedWhen::Write => None,
        })
        .collect();
    let mut out = Map::with_capacity(def.fields.len() + def.derived.len() + META_FIELDS.len());
    out.insert("id".into(), Value::String(meta.id.to_string()));
    for field in def.fields {
        let v = data.remove(field.name).unwrap_or(Value::Null);
        out.insert(field.name.to_owned(), v);
    }
    for (derived, computed) in def.derived.iter().zip(computed) {
        let v = computed.unwrap_or_else(|| data.remove(derived.name).unwrap_or(Value::Null));
        out.insert(derived.name.to_owned(), v);
    }
    out.insert("version".into(), Value::from(meta.version));
    out.insert(
        "createdAt".into(),
        Value::String(meta.created_at.to_string()),
    );
    out.insert(
        "updatedAt".into(),
        Value::String(meta.updated_at.to_string()),
    );
    out.insert("createdBy".into(), Value::String(meta.created_by));
    out.insert("updatedBy".into(), Value::String(meta.updated_by));
    Value::Object(out)
}
