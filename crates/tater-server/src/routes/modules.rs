//! Routes of every declared module, derived from its declaration:
//! `GET/POST /api/<m>`, `GET/PUT/DELETE /api/<m>/{id}`, `GET /api/<m>/export`.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde_json::{Value, json};
use tater_domain::Actor;
use tater_domain::module::{ModuleDef, input_schema, output_schema};
use tater_export::ListFormat;
use tater_export::emass::Layout;

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::{ApiResult, Problem};
use crate::extract::{AuthActor, ExportSlot, IdPath, JsonBody, Params};
use crate::routes::list_export;
use crate::state::AppState;
use tater_domain::Action;

fn list_params(mut op: Op, def: &ModuleDef) -> Op {
    op = op
        .query(
            "limit",
            json!({ "type": "integer", "minimum": 1, "maximum": 500, "default": 50 }),
            "page size",
        )
        .query(
            "cursor",
            json!({ "type": "string" }),
            "nextCursor of the previous page",
        )
        .query(
            "sort",
            json!({ "type": "string", "default": def.default_sort }),
            "field to sort by; prefix - for descending",
        )
        .query(
            "q",
            json!({ "type": "string", "maxLength": 200 }),
            "case-insensitive text search",
        );
    for f in def.fields.iter().filter(|f| f.filter) {
        op = op.query(f.name, json!({ "type": "string" }), &format!("filter on {} (comma-separated values for choices; .gte/.lte/.gt/.lt for numbers and dates)", f.label));
    }
    for d in def.derived {
        op = op.query(
            d.name,
            json!({ "type": "string" }),
            &format!("filter on {}", d.label),
        );
    }
    op
}

pub fn routes(mut api: ApiRouter, def: &'static ModuleDef) -> ApiRouter {
    let name = def.name;
    let key = name.replace('-', "_");
    let tag = def.plural;
    // PascalCase of the entity type: poam → Poam, config-doc → ConfigDoc.
    let schema_name: String = def
        .entity_type
        .split('-')
        .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
        .collect();
    let input = api.schema(&format!("{schema_name}Input"), input_schema(def));
    let output = api.schema(&schema_name, output_schema(def));
    let page = json!({
        "type": "object",
        "required": ["items", "nextCursor"],
        "properties": { "items": { "type": "array", "items": output }, "nextCursor": { "type": ["string", "null"] } },
    });
    let base = format!("/api/{name}");
    let one = format!("/api/{name}/{{id}}");
    let read = Access::Action(Action::ReadRecords(def.read_role));
    let write = Access::Action(Action::WriteRecord);

    let list_op = list_params(
        Op::get(
            &base,
            &format!("{key}_list"),
            &format!("List {}", def.plural),
        ),
        def,
    )
    .tag(tag)
    .access(read)
    .ok(200, "A page of records", Some(page));
    let export_op = list_params(
        Op::get(
            &format!("{base}/export"),
            &format!("{key}_export"),
            &format!("Export {} as CSV or JSON", def.plural),
        ),
        def,
    )
    .tag(tag)
    .access(read);
    let export_op = if def.name == tater_domain::modules::POAM.name {
        export_op
            .query(
                "format",
                json!({ "type": "string", "enum": ["csv", "json", "oscal-json", "emass-xlsx"], "default": "json" }),
                "file format: CSV, JSON, OSCAL 1.2.1 POA&M, or the DoD eMASS import workbook",
            )
            .query(
                "layout",
                json!({ "type": "string", "enum": Layout::NAMES, "default": "navy" }),
                "eMASS template layout (with format=emass-xlsx)",
            )
            .ok_content(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                json!({ "type": "string", "format": "binary" }),
            )
    } else {
        export_op.query(
            "format",
            json!({ "type": "string", "enum": ["csv", "json"], "default": "json" }),
            "file format",
        )
    }
    .ok_content("text/csv", json!({ "type": "string" }))
    .ok_content("application/json", json!({ "type": "array", "items": { "type": "object" } }));
    api.route(
        list_op,
        get(move |s: State<AppState>, a: AuthActor, p: Params| list(s, a, p, def)),
    )
    .route(
        Op::post(
            &base,
            &format!("{key}_create"),
            &format!("Create a {}", def.singular),
        )
        .tag(tag)
        .access(write)
        .body(input.clone())
        .ok(201, "Created", Some(output.clone())),
        post(move |s: State<AppState>, a: AuthActor, b: JsonBody<Value>| create(s, a, b, def)),
    )
    .route(
        export_op,
        get(move |s: State<AppState>, a: ExportSlot, p: Params| export(s, a, p, def)),
    )
    .route(
        Op::get(
            &one,
            &format!("{key}_get"),
            &format!("Get a {}", def.singular),
        )
        .tag(tag)
        .access(read)
        .path_id()
        .ok(200, "The record", Some(output.clone())),
        get(move |s: State<AppState>, a: AuthActor, id: IdPath| get_one(s, a, id, def)),
    )
    .route(
        Op::put(
            &one,
            &format!("{key}_update"),
            &format!("Replace a {}", def.singular),
        )
        .tag(tag)
        .access(write)
        .path_id()
        .body(input)
        .ok(200, "Updated", Some(output)),
        put(
            move |s: State<AppState>, a: AuthActor, id: IdPath, b: JsonBody<Value>| {
                update(s, a, id, b, def)
            },
        ),
    )
    .route(
        Op::delete(
            &one,
            &format!("{key}_delete"),
            &format!("Delete a {}", def.singular),
        )
        .tag(tag)
        .access(write)
        .path_id()
        .ok(204, "Deleted", None),
        delete(move |s: State<AppState>, a: AuthActor, id: IdPath| remove(s, a, id, def)),
    )
}

