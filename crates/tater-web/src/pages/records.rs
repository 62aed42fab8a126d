//! Every declared module's pages, made from its declaration alone (no per-module handler or
//! template): the list with filters, search, sort, keyset paging and downloads that keep the
//! filters; a record; its create and edit forms with errors at their fields; delete with a
//! confirmation. Each page calls the same use case as the REST route, as the signed-in person.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value};
use tater_domain::module::{DerivedWhen, FieldKind, Holding, ModuleDef, ValueType};
use tater_domain::policy::Action;
use tater_domain::{Actor, ValidationErrors};
use tater_service::use_cases::extra_formats;
use tater_service::{CommentInput, CommentView, ServiceError, TransitionInput, TransitionView};

use super::{Layout, ListParams, allowed, download, pair, query_pairs};
use crate::Web;
use crate::error::{PageError, PageResult};
use crate::form::{self, FormField};
use crate::session::{Posted, SameOrigin, Signed};

/// Columns of a list besides the record's name.
const LIST_COLUMNS: usize = 5;

pub fn routes(mut router: Router<Web>) -> Router<Web> {
    for def in tater_domain::modules::ALL {
        router = module_routes(router, def);
    }
    router
}

fn module_routes(router: Router<Web>, def: &'static ModuleDef) -> Router<Web> {
    let base = format!("/app/{}", def.name);
    router
        .route(
            &base,
            get(move |w: State<Web>, s: Signed, q: RawQuery| list(w, s, q, def))
                .post(move |w: State<Web>, p: Posted<Vec<(String, String)>>| create(w, p, def)),
        )
        .route(
            &format!("{base}/new"),
            get(move |w: State<Web>, s: Signed, q: RawQuery| new_form(w, s, q, def)),
        )
        .route(
            &format!("{base}/export"),
            get(
                move |w: State<Web>, o: SameOrigin, s: Signed, q: RawQuery, e: Extensions| {
                    export(w, o, s, q, e, def)
                },
            ),
        )
        .route(
            &format!("{base}/{{id}}"),
            get(move |w: State<Web>, s: Signed, id: Path<String>| detail(w, s, id, def)).post(
                move |w: State<Web>, id: Path<String>, p: Posted<Vec<(String, String)>>| {
                    update(w, id, p, def)
                },
            ),
        )
        .route(
            &format!("{base}/{{id}}/comments"),
            post(
                move |w: State<Web>, id: Path<String>, p: Posted<Vec<(String, String)>>| {
                    comment(w, id, p, def)
                },
            ),
        )
        .route(
            &format!("{base}/{{id}}/transitions"),
            post(
                move |w: State<Web>, id: Path<String>, p: Posted<Vec<(String, String)>>| {
                    transition(w, id, p, def)
                },
            ),
        )
        .route(
            &format!("{base}/{{id}}/edit"),
            get(move |w: State<Web>, s: Signed, id: Path<String>| edit_form(w, s, id, def)),
        )
        .route(
            &format!("{base}/{{id}}/delete"),
            get(move |w: State<Web>, s: Signed, id: Path<String>| confirm_delete(w, s, id, def))
                .post(
                    move |w: State<Web>, id: Path<String>, p: Posted<Vec<(String, String)>>| {
                        delete(w, id, p, def)
                    },
                ),
        )
}

/// Whether the person may change records (the pages offer no write controls otherwise; the
/// service refuses anyway).
fn can_write(actor: &Actor) -> bool {
    allowed(actor, Action::WriteRecord)
}

pub(super) fn encode(pairs: &[(String, String)]) -> String {
    serde_html_form::to_string(pairs).unwrap_or_default()
}

/// A filter input of the list page.
pub struct Filter {
    pub name: String,
    pub label: String,
    /// `select`, `date` or `text`.
    pub kind: &'static str,
    pub value: String,
    pub options: Vec<(String, bool)>,
    pub error: Option<String>,
}

