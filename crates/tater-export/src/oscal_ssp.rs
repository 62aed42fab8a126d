//! The System Security Plan as OSCAL 1.2.1 JSON. Every UUID is a UUIDv5 of the organization
//! and the object it names, and every list is in a fixed order, so two exports of unchanged
//! data are byte-identical and diff cleanly.

use serde_json::{Map, Value, json};
use uuid::Uuid;

pub const OSCAL_VERSION: &str = "1.2.1";
/// Namespace of all SSP UUIDs (combined with the organization id).
const NAMESPACE: Uuid = Uuid::from_u128(0x7a7e_0003_55b0_4c2e_8d6a_0f3b_2c1d_5e90);

/// What the SSP is made of, gathered by the service.
#[derive(Debug, Clone)]
pub struct SspInput {
    pub org_id: String,
    pub org_name: String,
    /// The system profile's fields (empty when none was written).
    pub profile: Map<String, Value>,
    /// The selected baseline: its framework id and the profile document to import.
    pub baseline_id: String,
    pub baseline_href: String,
    /// The baseline's controls in catalog order, each with the organization's overlay.
    pub controls: Vec<(String, Map<String, Value>)>,
    /// Enrolled endpoints: id, hostname, OS, OS version — sorted by hostname.
    pub endpoints: Vec<[String; 4]>,
    /// RFC 3339; the newest change the SSP reflects.
    pub last_modified: String,
    pub version: String,
}

/// The UUID of `key` in this organization's SSP.
pub fn uuid_of(org: &str, key: &str) -> String {
    let org_ns = Uuid::new_v5(&NAMESPACE, org.as_bytes());
    Uuid::new_v5(&org_ns, key.as_bytes()).to_string()
}

/// The objects of a list field (information types, milestones).
pub(crate) fn objects<'a>(
    m: &'a Map<String, Value>,
    k: &str,
) -> impl Iterator<Item = &'a Map<String, Value>> {
    m.get(k)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