async fn list(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    Params(p): Params,
    def: &'static ModuleDef,
) -> ApiResult<Json<tater_service::Page>> {
    let query = s.service.list_query(def, &p, &[])?;
    Ok(Json(s.service.list_records(&actor, def, &query).await?))
}

async fn get_one(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    def: &'static ModuleDef,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.service.get_record(&actor, def, &id).await?))
}

async fn create(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(body): JsonBody<Value>,
    def: &'static ModuleDef,
) -> ApiResult<Response> {
    let record = s.service.create_record(&actor, def, &body).await?;
    let location = record["id"]
        .as_str()
        .map(|id| format!("/api/{}/{id}", def.name))
        .unwrap_or_default();
    let mut res = (StatusCode::CREATED, Json(record)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

async fn update(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<Value>,
    def: &'static ModuleDef,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        s.service.update_record(&actor, def, &id, &body).await?,
    ))
}

async fn remove(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    def: &'static ModuleDef,
) -> ApiResult<StatusCode> {
    s.service.delete_record(&actor, def, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Streams every matching record. The first page is read before the response starts, so a bad
/// filter or a missing permission is still a proper error status.
async fn export(
    State(s): State<AppState>,
    slot: ExportSlot,
    Params(p): Params,
    def: &'static ModuleDef,
) -> ApiResult<Response> {
    let res = export_records(&s, &slot.actor, p, def).await?;
    Ok(slot.permit.hold_until_sent(res))
}

async fn export_records(
    s: &AppState,
    actor: &Actor,
    p: Vec<(String, String)>,
    def: &'static ModuleDef,
) -> ApiResult<Response> {
    let is_poam = def.name == tater_domain::modules::POAM.name;
    let allowed: &[&'static str] = if is_poam {
        &["csv", "json", "oscal-json", "emass-xlsx"]
    } else {
        &["csv", "json"]
    };
    let (format, filters) = list_export::format_and_filters(p, allowed)?;
    match format {
        // The POA&M also exports as OSCAL and eMASS for federal toolchains.
        Some("oscal-json") => {
            let query = s.service.list_query(def, &filters, &[])?;
            let doc = s.service.poam_oscal(actor, query).await?;
            let json = HeaderValue::from_static("application/json");
            return Ok(([(header::CONTENT_TYPE, json)], doc).into_response());
        }
        Some("emass-xlsx") => return emass_export(s, actor, &filters).await,
        _ => {}
    }
    let format = format
        .and_then(ListFormat::parse)
        .unwrap_or(ListFormat::Json);
    let query = s.service.list_query(def, &filters, &[])?;
    let export = s.service.export_records(actor, def, query)?;
    let name = format!(
        "{}-{}",
        def.name,
        tater_domain::time::format_date(s.service.now().date())
    );
    list_export::stream(export, format, def.csv_columns, &name).await
}

/// The POA&M as an eMASS import workbook; `layout` picks the template (default `navy`).
async fn emass_export(s: &AppState, actor: &Actor, p: &[(String, String)]) -> ApiResult<Response> {
    let layout = match p
        .iter()
        .find(|(k, _)| k == "layout")
        .map(|(_, v)| v.as_str())
    {
        None => Layout::Navy,
        Some(v) => Layout::parse(v).ok_or_else(|| {
            Problem::validation(
                tater_domain::ValidationErrors::single(
                    "layout",
                    "must be navy, army, marine-corps or legacy",
                )
                .0,
            )
        })?,
    };
    let def = &tater_domain::modules::POAM;
    let query = s.service.list_query(def, p, &["layout"])?;
    let bytes = s.service.poam_emass(actor, query, layout).await?;
    let filename = format!(
        "poam-emass-{}-{}.xlsx",
        layout.name(),
        tater_domain::time::format_date(s.service.now().date())
    );
    let mut res = Response::new(Body::from(bytes));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