fn filters(
    def: &ModuleDef,
    given: &[(String, String)],
    errors: &HashMap<String, String>,
) -> Vec<Filter> {
    let value_of = |name: &str| pair(given, name).unwrap_or_default().to_owned();
    let make = |name: String, label: String, kind, options: &[&str]| {
        let value = value_of(&name);
        let mut choices = vec![(String::new(), value.is_empty())];
        choices.extend(options.iter().map(|o| (o.to_string(), *o == value)));
        Filter {
            error: errors.get(&name).cloned(),
            options: if kind == "select" {
                choices
            } else {
                Vec::new()
            },
            name,
            label,
            kind,
            value,
        }
    };
    let mut out = Vec::new();
    if def.fields.iter().any(|f| f.search) {
        out.push(make("q".into(), "Search".into(), "text", &[]));
    }
    for f in def.fields.iter().filter(|f| f.filter) {
        match f.kind {
            FieldKind::Enum(values) => {
                out.push(make(f.name.into(), f.label.into(), "select", values));
            }
            FieldKind::Date => {
                for (suffix, word) in [("gte", "from"), ("lte", "to")] {
                    let label = format!("{} {word}", f.label);
                    out.push(make(format!("{}.{suffix}", f.name), label, "date", &[]));
                }
            }
            FieldKind::Integer { .. } | FieldKind::Number { .. } => {
                for (suffix, word) in [("gte", "at least"), ("lte", "at most")] {
                    let label = format!("{} {word}", f.label);
                    out.push(make(format!("{}.{suffix}", f.name), label, "text", &[]));
                }
            }
            _ => out.push(make(f.name.into(), f.label.into(), "text", &[])),
        }
    }
    for d in def.derived.iter().filter(|d| d.filter.is_some()) {
        let kind = if d.value_type == ValueType::Bool {
            "select"
        } else {
            "text"
        };
        out.push(make(
            d.name.into(),
            d.label.into(),
            kind,
            &["true", "false"],
        ));
    }
    out
}

/// The sort choices: the sortable fields and the timestamps, each way.
fn sorts(def: &ModuleDef, current: &str) -> Vec<(String, String, bool)> {
    let mut names: Vec<(&str, &str)> = def
        .fields
        .iter()
        .filter(|f| f.sort)
        .map(|f| (f.name, f.label))
        .collect();
    names.extend(
        def.derived
            .iter()
            .filter(|d| d.sort && d.when == DerivedWhen::Write)
            .map(|d| (d.name, d.label)),
    );
    names.extend([("createdAt", "Created"), ("updatedAt", "Updated")]);
    names
        .into_iter()
        .flat_map(|(name, label)| {
            [
                (name.to_owned(), format!("{label}, ascending")),
                (format!("-{name}"), format!("{label}, descending")),
            ]
        })
        .map(|(value, label)| {
            let selected = value == current;
            (value, label, selected)
        })
        .collect()
}

/// The columns of a list: the fields one can filter on (short ones), then the read-time
/// derived values.
fn columns(def: &ModuleDef) -> Vec<(&'static str, &'static str)> {
    let short = |k: &FieldKind| {
        !matches!(
            k,
            FieldKind::LongText { .. } | FieldKind::Objects { .. } | FieldKind::TextMap { .. }
        )
    };
    let mut cols: Vec<(&str, &str)> = def
        .fields
        .iter()
        .skip(1)
        .filter(|f| f.filter && short(&f.kind))
        .map(|f| (f.name, f.label))
        .take(LIST_COLUMNS)
        .collect();
    cols.extend(def.derived.iter().map(|d| (d.name, d.label)));
    cols
}

/// A record's name: its first field.
fn title_of(def: &ModuleDef, record: &Value) -> String {
    def.fields
        .first()
        .map(|f| form::shown(&record[f.name]))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| def.singular.to_owned())
}