pub(crate) fn text(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn fips(level: Option<String>) -> String {
    format!("fips-199-{}", level.unwrap_or_else(|| "moderate".into()))
}

/// An OSCAL token from free text (responsible role names): lower-case letters, digits, `-`.
fn token(s: &str) -> String {
    let t: String = s
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let t = t.trim_matches('-').to_owned();
    if t.starts_with(|c: char| c.is_ascii_alphabetic()) {
        t
    } else {
        format!("role-{t}")
    }
}

/// The people the profile names, as (role id, role title, name field, email field).
pub(crate) const PEOPLE: [(&str, &str, &str, &str); 3] = [
    (
        "system-owner",
        "System Owner",
        "systemOwnerName",
        "systemOwnerEmail",
    ),
    (
        "information-system-security-officer",
        "Information System Security Officer",
        "issoName",
        "issoEmail",
    ),
    (
        "authorizing-official",
        "Authorizing Official",
        "authorizingOfficialName",
        "authorizingOfficialEmail",
    ),
];

pub fn ssp(input: &SspInput) -> Value {
    let org = input.org_id.as_str();
    let p = &input.profile;
    let name = text(p, "name").unwrap_or_else(|| format!("{} system", input.org_name));
    let description =
        text(p, "description").unwrap_or_else(|| "No description has been written yet.".into());
    let this_system = uuid_of(org, "component/this-system");
    let agent = uuid_of(org, "component/tater-agent");

    // Roles: the three the profile knows, then every responsible role the overlays name.
    let mut roles: Vec<(String, String)> = PEOPLE
        .iter()
        .map(|(id, title, _, _)| ((*id).to_owned(), (*title).to_owned()))
        .collect();
    for (_, overlay) in &input.controls {
        for r in overlay
            .get("responsibleRoles")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let id = token(r);
            if !roles.iter().any(|(x, _)| *x == id) {
                roles.push((id, r.to_owned()));
            }
        }
    }
    let mut parties = vec![
        json!({ "uuid": uuid_of(org, "party/organization"), "type": "organization", "name": input.org_name }),
    ];
    let mut responsible = Vec::new();
    for (role, _, name_field, email_field) in PEOPLE {
        if let Some(person) = text(p, name_field) {
            let uuid = uuid_of(org, &format!("party/{role}"));
            let mut party = json!({ "uuid": uuid, "type": "person", "name": person });
            if let Some(email) = text(p, email_field) {
                party["email-addresses"] = json!([email]);
            }
            parties.push(party);
            responsible.push(json!({ "role-id": role, "party-uuids": [uuid] }));
        }
    }
    let mut metadata = json!({
        "title": format!("{name} System Security Plan"),
        "last-modified": input.last_modified,
        "version": input.version,
        "oscal-version": OSCAL_VERSION,
        "roles": roles.iter().map(|(id, title)| json!({ "id": id, "title": title })).collect::<Vec<_>>(),
        "parties": parties,
    });
    if !responsible.is_empty() {
        metadata["responsible-parties"] = Value::Array(responsible);
    }

    let impact = |k: &str| fips(text(p, k));
    let mut info_types: Vec<Value> = objects(p, "informationTypes")
        .enumerate()
        .map(|(i, t)| {
            let level = |k: &str| json!({ "base": text(t, k).map_or_else(|| impact(k), |l| fips(Some(l))) });
            json!({
                "uuid": uuid_of(org, &format!("information-type/{i}")),
                "title": text(t, "title").unwrap_or_else(|| "Information".into()),
                "description": text(t, "description").unwrap_or_else(|| "As described in the system profile.".into()),
                "confidentiality-impact": level("confidentiality"),
                "integrity-impact": level("integrity"),
                "availability-impact": level("availability"),
            })
        })
        .collect();
    if info_types.is_empty() {
        info_types.push(json!({
            "uuid": uuid_of(org, "information-type/system"),
            "title": "System information",
            "description": "The information the system processes; no information types are recorded yet.",
            "confidentiality-impact": { "base": impact("confidentiality") },
            "integrity-impact": { "base": impact("integrity") },
            "availability-impact": { "base": impact("availability") },
        }));
    }
    let levels = ["confidentiality", "integrity", "availability"]
        .map(|k| text(p, k).unwrap_or_else(|| "moderate".into()));
    let high_water = high_water(&levels);
    let state = text(p, "status").unwrap_or_else(|| "operational".into());
    let mut characteristics = json!({
        "system-ids": [{ "identifier-type": "https://ietf.org/rfc/rfc4122", "id": uuid_of(org, "system") }],
        "system-name": name,
        "description": description,
        "security-sensitivity-level": fips(Some(high_water)),
        "system-information": { "information-types": info_types },
        "security-impact-level": {
            "security-objective-confidentiality": fips(Some(levels[0].clone())),
            "security-objective-integrity": fips(Some(levels[1].clone())),
            "security-objective-availability": fips(Some(levels[2].clone())),
        },
        "status": { "state": state },
        "authorization-boundary": { "description": text(p, "authorizationBoundary").unwrap_or_else(|| "Not described yet.".into()) },
    });
    if let Some(short) = text(p, "abbreviation") {
        characteristics["system-name-short"] = json!(short);
    }
    for (field, key) in [
        ("networkArchitecture", "network-architecture"),
        ("dataFlow", "data-flow"),
    ] {
        if let Some(d) = text(p, field) {
            characteristics[key] = json!({ "description": d });
        }
    }

    let users: Vec<Value> = PEOPLE
        .iter()
        .map(|(role, title, _, _)| json!({ "uuid": uuid_of(org, &format!("user/{role}")), "title": title, "role-ids": [role] }))
        .collect();
    let inventory: Vec<Value> = input
        .endpoints
        .iter()
        .map(|[id, host, os, version]| {
            json!({
                "uuid": uuid_of(org, &format!("inventory/{id}")),
                "description": format!("{host} ({os} {version}), monitored by the Tater agent"),
                "props": [
                    { "name": "fqdn", "value": host },
                    { "name": "os-name", "value": os },
                    { "name": "os-version", "value": version },
                ],
                "implemented-components": [{ "component-uuid": agent }],
            })
        })
        .collect();
    let mut implementation = json!({
        "users": users,
        "components": [
            { "uuid": this_system, "type": "this-system", "title": name, "description": description, "status": { "state": "operational" } },
            {
                "uuid": agent, "type": "software", "title": "Tater endpoint agent",
                "description": "Scans each endpoint against declarative technical checks mapped to SP 800-53 and reports to Tater.",
                "status": { "state": "operational" },
            },
        ],
    });
    if !inventory.is_empty() {
        implementation["inventory-items"] = Value::Array(inventory);
    }

    let requirements: Vec<Value> = input
        .controls
        .iter()
        .map(|(id, o)| requirement(org, id, o, &this_system))
        .collect();
    json!({
        "system-security-plan": {
            "uuid": uuid_of(org, "ssp"),
            "metadata": metadata,
            "import-profile": { "href": input.baseline_href },
            "system-characteristics": characteristics,
            "system-implementation": implementation,
            "control-implementation": {
                "description": format!("How {name} implements the controls of the {} baseline.", input.baseline_id),
                "implemented-requirements": requirements,
            },
        }
    })
}

