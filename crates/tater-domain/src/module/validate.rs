//! Turning untrusted JSON into a normalised record, or a list of per-field errors.

use serde_json::{Map, Number, Value};

use super::def::{
    Context, DerivedWhen, FieldDef, FieldKind, MAX_CONTROL_IDS, MAX_ENDPOINT_REFS, MAX_TAG_LEN,
    MAX_TAGS, ModuleDef,
};
use super::flow::Flow;
use super::normalize_control_id;
use super::view::META_FIELDS;
use crate::ValidationErrors;
use crate::time::parse_date;

/// Validates a create or full-replacement body against the module's declaration.
///
/// The result holds every declared field (null when unset) plus the write-time derived fields.
/// Unknown fields are errors; read-only fields a client echoes back (`id`, `version`, derived
/// fields, timestamps) are ignored. `previous` is the stored record on update, so milestone ids
/// keep counting from where they were.
pub fn validate(
    def: &ModuleDef,
    input: &Value,
    previous: Option<&Map<String, Value>>,
    ctx: &Context,
) -> Result<Map<String, Value>, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let Some(obj) = input.as_object() else {
        return Err(ValidationErrors::single("", "expected a JSON object"));
    };
    for key in obj.keys() {
        let known = def.field(key).is_some()
            || def.derived(key).is_some()
            || META_FIELDS.contains(&key.as_str());
        if !known {
            errors.add(key.as_str(), "unknown field");
        }
    }
    let mut out = Map::new();
    for field in def.fields {
        let prev = previous.and_then(|p| p.get(field.name));
        let value = match def.flow.filter(|f| f.field == field.name) {
            Some(flow) => flow_state(def, flow, obj.get(field.name), prev, &mut errors),
            None => check_field(field, obj.get(field.name), prev, field.name, &mut errors),
        };
        out.insert(field.name.to_owned(), value);
    }
    if errors.is_empty() {
        (def.rules)(&out, ctx, &mut errors);
    }
    for derived in def.derived.iter().filter(|d| d.when == DerivedWhen::Write) {
        out.insert(derived.name.to_owned(), (derived.compute)(&out, ctx.today));
    }
    errors.into_result(out)
}

/// A flow's status is the stored one (the initial state on create): a body may echo it back
/// but not change it, since moves go through transitions, each checked and audited.
fn flow_state(
    def: &ModuleDef,
    flow: &Flow,
    raw: Option<&Value>,
    previous: Option<&Value>,
    errors: &mut ValidationErrors,
) -> Value {
    let current = previous
        .and_then(Value::as_str)
        .unwrap_or(flow.initial)
        .to_owned();
    match raw.and_then(Value::as_str) {
        Some(s) if s != current => errors.add(
            flow.field,
            format!(
                "is '{current}'; it changes only through POST /api/{}/{{id}}/transitions",
                def.name
            ),
        ),
        None if raw.is_some_and(|v| !v.is_null()) => errors.add(flow.field, "must be a string"),
        _ => {}
    }
    Value::String(current)
}

fn check_field(
    field: &FieldDef,
    raw: Option<&Value>,
    previous: Option<&Value>,
    path: &str,
    errors: &mut ValidationErrors,
) -> Value {
    let raw = match raw {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(v) => Some(v),
    };
    let Some(raw) = raw else {
        if let Some(default) = field.default {
            return Value::String(default.to_owned());
        }
        if field.required {
            errors.add(path, "is required");
        }
        return empty_value(field);
    };
    match check_kind(field, raw, previous, path, errors) {
        Ok(v) => v,
        Err(message) => {
            errors.add(path, message);
            Value::Null
        }
    }
}

/// Unset lists are empty lists, so clients never have to tell null from `[]`.
fn empty_value(field: &FieldDef) -> Value {
    match field.kind {
        FieldKind::ControlIds
        | FieldKind::Tags
        | FieldKind::EndpointRefs
        | FieldKind::Objects { .. } => Value::Array(Vec::new()),
        FieldKind::TextMap { .. } => Value::Object(Map::new()),
        _ => Value::Null,
    }
}

