//! The use cases of a declared module, made from its declaration: list, export, get, create,
//! update and delete, with schemas from its fields.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value, json};
use tater_domain::modules::POAM;
use tater_domain::{Action, Actor, ValidationErrors};
use tater_export::emass::Layout;

use crate::{
    CommentList, CommentView, LinkList, LinkView, MAX_COMMENT_CHARS, RecordCounts, Service,
    ServiceResult, TransitionHistory, TransitionView,
};
use tater_domain::module::{
    DEFAULT_PAGE_SIZE, Flow, MAX_PAGE_SIZE, ModuleDef, input_schema, output_schema,
};

use super::invoke::{self, json, nothing};
use super::{
    CommentRequest, Gate, LinkRef, LinkRequest, Shape, TransitionRef, TransitionRequest, UseCase,
};

/// The export formats every module has; a module may add its own ([`extra_formats`]).
const FORMATS: &[&str] = &["csv", "json"];

pub(super) fn use_cases(def: &'static ModuleDef) -> Vec<UseCase> {
    let key = def.name.replace('-', "_");
    let read = Gate::Action(Action::ReadRecords(def.read_role));
    let write = Gate::Action(Action::WriteRecord);
    let record = Shape::Named(record_name(def), output_schema(def));
    let page = Shape::Page(Box::new(record.clone()));
    let mut update = input_schema(def);
    add_id(&mut update);
    let (one, many) = def.nouns;
    let mut cases = vec![
        UseCase::read(
            &format!("{key}_list"),
            &format!("List {}", def.plural),
            read,
        )
        .tool(&format!("list_{many}"))
        .runs(json(move |s, c, i: Map<String, Value>| async move {
            let query = s.list_query(def, &invoke::to_pairs(i)?, &[])?;
            s.list_records(&c.actor, def, &query).await
        }))
        .takes_declared(list_input(def))
        .gives_shape(page),
        UseCase::read(
            &format!("{key}_export"),
            &format!("Export {} as {}", def.plural, format_names(def)),
            read,
        )
        .tool(&format!("export_{many}"))
        .takes_declared(export_input(def))
        .gives_file(&export_media_types(def)),
        UseCase::read(
            &format!("{key}_get"),
            &format!("Get a {}", def.singular),
            read,
        )
        .tool(&format!("get_{one}"))
        .runs(json(move |s, c, i: super::ById| async move {
            s.get_record(&c.actor, def, &i.id).await
        }))
        .takes_declared(id_only())
        .gives_shape(record.clone()),
        UseCase::write(
            &format!("{key}_create"),
            &format!("Create a {}", def.singular),
            write,
        )
        .tool(&format!("create_{one}"))
        .runs(json(move |s, c, i: Value| async move {
            s.create_record(&c.actor, def, &i).await
        }))
        .takes_declared(input_schema(def))
        .gives_shape(record.clone()),
        UseCase::write(
            &format!("{key}_update"),
            &format!("Replace a {}", def.singular),
            write,
        )
        .tool(&format!("update_{one}"))
        .runs(json(move |s, c, i: Map<String, Value>| async move {
            let (id, body) = invoke::split_id(i)?;
            s.update_record(&c.actor, def, &id, &body).await
        }))
        .idempotent()
        .takes_declared(update)
        .gives_shape(record),
        UseCase::delete(
            &format!("{key}_delete"),
            &format!("Delete a {}", def.singular),
            write,
        )
        .tool(&format!("delete_{one}"))
        .runs(nothing(move |s, c, i: super::ById| async move {
            s.delete_record(&c.actor, def, &i.id).await
        }))
        .takes_declared(id_only()),
    ];
    // Counting needs a field to count by: a module without one has no counts.
    if !crate::record_counts::countable(def).is_empty() {
        cases.push(counts_use_case(def));
    }
    cases.extend(comment_use_cases(def));
    cases.extend(link_use_cases(def));
    if let Some(flow) = def.flow {
        cases.extend(flow_use_cases(def, flow, record_name(def)));
    }
    cases
}

