//! JSON Schema (2020-12, as OpenAPI 3.1 uses it) derived from a module declaration, for the
//! API document and for tool descriptions.

use serde_json::{Map, Value, json};

use super::def::{
    FieldDef, FieldKind, MAX_CONTROL_IDS, MAX_ENDPOINT_REFS, MAX_TAG_LEN, MAX_TAGS, ModuleDef,
    ValueType,
};

fn field_schema(field: &FieldDef) -> Value {
    let mut s = match field.kind {
        FieldKind::Text { max } | FieldKind::LongText { max } => {
            json!({ "type": "string", "maxLength": max })
        }
        FieldKind::Enum(values) => json!({ "type": "string", "enum": values }),
        FieldKind::Integer { min, max } => {
            json!({ "type": "integer", "minimum": min, "maximum": max })
        }
        FieldKind::Number { min, max } => {
            json!({ "type": "number", "minimum": min, "maximum": max })
        }
        FieldKind::Date => json!({ "type": "string", "format": "date" }),
        FieldKind::EndpointRefs => json!({
            "type": "array",
            "maxItems": MAX_ENDPOINT_REFS,
            "items": { "type": "string", "format": "uuid" },
            "description": "ids of the organization's endpoints",
        }),
        FieldKind::RecordRef(module) => json!({
            "type": "string",
            "format": "uuid",
            "description": format!("the id of one of the organization's {module} records"),
        }),
        FieldKind::Email => json!({
            "type": "string",
            "format": "email",
            "maxLength": crate::Email::MAX_LEN,
        }),
        FieldKind::ControlId => json!({
            "type": "string",
            "examples": ["ac-2", "AC-2(1)"],
            "description": "a control id (SP 800-53 or a loaded OSCAL catalog); stored in OSCAL form (ac-2.1)",
        }),
        FieldKind::EndpointRef => json!({
            "type": "string",
            "format": "uuid",
            "description": "the id of one of the organization's endpoints",
        }),
        FieldKind::ControlIds => json!({
            "type": "array",
            "maxItems": MAX_CONTROL_IDS,
            "items": { "type": "string", "examples": ["ac-2", "AC-2(1)"] },
            "description": "control ids (SP 800-53 or a loaded OSCAL catalog); stored in OSCAL form (ac-2.1)",
        }),
        FieldKind::Tags => json!({
            "type": "array",
            "maxItems": MAX_TAGS,
            "items": { "type": "string", "maxLength": MAX_TAG_LEN },
        }),
        FieldKind::TextMap {
            max_entries,
            max_len,
        } => json!({
            "type": "object",
            "maxProperties": max_entries,
            "additionalProperties": { "type": "string", "maxLength": max_len },
        }),
        FieldKind::Objects { fields, max_items } => {
            let mut item = object_schema(fields);
            if let Some(props) = item.get_mut("properties").and_then(Value::as_object_mut) {
                props.insert(
                    "id".into(),
                    json!({ "type": "integer", "minimum": 1, "description": "assigned by the server when absent" }),
                );
            }
            json!({ "type": "array", "maxItems": max_items, "items": item })
        }
    };
    if let Some(obj) = s.as_object_mut() {
        obj.insert("title".into(), Value::String(field.label.to_owned()));
        if let Some(default) = field.default {
            obj.insert("default".into(), Value::String(default.to_owned()));
        }
    }
    if field.required {
        s
    } else {
        json!({ "anyOf": [s, { "type": "null" }] })
    }
}

fn object_schema(fields: &[FieldDef]) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in fields {
        props.insert(f.name.to_owned(), field_schema(f));
        if f.required && f.default.is_none() {
            required.push(f.name);
        }
    }
    json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false })
}

fn value_type_schema(t: ValueType) -> Value {
    match t {
        ValueType::Text => json!({ "type": ["string", "null"] }),
        ValueType::Number => json!({ "type": ["number", "null"] }),
        ValueType::Bool => json!({ "type": "boolean" }),
        ValueType::Rank(values) => json!({ "type": "string", "enum": values }),
        ValueType::List => json!({ "type": "array", "items": { "type": "string" } }),
    }
}

fn meta_properties(props: &mut Map<String, Value>) {
    let ro = |t: &str, desc: &str| json!({ "type": t, "readOnly": true, "description": desc });
    props.insert("id".into(), ro("string", "record id (UUID)"));
    props.insert(
        "version".into(),
        ro(
            "integer",
            "1 on create, +1 per update; send it back to detect concurrent edits",
        ),
    );
    props.insert(
        "createdAt".into(),
        ro("string", "ISO 8601 UTC, milliseconds"),
    );
    props.insert(
        "updatedAt".into(),
        ro("string", "ISO 8601 UTC, milliseconds"),
    );
    props.insert(
        "createdBy".into(),
        ro("string", "audit userId of the creator"),
    );
    props.insert(
        "updatedBy".into(),
        ro("string", "audit userId of the last writer"),
    );
}

/// The schema of a create or update body. Read-only fields are listed so a fetched record can
/// be sent back as it is; anything else unknown is rejected.
pub fn input_schema(def: &ModuleDef) -> Value {
    let mut s = object_schema(def.fields);
    if let Some(props) = s.get_mut("properties").and_then(Value::as_object_mut) {
        for d in def.derived {
            let mut v = value_type_schema(d.value_type);
            if let Some(o) = v.as_object_mut() {
                o.insert("readOnly".into(), Value::Bool(true));
                o.insert("title".into(), Value::String(d.label.to_owned()));
            }
            props.insert(d.name.to_owned(), v);
        }
        meta_properties(props);
    }
    if let Some(o) = s.as_object_mut() {
        o.insert("title".into(), Value::String(def.singular.to_owned()));
        o.insert(
            "description".into(),
            Value::String(def.description.to_owned()),
        );
    }
    s
}

/// The schema of a record as the API returns it.
pub fn output_schema(def: &ModuleDef) -> Value {
    let mut s = input_schema(def);
    if let Some(o) = s.as_object_mut() {
        let mut required: Vec<Value> = vec![Value::from("id"), Value::from("version")];
        required.extend(def.fields.iter().map(|f| Value::from(f.name)));
        o.insert("required".into(), Value::Array(required));
    }
    s
}