fn check_kind(
    field: &FieldDef,
    raw: &Value,
    previous: Option<&Value>,
    path: &str,
    errors: &mut ValidationErrors,
) -> Result<Value, String> {
    match field.kind {
        FieldKind::Text { max } => text(raw, max, false).map(Value::String),
        FieldKind::LongText { max } => text(raw, max, true).map(Value::String),
        FieldKind::Enum(values) => {
            let s = raw.as_str().ok_or("must be a string")?;
            if values.contains(&s) {
                Ok(Value::String(s.to_owned()))
            } else {
                Err(format!("must be one of: {}", values.join(", ")))
            }
        }
        FieldKind::Integer { min, max } => {
            let n = raw.as_i64().ok_or("must be a whole number")?;
            if (min..=max).contains(&n) {
                Ok(Value::from(n))
            } else {
                Err(format!("must be between {min} and {max}"))
            }
        }
        FieldKind::Number { min, max } => {
            let n = raw.as_f64().ok_or("must be a number")?;
            if n.is_finite() && n >= min && n <= max {
                Number::from_f64(n)
                    .map(Value::Number)
                    .ok_or_else(|| "must be a number".into())
            } else {
                Err(format!("must be between {min} and {max}"))
            }
        }
        FieldKind::Date => {
            let s = raw.as_str().ok_or("must be a date string (YYYY-MM-DD)")?;
            parse_date(s)
                .map(|_| Value::String(s.to_owned()))
                .map_err(|_| "must be a valid date (YYYY-MM-DD)".into())
        }
        FieldKind::ControlIds => control_ids(raw),
        FieldKind::ControlId => {
            let s = raw.as_str().ok_or("must be a string")?;
            normalize_control_id(s)
                .map(Value::String)
                .ok_or_else(|| "must be a control id (e.g. AC-2 or AC-2(1))".into())
        }
        FieldKind::EndpointRef => {
            let s = raw.as_str().ok_or("must be a string")?.trim();
            s.parse::<crate::EndpointId>()
                .map(|id| Value::String(id.to_string()))
                .map_err(|_| "must be the id of one of your endpoints".into())
        }
        FieldKind::EndpointRefs => {
            let mut out: Vec<String> = Vec::new();
            for item in string_list(raw, MAX_ENDPOINT_REFS)? {
                let id = item
                    .trim()
                    .parse::<crate::EndpointId>()
                    .map_err(|_| "must hold ids of your endpoints")?
                    .to_string();
                if !out.contains(&id) {
                    out.push(id);
                }
            }
            Ok(Value::from(out))
        }
        FieldKind::RecordRef(module) => {
            let s = raw.as_str().ok_or("must be a string")?.trim();
            s.parse::<crate::RecordId>()
                .map(|id| Value::String(id.to_string()))
                .map_err(|_| format!("must be the id of one of your {module} records"))
        }
        FieldKind::Email => {
            let s = raw.as_str().ok_or("must be a string")?;
            crate::Email::parse(s)
                .map(|e| Value::String(e.as_str().to_owned()))
                .map_err(|_| "must be an e-mail address".into())
        }
        FieldKind::Tags => tags(raw),
        FieldKind::TextMap {
            max_entries,
            max_len,
        } => text_map(raw, max_entries, max_len),
        FieldKind::Objects { fields, max_items } => {
            objects(fields, max_items, raw, previous, path, errors)
        }
    }
}

/// Trimmed text without control characters (tabs and line breaks allowed when `multiline`).
fn text(raw: &Value, max: usize, multiline: bool) -> Result<String, String> {
    let s = raw.as_str().ok_or("must be a string")?.trim();
    let len = s.chars().count();
    if len > max {
        return Err(format!("must be at most {max} characters (got {len})"));
    }
    let bad = s
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')));
    if bad {
        return Err(if multiline {
            "must not contain control characters".into()
        } else {
            "must be a single line without control characters".into()
        });
    }
    Ok(s.to_owned())
}

