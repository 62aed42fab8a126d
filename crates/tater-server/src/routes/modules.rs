//! Routes of every declared module, derived from its declaration:
//! `GET/POST /api/<m>`, `GET/PUT/DELETE /api/<m>/{id}`, `GET /api/<m>/export`,
//! `GET /api/<m>/counts`.

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
use tater_service::use_cases::{ExportedFile, extra_formats};
use tater_service::{
    CommentInput, CommentList, CommentView, LinkInput, LinkList, LinkView, TransitionHistory,
    TransitionInput, TransitionView,
};

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, ExportSlot, IdPath, JsonBody, Params, TwoIds};
use crate::routes::list_export;
use crate::state::AppState;

pub fn routes(api: ApiRouter, def: &'static ModuleDef) -> ApiRouter {
    let mut api = link_routes(comment_routes(record_routes(api, def), def), def);
    // Counting needs a field to count by: a module without one has no counts.
    if !tater_service::countable(def).is_empty() {
        let key = def.name.replace('-', "_");
        api = api.route(
            Op::get(
                &format!("/api/{}/counts", def.name),
                &format!("{key}_counts"),
            )
            .tag(def.plural)
            .ok(200, "Records per value of the field", None),
            get(move |s: State<AppState>, a: AuthActor, p: Params| counts(s, a, p, def)),
        );
    }
    if def.flow.is_some() {
        flow_routes(api, def)
    } else {
        api
    }
}

/// A flow's moves: `POST/GET /api/<m>/{id}/transitions`, `GET …/transitions/{transitionId}`.
fn flow_routes(api: ApiRouter, def: &'static ModuleDef) -> ApiRouter {
    let key = def.name.replace('-', "_");
    let moves = format!("/api/{}/{{id}}/transitions", def.name);
    let one = format!("{moves}/{{transitionId}}");
    api.route(
        Op::post(&moves, &format!("{key}_transition"))
            .tag(def.plural)
            .ok(200, "The record in its new state", None),
        post(
            move |s: State<AppState>, a: AuthActor, id: IdPath, b: JsonBody<TransitionInput>| {
                transition(s, a, id, b, def)
            },
        ),
    )
    .route(
        Op::get(&moves, &format!("{key}_transitions"))
            .tag(def.plural)
            .ok(200, "The record's moves, newest first", None),
        get(move |s: State<AppState>, a: AuthActor, id: IdPath| history(s, a, id, def)),
    )
    .route(
        Op::get(&one, &format!("{key}_transition_get"))
            .tag(def.plural)
            .ok(200, "The move", None),
        get(move |s: State<AppState>, a: AuthActor, ids: TwoIds| one_move(s, a, ids, def)),
    )
}

/// `GET/POST /api/<m>/{id}/links`, `DELETE …/links/{linkId}`.
fn link_routes(api: ApiRouter, def: &'static ModuleDef) -> ApiRouter {
    let key = def.name.replace('-', "_");
    let path = format!("/api/{}/{{id}}/links", def.name);
    api.route(
        Op::get(&path, &format!("{key}_links")).tag(def.plural).ok(
            200,
            "The records and controls linked to the record, newest first",
            None,
        ),
        get(move |s: State<AppState>, a: AuthActor, id: IdPath| links(s, a, id, def)),
    )
    .route(
        Op::post(&path, &format!("{key}_link_create"))
            .tag(def.plural)
            .ok(201, "The link, seen from the record", None),
        post(
            move |s: State<AppState>, a: AuthActor, id: IdPath, b: JsonBody<LinkInput>| {
                link(s, a, id, b, def)
            },
        ),
    )
    .route(
        Op::delete(&format!("{path}/{{linkId}}"), &format!("{key}_link_delete"))
            .tag(def.plural)
            .ok(204, "Removed", None),
        delete(move |s: State<AppState>, a: AuthActor, ids: TwoIds| unlink(s, a, ids, def)),
    )
}

async fn links(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    def: &'static ModuleDef,
) -> ApiResult<Json<LinkList>> {
    Ok(Json(s.service.list_links(&actor, def, &id).await?))
}

async fn link(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<LinkInput>,
    def: &'static ModuleDef,
) -> ApiResult<(StatusCode, Json<LinkView>)> {
    let made = s.service.add_link(&actor, def, &id, &body).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

async fn unlink(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    TwoIds(id, link): TwoIds,
    def: &'static ModuleDef,
) -> ApiResult<StatusCode> {
    s.service.remove_link(&actor, def, &id, &link).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET/POST /api/<m>/{id}/comments`.
fn comment_routes(api: ApiRouter, def: &'static ModuleDef) -> ApiRouter {
    let key = def.name.replace('-', "_");
    let path = format!("/api/{}/{{id}}/comments", def.name);
    api.route(
        Op::get(&path, &format!("{key}_comments"))
            .tag(def.plural)
            .ok(200, "The record's comments, newest first", None),
        get(move |s: State<AppState>, a: AuthActor, id: IdPath| comments(s, a, id, def)),
    )
    .route(
        Op::post(&path, &format!("{key}_comment_create"))
            .tag(def.plural)
            .ok(201, "The comment", None),
        post(
            move |s: State<AppState>, a: AuthActor, id: IdPath, b: JsonBody<CommentInput>| {
                comment(s, a, id, b, def)
            },
        ),
    )
}

async fn comments(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    def: &'static ModuleDef,
) -> ApiResult<Json<CommentList>> {
    Ok(Json(s.service.list_comments(&actor, def, &id).await?))
}

async fn comment(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<CommentInput>,
    def: &'static ModuleDef,
) -> ApiResult<(StatusCode, Json<CommentView>)> {
    let made = s.service.add_comment(&actor, def, &id, &body).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

async fn transition(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<TransitionInput>,
    def: &'static ModuleDef,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        s.service.transition_record(&actor, def, &id, &body).await?,
    ))
}

async fn history(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    def: &'static ModuleDef,
) -> ApiResult<Json<TransitionHistory>> {
    Ok(Json(s.service.list_transitions(&actor, def, &id).await?))
}

async fn one_move(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    TwoIds(id, transition): TwoIds,
    def: &'static ModuleDef,
) -> ApiResult<Json<TransitionView>> {
    Ok(Json(
        s.service
            .get_transition(&actor, def, &id, &transition)
            .await?,
    ))
}

fn record_routes(api: ApiRouter, def: &'static ModuleDef) -> ApiRouter {
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

async fn counts(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    Params(p): Params,
    def: &'static ModuleDef,
) -> ApiResult<Json<tater_service::RecordCounts>> {
    Ok(Json(s.service.count_records(&actor, def, &p).await?))
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
    let extra = extra_formats(def);
    let mut allowed = vec!["csv", "json"];
    allowed.extend(extra.iter().map(|f| f.name));
    let (format, filters) = list_export::format_and_filters(p, &allowed)?;
    // A format of the module's own (the POA&M's OSCAL and eMASS) makes its file by its hook.
    if let Some(own) = format.and_then(|f| extra.iter().find(|x| x.name == f)) {
        let file = (own.export)(&s.service, actor, &filters).await?;
        return Ok(file_response(file));
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

pub(super) fn file_response(file: ExportedFile) -> Response {
    let mut res = Response::new(Body::from(file.bytes));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.media_type),
    );
    if let Some(name) = file.filename
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}
