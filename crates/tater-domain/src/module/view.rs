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
    let mut out = Map::new();
    out.insert("id".into(), Value::String(record.meta.id.to_string()));
    for field in def.fields {
        let v = record.data.get(field.name).cloned().unwrap_or(Value::Null);
        out.insert(field.name.to_owned(), v);
    }
    for derived in def.derived {
        let v = match derived.when {
            DerivedWhen::Write => record
                .data
                .get(derived.name)
                .cloned()
                .unwrap_or(Value::Null),
            DerivedWhen::Read => (derived.compute)(&record.data, today),
        };
        out.insert(derived.name.to_owned(), v);
    }
    let m = &record.meta;
    out.insert("version".into(), Value::from(m.version));
    out.insert("createdAt".into(), Value::String(m.created_at.to_string()));
    out.insert("updatedAt".into(), Value::String(m.updated_at.to_string()));
    out.insert("createdBy".into(), Value::String(m.created_by.clone()));
    out.insert("updatedBy".into(), Value::String(m.updated_by.clone()));
    Value::Object(out)
}
