//! Every use case of the registry as a page, from its declaration alone: a read runs with
//! what its form (from the input schema) says and shows the answer; a change shows its form
//! and runs on a post with the session's CSRF token. Lists offer their records' own changes
//! (revoke, remove, change role) on each row. The same registry makes the REST routes and
//! the MCP tools, so the three cannot drift apart.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use tater_domain::Actor;
use tater_service::ServiceError;
use tater_service::use_cases::{Answer, Caller, Gate, Output, UseCase, registry};

use super::{Layout, allowed, query_pairs};
use crate::Web;
use crate::error::{PageError, PageResult};
use crate::schema_form::{self, SchemaInput, escape};
use crate::session::{Posted, Signed};

pub const PATH: &str = "/app/actions";

/// Whether the page offers `case` to `actor`: a use case a generated channel can call, or
/// a file its REST route makes (downloaded through that route), whose gate the role passes.
/// (The service checks again when it runs.)
pub fn offered(case: &UseCase, actor: &Actor) -> bool {
    let gate = match case.gate {
        Gate::Public => false,
        Gate::Signed => true,
        Gate::Action(action) => allowed(actor, action),
    };
    // A conversation with the analyst is had on its own page (`analyst.rs`).
    let analyst = case.gate == Gate::Action(tater_domain::policy::Action::Converse);
    (case.invoke.is_some() || is_file(case)) && !case.identity_step && !analyst && gate
}

/// A use case whose answer is a file.
fn is_file(case: &UseCase) -> bool {
    matches!(case.output, Output::File(_))
}

/// The query parameter that asks a file use case's page for the file itself.
const DOWNLOAD: &str = "_download";

fn find(tool: &str, actor: &Actor) -> PageResult<&'static UseCase> {
    registry()
        .iter()
        .find(|c| c.tool == tool && offered(c, actor))
        .ok_or_else(|| ServiceError::NotFound.into())
}

/// A use case in the index.
pub struct Entry {
    pub tool: String,
    pub summary: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "actions.html")]
pub struct IndexPage {
    layout: Layout,
    reads: Vec<Entry>,
    changes: Vec<Entry>,
}