/// Records per value of one of the module's fields, under the list's filters.
fn counts_use_case(def: &'static ModuleDef) -> UseCase {
    let key = def.name.replace('-', "_");
    let read = Gate::Action(Action::ReadRecords(def.read_role));
    let (_, many) = def.nouns;
    UseCase::read(
            &format!("{key}_counts"),
            &format!(
                "Count {} per value of one field (`by`), under the list's filters, with each value's share",
                def.plural
            ),
            read,
        )
        .tool(&format!("count_{many}"))
        .runs(json(move |s, c, i: Map<String, Value>| async move {
            s.count_records(&c.actor, def, &invoke::to_pairs(i)?).await
        }))
        .takes_declared(counts_input(def))
        .gives::<RecordCounts>()
}

/// Every module's records take comments: list them, add one.
fn comment_use_cases(def: &'static ModuleDef) -> Vec<UseCase> {
    let key = def.name.replace('-', "_");
    let (one, _) = def.nouns;
    vec![
        UseCase::read(
            &format!("{key}_comments"),
            &format!("The comments on a {}, newest first", def.singular),
            Gate::Action(Action::ReadRecords(def.read_role)),
        )
        .tool(&format!("list_{one}_comments"))
        .runs(json(move |s, c, i: super::ById| async move {
            s.list_comments(&c.actor, def, &i.id).await
        }))
        .takes_declared(id_only())
        .gives::<CommentList>(),
        UseCase::write(
            &format!("{key}_comment_create"),
            &format!("Comment on a {} (Markdown); audited", def.singular),
            Gate::Action(Action::WriteRecord),
        )
        .tool(&format!("create_{one}_comment"))
        .runs(json(move |s, c, i: CommentRequest| async move {
            let input = crate::CommentInput { body: i.body };
            s.add_comment(&c.actor, def, &i.id, &input).await
        }))
        .takes::<CommentRequest>()
        .gives::<CommentView>(),
    ]
}

/// Every module's records link to records of any module and to controls: list, make, remove.
fn link_use_cases(def: &'static ModuleDef) -> Vec<UseCase> {
    let key = def.name.replace('-', "_");
    let (one, _) = def.nouns;
    vec![
        UseCase::read(
            &format!("{key}_links"),
            &format!(
                "The records and controls linked to a {}, newest first",
                def.singular
            ),
            Gate::Action(Action::ReadRecords(def.read_role)),
        )
        .tool(&format!("list_{one}_links"))
        .runs(json(move |s, c, i: super::ById| async move {
            s.list_links(&c.actor, def, &i.id).await
        }))
        .takes_declared(id_only())
        .gives::<LinkList>(),
        UseCase::write(
            &format!("{key}_link_create"),
            &format!(
                "Link a {} to a record of any module or to a control (module `controls`); listed from both ends; audited",
                def.singular
            ),
            Gate::Action(Action::WriteRecord),
        )
        .tool(&format!("link_{one}"))
        .runs(json(move |s, c, i: LinkRequest| async move {
            let input = crate::LinkInput { to: i.to };
            s.add_link(&c.actor, def, &i.id, &input).await
        }))
        .takes::<LinkRequest>()
        .gives::<LinkView>(),
        UseCase::delete(
            &format!("{key}_link_delete"),
            &format!("Remove a link of a {}; audited", def.singular),
            Gate::Action(Action::WriteRecord),
        )
        .tool(&format!("unlink_{one}"))
        .runs(nothing(move |s, c, i: LinkRef| async move {
            s.remove_link(&c.actor, def, &i.id, &i.link_id).await
        }))
        .takes::<LinkRef>(),
    ]
}

/// A module with a status flow also has its moves: make one, list them, read one (with the
/// snapshot a decision kept).
fn flow_use_cases(def: &'static ModuleDef, flow: &Flow, record: String) -> Vec<UseCase> {
    let key = def.name.replace('-', "_");
    let read = Gate::Action(Action::ReadRecords(def.read_role));
    let (one, _) = def.nouns;
    let moves: Vec<String> = flow
        .transitions
        .iter()
        .map(|t| format!("{} → {}", t.from.join("/"), t.to))
        .collect();
    vec![
        UseCase::write(
            &format!("{key}_transition"),
            &format!(
                "Move a {} to another {} ({}); refused with INVALID_TRANSITION when the flow does not allow it; audited",
                def.singular,
                flow.field,
                moves.join("; ")
            ),
            Gate::Action(Action::WriteRecord),
        )
        .tool(&format!("transition_{one}"))
        .runs(json(move |s, c, i: TransitionRequest| async move {
            let (id, input) = i.split();
            s.transition_record(&c.actor, def, &id, &input).await
        }))
        .takes_declared(transition_input(flow))
        .gives_shape(Shape::Named(record, output_schema(def))),
        UseCase::read(
            &format!("{key}_transitions"),
            &format!("The moves of a {}, newest first", def.singular),
            read,
        )
        .tool(&format!("list_{one}_transitions"))
        .runs(json(move |s, c, i: super::ById| async move {
            s.list_transitions(&c.actor, def, &i.id).await
        }))
        .takes_declared(id_only())
        .gives::<TransitionHistory>(),
        UseCase::read(
            &format!("{key}_transition_get"),
            &format!(
                "One move of a {}, with the snapshot of the record a decision kept",
                def.singular
            ),
            read,
        )
        .tool(&format!("get_{one}_transition"))
        .runs(json(move |s, c, i: TransitionRef| async move {
            s.get_transition(&c.actor, def, &i.id, &i.transition_id)
                .await
        }))
        .takes::<TransitionRef>()
        .gives::<TransitionView>(),
    ]
}

