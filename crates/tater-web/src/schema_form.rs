//! Forms and answers for any use case of the registry, from its JSON Schemas: the inputs a
//! schema's properties become, the JSON a posted form means, and an answer as HTML. This is
//! how every use case gets a page without page code of its own (`pages/actions.rs`).

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// One input of a generated form.
pub struct SchemaInput {
    pub name: String,
    /// What element ids are made of (`i-name`, `e-name`: the name; on a page with several
    /// forms, prefixed by `prefixed`).
    pub id: String,
    pub label: String,
    pub description: String,
    /// `text`, `password` (a `writeOnly` secret), `textarea` (multi-line text such as PEM),
    /// `number`, `checkbox`, `select`, `list` (comma-separated), `json`, or `hidden` (the
    /// version a prefilled form was filled from).
    pub kind: &'static str,
    pub required: bool,
    pub value: String,
    pub checked: bool,
    /// For selects: each value, its description and whether it is chosen.
    pub options: Vec<(String, String, bool)>,
    pub error: Option<String>,
}

/// The read-only property a form carries back (hidden): the version it was filled from.
const VERSION: &str = "version";

/// Follows a `$ref` into the schema's `$defs`, and unwraps "X or null".
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> (&'a Value, bool) {
    let mut s = schema;
    let mut nullable = false;
    for _ in 0..8 {
        if let Some(name) = s["$ref"].as_str().and_then(|r| r.strip_prefix("#/$defs/")) {
            s = &root["$defs"][name];
            continue;
        }
        if let Some(alts) = s["anyOf"].as_array()
            && alts.len() == 2
            && let Some(other) = alts.iter().find(|a| a["type"] != "null")
        {
            nullable = true;
            s = other;
            continue;
        }
        break;
    }
    (s, nullable)
}