/// Everything the person may do here, reads and changes.
pub async fn index(State(web): State<Web>, signed: Signed) -> PageResult<IndexPage> {
    let layout = Layout::new(&web, &signed, "Everything you can do", "actions").await?;
    let entry = |c: &UseCase| Entry {
        tool: c.tool.clone(),
        summary: c.summary.clone(),
    };
    let offered: Vec<&UseCase> = registry()
        .iter()
        .filter(|c| offered(c, &signed.actor))
        .collect();
    Ok(IndexPage {
        layout,
        reads: offered
            .iter()
            .filter(|c| c.hints.read_only)
            .map(|c| entry(c))
            .collect(),
        changes: offered
            .iter()
            .filter(|c| !c.hints.read_only)
            .map(|c| entry(c))
            .collect(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "action.html")]
pub struct ActionPage {
    layout: Layout,
    tool: String,
    summary: String,
    read: bool,
    destructive: bool,
    inputs: Vec<SchemaInput>,
    /// The answer, as HTML whose every text is escaped (`schema_form::answer_html`).
    answer: Option<String>,
    done: bool,
    problem: Option<String>,
    /// The Settings section this change belongs to, when it is one of theirs.
    back: Option<String>,
    /// A file: the form downloads it.
    download: bool,
}

pub(crate) fn caller(signed: &Signed) -> Caller {
    Caller {
        identity: signed.caller.identity.clone(),
        actor: signed.actor.clone(),
    }
}

pub(crate) fn field_errors(e: &tater_domain::ValidationErrors) -> HashMap<String, String> {
    e.0.iter()
        .map(|f| (f.field.clone(), f.message.clone()))
        .collect()
}

/// A read runs at once with the query's inputs; a change shows its form (filled from the
/// query, as a row's "change role" link does); a file shows its form, and downloads through
/// its REST route when the query asks for it (`_download`).
pub async fn page(
    State(web): State<Web>,
    signed: Signed,
    Path(tool): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    extensions: Extensions,
) -> PageResult<Response> {
    let case = find(&tool, &signed.actor)?;
    let schema = case.input_schema();
    let mut pairs = query_pairs(query.as_deref());
    let wants_file = pairs.iter().any(|(k, _)| k == DOWNLOAD);
    pairs.retain(|(k, _)| k != DOWNLOAD);
    let mut page = ActionPage {
        layout: Layout::new(&web, &signed, &case.summary, "actions").await?,
        tool: case.tool.clone(),
        summary: case.summary.clone(),
        read: case.hints.read_only || is_file(case),
        destructive: case.hints.destructive,
        inputs: Vec::new(),
        answer: None,
        done: false,
        problem: None,
        back: super::settings::section_of(&case.tool),
        download: is_file(case),
    };
    let input = match schema_form::input_value(&schema, &pairs) {
        Ok(v) => v,
        Err(errors) => {
            page.inputs = schema_form::inputs(&schema, &Map::new(), &errors);
            return Ok(page.into_response());
        }
    };
    let values = input.as_object().cloned().unwrap_or_default();
    if is_file(case) && wants_file {
        // A link from another site does not make an export in this person's name.
        crate::session::same_origin(&headers, &web)?;
        return file(&web, &signed, case, values, extensions).await;
    }
    if !case.hints.read_only || is_file(case) {
        page.inputs = schema_form::inputs(&schema, &values, &HashMap::new());
        return Ok(page.into_response());
    }
    let mut errors = HashMap::new();
    match run(&web, &signed, case, input).await {
        Ok(answer) => page.answer = Some(render(&answer, case, &signed, &values)),
        Err(ServiceError::Validation(e)) => {
            errors = field_errors(&e);
            page.problem = Some(format!("Not possible with these inputs: {e}."));
        }
        Err(e) => return Err(e.into()),
    }
    page.inputs = schema_form::inputs(&schema, &values, &errors);
    Ok(page.into_response())
}

/// A file use case's file, made by its REST route as the signed-in person.
async fn file(
    web: &Web,
    signed: &Signed,
    case: &UseCase,
    input: Map<String, Value>,
    extensions: Extensions,
) -> PageResult<Response> {
    let Some(template) = web.file_paths.get(&case.name) else {
        return Err(ServiceError::NotFound.into());
    };
    let uri = tater_service::use_cases::invoke::route_uri(template, input)?;
    super::download(web, signed.actor.clone(), uri, extensions).await
}

pub(crate) async fn run(
    web: &Web,
    signed: &Signed,
    case: &UseCase,
    input: Value,
) -> Result<Answer, ServiceError> {
    let Some(invoke) = &case.invoke else {
        return Err(ServiceError::NotFound);
    };
    invoke
        .call(web.service.clone(), caller(signed), input)
        .await
}

/// Runs a change with the posted form; invalid input shows the form again, errors at their
/// fields, nothing lost.
pub async fn submit(
    State(web): State<Web>,
    Path(tool): Path<String>,
    posted: Posted<Vec<(String, String)>>,
) -> PageResult<ActionPage> {
    let signed = &posted.signed;
    let case = find(&tool, &signed.actor)?;
    if case.hints.read_only {
        return Err(PageError::bad_request("This is a read: open it instead."));
    }
    let schema = case.input_schema();
    let fields: Vec<(String, String)> = posted
        .form
        .iter()
        .filter(|(k, _)| k != "_csrf")
        .cloned()
        .collect();
    let mut page = ActionPage {
        layout: Layout::new(&web, signed, &case.summary, "actions").await?,
        tool: case.tool.clone(),
        summary: case.summary.clone(),
        read: false,
        destructive: case.hints.destructive,
        inputs: Vec::new(),
        answer: None,
        done: false,
        problem: None,
        back: super::settings::section_of(&case.tool),
        download: false,
    };
    let input = match schema_form::input_value(&schema, &fields) {
        Ok(v) => v,
        Err(errors) => {
            page.problem =
                Some("Nothing was changed: please correct the fields marked below.".into());
            page.inputs = schema_form::inputs(&schema, &Map::new(), &errors);
            return Ok(page);
        }
    };
    let values = input.as_object().cloned().unwrap_or_default();
    match run(&web, signed, case, input).await {
        Ok(answer) => {
            page.done = true;
            page.answer = Some(render(&answer, case, signed, &values));
            // The form again, empty, for another.
            page.inputs = schema_form::inputs(&schema, &Map::new(), &HashMap::new());
        }
        Err(ServiceError::Validation(e)) => {
            page.problem =
                Some("Nothing was changed: please correct the fields marked below.".into());
            page.inputs = schema_form::inputs(&schema, &values, &field_errors(&e));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(page)
}

/// What a row offers: a use case of the same resource and what fills its inputs.
struct RowAction {
    case: &'static UseCase,
    /// It needs the row's id alone (a button does it at once, unless it destroys).
    id_only: bool,
    /// Its second id is the row's, next to the list's own `id` (an audit's snapshot, an
    /// evidence record's file): `(name of the row's id, the list's id)`.
    under: Option<(String, String)>,
}

/// What a list's rows offer: use cases of the same resource (`api_keys_list` →
/// `api_keys_revoke`, `siem_destinations_dead_letters`, `evidence_files_list` →
/// `evidence_files_download`) that take the row's `id`, or the list's `id` and the row's.
fn row_actions(case: &UseCase, actor: &Actor, input: &Map<String, Value>) -> Vec<RowAction> {
    let Some(prefix) = case.name.strip_suffix("_list") else {
        return Vec::new();
    };
    let listed_under = input.get("id").and_then(Value::as_str);
    registry()
        .iter()
        .filter(|c| c.name.starts_with(&format!("{prefix}_")) && c.name != case.name)
        .filter(|c| offered(c, actor))
        .filter_map(|c| {
            let schema = c.input_schema();
            let required: Vec<&str> = schema["required"]
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            // Only a second *id* is the row's (`fileId`, `tokenId`): a `label` is not.
            let under = match (listed_under, required.as_slice()) {
                (Some(list_id), ["id", other] | [other, "id"]) if other.ends_with("Id") => {
                    Some(((*other).to_owned(), list_id.to_owned()))
                }
                _ => None,
            };
            (required.contains(&"id")).then_some(RowAction {
                case: c,
                id_only: required == ["id"],
                under,
            })
        })
        .collect()
}

/// The answer as HTML; a list's rows get buttons or links for their own changes, reads and
/// files. `input` is what the list was asked with.
pub(crate) fn render(
    answer: &Answer,
    case: &UseCase,
    signed: &Signed,
    input: &Map<String, Value>,
) -> String {
    let value = match answer {
        Answer::Json(v) => v,
        Answer::Nothing => return "<p>Done.</p>".into(),
    };
    let mut html = schema_form::answer_html(value);
    let actions = row_actions(case, &signed.actor, input);
    // Each row by its id and what a person knows it by (a member's address, a key's name).
    let rows: Vec<(&str, &str)> = value["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| {
            let id = i["id"].as_str().or(i["userId"].as_str())?;
            let name = ROW_NAMES
                .iter()
                .find_map(|n| i[*n].as_str())
                .unwrap_or_default();
            Some((id, name))
        })
        .collect();
    if actions.is_empty() || rows.is_empty() {
        return html;
    }
    let csrf = escape(&signed.caller.session.csrf_token);
    html.push_str("<h2>Act on a row</h2><table class=\"list records row-actions\"><tbody>");
    for (id, name) in rows {
        let (id, name) = (escape(id), escape(name));
        html.push_str(&format!(
            "<tr><th scope=\"row\">{name} <code class=\"small\">{id}</code></th><td>"
        ));
        for action in &actions {
            html.push_str(&row_action(action, &id, &csrf));
        }
        html.push_str("</td></tr>");
    }
    html.push_str("</tbody></table>");
    html
}

/// The fields a listed row is known by, first found first.
const ROW_NAMES: [&str; 6] = ["email", "name", "title", "hostname", "label", "version"];

/// One row's link or button for `action` (`id` and `csrf` escaped already).
fn row_action(action: &RowAction, id: &str, csrf: &str) -> String {
    let c = action.case;
    let tool = escape(&c.tool);
    let verb = escape(
        &c.tool
            .split('_')
            .next()
            .unwrap_or_default()
            .replace('-', " "),
    );
    if let Some((name, list_id)) = &action.under {
        // The row's id goes under its own name; a file downloads at once.
        let (name, list_id) = (escape(name), escape(list_id));
        let file = if is_file(c) { "&amp;_download=1" } else { "" };
        return format!(
            "<a href=\"{PATH}/{tool}?id={list_id}&amp;{name}={id}{file}\">{}</a> ",
            escape(&c.summary)
        );
    }
    if c.hints.read_only {
        // A read of the row opens its page, which runs it at once.
        format!(
            "<a href=\"{PATH}/{tool}?id={id}\">{}</a> ",
            escape(&c.summary)
        )
    } else if action.id_only && !c.hints.destructive {
        format!(
            "<form method=\"post\" action=\"{PATH}/{tool}\"><input type=\"hidden\" name=\"_csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"id\" value=\"{id}\"><button type=\"submit\" class=\"{}\">{verb}</button></form> ",
            if c.hints.destructive { "danger" } else { "" }
        )
    } else {
        // A change with more to say, or one that destroys (revoke, remove): its form first,
        // filled with the row's id, so nothing is lost to one stray click.
        format!("<a href=\"{PATH}/{tool}?id={id}\">{verb}…</a> ")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tater_domain::{Channel, OrgId};

    use super::*;

    #[test]
    fn a_rows_id_fills_only_an_id_field_next_to_the_lists() {
        let actor = Actor::system("unit-test", "actions", OrgId::generate(), Channel::Web);
        let list = registry()
            .iter()
            .find(|c| c.name == "auditor_tokens_list")
            .unwrap();
        let mut input = Map::new();
        input.insert("id".into(), json!("an-audit"));
        let actions: Vec<(&str, bool)> = row_actions(list, &actor, &input)
            .iter()
            .map(|a| (a.case.name.as_str(), a.under.is_some()))
            .collect();
        assert!(
            actions.contains(&("auditor_tokens_revoke", true)),
            "{actions:?}"
        );
        // Its `label` is no row's id: a token row never opens a filled-in grant.
        assert!(
            !actions.contains(&("auditor_tokens_create", true)),
            "{actions:?}"
        );
    }
}
