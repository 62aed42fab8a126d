//! The POA&M as OSCAL 1.2.1 JSON (for OSCAL toolchains; eMASS takes the spreadsheet). Each
//! POAM item becomes a `risk` (its weakness, status and milestones as remediation tasks) and a
//! `poam-item` pointing at it. UUIDs are UUIDv5 per organization and record, as in the SSP,
//! whose system id this document names.

use serde_json::{Map, Value, json};

use crate::oscal_ssp::{OSCAL_VERSION, objects, text, uuid_of};

/// What the POA&M is made of, gathered by the service.
#[derive(Debug, Clone)]
pub struct PoamInput {
    pub org_id: String,
    pub system_name: String,
    /// Each item's id and fields (as the API shows them), in a fixed order.
    pub items: Vec<(String, Map<String, Value>)>,
    /// RFC 3339; the newest change among the items.
    pub last_modified: String,
    pub version: String,
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

pub fn poam(input: &PoamInput) -> Value {
    let org = input.org_id.as_str();
    let mut risks = Vec::new();
    let mut items = Vec::new();
    for (id, f) in &input.items {
        let risk_uuid = uuid_of(org, &format!("poam-risk/{id}"));
        let title = text(f, "title").unwrap_or_else(|| "Untitled weakness".into());
        let weakness = text(f, "weaknessDescription").unwrap_or_else(|| title.clone());
        let status = text(f, "status").unwrap_or_else(|| "Open".into());
        let mut props = vec![
            json!({ "name": "poam-status", "ns": "https://tater.dev/ns/oscal", "value": status }),
        ];
        if let Some(impact) = text(f, "impact") {
            props.push(
                json!({ "name": "impact", "ns": "https://tater.dev/ns/oscal", "value": impact }),
            );
        }
        let tasks: Vec<Value> = objects(f, "milestones")
            .enumerate()
            .map(|(i, m)| {
                let mut task = json!({
                    "uuid": uuid_of(org, &format!("poam-milestone/{id}/{i}")),
                    "type": "milestone",
                    "title": text(m, "description").unwrap_or_else(|| format!("Milestone {}", i + 1)),
                });
                if let Some(date) = text(m, "completionDate").or_else(|| text(m, "scheduledCompletion")) {
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
        risks.push(risk);
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
        items.push(item);
    }
    let mut plan = json!({
        "uuid": uuid_of(org, "poam"),
        "metadata": {
            "title": format!("{} Plan of Action and Milestones", input.system_name),
            "last-modified": input.last_modified,
            "version": input.version,
            "oscal-version": OSCAL_VERSION,
        },
        "system-id": { "identifier-type": "https://ietf.org/rfc/rfc4122", "id": uuid_of(org, "system") },
    });
    if !risks.is_empty() {
        plan["risks"] = Value::Array(risks);
    }
    plan["poam-items"] = Value::Array(items);
    json!({ "plan-of-action-and-milestones": plan })
}
