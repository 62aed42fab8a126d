//! The POA&M as OSCAL 1.2.1 JSON (for OSCAL toolchains; eMASS takes the spreadsheet). Each
//! POAM item becomes a `risk` (its weakness, status and milestones as remediation tasks) and a
//! `poam-item` pointing at it. UUIDs are UUIDv5 per organization and record, as in the SSP,
//! whose system id this document names.

use serde_json::{Map, Value, json};

use crate::oscal_ssp::{OSCAL_VERSION, objects, text, uuid_of};

/// The POA&M as OSCAL, written as items arrive: each item's `risk` and `poam-item` are
/// serialized at once, so memory holds the output, not every item's fields. The bytes are
/// those of the whole document serialized compactly (same data, same bytes).
#[derive(Debug, Default)]
pub struct PoamWriter {
    org_id: String,
    risks: Vec<u8>,
    items: Vec<u8>,
    count: usize,
}

impl PoamWriter {
    pub fn new(org_id: &str) -> Self {
        Self {
            org_id: org_id.to_owned(),
            ..Default::default()
        }
    }

    /// Items written so far.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds one POA&M item (its id and fields as the API shows them).
    pub fn push(&mut self, id: &str, fields: &Map<String, Value>) {
        let (risk, item) = risk_and_item(&self.org_id, id, fields);
        for (buf, v) in [(&mut self.risks, risk), (&mut self.items, item)] {
            if self.count > 0 {
                buf.push(b',');
            }
            buf.extend(v.to_string().into_bytes());
        }
        self.count += 1;
    }

    /// The document. `last_modified` is RFC 3339; the newest change among the items.
    pub fn finish(self, system_name: &str, last_modified: &str, version: &str) -> Vec<u8> {
        let org = self.org_id.as_str();
        let metadata = json!({
            "title": format!("{system_name} Plan of Action and Milestones"),
            "last-modified": last_modified,
            "version": version,
            "oscal-version": OSCAL_VERSION,
        });
        let system_id = json!({ "identifier-type": "https://ietf.org/rfc/rfc4122", "id": uuid_of(org, "system") });
        let mut out = Vec::with_capacity(self.risks.len() + self.items.len() + 512);
        out.extend(b"{\"plan-of-action-and-milestones\":{\"uuid\":");
        out.extend(Value::String(uuid_of(org, "poam")).to_string().into_bytes());
        out.extend(b",\"metadata\":");
        out.extend(metadata.to_string().into_bytes());
        out.extend(b",\"system-id\":");
        out.extend(system_id.to_string().into_bytes());
        if self.count > 0 {
            out.extend(b",\"risks\":[");
            out.extend(self.risks);
            out.push(b']');
        }
        out.extend(b",\"poam-items\":[");
        out.extend(self.items);
        out.extend(b"]}}");
        out
    }
}

/// OSCAL risk status for a POAM status.
fn risk_status(status: &str) -> &'static str {
    match status {
        "In Progress" => "remediating",
        "Completed" | "False Positive" => "closed",
        "Risk Accepted" => "deviation-approved",
        _ => "open",
    }
}

/// One item's OSCAL `risk` (weakness, status, milestones as remediation tasks, deadline) and
/// its `poam-item`.
fn risk_and_item(org: &str, id: &str, f: &Map<String, Value>) -> (Value, Value) {
    let risk_uuid = uuid_of(org, &format!("poam-risk/{id}"));
    let title = text(f, "title").unwrap_or_else(|| "Untitled weakness".into());
    let weakness = text(f, "weaknessDescription").unwrap_or_else(|| title.clone());
    let status = text(f, "status").unwrap_or_else(|| "Open".into());
    let mut props =
        vec![json!({ "name": "poam-status", "ns": "https://tater.dev/ns/oscal", "value": status })];
    if let Some(impact) = text(f, "impact") {
        props
            .push(json!({ "name": "impact", "ns": "https://tater.dev/ns/oscal", "value": impact }));
    }
    let tasks: Vec<Value> = objects(f, "milestones")
        .enumerate()
        .map(|(i, m)| {
            let mut task = json!({
                "uuid": uuid_of(org, &format!("poam-milestone/{id}/{i}")),
                "type": "milestone",
                "title": text(m, "description").unwrap_or_else(|| format!("Milestone {}", i + 1)),
            });
            if let Some(date) = text(m, "completionDate").or_else(|| text(m, "scheduledCompletion"))
            {
                task["timing"] = json!({ "on-date": { "date": format!("{date}T00:00:00Z") } });
            }
            task
        })
        .collect();
    let mut risk = json!({
        "uuid": risk_uuid,
        "title": title,
        "description": weakness,
        "statement": text(f, "justification").unwrap_or_else(|| weakness.clone()),
        "status": risk_status(&status),
    });
    let mut remediation = json!({
        "uuid": uuid_of(org, &format!("poam-remediation/{id}")),
        "lifecycle": "planned",
        "title": format!("Remediation of {title}"),
        "description": text(f, "resourcesRequired").unwrap_or_else(|| "Planned remediation.".into()),
    });
    if !tasks.is_empty() {
        remediation["tasks"] = Value::Array(tasks);
    }
    risk["remediations"] = json!([remediation]);
    if let Some(date) = text(f, "scheduledCompletion") {
        risk["deadline"] = json!(format!("{date}T00:00:00Z"));
    }
    let mut item = json!({
        "uuid": uuid_of(org, &format!("poam-item/{id}")),
        "title": title,
        "description": weakness,
        "props": props,
        "related-risks": [{ "risk-uuid": risk_uuid }],
    });
    let controls: Vec<&str> = f
        .get("controls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !controls.is_empty() {
        item["remarks"] = json!(format!("Controls: {}", controls.join(", ")));
    }
    (risk, item)
}