/// The schema's own type, without `null`.
fn type_of(s: &Value) -> Option<&str> {
    match &s["type"] {
        Value::String(t) => Some(t.as_str()),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

/// The allowed values of an enumeration (`enum`, or `oneOf` of `const`s), with their
/// descriptions.
fn choices(s: &Value) -> Option<Vec<(String, String)>> {
    if let Some(values) = s["enum"].as_array() {
        return Some(
            values
                .iter()
                .filter_map(Value::as_str)
                .map(|v| (v.to_owned(), String::new()))
                .collect(),
        );
    }
    let alts = s["oneOf"].as_array()?;
    alts.iter()
        .map(|a| {
            a["const"].as_str().map(|c| {
                let d = a["description"].as_str().unwrap_or_default();
                (
                    c.to_owned(),
                    d.lines().next().unwrap_or_default().to_owned(),
                )
            })
        })
        .collect()
}

/// "expiresAt" → "Expires at".
fn label(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else if i == 0 {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn shown(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// Whether the schema takes anything: a schema with alternatives at its root (a SIEM
/// destination: syslog or webhook) is one JSON input.
fn root_alternatives(schema: &Value) -> bool {
    schema["oneOf"].is_array() && schema["properties"].is_null()
}

/// The alternatives of a schema told apart by a `type` constant (a SIEM destination: syslog
/// or webhook), each with its name.
fn variants(schema: &Value) -> Option<Vec<(&str, &Value)>> {
    schema["oneOf"]
        .as_array()?
        .iter()
        .map(|v| v["properties"]["type"]["const"].as_str().map(|t| (t, v)))
        .collect()
}

/// One form for every alternative: a "Type" choice, then each alternative's inputs once,
/// those of some alternatives only saying which.
fn variant_inputs(
    variants: &[(&str, &Value)],
    values: &Map<String, Value>,
    errors: &HashMap<String, String>,
) -> Vec<SchemaInput> {
    let chosen = values.get("type").map(shown).unwrap_or_default();
    let mut options = vec![(String::new(), String::new(), chosen.is_empty())];
    options.extend(
        variants
            .iter()
            .map(|(t, _)| ((*t).to_owned(), String::new(), *t == chosen)),
    );
    let mut all = vec![SchemaInput {
        name: "type".into(),
        id: "type".into(),
        label: "Type".into(),
        description: String::new(),
        kind: "select",
        required: true,
        value: chosen,
        checked: false,
        options,
        error: errors.get("type").cloned(),
    }];
    // Each input with the alternatives that have it, and whether all of them require it.
    let mut found: Vec<(SchemaInput, Vec<&str>, bool)> = Vec::new();
    for (name, variant) in variants {
        for input in inputs(variant, values, errors) {
            if input.name == "type" {
                continue;
            }
            match found.iter_mut().find(|(i, _, _)| i.name == input.name) {
                Some((_, of, required)) => {
                    of.push(name);
                    *required &= input.required;
                }
                None => {
                    let required = input.required;
                    found.push((input, vec![name], required));
                }
            }
        }
    }
    for (mut input, of, required) in found {
        input.required = required && of.len() == variants.len();
        if of.len() < variants.len() {
            let only = format!("{} only.", of.join(", "));
            input.description = if input.description.is_empty() {
                only
            } else {
                format!("{only} {}", input.description)
            };
        }
        all.push(input);
    }
    all
}

/// The inputs of `schema` (a use case's input), filled from `values`, errors at their names.
pub fn inputs(
    schema: &Value,
    values: &Map<String, Value>,
    errors: &HashMap<String, String>,
) -> Vec<SchemaInput> {
    if root_alternatives(schema)
        && let Some(variants) = variants(schema)
    {
        return variant_inputs(&variants, values, errors);
    }
    if root_alternatives(schema) {
        let value = if values.is_empty() {
            String::new()
        } else {
            serde_json::to_string_pretty(values).unwrap_or_default()
        };
        return vec![SchemaInput {
            name: "_json".into(),
            id: "_json".into(),
            label: "Settings (JSON)".into(),
            description: "One of the shapes in the API document.".into(),
            kind: "json",
            required: true,
            value,
            checked: false,
            options: Vec::new(),
            error: errors.get("_json").cloned(),
        }];
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = schema["properties"].as_object() else {
        return Vec::new();
    };
    props
        .iter()
        // What the server keeps (ids, times, derived values) is not typed in; only the
        // version goes back, hidden, so a save over someone else's change is refused.
        .filter(|(name, prop)| prop["readOnly"] != true || name.as_str() == VERSION)
        .map(|(name, prop)| {
            let (s, nullable) = resolve(schema, prop);
            let description = prop["description"]
                .as_str()
                .or(s["description"].as_str())
                .unwrap_or_default()
                .to_owned();
            let current = values
                .get(name)
                .or(prop.get("default"))
                .unwrap_or(&Value::Null);
            let is_required = required.contains(&name.as_str()) && !nullable;
            let mut input = SchemaInput {
                name: name.clone(),
                id: name.clone(),
                label: label(name),
                description,
                kind: "text",
                required: is_required,
                value: shown(current),
                checked: current == &Value::Bool(true),
                options: Vec::new(),
                error: errors.get(name).cloned(),
            };
            if let Some(options) = choices(s) {
                let chosen = shown(current);
                let mut all = Vec::new();
                if !is_required {
                    all.push((String::new(), String::new(), chosen.is_empty()));
                }
                all.extend(options.into_iter().map(|(v, d)| {
                    let selected = v == chosen;
                    (v, d, selected)
                }));
                input.kind = "select";
                input.options = all;
            } else {
                input.kind = match type_of(s) {
                    Some("boolean") => "checkbox",
                    Some("integer" | "number") => "number",
                    Some("array") if s["items"]["type"] == "string" => "list",
                    Some("array" | "object") => "json",
                    _ if s["writeOnly"] == true || prop["writeOnly"] == true => "password",
                    _ if s["contentMediaType"].is_string() => "textarea",
                    _ => "text",
                };
                if input.kind == "password" {
                    // A secret is never shown back, not even what was just typed.
                    input.value.clear();
                }
                if prop["readOnly"] == true {
                    input.kind = "hidden";
                }
                if input.kind == "json" && !current.is_null() {
                    input.value = serde_json::to_string_pretty(current).unwrap_or_default();
                }
            }
            input
        })
        .collect()
}

/// The same inputs with ids unique on a page holding several forms (`i-{prefix}-{name}`).
pub fn prefixed(inputs: Vec<SchemaInput>, prefix: &str) -> Vec<SchemaInput> {
    inputs
        .into_iter()
        .map(|i| SchemaInput {
            id: format!("{prefix}-{}", i.name),
            ..i
        })
        .collect()
}

/// What a posted form means as the use case's input, or the errors of fields that could
/// not be read (JSON that does not parse).
pub fn input_value(
    schema: &Value,
    pairs: &[(String, String)],
) -> Result<Value, HashMap<String, String>> {
    let posted: HashMap<&str, &str> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut errors = HashMap::new();
    let parse_json = |name: &str, raw: &str, errors: &mut HashMap<String, String>| {
        serde_json::from_str::<Value>(raw)
            .map_err(|e| {
                errors.insert(name.to_owned(), format!("is not valid JSON: {e}"));
            })
            .ok()
    };
    if root_alternatives(schema)
        && let Some(variants) = variants(schema)
    {
        // The chosen alternative reads the form; the others' fields are not its own.
        let chosen = posted.get("type").map(|t| t.trim()).unwrap_or_default();
        return match variants.iter().find(|(t, _)| *t == chosen) {
            Some((_, variant)) => input_value(variant, pairs),
            None => {
                let names: Vec<&str> = variants.iter().map(|(t, _)| *t).collect();
                errors.insert("type".into(), format!("choose one: {}", names.join(", ")));
                Err(errors)
            }
        };
    }
    if root_alternatives(schema) {
        let raw = posted.get("_json").copied().unwrap_or_default();
        return match parse_json("_json", raw, &mut errors) {
            Some(v) => Ok(v),
            None => Err(errors),
        };
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = Map::new();
    for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
        if prop["readOnly"] == true && name != VERSION {
            continue;
        }
        let (s, _) = resolve(schema, prop);
        let raw = posted.get(name.as_str()).copied().unwrap_or_default();
        let trimmed = raw.trim();
        // A required text left empty goes on empty, so the use case names the field.
        if trimmed.is_empty() && required.contains(&name.as_str()) && type_of(s) == Some("string") {
            out.insert(name.clone(), Value::String(String::new()));
            continue;
        }
        let value = if choices(s).is_some() {
            (!trimmed.is_empty()).then(|| Value::String(trimmed.to_owned()))
        } else {
            match type_of(s) {
                Some("boolean") => Some(Value::Bool(!trimmed.is_empty())),
                _ if trimmed.is_empty() => None,
                Some("integer") => Some(
                    trimmed
                        .parse::<i64>()
                        .map(Value::from)
                        .unwrap_or_else(|_| Value::String(trimmed.to_owned())),
                ),
                Some("number") => Some(
                    trimmed
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(Value::Number)
                        .unwrap_or_else(|| Value::String(trimmed.to_owned())),
                ),
                Some("array") if s["items"]["type"] == "string" => Some(Value::Array(
                    trimmed
                        .split([',', '\n'])
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(|v| Value::String(v.to_owned()))
                        .collect(),
                )),
                Some("array" | "object") => parse_json(name, trimmed, &mut errors),
                _ => Some(Value::String(trimmed.to_owned())),
            }
        };
        if let Some(v) = value {
            out.insert(name.clone(), v);
        }
    }
    if errors.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(errors)
    }
}

/// Escapes text for HTML content and attribute values, with askama's own escaper (the one
/// the templates use).
pub fn escape(text: &str) -> String {
    match askama::filters::escape(text, askama::filters::Html) {
        Ok(safe) => safe.0.to_string(),
        Err(never) => match never {},
    }
}

/// The deepest nesting rendered; below it, values show as JSON text.
const MAX_DEPTH: usize = 4;

/// An answer as HTML: objects as definition lists, lists of objects as tables, text
/// escaped. Every piece of text goes through [`escape`].
pub fn answer_html(v: &Value) -> String {
    let mut out = String::new();
    render(v, 0, &mut out);
    out
}

fn render(v: &Value, depth: usize, out: &mut String) {
    match v {
        Value::Object(m) if depth < MAX_DEPTH => {
            out.push_str("<dl class=\"record\">");
            for (k, v) in m {
                let _ = write!(out, "<dt>{}</dt><dd>", escape(&label(k)));
                render(v, depth + 1, out);
                out.push_str("</dd>");
            }
            out.push_str("</dl>");
        }
        Value::Array(items)
            if depth < MAX_DEPTH && items.iter().all(Value::is_object) && !items.is_empty() =>
        {
            let mut columns: Vec<&String> = Vec::new();
            for item in items.iter().filter_map(Value::as_object) {
                for k in item.keys() {
                    if !columns.contains(&k) {
                        columns.push(k);
                    }
                }
            }
            out.push_str("<table class=\"list records\"><thead><tr>");
            for c in &columns {
                let _ = write!(out, "<th scope=\"col\">{}</th>", escape(&label(c)));
            }
            out.push_str("</tr></thead><tbody>");
            for item in items {
                out.push_str("<tr>");
                for c in &columns {
                    out.push_str("<td>");
                    render(&item[c.as_str()], depth + 1, out);
                    out.push_str("</td>");
                }
                out.push_str("</tr>");
            }
            out.push_str("</tbody></table>");
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            let text: Vec<String> = items.iter().map(shown).collect();
            out.push_str(&escape(&text.join(", ")));
        }
        Value::Null => out.push('–'),
        Value::String(s) => out.push_str(&escape(s)),
        other if depth >= MAX_DEPTH || other.is_array() || other.is_object() => {
            let _ = write!(out, "<code>{}</code>", escape(&other.to_string()));
        }
        other => out.push_str(&escape(&other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "name": { "type": "string" },
                "role": { "anyOf": [{ "$ref": "#/$defs/Role" }, { "type": "null" }] },
                "remoteExecution": { "type": "boolean" },
                "days": { "type": "integer" },
                "disabledTools": { "type": "array", "items": { "type": "string" } },
                "roleAllowlists": { "type": "object" },
            },
            "required": ["name", "remoteExecution"],
            "$defs": { "Role": { "oneOf": [
                { "type": "string", "const": "viewer", "description": "Reads." },
                { "type": "string", "const": "admin", "description": "Writes." },
            ] } },
        })
    }

    /// Two alternatives told apart by `type`, as a SIEM destination's input.
    fn alternatives() -> Value {
        json!({ "type": "object", "oneOf": [
            { "type": "object", "required": ["type", "name", "host"], "properties": {
                "type": { "const": "syslog" }, "name": { "type": "string" },
                "host": { "type": "string" },
                "caCert": { "type": "string", "contentMediaType": "application/x-pem-file" },
                "enabled": { "type": "boolean", "default": true } } },
            { "type": "object", "required": ["type", "name", "url"], "properties": {
                "type": { "const": "webhook" }, "name": { "type": "string" },
                "url": { "type": "string", "description": "https." },
                "secret": { "type": "string", "writeOnly": true },
                "enabled": { "type": "boolean", "default": true } } },
        ] })
    }

    #[test]
    fn alternatives_become_one_form_read_by_the_chosen_one() {
        let inputs = inputs(&alternatives(), &Map::new(), &HashMap::new());
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            ["type", "name", "host", "caCert", "enabled", "url", "secret"]
        );
        let of = |n: &str| inputs.iter().find(|i| i.name == n).unwrap();
        assert_eq!(of("type").kind, "select");
        assert!(of("name").required && !of("host").required);
        assert_eq!(of("host").description, "syslog only.");
        assert_eq!(of("url").description, "webhook only. https.");
        assert!(of("enabled").checked, "the schema's default");
        // A PEM keeps its lines; a secret is typed unseen and never shown back.
        assert_eq!(
            (of("caCert").kind, of("secret").kind),
            ("textarea", "password")
        );
        let typed = Map::from_iter([("secret".to_owned(), json!("s3cret-s3cret-s3cret"))]);
        let again = super::inputs(&alternatives(), &typed, &HashMap::new());
        assert!(again.iter().all(|i| !i.value.contains("s3cret")));
        let form = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            input_value(&alternatives(), &pairs)
        };
        let posted = form(&[
            ("type", "webhook"),
            ("name", "Hook"),
            ("host", "ignored.example"),
            ("url", "https://siem.example/in"),
            ("enabled", "on"),
        ]);
        let pem = form(&[
            ("type", "syslog"),
            ("name", "Relay"),
            ("host", "siem.example"),
            (
                "caCert",
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            ),
        ]);
        assert_eq!(
            pem.unwrap()["caCert"],
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
        );
        assert_eq!(
            posted.unwrap(),
            json!({ "type": "webhook", "name": "Hook", "url": "https://siem.example/in", "enabled": true })
        );
        let errors = form(&[("name", "No type")]).unwrap_err();
        assert_eq!(errors["type"], "choose one: syslog, webhook");
    }

    #[test]
    fn schemas_become_inputs() {
        let inputs = inputs(&schema(), &Map::new(), &HashMap::new());
        let kind = |n: &str| inputs.iter().find(|i| i.name == n).map(|i| i.kind);
        assert_eq!(kind("name"), Some("text"));
        assert_eq!(kind("role"), Some("select"));
        assert_eq!(kind("remoteExecution"), Some("checkbox"));
        assert_eq!(kind("days"), Some("number"));
        assert_eq!(kind("disabledTools"), Some("list"));
        assert_eq!(kind("roleAllowlists"), Some("json"));
        let role = inputs.iter().find(|i| i.name == "role").unwrap();
        assert!(!role.required, "nullable");
        assert_eq!(role.options[1].0, "viewer");
        assert_eq!(inputs[0].label, "Name");
        assert_eq!(label("expiresAt"), "Expires at");
    }

    #[test]
    fn posted_forms_become_input_json() {
        let pairs: Vec<(String, String)> = [
            ("name", "ci"),
            ("role", ""),
            ("days", "30"),
            ("disabledTools", "a, b"),
            ("roleAllowlists", "{\"viewer\": []}"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let v = input_value(&schema(), &pairs).unwrap();
        assert_eq!(
            v,
            json!({ "name": "ci", "remoteExecution": false, "days": 30,
                    "disabledTools": ["a", "b"], "roleAllowlists": { "viewer": [] } })
        );
        let bad = vec![("roleAllowlists".to_owned(), "{oops".to_owned())];
        assert!(
            input_value(&schema(), &bad)
                .unwrap_err()
                .contains_key("roleAllowlists")
        );
    }

    #[test]
    fn answers_render_escaped() {
        let html =
            answer_html(&json!({ "items": [{ "name": "<script>", "n": 1 }], "note": "a & b" }));
        assert!(html.contains("&#60;script&#62;") && !html.contains("<script>"));
        assert!(html.contains("a &#38; b"));
        assert_eq!(escape("\"'"), "&#34;&#39;");
        assert!(html.contains("<table"));
    }
}