fn transition_input(flow: &Flow) -> Value {
    json!({
        "type": "object", "additionalProperties": false, "required": ["id", "to"],
        "properties": {
            "id": id_schema(),
            "to": { "type": "string", "enum": flow.states(), "description": "the state to move to" },
            "comment": { "type": "string", "maxLength": MAX_COMMENT_CHARS, "description": "why (Markdown); some moves need one" },
        },
    })
}

/// The name a module's record goes by in schemas: the entity type in PascalCase
/// (poam → Poam, config-doc → ConfigDoc).
pub fn record_name(def: &ModuleDef) -> String {
    def.entity_type
        .split('-')
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn id_schema() -> Value {
    json!({ "type": "string", "format": "uuid", "description": "the record's id" })
}

fn id_only() -> Value {
    json!({
        "type": "object", "additionalProperties": false, "required": ["id"],
        "properties": { "id": id_schema() },
    })
}

/// Puts a required `id` first in an object schema.
fn add_id(schema: &mut Value) {
    let Some(o) = schema.as_object_mut() else {
        return;
    };
    let mut props = Map::new();
    props.insert("id".into(), id_schema());
    if let Some(Value::Object(rest)) = o.remove("properties") {
        props.extend(rest.into_iter().filter(|(k, _)| k != "id"));
    }
    o.insert("properties".into(), Value::Object(props));
    let mut required = vec![json!("id")];
    if let Some(Value::Array(rest)) = o.remove("required") {
        required.extend(rest.into_iter().filter(|r| r != "id"));
    }
    o.insert("required".into(), Value::Array(required));
}

/// Paging, sorting, search and one filter per filterable field.
fn list_input(def: &ModuleDef) -> Value {
    let mut props = Map::new();
    props.insert(
        "limit".into(),
        json!({ "type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE, "description": "page size" }),
    );
    props.insert(
        "cursor".into(),
        json!({ "type": "string", "description": "nextCursor of the previous page" }),
    );
    props.insert(
        "sort".into(),
        json!({ "type": "string", "default": def.default_sort, "description": "field to sort by; prefix - for descending" }),
    );
    props.insert(
        "q".into(),
        json!({ "type": "string", "maxLength": 200, "description": "case-insensitive text search" }),
    );
    for f in def.fields.iter().filter(|f| f.filter) {
        props.insert(
            f.name.into(),
            json!({ "type": "string", "description": format!("filter on {} (comma-separated values for choices; .gte/.lte/.gt/.lt for numbers and dates)", f.label) }),
        );
    }
    for d in def.derived {
        props.insert(
            d.name.into(),
            json!({ "type": "string", "description": format!("filter on {}", d.label) }),
        );
    }
    json!({ "type": "object", "properties": props })
}

/// A list's filters (no paging or order: a count has neither) and the field to count by.
fn counts_input(def: &ModuleDef) -> Value {
    let mut schema = list_input(def);
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        for paging in ["limit", "cursor", "sort"] {
            props.remove(paging);
        }
        props.insert(
            "by".into(),
            json!({ "type": "string", "enum": crate::record_counts::countable(def), "description": "the field to count the records by" }),
        );
    }
    if let Some(o) = schema.as_object_mut() {
        o.insert("required".into(), json!(["by"]));
    }
    schema
}

/// A list's input plus the file format (and what a module's own formats need).
fn export_input(def: &ModuleDef) -> Value {
    let mut schema = list_input(def);
    let formats: Vec<&str> = FORMATS
        .iter()
        .copied()
        .chain(extra_formats(def).iter().map(|f| f.name))
        .collect();
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        props.insert(
            "format".into(),
            json!({ "type": "string", "enum": formats, "default": "json", "description": format!("file format: {}", format_names(def)) }),
        );
        for f in extra_formats(def) {
            for (name, param) in (f.params)() {
                props.insert(name.into(), param);
            }
        }
    }
    schema
}

fn format_names(def: &ModuleDef) -> String {
    let mut names = vec!["CSV".to_owned(), "JSON".to_owned()];
    names.extend(extra_formats(def).iter().map(|f| f.label.to_owned()));
    names.join(", ")
}

fn export_media_types(def: &ModuleDef) -> Vec<&'static str> {
    let mut media = vec!["text/csv", "application/json"];
    for f in extra_formats(def) {
        if !media.contains(&f.media_type) {
            media.push(f.media_type);
        }
    }
    media
}

