//! `GET /api/endpoints/export?format=csv|json`: the inventory with the list's filters,
//! streamed a page at a time (each page its own read), so a large fleet never sits in memory.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tater_domain::Role;

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::{ApiResult, Problem};
use crate::extract::{AuthActor, Params};
use crate::state::AppState;

/// The CSV columns, in order (the JSON has every field of the list).
const COLUMNS: [&str; 11] = [
    "id",
    "hostname",
    "os",
    "osVersion",
    "arch",
    "agentVersion",
    "tags",
    "status",
    "stale",
    "enrolledAt",
    "lastSeenAt",
];
const PAGE: &str = "500";

pub fn routes(api: ApiRouter) -> ApiRouter {
    api.route(
        Op::get("/api/endpoints/export", "endpoints_export", "The endpoint inventory as CSV or JSON, with the list's filters (status, q, stale), streamed")
            .tag("endpoints")
            .access(Access::Role(Role::Viewer))
            .query("format", json!({ "enum": ["csv", "json"] }), "json (default) or csv")
            .ok(200, "The export", None),
        get(export),
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Csv,
    Json,
}

async fn export(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    Params(p): Params,
) -> ApiResult<Response> {
    let mut format = Format::Json;
    let mut filters = Vec::new();
    for (k, v) in p {
        match (k.as_str(), v.as_str()) {
            ("format", "csv") => format = Format::Csv,
            ("format", "json") => format = Format::Json,
            ("format", _) => return Err(invalid("format", "must be csv or json")),
            ("limit" | "cursor", _) => return Err(invalid(&k, "does not apply to an export")),
            _ => filters.push((k, v)),
        }
    }
    // The first page is read now, so a bad filter is still a 400.
    let first = page(&s, &actor, &filters, None).await?;
    let head: Vec<u8> = match format {
        Format::Csv => {
            let mut out = tater_export::UTF8_BOM.as_bytes().to_vec();
            out.extend(tater_export::encode_row(
                COLUMNS.iter().map(|c| (*c).to_owned()),
            ));
            out
        }
        Format::Json => b"[".to_vec(),
    };
    let state = (s, actor, filters, Some(first), false, true);
    let head = futures::stream::once(async move { Ok::<_, std::io::Error>(head) });
    let body = futures::StreamExt::chain(head, pages(state, format));
    let content_type = if format == Format::Csv {
        "text/csv; charset=utf-8"
    } else {
        "application/json"
    };
    let name = if format == Format::Csv {
        "endpoints.csv"
    } else {
        "endpoints.json"
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

fn invalid(field: &str, message: &str) -> Problem {
    Problem::validation(tater_domain::ValidationErrors::single(field, message).0)
}

type Page = (Vec<Value>, Option<String>);

async fn page(
    s: &AppState,
    actor: &tater_domain::Actor,
    filters: &[(String, String)],
    cursor: Option<String>,
) -> ApiResult<Page> {
    let mut params = filters.to_vec();
    params.push(("limit".into(), PAGE.into()));
    if let Some(c) = cursor {
        params.push(("cursor".into(), c));
    }
    let page = s.service.list_endpoints(actor, &params).await?;
    Ok((page.items, page.next_cursor))
}

/// (state, actor, filters, pending page, finished, first item still to come)
type Cursor = (
    AppState,
    tater_domain::Actor,
    Vec<(String, String)>,
    Option<Page>,
    bool,
    bool,
);

/// The encoded pages, the next one read only when the previous one was sent.
fn pages(
    state: Cursor,
    format: Format,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    futures::stream::unfold(
        state,
        move |(s, actor, filters, pending, finished, mut first)| async move {
            if finished {
                return None;
            }
            let (items, next) = match pending {
                Some(p) => p,
                None => return None,
            };
            let mut chunk = Vec::new();
            for item in &items {
                match format {
                    Format::Csv => {
                        let cells = COLUMNS
                            .iter()
                            .map(|c| tater_export::cell(item.get(*c).unwrap_or(&Value::Null)));
                        chunk.extend(tater_export::encode_row(cells));
                    }
                    Format::Json => {
                        if !first {
                            chunk.push(b',');
                        }
                        first = false;
                        chunk.extend(item.to_string().into_bytes());
                    }
                }
            }
            let following = match next {
                Some(c) => match page(&s, &actor, &filters, Some(c)).await {
                    Ok(p) => Some(p),
                    Err(_) => {
                        // The status is sent; a cut-short body is all that can signal it.
                        tracing::error!("endpoint export stopped");
                        return Some((
                            Err(std::io::Error::other("export failed")),
                            (s, actor, filters, None, true, first),
                        ));
                    }
                },
                None => {
                    if format == Format::Json {
                        chunk.extend(b"]\n");
                    }
                    return Some((Ok(chunk), (s, actor, filters, None, true, first)));
                }
            };
            Some((Ok(chunk), (s, actor, filters, following, false, first)))
        },
    )
}
