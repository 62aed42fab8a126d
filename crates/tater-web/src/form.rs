//! Module forms, generated from the declaration: the inputs a field kind becomes, what a
//! posted form means as the JSON body the API takes, and the validation errors of that body
//! shown back at the inputs they belong to.
//!
//! Inputs are named by the paths the validator reports (`title`, `milestones[0].description`),
//! so an error lands at its input by name.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Number, Value};
use tater_domain::ValidationErrors;
use tater_domain::module::{FieldDef, FieldKind, ModuleDef};

/// Blank rows offered under a list of small objects (milestones), for adding without script.
const BLANK_ROWS: usize = 2;

/// One input of a form.
pub struct Input {
    /// The form field's name (and the validator's path).
    pub name: String,
    pub label: &'static str,
    /// `text`, `textarea`, `select`, `number`, `date` or `list` (comma-separated values).
    pub kind: &'static str,
    pub value: String,
    /// For selects: each value and whether it is chosen (an empty first option when the
    /// field is optional).
    pub options: Vec<(String, bool)>,
    pub required: bool,
    pub step: &'static str,
    pub error: Option<String>,
}

/// A field of the form: one input, or rows of inputs for a list of objects.
pub enum FormField {
    Single(Input),
    Rows {
        name: &'static str,
        label: &'static str,
        /// Each row: its hidden `id` input's name and value, and its inputs.
        rows: Vec<(String, String, Vec<Input>)>,
        error: Option<String>,
    },
}

/// The form of `def` filled from `values` (a record's data, or what was posted), with
/// `errors` at their inputs.
pub fn fields(
    def: &ModuleDef,
    values: &Map<String, Value>,
    errors: &HashMap<String, String>,
) -> Vec<FormField> {
    fields_except(def, values, errors, &[])
}

/// [`fields`] without the fields named in `skip` (ones the server sets, or a page shows its
/// own way).
pub fn fields_except(
    def: &ModuleDef,
    values: &Map<String, Value>,
    errors: &HashMap<String, String>,
    skip: &[&str],
) -> Vec<FormField> {
    def.fields
        .iter()
        .filter(|f| !matches!(f.kind, FieldKind::TextMap { .. }) && !skip.contains(&f.name))
        // A flow's status moves by transitions (the record page's buttons), not by the form.
        .filter(|f| def.flow.is_none_or(|flow| flow.field != f.name))
        .map(|f| match f.kind {
            FieldKind::Objects { fields, max_items } => {
                let items = values
                    .get(f.name)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let count = (items.len() + BLANK_ROWS).min(max_items.max(items.len()));
                let rows = (0..count)
                    .map(|i| {
                        let item = items.get(i).and_then(Value::as_object);
                        let empty = Map::new();
                        let item = item.unwrap_or(&empty);
                        let prefix = format!("{}[{i}]", f.name);
                        let id = item.get("id").map(shown).unwrap_or_default();
                        let inputs = fields
                            .iter()
                            .map(|sub| {
                                let name = format!("{prefix}.{}", sub.name);
                                input(sub, name, item.get(sub.name), errors, false)
                            })
                            .collect();
                        (format!("{prefix}.id"), id, inputs)
                    })
                    .collect();
                FormField::Rows {
                    name: f.name,
                    label: f.label,
                    rows,
                    error: errors.get(f.name).cloned(),
                }
            }
            _ => FormField::Single(input(
                f,
                f.name.to_owned(),
                values.get(f.name),
                errors,
                f.required,
            )),
        })
        .collect()
}