/// A module's own export format, beyond CSV and JSON: how it is named and documented, and
/// the hook that makes the file. Every channel finds it here, so the generic module routes
/// need no branch per module.
pub struct ExtraFormat {
    pub name: &'static str,
    pub label: &'static str,
    pub media_type: &'static str,
    /// Input fields the format adds, with their schemas.
    pub params: fn() -> Vec<(&'static str, Value)>,
    /// Makes the file from the list's filters (and the format's own fields among them).
    pub export: ExportHook,
}

/// The hook of an [`ExtraFormat`].
pub type ExportHook =
    for<'a> fn(
        &'a Service,
        &'a Actor,
        &'a [(String, String)],
    ) -> Pin<Box<dyn Future<Output = ServiceResult<ExportedFile>> + Send + 'a>>;

/// A file a module's own format made.
pub struct ExportedFile {
    pub media_type: &'static str,
    /// What to save it as, when the format names one.
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
}

/// The POA&M also exports as OSCAL and as the eMASS import workbook, for federal toolchains.
static POAM_FORMATS: &[ExtraFormat] = &[
    ExtraFormat {
        name: "oscal-json",
        label: "OSCAL 1.2.1 POA&M",
        media_type: "application/json",
        params: Vec::new,
        export: |service, actor, filters| {
            Box::pin(async move {
                let query = service.list_query(&POAM, filters, &[])?;
                let date = tater_domain::time::format_date(service.now().date());
                Ok(ExportedFile {
                    media_type: "application/json",
                    filename: Some(format!("poam-oscal-{date}.json")),
                    bytes: service.poam_oscal(actor, query).await?,
                })
            })
        },
    },
    ExtraFormat {
        name: "emass-xlsx",
        label: "the DoD eMASS import workbook",
        media_type: XLSX,
        params: || {
            vec![(
                "layout",
                json!({ "type": "string", "enum": Layout::NAMES, "default": "navy", "description": "eMASS template layout (with format=emass-xlsx)" }),
            )]
        },
        export: |service, actor, filters| Box::pin(emass(service, actor, filters)),
    },
];

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The POA&M as an eMASS import workbook; `layout` picks the template (default `navy`).
async fn emass(
    service: &Service,
    actor: &Actor,
    filters: &[(String, String)],
) -> ServiceResult<ExportedFile> {
    let layout = match filters.iter().find(|(k, _)| k == "layout") {
        None => Layout::Navy,
        Some((_, v)) => Layout::parse(v).ok_or_else(|| {
            ValidationErrors::single("layout", "must be navy, army, marine-corps or legacy")
        })?,
    };
    let query = service.list_query(&POAM, filters, &["layout"])?;
    let bytes = service.poam_emass(actor, query, layout).await?;
    let filename = format!(
        "poam-emass-{}-{}.xlsx",
        layout.name(),
        tater_domain::time::format_date(service.now().date())
    );
    Ok(ExportedFile {
        media_type: XLSX,
        filename: Some(filename),
        bytes,
    })
}

/// The formats `def` exports in besides CSV and JSON.
pub fn extra_formats(def: &ModuleDef) -> &'static [ExtraFormat] {
    if def.name == POAM.name {
        POAM_FORMATS
    } else {
        &[]
    }
}