fn string_list(raw: &Value, max_items: usize) -> Result<Vec<&str>, String> {
    let items = raw.as_array().ok_or("must be a list of strings")?;
    if items.len() > max_items {
        return Err(format!("must have at most {max_items} entries"));
    }
    items
        .iter()
        .map(|v| {
            v.as_str()
                .ok_or_else(|| "must be a list of strings".to_owned())
        })
        .collect()
}

fn text_map(raw: &Value, max_entries: usize, max_len: usize) -> Result<Value, String> {
    let obj = raw.as_object().ok_or("must be an object of text values")?;
    if obj.len() > max_entries {
        return Err(format!("must have at most {max_entries} entries"));
    }
    let mut out = Map::new();
    for (k, v) in obj {
        if k.is_empty() || k.chars().count() > 100 || k.chars().any(char::is_control) {
            return Err("names must be 1 to 100 characters".into());
        }
        match v {
            Value::Null => {}
            _ => {
                let t = text(v, max_len, true).map_err(|e| format!("{k}: {e}"))?;
                if !t.is_empty() {
                    out.insert(k.clone(), Value::String(t));
                }
            }
        }
    }
    Ok(Value::Object(out))
}

fn control_ids(raw: &Value) -> Result<Value, String> {
    let mut out: Vec<String> = Vec::new();
    for item in string_list(raw, MAX_CONTROL_IDS)? {
        let id = normalize_control_id(item).ok_or_else(|| {
            let shown: String = item.chars().take(40).collect();
            format!("'{shown}' is not a control id (e.g. AC-2 or AC-2(1))")
        })?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(Value::from(out))
}

fn tags(raw: &Value) -> Result<Value, String> {
    let mut out: Vec<String> = Vec::new();
    for item in string_list(raw, MAX_TAGS)? {
        let tag = text(&Value::String(item.to_owned()), MAX_TAG_LEN, false)?;
        if tag.is_empty() {
            return Err("tags must not be empty".into());
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(Value::from(out))
}

/// Validates each object against `fields`; assigns `id`s to new entries after the highest id
/// seen in the input and in the previous version, so ids are never reused.
fn objects(
    fields: &'static [FieldDef],
    max_items: usize,
    raw: &Value,
    previous: Option<&Value>,
    path: &str,
    errors: &mut ValidationErrors,
) -> Result<Value, String> {
    let items = raw.as_array().ok_or("must be a list of objects")?;
    if items.len() > max_items {
        return Err(format!("must have at most {max_items} entries"));
    }
    let ids_in = |v: Option<&Value>| -> i64 {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|o| o.get("id").and_then(Value::as_i64))
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    };
    let mut next_id = ids_in(Some(raw)).max(ids_in(previous)).max(0) + 1;
    let mut seen_ids = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let Some(obj) = item.as_object() else {
            errors.add(item_path, "must be an object");
            continue;
        };
        for key in obj.keys() {
            if key != "id" && !fields.iter().any(|f| f.name == key) {
                errors.add(format!("{item_path}.{key}"), "unknown field");
            }
        }
        let id = match obj.get("id") {
            None | Some(Value::Null) => {
                next_id += 1;
                next_id - 1
            }
            Some(v) => match v.as_i64() {
                Some(n) if n > 0 && !seen_ids.contains(&n) => n,
                Some(n) if n > 0 => {
                    errors.add(format!("{item_path}.id"), "is used by another entry");
                    n
                }
                _ => {
                    errors.add(format!("{item_path}.id"), "must be a positive whole number");
                    0
                }
            },
        };
        seen_ids.push(id);
        let mut clean = Map::new();
        clean.insert("id".into(), Value::from(id));
        for field in fields {
            let field_path = format!("{item_path}.{}", field.name);
            let value = check_field(field, obj.get(field.name), None, &field_path, errors);
            clean.insert(field.name.to_owned(), value);
        }
        out.push(Value::Object(clean));
    }
    Ok(Value::Array(out))
}