fn input(
    f: &FieldDef,
    name: String,
    value: Option<&Value>,
    errors: &HashMap<String, String>,
    required: bool,
) -> Input {
    let value = value.map(shown).unwrap_or_default();
    let value = if value.is_empty() {
        f.default.unwrap_or_default().to_owned()
    } else {
        value
    };
    let (kind, step, options) = match f.kind {
        FieldKind::LongText { .. } => ("textarea", "", Vec::new()),
        FieldKind::Enum(values) => {
            let mut options: Vec<(String, bool)> = Vec::new();
            if !required {
                options.push((String::new(), value.is_empty()));
            }
            options.extend(values.iter().map(|v| (v.to_string(), *v == value)));
            ("select", "", options)
        }
        FieldKind::Integer { .. } => ("number", "1", Vec::new()),
        FieldKind::Number { .. } => ("number", "any", Vec::new()),
        FieldKind::Date => ("date", "", Vec::new()),
        FieldKind::Email => ("email", "", Vec::new()),
        FieldKind::ControlIds | FieldKind::Tags | FieldKind::EndpointRefs => {
            ("list", "", Vec::new())
        }
        _ => ("text", "", Vec::new()),
    };
    Input {
        error: errors.get(&name).cloned(),
        name,
        label: f.label,
        kind,
        value,
        options,
        required,
        step,
    }
}

