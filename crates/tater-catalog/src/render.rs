//! Turning OSCAL parts and parameters into readable text.

use crate::Param;
use crate::oscal;

pub(crate) fn param(p: &oscal::Param) -> Param {
    let (choices, how_many) = match &p.select {
        Some(s) => (s.choice.clone(), s.how_many.clone()),
        None => (Vec::new(), None),
    };
    Param {
        id: p.id.clone(),
        alt_ids: p
            .props
            .iter()
            .filter(|x| x.name == "alt-identifier")
            .map(|x| x.value.clone())
            .collect(),
        label: p.label.clone().unwrap_or_default(),
        guidelines: p
            .guidelines
            .iter()
            .map(|g| g.prose.trim())
            .collect::<Vec<_>>()
            .join(" "),
        choices,
        how_many,
    }
}

/// How a parameter reads inside a statement.
pub(crate) fn placeholder(p: &Param) -> String {
    if !p.choices.is_empty() {
        let how = if p.how_many.as_deref() == Some("one-or-more") {
            " (one or more)"
        } else {
            ""
        };
        return format!("[Selection{how}: {}]", p.choices.join("; "));
    }
    if p.label.starts_with("organization-defined") {
        format!("[Assignment: {}]", p.label)
    } else {
        format!("[Assignment: organization-defined {}]", p.label)
    }
}

/// Replaces `{{ insert: param, id }}` with the parameter's placeholder.
fn substitute(prose: &str, params: &[Param]) -> String {
    let mut out = String::with_capacity(prose.len());
    let mut rest = prose;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = rest[start + 2..start + end].trim();
        let id = inner
            .strip_prefix("insert:")
            .map(str::trim)
            .and_then(|s| s.strip_prefix("param,"))
            .map(str::trim);
        match id.and_then(|id| {
            params
                .iter()
                .find(|p| p.id == id || p.alt_ids.iter().any(|a| a == id))
        }) {
            Some(p) => out.push_str(&placeholder(p)),
            None => out.push_str(&format!("[Assignment: {}]", id.unwrap_or(inner))),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// The text of the top-level part named `name`: its prose, then its items, one per line,
/// indented by depth and led by their labels (`a.`, `1.`).
pub(crate) fn part_text(parts: &[oscal::Part], name: &str, params: &[Param]) -> String {
    let mut lines = Vec::new();
    for part in parts.iter().filter(|p| p.name == name) {
        if let Some(prose) = &part.prose {
            lines.push(substitute(prose.trim(), params));
        }
        items(&part.parts, 0, params, &mut lines);
    }
    lines.join("\n")
}

fn items(parts: &[oscal::Part], depth: usize, params: &[Param], lines: &mut Vec<String>) {
    for part in parts {
        let label = part
            .props
            .iter()
            .find(|p| p.name == "label")
            .map(|p| format!("{} ", p.value))
            .unwrap_or_default();
        let prose = part
            .prose
            .as_deref()
            .map(|p| substitute(p.trim(), params))
            .unwrap_or_default();
        lines.push(
            format!("{}{label}{prose}", "  ".repeat(depth))
                .trim_end()
                .to_owned(),
        );
        items(&part.parts, depth + 1, params, lines);
    }
}