fn cell(v: &Value) -> String {
    match v {
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Array(items) if items.iter().all(Value::is_object) => match items.len() {
            0 => String::new(),
            n => format!("{n}"),
        },
        other => form::shown(other),
    }
}

/// A download the list offers: its label and URL (with the list's filters).
pub struct Download {
    pub label: String,
    pub href: String,
}

fn downloads(def: &ModuleDef, filters: &[(String, String)]) -> Vec<Download> {
    let link = |format: &str, extra: Option<(&str, &str)>| {
        let mut p = filters.to_vec();
        p.push(("format".into(), format.into()));
        if let Some((k, v)) = extra {
            p.push((k.into(), v.into()));
        }
        format!("/app/{}/export?{}", def.name, encode(&p))
    };
    let mut out = vec![
        Download {
            label: "CSV".into(),
            href: link("csv", None),
        },
        Download {
            label: "JSON".into(),
            href: link("json", None),
        },
    ];
    for f in extra_formats(def) {
        // A format with a choice (the eMASS layout) offers a link per choice.
        let choices: Vec<(&'static str, String)> = (f.params)()
            .into_iter()
            .flat_map(|(name, schema)| {
                schema["enum"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(|v| (name, v.to_owned())))
                    .collect::<Vec<_>>()
            })
            .collect();
        if choices.is_empty() {
            out.push(Download {
                label: f.label.to_owned(),
                href: link(f.name, None),
            });
        }
        for (param, value) in choices {
            out.push(Download {
                label: format!("{} ({value})", f.label),
                href: link(f.name, Some((param, &value))),
            });
        }
    }
    out
}

#[derive(Template, WebTemplate)]
#[template(path = "records_list.html")]
pub struct ListPage {
    layout: Layout,
    def: &'static ModuleDef,
    filters: Vec<Filter>,
    sorts: Vec<(String, String, bool)>,
    columns: Vec<(&'static str, &'static str)>,
    /// Each row: the record's link, its name and its cells.
    rows: Vec<(String, String, Vec<String>)>,
    next: Option<String>,
    paged: bool,
    downloads: Vec<Download>,
    can_write: bool,
    problem: Option<String>,
    /// Filters the address holds that the form has no input for (a dashboard link's exact
    /// `likelihood=3`): kept as hidden inputs so live filtering keeps them, and shown.
    kept: Vec<(String, String)>,
}

/// The query's filters the list's form has no input for.
fn kept_filters(filters: &[Filter], given: &[(String, String)]) -> Vec<(String, String)> {
    const PAGING: [&str; 3] = ["sort", "limit", "cursor"];
    given
        .iter()
        .filter(|(k, _)| !PAGING.contains(&k.as_str()) && !filters.iter().any(|f| &f.name == k))
        .cloned()
        .collect()
}

async fn list(
    State(web): State<Web>,
    signed: Signed,
    RawQuery(query): RawQuery,
    def: &'static ModuleDef,
) -> PageResult<ListPage> {
    let layout = Layout::new(&web, &signed, def.plural, def.name).await?;
    let params = ListParams::parse(query.as_deref());
    let given = &params.pairs;
    let sort = params.value("sort");
    let current_sort = if sort.is_empty() {
        def.default_sort.to_owned()
    } else {
        sort
    };
    let filter_pairs = params.filters();
    let (page, errors) = match web.service.list_query(def, given, &[]) {
        Ok(q) => (
            Some(web.service.list_records(&signed.actor, def, &q).await?),
            HashMap::new(),
        ),
        Err(ServiceError::Validation(errors)) => (None, field_errors(&errors)),
        Err(e) => return Err(e.into()),
    };
    let cols = columns(def);
    let (rows, next) = match page {
        Some(page) => {
            let rows = page
                .items
                .iter()
                .map(|r| {
                    let id = r["id"].as_str().unwrap_or_default();
                    let cells = cols.iter().map(|(name, _)| cell(&r[*name])).collect();
                    (format!("/app/{}/{id}", def.name), title_of(def, r), cells)
                })
                .collect();
            let path = format!("/app/{}", def.name);
            let next = page.next_cursor.map(|c| params.next_link(&path, c));
            (rows, next)
        }
        None => (Vec::new(), None),
    };
    let filters = filters(def, given, &errors);
    Ok(ListPage {
        layout,
        def,
        kept: kept_filters(&filters, given),
        filters,
        sorts: sorts(def, &current_sort),
        columns: cols,
        rows,
        next,
        paged: given.iter().any(|(k, _)| k == "cursor"),
        downloads: downloads(def, &filter_pairs),
        can_write: can_write(&signed.actor),
        problem: filter_problem(def, &errors),
    })
}

/// What is wrong with the filters, by field label: shown above the results, which live
/// filtering replaces (the marks at the fields come with a full page load).
fn filter_problem(def: &ModuleDef, errors: &HashMap<String, String>) -> Option<String> {
    if errors.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = errors
        .iter()
        .map(|(field, message)| {
            let label = def
                .fields
                .iter()
                .find(|f| f.name == field)
                .map_or(field.as_str(), |f| f.label);
            format!("{label}: {message}")
        })
        .collect();
    parts.sort();
    Some(format!(
        "Some filters are not valid — {}.",
        parts.join("; ")
    ))
}

fn field_errors(errors: &ValidationErrors) -> HashMap<String, String> {
    errors
        .0
        .iter()
        .map(|e| (e.field.clone(), e.message.clone()))
        .collect()
}

/// A value of a record page.
pub struct Shown {
    pub label: &'static str,
    pub text: String,
    /// Multi-line text keeps its lines.
    pub long: bool,
    /// For a list of objects: its column labels and rows.
    pub table: Option<(Vec<&'static str>, Vec<Vec<String>>)>,
}

fn shown_fields(def: &ModuleDef, record: &Value) -> Vec<Shown> {
    let mut out: Vec<Shown> = def
        .fields
        .iter()
        .map(|f| {
            let v = &record[f.name];
            let table = match f.kind {
                FieldKind::Objects { fields, .. } => Some((
                    fields.iter().map(|s| s.label).collect(),
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .map(|item| fields.iter().map(|s| cell(&item[s.name])).collect())
                        .collect(),
                )),
                _ => None,
            };
            let text = match (&f.kind, v) {
                (FieldKind::TextMap { .. }, Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", form::shown(v)))
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => cell(v),
            };
            Shown {
                label: f.label,
                long: matches!(
                    f.kind,
                    FieldKind::LongText { .. } | FieldKind::TextMap { .. }
                ),
                text,
                table,
            }
        })
        .collect();
    out.extend(def.derived.iter().map(|d| Shown {
        label: d.label,
        text: cell(&record[d.name]),
        long: false,
        table: None,
    }));
    for (name, label) in [("createdAt", "Created"), ("updatedAt", "Updated")] {
        out.push(Shown {
            label,
            text: cell(&record[name]),
            long: false,
            table: None,
        });
    }
    out
}

#[derive(Template, WebTemplate)]
#[template(path = "record.html")]
pub struct RecordPage {
    layout: Layout,
    def: &'static ModuleDef,
    id: String,
    fields: Vec<Shown>,
    can_write: bool,
    /// Whether the record's state still allows editing (decided records move only).
    can_edit: bool,
    /// For a module with a status flow: the current state, the moves this person may make
    /// (state, whether it needs a comment) and the record's moves so far.
    state: Option<String>,
    moves: Vec<(&'static str, bool)>,
    /// The moves offered that need a comment, for the comment's label.
    comment_needed: String,
    history: Vec<TransitionView>,
    /// The record's comments, newest first.
    comments: Vec<CommentView>,
    /// What the record is linked to, newest first, and what the link form offers.
    links: Vec<super::links::LinkRow>,
    link_targets: Vec<(&'static str, String)>,
    /// What else this person may do with the record: the registry's use cases about its
    /// module (a policy's versions, an audit's snapshots), as links to their pages.
    more: Vec<MoreLink>,
    /// Where a file is uploaded, for a record that holds files and may still change.
    upload: Option<String>,
    /// The records that refer to this one, counted by how far they got.
    referrers: Vec<super::referrers::Referrers>,
}

/// A use case about one record, opened from the record's page with its id filled in.
pub struct MoreLink {
    pub href: String,
    pub summary: String,
    pub read: bool,
}

/// The registry's use cases about `def`'s records that `actor` may run, for record `id`.
fn more_links(def: &ModuleDef, actor: &tater_domain::Actor, id: &str) -> Vec<MoreLink> {
    tater_service::use_cases::registry()
        .iter()
        .filter(|c| c.about == Some(def.name) && super::actions::offered(c, actor))
        .map(|c| MoreLink {
            // The record's own id as the server wrote it: a UUID, nothing to encode.
            href: format!("{}/{}?id={id}", super::actions::PATH, c.tool),
            summary: c.summary.clone(),
            read: c.hints.read_only,
        })
        .collect()
}

async fn detail(
    State(web): State<Web>,
    signed: Signed,
    Path(id): Path<String>,
    def: &'static ModuleDef,
) -> PageResult<RecordPage> {
    let record = web.service.get_record(&signed.actor, def, &id).await?;
    let layout = Layout::new(&web, &signed, &title_of(def, &record), def.name).await?;
    let (state, history) = match def.flow {
        Some(flow) => (
            record[flow.field].as_str().map(str::to_owned),
            web.service
                .list_transitions(&signed.actor, def, &id)
                .await?
                .items,
        ),
        None => (None, Vec::new()),
    };
    let comments = web
        .service
        .list_comments(&signed.actor, def, &id)
        .await?
        .items;
    let links = web.service.list_links(&signed.actor, def, &id).await?.items;
    let referrers = super::referrers::referrers(&web, &signed.actor, def, &id).await?;
    let moves = web
        .service
        .transitions_offered(&signed.actor, def, &record)
        .await?;
    let comment_needed: Vec<&str> = moves.iter().filter(|m| m.1).map(|m| m.0).collect();
    let editable = def
        .flow
        .zip(state.as_deref())
        .is_none_or(|(flow, s)| flow.is_editable(s));
    Ok(RecordPage {
        layout,
        def,
        comment_needed: comment_needed.join(" or "),
        moves,
        fields: shown_fields(def, &record),
        can_write: can_write(&signed.actor),
        can_edit: editable,
        state,
        history,
        comments,
        links: super::links::rows(links),
        link_targets: super::links::targets(&signed.actor),
        more: more_links(
            def,
            &signed.actor,
            record["id"].as_str().unwrap_or_default(),
        ),
        upload: (def.holds.contains(&Holding::Files) && can_write(&signed.actor) && editable)
            .then(|| super::files::upload_path(&id)),
        referrers,
        id,
    })
}

/// A comment from the record page's form; back to the record, which lists it.
async fn comment(
    State(web): State<Web>,
    Path(id): Path<String>,
    posted: Posted<Vec<(String, String)>>,
    def: &'static ModuleDef,
) -> PageResult<Redirect> {
    let body = pair(&posted.form, "body").unwrap_or_default().to_owned();
    let input = CommentInput { body };
    web.service
        .add_comment(&posted.signed.actor, def, &id, &input)
        .await?;
    Ok(Redirect::to(&format!("/app/{}/{id}#comments", def.name)))
}

/// A move from the record page's buttons; back to the record, which shows its new state.
async fn transition(
    State(web): State<Web>,
    Path(id): Path<String>,
    posted: Posted<Vec<(String, String)>>,
    def: &'static ModuleDef,
) -> PageResult<Redirect> {
    let value = |name: &str| pair(&posted.form, name).map(str::to_owned);
    let input = TransitionInput {
        to: value("to").unwrap_or_default(),
        comment: value("comment").filter(|c| !c.trim().is_empty()),
    };
    web.service
        .transition_record(&posted.signed.actor, def, &id, &input)
        .await?;
    Ok(Redirect::to(&format!("/app/{}/{id}", def.name)))
}

#[derive(Template, WebTemplate)]
#[template(path = "record_form.html")]
pub struct FormPage {
    layout: Layout,
    /// Where the form posts.
    action: String,
    /// Where "Cancel" goes.
    back: String,
    fields: Vec<FormField>,
    problem: Option<String>,
    /// The version an edit form was filled from (carried back hidden).
    version: Option<i64>,
}

fn form_page(
    layout: Layout,
    def: &'static ModuleDef,
    id: Option<&str>,
    values: &Map<String, Value>,
    errors: &HashMap<String, String>,
) -> FormPage {
    let (action, back) = match id {
        Some(id) => (
            format!("/app/{}/{id}", def.name),
            format!("/app/{}/{id}", def.name),
        ),
        None => (format!("/app/{}", def.name), format!("/app/{}", def.name)),
    };
    FormPage {
        layout,
        action,
        back,
        fields: form::fields(def, values, errors),
        problem: (!errors.is_empty())
            .then(|| "Nothing was saved: please correct the fields marked below.".to_owned()),
        version: id.and(values.get(form::VERSION)).and_then(Value::as_i64),
    }
}

/// The create form, filled with any of the module's fields named in the query (the control
/// page's "Open a POA&M item" names its control).
async fn new_form(
    State(web): State<Web>,
    signed: Signed,
    RawQuery(query): RawQuery,
    def: &'static ModuleDef,
) -> PageResult<Response> {
    if !can_write(&signed.actor) {
        return Err(PageError::forbidden("Your role cannot add records."));
    }
    let title = format!("New {}", def.singular);
    let layout = Layout::new(&web, &signed, &title, def.name).await?;
    let given = query_pairs(query.as_deref());
    let (prefill, _) = form::to_body(def, &given);
    let values = prefill.as_object().cloned().unwrap_or_default();
    Ok(form_page(layout, def, None, &values, &HashMap::new()).into_response())
}

async fn edit_form(
    State(web): State<Web>,
    signed: Signed,
    Path(id): Path<String>,
    def: &'static ModuleDef,
) -> PageResult<Response> {
    if !can_write(&signed.actor) {
        return Err(PageError::forbidden("Your role cannot change records."));
    }
    let record = web.service.get_record(&signed.actor, def, &id).await?;
    let title = format!("Edit {}", title_of(def, &record));
    let layout = Layout::new(&web, &signed, &title, def.name).await?;
    let values = record.as_object().cloned().unwrap_or_default();
    Ok(form_page(layout, def, Some(&id), &values, &HashMap::new()).into_response())
}

/// Saves a posted form through `save`; invalid input shows the form again with what was
/// typed and the errors at their fields (nothing is lost).
async fn save(
    web: &Web,
    posted: Posted<Vec<(String, String)>>,
    def: &'static ModuleDef,
    id: Option<&str>,
) -> PageResult<Response> {
    let (body, rows) = form::to_body(def, &posted.form);
    let actor = &posted.signed.actor;
    let saved = match id {
        Some(id) => web.service.update_record(actor, def, id, &body).await,
        None => web.service.create_record(actor, def, &body).await,
    };
    match saved {
        Ok(record) => {
            let id = record["id"].as_str().unwrap_or_default();
            Ok(Redirect::to(&format!("/app/{}/{id}", def.name)).into_response())
        }
        Err(ServiceError::Validation(errors)) => {
            let title = match id {
                Some(_) => format!("Edit {}", def.singular),
                None => format!("New {}", def.singular),
            };
            let layout = Layout::new(web, &posted.signed, &title, def.name).await?;
            let values = body.as_object().cloned().unwrap_or_default();
            let page = form_page(layout, def, id, &values, &rows.errors(&errors));
            // The form again, as an ordinary page (a person is correcting it).
            Ok(page.into_response())
        }
        Err(ServiceError::Conflict(message)) => match id {
            Some(id) => conflicted(web, &posted, def, id, &body).await,
            None => Err(ServiceError::Conflict(message).into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// Someone saved the record after this form was filled: what was typed comes back with the
/// newer version, so saving again is a choice made knowing it replaces their change.
async fn conflicted(
    web: &Web,
    posted: &Posted<Vec<(String, String)>>,
    def: &'static ModuleDef,
    id: &str,
    typed: &Value,
) -> PageResult<Response> {
    let current = web
        .service
        .get_record(&posted.signed.actor, def, id)
        .await?;
    let title = format!("Edit {}", title_of(def, &current));
    let layout = Layout::new(web, &posted.signed, &title, def.name).await?;
    let mut values = typed.as_object().cloned().unwrap_or_default();
    values.insert(form::VERSION.to_owned(), current[form::VERSION].clone());
    let mut page = form_page(layout, def, Some(id), &values, &HashMap::new());
    page.problem = Some(format!(
        "Nothing was saved: someone else changed this {} since you opened it (it is at version {} now). What you typed is below; save again to replace their change, or cancel to see it.",
        def.singular.to_lowercase(),
        current[form::VERSION]
    ));
    Ok((StatusCode::CONFLICT, page).into_response())
}

async fn create(
    State(web): State<Web>,
    posted: Posted<Vec<(String, String)>>,
    def: &'static ModuleDef,
) -> PageResult<Response> {
    save(&web, posted, def, None).await
}

async fn update(
    State(web): State<Web>,
    Path(id): Path<String>,
    posted: Posted<Vec<(String, String)>>,
    def: &'static ModuleDef,
) -> PageResult<Response> {
    save(&web, posted, def, Some(&id)).await
}

#[derive(Template, WebTemplate)]
#[template(path = "record_delete.html")]
pub struct DeletePage {
    layout: Layout,
    def: &'static ModuleDef,
    id: String,
    name: String,
}

async fn confirm_delete(
    State(web): State<Web>,
    signed: Signed,
    Path(id): Path<String>,
    def: &'static ModuleDef,
) -> PageResult<DeletePage> {
    if !can_write(&signed.actor) {
        return Err(PageError::forbidden("Your role cannot delete records."));
    }
    let record = web.service.get_record(&signed.actor, def, &id).await?;
    let title = format!("Delete this {}?", def.singular);
    let layout = Layout::new(&web, &signed, &title, def.name).await?;
    Ok(DeletePage {
        layout,
        def,
        name: title_of(def, &record),
        id,
    })
}

async fn delete(
    State(web): State<Web>,
    Path(id): Path<String>,
    posted: Posted<Vec<(String, String)>>,
    def: &'static ModuleDef,
) -> PageResult<Redirect> {
    web.service
        .delete_record(&posted.signed.actor, def, &id)
        .await?;
    Ok(Redirect::to(&format!("/app/{}", def.name)))
}

/// A download of the list as shown (its filters kept), made by the REST export route as the
/// signed-in person.
async fn export(
    State(web): State<Web>,
    _: SameOrigin,
    signed: Signed,
    RawQuery(query): RawQuery,
    extensions: Extensions,
    def: &'static ModuleDef,
) -> PageResult<Response> {
    let given = query_pairs(query.as_deref());
    let path = format!("/api/{}/export?{}", def.name, encode(&given));
    download(&web, signed.actor, path, extensions).await
}