/// A stored value as an input shows it: lists comma-separated, numbers as written.
pub fn shown(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// The posted pairs as the JSON body of `def`, and for each list of objects which form row
/// each kept item came from (so errors about item `i` can be shown on its row).
pub fn to_body(def: &ModuleDef, pairs: &[(String, String)]) -> (Value, RowMap) {
    let posted: HashMap<&str, &str> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut body = Map::new();
    let mut rows = RowMap::default();
    for f in def.fields {
        match f.kind {
            FieldKind::Objects { fields, .. } => {
                let (items, kept) = objects(f.name, fields, pairs);
                rows.0.insert(f.name, kept);
                body.insert(f.name.to_owned(), Value::Array(items));
            }
            FieldKind::TextMap { .. } => {}
            _ => {
                if let Some(v) = posted.get(f.name).and_then(|raw| value(f, raw)) {
                    body.insert(f.name.to_owned(), v);
                }
            }
        }
    }
    // The version the form was filled from: a save over a newer change is refused.
    if let Some(v) = posted
        .get(VERSION)
        .and_then(|v| v.trim().parse::<i64>().ok())
    {
        body.insert(VERSION.to_owned(), Value::from(v));
    }
    (Value::Object(body), rows)
}

/// The hidden field an edit form carries its record's version in.
pub const VERSION: &str = "version";

/// What one posted text means for a field; `None` when left empty.
fn value(f: &FieldDef, raw: &str) -> Option<Value> {
    let trimmed = raw.trim();
    match f.kind {
        FieldKind::ControlIds | FieldKind::Tags | FieldKind::EndpointRefs => Some(Value::Array(
            trimmed
                .split([',', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        )),
        _ if trimmed.is_empty() => None,
        // A number that does not parse goes on as text, for the validator to name.
        FieldKind::Integer { .. } => Some(
            trimmed
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(trimmed.to_owned())),
        ),
        FieldKind::Number { .. } => Some(
            trimmed
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(trimmed.to_owned())),
        ),
        FieldKind::LongText { .. } => Some(Value::String(raw.replace("\r\n", "\n"))),
        _ => Some(Value::String(trimmed.to_owned())),
    }
}

/// Rows `name[i].field` as objects, in row order, skipping rows left blank.
fn objects(
    name: &str,
    fields: &[FieldDef],
    pairs: &[(String, String)],
) -> (Vec<Value>, Vec<usize>) {
    let mut by_row: BTreeMap<usize, HashMap<&str, &str>> = BTreeMap::new();
    for (key, v) in pairs {
        let Some(rest) = key.strip_prefix(name).and_then(|r| r.strip_prefix('[')) else {
            continue;
        };
        let Some((index, field)) = rest.split_once("].") else {
            continue;
        };
        if let Ok(i) = index.parse::<usize>() {
            by_row.entry(i).or_default().insert(field, v.as_str());
        }
    }
    let mut items = Vec::new();
    let mut kept = Vec::new();
    for (row, posted) in by_row {
        let mut item = Map::new();
        // A row whose inputs are empty or still at their defaults was left blank.
        let mut touched = false;
        for sub in fields {
            let raw = posted.get(sub.name).copied().unwrap_or_default();
            if let Some(v) = value(sub, raw) {
                touched |= sub.default != Some(raw.trim());
                item.insert(sub.name.to_owned(), v);
            }
        }
        if !touched {
            continue;
        }
        if let Some(id) = posted.get("id").and_then(|v| v.trim().parse::<i64>().ok()) {
            item.insert("id".into(), Value::from(id));
        }
        items.push(Value::Object(item));
        kept.push(row);
    }
    (items, kept)
}

/// For each list of objects, the form row of each item in the body.
#[derive(Default)]
pub struct RowMap(HashMap<&'static str, Vec<usize>>);

impl RowMap {
    /// The validator's errors keyed by input name (item indexes turned back into rows).
    pub fn errors(&self, errors: &ValidationErrors) -> HashMap<String, String> {
        errors
            .0
            .iter()
            .map(|e| (self.input_name(&e.field), e.message.clone()))
            .collect()
    }

    fn input_name(&self, path: &str) -> String {
        for (name, rows) in &self.0 {
            let Some(rest) = path.strip_prefix(name).and_then(|r| r.strip_prefix('[')) else {
                continue;
            };
            if let Some((index, tail)) = rest.split_once(']')
                && let Some(row) = index.parse::<usize>().ok().and_then(|i| rows.get(i))
            {
                return format!("{name}[{row}]{tail}");
            }
        }
        path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tater_domain::modules::{POAM, RISKS};

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_posted_form_becomes_the_api_body() {
        let (body, _) = to_body(
            &POAM,
            &pairs(&[
                ("title", " Patch the VPN "),
                ("impact", "High"),
                ("controls", "AC-2, ac-3\nSI-2"),
                ("source", ""),
                ("weaknessDescription", "line one\r\nline two"),
            ]),
        );
        assert_eq!(body["title"], "Patch the VPN");
        assert_eq!(
            body["controls"],
            serde_json::json!(["AC-2", "ac-3", "SI-2"])
        );
        assert!(body.get("source").is_none(), "left empty: absent");
        assert_eq!(body["weaknessDescription"], "line one\nline two");
        let (risk, _) = to_body(&RISKS, &pairs(&[("likelihood", "3"), ("aro", "0.5")]));
        assert_eq!(
            (risk["likelihood"].as_i64(), risk["aro"].as_f64()),
            (Some(3), Some(0.5))
        );
        let (bad, _) = to_body(&RISKS, &pairs(&[("likelihood", "three")]));
        assert_eq!(bad["likelihood"], "three", "left for the validator to name");
    }

    #[test]
    fn blank_rows_are_skipped_and_errors_return_to_their_rows() {
        let (body, rows) = to_body(
            &POAM,
            &pairs(&[
                ("milestones[0].id", "4"),
                ("milestones[0].description", "first"),
                ("milestones[1].description", ""),
                ("milestones[1].status", "Open"),
                ("milestones[2].description", ""),
                ("milestones[2].scheduledCompletion", "2031-02-30"),
            ]),
        );
        let items = body["milestones"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["id"], 4);
        let mut errors = ValidationErrors::new();
        errors.add("milestones[1].scheduledCompletion", "is not a date");
        errors.add("title", "is required");
        let shown = rows.errors(&errors);
        assert_eq!(shown["milestones[2].scheduledCompletion"], "is not a date");
        assert_eq!(shown["title"], "is required");
    }

    #[test]
    fn a_record_fills_its_form_with_blank_rows_to_add() {
        let record = serde_json::json!({ "title": "T", "controls": ["ac-2", "ac-3"],
            "milestones": [{ "id": 1, "description": "d", "status": "Open" }] });
        let form = fields(&POAM, record.as_object().unwrap(), &HashMap::new());
        let FormField::Single(title) = &form[0] else {
            panic!("title is one input")
        };
        assert_eq!((title.value.as_str(), title.required), ("T", true));
        let milestones = form
            .iter()
            .find_map(|f| match f {
                FormField::Rows { rows, .. } => Some(rows),
                FormField::Single(_) => None,
            })
            .unwrap();
        assert_eq!(milestones.len(), 1 + BLANK_ROWS);
        assert_eq!(milestones[0].1, "1");
        let controls = form
            .iter()
            .find_map(|f| match f {
                FormField::Single(i) if i.name == "controls" => Some(i),
                _ => None,
            })
            .unwrap();
        assert_eq!(controls.value, "ac-2, ac-3");
    }
}
