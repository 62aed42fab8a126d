//! Settings: the organization's features, members, API keys, SIEM destinations, MCP tool
//! policy and retention periods on one page. Each section is a handful of the registry's own use cases, named here
//! and nothing more: a read's answer (with its rows' own changes), and a change's form from
//! its input schema — filled with what is set now when a read says so — posting to the same
//! handler as every other use case (`actions.rs`). What a role may not use is not shown; the
//! service refuses it anyway.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Map, Value};
use tater_service::use_cases::{Answer, UseCase, registry};

use super::Layout;
use super::actions::{self, offered};
use crate::Web;
use crate::error::PageResult;
use crate::schema_form::{self, SchemaInput};
use crate::session::Signed;

pub const PATH: &str = "/app/settings";

/// One section: which use cases it is made of.
struct SectionDef {
    id: &'static str,
    title: &'static str,
    intro: &'static str,
    /// Reads whose answers the section shows.
    shows: &'static [&'static str],
    /// Changes offered as forms, each with the read that fills it with what is set now.
    forms: &'static [(&'static str, Option<&'static str>)],
    /// The answers refresh themselves this often (delivery status), in seconds.
    refresh_secs: Option<u32>,
}

const SECTIONS: &[SectionDef] = &[
    SectionDef {
        id: "features",
        title: "Features",
        intro: "Switches for the whole organization, and the Anthropic API key the AI features use (stored encrypted, never shown again). Each change is audited.",
        shows: &["ai_settings_get"],
        forms: &[
            ("settings_update", Some("settings_get")),
            ("ai_settings_update", Some("ai_settings_get")),
        ],
        refresh_secs: None,
    },
    SectionDef {
        id: "members",
        title: "Members",
        intro: "Who belongs to this organization and with which role. An invitation waits until the person accepts it.",
        shows: &["members_list", "members_invitations"],
        forms: &[("members_invite", None)],
        refresh_secs: None,
    },
    SectionDef {
        id: "api-keys",
        title: "API keys",
        intro: "Keys for scripts, agents of automation and MCP clients. A new key's secret is shown once.",
        shows: &["api_keys_list"],
        forms: &[("api_keys_create", None)],
        refresh_secs: None,
    },
    SectionDef {
        id: "siem",
        title: "SIEM destinations",
        intro: "Every audit entry is forwarded to each enabled destination. Status refreshes by itself.",
        shows: &["siem_destinations_list"],
        forms: &[("siem_destinations_create", None)],
        refresh_secs: Some(15),
    },
    SectionDef {
        id: "mcp",
        title: "MCP tool policy",
        intro: "Which tools AI assistants may call in this organization, per role.",
        shows: &[],
        forms: &[("mcp_policy_update", Some("mcp_policy_get"))],
        refresh_secs: None,
    },
    SectionDef {
        id: "retention",
        title: "Retention",
        intro: "How long this organization keeps each kind of data, in days, within the bounds the operator allows. A period left empty is its default; audit entries are kept for ever unless you choose a period. Shortening one deletes what is older within the hour. Each change is audited.",
        shows: &["retention_get"],
        forms: &[("retention_update", Some("retention_get"))],
        refresh_secs: None,
    },
];

/// A change's form in a section.
pub struct SectionForm {
    pub tool: String,
    pub summary: String,
    pub inputs: Vec<SchemaInput>,
    /// Filled with what is set now (open at once) rather than empty (folded).
    pub current: bool,
}

/// A section as shown.
pub struct Panel {
    pub id: &'static str,
    pub title: &'static str,
    pub intro: &'static str,
    /// Each read's summary and its answer as escaped HTML.
    pub answers: Vec<(String, String)>,
    pub forms: Vec<SectionForm>,
    pub refresh_secs: Option<u32>,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    layout: Layout,
    panels: Vec<Panel>,
}

#[derive(Deserialize)]
pub struct Only {
    /// One section alone (a section refreshing itself asks for its own).
    section: Option<String>,
}

fn use_case(name: &str, signed: &Signed) -> Option<&'static UseCase> {
    registry()
        .iter()
        .find(|c| c.name == name && offered(c, &signed.actor))
}

/// Whether the person may use any part of the Settings page.
pub fn any_offered(signed_actor: &tater_domain::Actor) -> bool {
    SECTIONS.iter().any(|s| {
        s.shows
            .iter()
            .chain(s.forms.iter().map(|(f, _)| f))
            .any(|name| {
                registry()
                    .iter()
                    .any(|c| c.name == *name && offered(c, signed_actor))
            })
    })
}

/// The Settings section a change belongs to, for the way back after it ran: one of its
/// forms, or a change its lists' rows offer (`members_list` → `members_remove`).
pub fn section_of(tool: &str) -> Option<String> {
    let name = &registry().iter().find(|c| c.tool == tool)?.name;
    SECTIONS
        .iter()
        .find(|s| {
            s.forms.iter().any(|(form, _)| form == name)
                || s.shows.iter().any(|list| {
                    list.strip_suffix("_list")
                        .is_some_and(|family| name.starts_with(&format!("{family}_")))
                })
        })
        .map(|s| format!("{PATH}#{}", s.id))
}

/// The form of the change `name`, filled with what the read `current` answers now when the
/// person may read it; `None` when the person may not make the change.
pub(crate) async fn section_form(
    web: &Web,
    signed: &Signed,
    name: &str,
    current: Option<&str>,
) -> PageResult<Option<SectionForm>> {
    let Some(case) = use_case(name, signed) else {
        return Ok(None);
    };
    let values = match current.and_then(|n| use_case(n, signed)) {
        Some(read) => match actions::run(web, signed, read, Value::Object(Map::new())).await? {
            Answer::Json(Value::Object(m)) => Some(m),
            _ => None,
        },
        None => None,
    };
    let inputs = schema_form::inputs(
        &case.input_schema(),
        values.as_ref().unwrap_or(&Map::new()),
        &HashMap::new(),
    );
    Ok(Some(SectionForm {
        tool: case.tool.clone(),
        summary: case.summary.clone(),
        inputs: schema_form::prefixed(inputs, &case.tool),
        current: values.is_some(),
    }))
}

async fn panel(web: &Web, signed: &Signed, def: &'static SectionDef) -> PageResult<Panel> {
    let mut answers = Vec::new();
    for case in def.shows.iter().filter_map(|n| use_case(n, signed)) {
        let answer = actions::run(web, signed, case, Value::Object(Map::new())).await?;
        answers.push((
            case.summary.clone(),
            actions::render(&answer, case, signed, &Map::new()),
        ));
    }
    let mut forms = Vec::new();
    for (name, current) in def.forms {
        forms.extend(section_form(web, signed, name, *current).await?);
    }
    Ok(Panel {
        id: def.id,
        title: def.title,
        intro: def.intro,
        answers,
        forms,
        refresh_secs: def.refresh_secs,
    })
}

/// The page: every section the person may use (or the one `?section=` names).
pub async fn page(
    State(web): State<Web>,
    signed: Signed,
    Query(only): Query<Only>,
) -> PageResult<SettingsPage> {
    let layout = Layout::new(&web, &signed, "Settings", "settings").await?;
    let mut panels = Vec::new();
    for def in SECTIONS
        .iter()
        .filter(|d| only.section.as_deref().is_none_or(|s| s == d.id))
    {
        let panel = panel(&web, &signed, def).await?;
        if !panel.answers.is_empty() || !panel.forms.is_empty() {
            panels.push(panel);
        }
    }
    if panels.is_empty() {
        return Err(tater_service::ServiceError::NotFound.into());
    }
    Ok(SettingsPage { layout, panels })
}
