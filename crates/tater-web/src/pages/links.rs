//! A record's links on its page (and a control's on the control page): what they are, where
//! they lead, and — for those who may write — a form to link and a button to unlink. The
//! form takes a title as people know it and finds the record; an id or a control's id
//! (`AC-2`) works too.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::routing::post;
use tater_domain::module::{CONTROLS, ModuleDef};
use tater_domain::modules;
use tater_domain::policy::Action;
use tater_domain::{Actor, RecordId, ValidationErrors};
use tater_service::{LinkInput, LinkTarget, LinkView, ServiceError, ServiceResult, record_label};

use super::{allowed, pair};
use crate::Web;
use crate::error::PageResult;
use crate::session::Posted;

/// How many records a title search looks at before asking for more of the title.
const CANDIDATES: u32 = 6;

/// A link as a page lists it.
pub struct LinkRow {
    pub id: String,
    /// What the far end is: a module's singular, or "Control".
    pub kind: String,
    pub href: String,
    pub label: String,
    pub by: String,
    pub at: String,
}

pub fn rows(links: Vec<LinkView>) -> Vec<LinkRow> {
    links
        .into_iter()
        .map(|l| {
            let kind = match modules::by_name(&l.to.module) {
                Some(def) => capitalized(def.singular),
                None => "Control".to_owned(),
            };
            LinkRow {
                id: l.id,
                kind,
                href: format!("/app/{}/{}", l.to.module, l.to.id),
                label: l.to.label,
                by: l.by,
                at: l.at.to_string(),
            }
        })
        .collect()
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

/// What the link form offers to link to: every module the person may read, and controls.
pub fn targets(actor: &Actor) -> Vec<(&'static str, String)> {
    modules::ALL
        .iter()
        .filter(|m| allowed(actor, Action::ReadRecords(m.read_role)))
        .map(|m| (m.name, capitalized(m.singular)))
        .chain([(CONTROLS, "Control".to_owned())])
        .collect()
}

pub fn routes(mut router: Router<Web>) -> Router<Web> {
    for def in modules::ALL {
        let base = format!("/app/{}/{{id}}/links", def.name);
        router = router
            .route(
                &base,
                post(
                    move |w: State<Web>, id: Path<String>, p: Posted<Vec<(String, String)>>| {
                        link(w, id, p, def)
                    },
                ),
            )
            .route(
                &format!("{base}/{{link}}/delete"),
                post(
                    move |w: State<Web>,
                          ids: Path<(String, String)>,
                          p: Posted<Vec<(String, String)>>| {
                        unlink(w, ids, p, def)
                    },
                ),
            );
    }
    router
}

/// The link form: a module and which one; back to the record, which lists the new link.
async fn link(
    State(web): State<Web>,
    Path(id): Path<String>,
    posted: Posted<Vec<(String, String)>>,
    def: &'static ModuleDef,
) -> PageResult<Redirect> {
    let value = |name: &str| {
        pair(&posted.form, name)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let module = value("module");
    let target = find(&web, &posted.signed.actor, &module, &value("target")).await?;
    let input = LinkInput {
        to: LinkTarget { module, id: target },
    };
    web.service
        .add_link(&posted.signed.actor, def, &id, &input)
        .await?;
    Ok(Redirect::to(&format!("/app/{}/{id}#links", def.name)))
}

/// The id the form's "which one" names: a control's id as typed, a record's id, or the one
/// record of the module whose title matches (exactly, or as the only one containing it).
async fn find(web: &Web, actor: &Actor, module: &str, typed: &str) -> ServiceResult<String> {
    let unknown = |m: &str| ValidationErrors::single("target", m).into();
    if typed.is_empty() {
        return Err(unknown("say which one: its title or its id"));
    }
    let Some(def) = modules::by_name(module) else {
        // A control, or a module the service will name as unknown.
        return Ok(typed.to_owned());
    };
    if typed.parse::<RecordId>().is_ok() {
        return Ok(typed.to_owned());
    }
    let params = [
        ("q".to_owned(), typed.to_owned()),
        ("limit".to_owned(), CANDIDATES.to_string()),
    ];
    let query = web.service.list_query(def, &params, &[])?;
    let found = web.service.list_records(actor, def, &query).await?.items;
    let empty = serde_json::Map::new();
    let title = |r: &serde_json::Value| record_label(def, r.as_object().unwrap_or(&empty));
    let exact: Vec<&serde_json::Value> = found
        .iter()
        .filter(|r| title(r).eq_ignore_ascii_case(typed))
        .collect();
    let one = match (exact.as_slice(), found.as_slice()) {
        ([one], _) => *one,
        ([], [one]) => one,
        ([], []) => return Err(unknown(&format!("no {} has “{typed}” in it", def.singular))),
        _ => {
            let names: Vec<String> = found.iter().map(title).collect();
            return Err(unknown(&format!(
                "several {} match ({}); type more of the title, or the id",
                def.plural,
                names.join("; ")
            )));
        }
    };
    one["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or(ServiceError::NotFound)
}

/// The unlink button; back to the record.
async fn unlink(
    State(web): State<Web>,
    Path((id, link)): Path<(String, String)>,
    posted: Posted<Vec<(String, String)>>,
    def: &'static ModuleDef,
) -> PageResult<Redirect> {
    web.service
        .remove_link(&posted.signed.actor, def, &id, &link)
        .await?;
    Ok(Redirect::to(&format!("/app/{}/{id}#links", def.name)))
}