/// A control's OSCAL implementation status from its overlay (`planned` when untailored).
pub(crate) fn implementation_status(o: &Map<String, Value>) -> String {
    if text(o, "applicability").as_deref() == Some("not-applicable") {
        "not-applicable".to_owned()
    } else {
        text(o, "implementationStatus").unwrap_or_else(|| "planned".into())
    }
}

/// The narrative an SSP shows for a control: the justification when it is not applicable.
pub(crate) fn implementation_narrative(o: &Map<String, Value>) -> Option<String> {
    if text(o, "applicability").as_deref() == Some("not-applicable") {
        text(o, "justification").map(|j| format!("Not applicable: {j}"))
    } else {
        text(o, "narrative")
    }
}

/// The overall FIPS 199 level: the highest of confidentiality, integrity and availability.
pub(crate) fn high_water(levels: &[String]) -> String {
    let rank = |l: &str| match l {
        "high" => 3,
        "moderate" => 2,
        _ => 1,
    };
    levels
        .iter()
        .max_by_key(|l| rank(l))
        .cloned()
        .unwrap_or_else(|| "moderate".into())
}

/// One control's implemented requirement, from the organization's overlay.
fn requirement(org: &str, id: &str, o: &Map<String, Value>, this_system: &str) -> Value {
    let status = implementation_status(o);
    let narrative = implementation_narrative(o);
    let mut by = json!({
        "component-uuid": this_system,
        "uuid": uuid_of(org, &format!("by-component/{id}")),
        "description": narrative.unwrap_or_else(|| "No implementation narrative has been written yet.".into()),
        "implementation-status": { "state": status },
    });
    let mut req = json!({ "uuid": uuid_of(org, &format!("requirement/{id}")), "control-id": id });
    if let Some(Value::Object(values)) = o.get("parameterValues")
        && !values.is_empty()
    {
        let mut params: Vec<(&String, &Value)> = values.iter().collect();
        params.sort_by(|a, b| a.0.cmp(b.0));
        req["set-parameters"] = json!(
            params
                .iter()
                .map(|(k, v)| json!({ "param-id": k, "values": [v.as_str().unwrap_or_default()] }))
                .collect::<Vec<_>>()
        );
    }
    let roles: Vec<Value> = o
        .get("responsibleRoles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|r| json!({ "role-id": token(r) }))
        .collect();
    if !roles.is_empty() {
        req["responsible-roles"] = Value::Array(roles.clone());
        by["responsible-roles"] = Value::Array(roles);
    }
    req["by-components"] = json!([by]);
    req
}
