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
    let Record { meta, data } = record;
    let mut out = if stored_in_view_order(def, &data) {
        in_place(def, data, &meta, today)
    } else {
        rebuilt(def, data, &meta, today)
    };
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

/// Whether the stored data already holds exactly the view's keys in the view's order: the
/// declared fields, then the derived fields kept at write time, with every derived field
/// computed at read time declared after those. `validate` stores records so; a record written
/// before a field was added, or with one since removed, is not.
fn stored_in_view_order(def: &ModuleDef, data: &Map<String, Value>) -> bool {
    let written = def.derived.iter().filter(|d| d.when == DerivedWhen::Write);
    let read_after_written = def
        .derived
        .iter()
        .skip_while(|d| d.when == DerivedWhen::Write)
        .all(|d| d.when == DerivedWhen::Read);
    // No declared name is `id` (a test over every module holds that), but the id's place in
    // front is the view's, so a stored `id` key sends the record the long way regardless.
    read_after_written
        && data.len() == def.fields.len() + written.clone().count()
        && !data.contains_key("id")
        && data.keys().map(String::as_str).eq(def
            .fields
            .iter()
            .map(|f| f.name)
            .chain(written.map(|d| d.name)))
}

/// The view built around the stored map: the id goes in front, the read-time values after.
/// Nothing is rehashed or copied (a list's rebuild of every map was a fifth of its CPU, issue 20).
fn in_place(
    def: &ModuleDef,
    mut data: Map<String, Value>,
    meta: &RecordMeta,
    today: Date,
) -> Map<String, Value> {
    let computed: Vec<(&'static str, Value)> = def
        .derived
        .iter()
        .filter(|d| d.when == DerivedWhen::Read)
        .map(|d| (d.name, (d.compute)(&data, today)))
        .collect();
    data.shift_insert(0, "id".into(), Value::String(meta.id.to_string()));
    for (name, value) in computed {
        data.insert(name.to_owned(), value);
    }
    data
}

/// The view assembled key by key, for stored data in any other shape: declared fields missing
/// from it are `null`, keys no longer declared are left out.
fn rebuilt(
    def: &ModuleDef,
    mut data: Map<String, Value>,
    meta: &RecordMeta,
    today: Date,
) -> Map<String, Value> {
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::{ALL, CONTROL_OVERLAYS, SYSTEM_PROFILE};

    fn every_module() -> impl Iterator<Item = &'static ModuleDef> {
        ALL.iter()
            .copied()
            .chain([&CONTROL_OVERLAYS, &SYSTEM_PROFILE])
    }

    fn record(data: Map<String, Value>) -> Record {
        Record {
            meta: RecordMeta {
                id: RecordId::generate(),
                version: 3,
                created_at: Timestamp::from_millis(1_700_000_000_000),
                updated_at: Timestamp::from_millis(1_700_000_100_000),
                created_by: "creator".into(),
                updated_by: "writer".into(),
            },
            data,
        }
    }

    /// Data as `validate` stores it: every declared field, then the write-time derived ones.
    fn stored(def: &ModuleDef) -> Map<String, Value> {
        let written = def.derived.iter().filter(|d| d.when == DerivedWhen::Write);
        let names = def
            .fields
            .iter()
            .map(|f| f.name)
            .chain(written.map(|d| d.name));
        names
            .enumerate()
            .map(|(n, name)| (name.to_owned(), Value::from(format!("value {n}"))))
            .collect()
    }

    fn view_keys(def: &ModuleDef) -> Vec<&'static str> {
        let mut keys = vec!["id"];
        keys.extend(def.fields.iter().map(|f| f.name));
        keys.extend(def.derived.iter().map(|d| d.name));
        keys.extend(&META_FIELDS[1..]);
        keys
    }

    fn keys(view: &Value) -> Vec<&str> {
        view.as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    fn today() -> Date {
        time::macros::date!(2026 - 12 - 06)
    }

    #[test]
    fn a_record_stored_in_order_is_viewed_in_place_with_the_same_keys_and_values() {
        for def in every_module() {
            let data = stored(def);
            assert!(stored_in_view_order(def, &data), "{}", def.name);
            let r = record(data.clone());
            let fast = into_record_view(def, r.clone(), today());
            let mut slow = rebuilt(def, data, &r.meta, today());
            let Value::Object(fast_map) = &fast else {
                panic!("not an object")
            };
            assert_eq!(keys(&fast), view_keys(def), "{}", def.name);
            // The rebuilt map without meta matches the fast one's leading keys and values.
            for (k, v) in fast_map.iter().take(slow.len()) {
                assert_eq!(slow.remove(k).as_ref(), Some(v), "{}: {k}", def.name);
            }
            assert!(slow.is_empty(), "{}", def.name);
        }
    }

    #[test]
    fn a_record_in_another_shape_is_rebuilt_to_the_same_view() {
        for def in every_module() {
            let expected = into_record_view(def, record(stored(def)), today());
            let expected = expected.as_object().cloned().unwrap_or_default();
            // Stored in reverse order; with a key no longer declared; with a field missing.
            let reversed: Map<String, Value> = stored(def).into_iter().rev().collect();
            let mut extra = stored(def);
            extra.insert("retiredField".into(), Value::from("old"));
            let mut missing = stored(def);
            let first = def.fields.first().map(|f| f.name).unwrap_or_default();
            missing.shift_remove(first);
            for (shape, data) in [
                ("reversed", reversed),
                ("extra", extra),
                ("missing", missing),
            ] {
                let same = match shape {
                    "reversed" => def.fields.len() < 2,
                    "missing" => def.fields.is_empty(),
                    _ => false,
                };
                if same {
                    continue;
                }
                assert!(!stored_in_view_order(def, &data), "{}: {shape}", def.name);
                let view = into_record_view(def, record(data), today());
                assert_eq!(keys(&view), view_keys(def), "{}: {shape}", def.name);
                for field in def.fields {
                    let want = match (shape, field.name == first) {
                        ("missing", true) => &Value::Null,
                        _ => &expected[field.name],
                    };
                    assert_eq!(
                        &view[field.name], want,
                        "{}: {shape} {}",
                        def.name, field.name
                    );
                }
                for derived in def.derived {
                    let (got, want) = (&view[derived.name], &expected[derived.name]);
                    assert_eq!(got, want, "{}: {shape} {}", def.name, derived.name);
                }
            }
        }
    }

    fn written_total(data: &Map<String, Value>, _: Date) -> Value {
        Value::from(data.len())
    }

    fn read_flag(data: &Map<String, Value>, _: Date) -> Value {
        Value::from(data.contains_key("a"))
    }

    /// A read-time field declared before a write-time one: appending the read-time values
    /// after the stored ones would put them out of order, so such a module is rebuilt.
    #[test]
    fn a_module_declaring_a_read_time_field_first_is_rebuilt_in_declared_order() {
        use crate::module::def::{Derived, FieldDef, ValueType};
        static FIELDS: [FieldDef; 2] = [FieldDef::text("a", "A", 10), FieldDef::text("b", "B", 10)];
        static DERIVED: [Derived; 2] = [
            Derived {
                name: "flag",
                label: "Flag",
                value_type: ValueType::Bool,
                when: DerivedWhen::Read,
                compute: read_flag,
                filter: None,
                sort: false,
            },
            Derived {
                name: "total",
                label: "Total",
                value_type: ValueType::Number,
                when: DerivedWhen::Write,
                compute: written_total,
                filter: None,
                sort: false,
            },
        ];
        let def = ModuleDef {
            name: "test",
            fields: &FIELDS,
            derived: &DERIVED,
            ..ModuleDef::PLAIN
        };
        let data = stored(&def);
        assert!(!stored_in_view_order(&def, &data));
        let view = into_record_view(&def, record(data), today());
        assert_eq!(keys(&view), view_keys(&def));
        assert_eq!(view["flag"], true);
        assert_eq!(view["total"], "value 2");
        // And a stored `id` key, which no module declares, never takes the view's own.
        let mut with_id = stored(&POAM_LIKE);
        with_id.insert("id".into(), Value::from("stored"));
        let r = record(with_id);
        let id = r.meta.id.to_string();
        assert_eq!(into_record_view(&POAM_LIKE, r, today())["id"], id.as_str());
    }

    static POAM_LIKE: ModuleDef = ModuleDef {
        name: "poam-like",
        fields: &[crate::module::def::FieldDef::text("title", "Title", 10)],
        ..ModuleDef::PLAIN
    };
}
