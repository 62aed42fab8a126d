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
use tater_domain::module::ModuleDef;
use tater_export::ListFormat;
use tater_export::emass::Layout;

use crate::api_doc::{ApiRouter, Op};
use crate::error::{ApiResult, Problem};
use crate::extract::{AuthActor, ExportSlot, IdPath, JsonBody, Params};
use crate::routes::list_export;
use crate::state::AppState;

pub fn routes(api: ApiRouter, def: &'static ModuleDef) -> ApiRouter {
    let name = def.name;
    let key = name.replace('-', "_");
    let tag = def.plural;
    let base = format!("/api/{name}");
    let one = format!("/api/{name}/{{id}}");
    let list_op =
        Op::get(&base, &format!("{key}_list"))
            .tag(tag)
            .ok(200, "A page of records", None);
    // The JSON export is an array of records; the use case names every other format.
    let export_op = Op::get(&format!("{base}/export"), &format!("{key}_export"))
        .tag(tag)
        .ok_content("text/csv", json!({ "type": "string" }))
        .ok_content(
            "application/json",
            json!({ "type": "array", "items": { "type": "object" } }),
        );
    api.route(
        list_op,
        get(move |s: State<AppState>, a: AuthActor, p: Params| list(s, a, p, def)),
    )
    .route(
        Op::post(&base, &format!("{key}_create"))
            .tag(tag)
            .ok(201, "Created", None),
        post(move |s: State<AppState>, a: AuthActor, b: JsonBody<Value>| create(s, a, b, def)),
    )
    .route(
        export_op,
        get(move |s: State<AppState>, a: ExportSlot, p: Params| export(s, a, p, def)),
    )
    .route(
        Op::get(&one, &format!("{key}_get"))
            .tag(tag)
            .ok(200, "The record", None),
        get(move |s: State<AppState>, a: AuthActor, id: IdPath| get_one(s, a, id, def)),
    )
    .route(
        Op::put(&one, &format!("{key}_update"))
            .tag(tag)
            .ok(200, "Updated", None),
        put(
            move |s: State<AppState>, a: AuthActor, id: IdPath, b: JsonBody<Value>| {
                update(s, a, id, b, def)
            },
        ),
    )
    .route(
        Op::delete(&one, &format!("{key}_delete"))
            .tag(tag)
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
