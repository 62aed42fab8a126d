//! CSV and JSON exports of the lists that are not modules: the endpoint inventory
//! (`/api/endpoints/export`), controls with the organization's overlays
//! (`/api/controls/export`), the current scan results (`/api/scan-results/export`) and the
//! members (`/api/members/export`, for access reviews) and the command channel's jobs
//! (`/api/jobs/export`). Each takes its list's filters and is
//! streamed a page (500) at a time, each page its own read, so a large fleet never sits in
//! memory.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::json;
use tater_export::{ListEncoder, ListFormat};
use tater_service::{ExportList, PagedSource};

use crate::api_doc::{ApiRouter, Op};
use crate::error::{ApiResult, Problem};
use crate::extract::{ExportSlot, Params};
use crate::state::AppState;

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    for list in ExportList::ALL {
        let path = format!("/api/{}/export", list.name());
        let op = Op::get(&path, &format!("{}_export", list.name().replace('-', "_")))
            .tag(match list {
                ExportList::Controls => "controls",
                ExportList::Members => "members",
                ExportList::Jobs => "commands",
                _ => "endpoints",
            })
            .ok_content(
                "application/json",
                json!({ "type": "array", "items": { "type": "object" } }),
            )
            .ok_content("text/csv", json!({ "type": "string" }));
        api = api.route(
            op,
            get(move |s: State<AppState>, a: ExportSlot, p: Params| export(s, a, p, list)),
        );
    }
    api
}

async fn export(
    State(s): State<AppState>,
    slot: ExportSlot,
    Params(p): Params,
    list: ExportList,
) -> ApiResult<Response> {
    let ExportSlot { actor, permit } = slot;
    let (format, filters) = format_and_filters(p, &["csv", "json"])?;
    let format = format
        .and_then(ListFormat::parse)
        .unwrap_or(ListFormat::Json);
    let source = s.service.export_list(&actor, list, filters)?;
    let res = stream(source, format, list.columns(), list.name()).await?;
    Ok(permit.hold_until_sent(res))
}

/// A query's name-value pairs.
pub(crate) type Filters = Vec<(String, String)>;

/// `format=` (one of `allowed`) apart from the list's filters.
pub(crate) fn format_and_filters(
    params: Filters,
    allowed: &[&'static str],
) -> ApiResult<(Option<&'static str>, Filters)> {
    let mut format = None;
    let mut filters = Vec::new();
    for (k, v) in params {
        if k == "format" {
            match allowed.iter().find(|a| **a == v) {
                Some(f) => format = Some(*f),
                None => return Err(invalid("format", &format!("must be {}", one_of(allowed)))),
            }
        } else {
            filters.push((k, v));
        }
    }
    Ok((format, filters))
}

/// `a, b or c`.
fn one_of(words: &[&str]) -> String {
    match words.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

pub(crate) fn invalid(field: &str, message: &str) -> Problem {
    Problem::validation(tater_domain::ValidationErrors::single(field, message).0)
}

/// Streams a list export: the first page is read before the response starts (so a bad filter
/// is still a 400), each next page only once the previous one was sent.
pub(crate) async fn stream(
    mut source: impl PagedSource + 'static,
    format: ListFormat,
    columns: &'static [&'static str],
    name: &str,
) -> ApiResult<Response> {
    let first = source.next_page().await?;
    let encoder = ListEncoder::new(format, columns);
    let head = encoder.head();
    let pages = futures::stream::unfold(
        (source, first, encoder, false),
        |(mut source, pending, mut encoder, finished)| async move {
            if finished {
                return None;
            }
            let page = match pending {
                Some(page) => Some(page),
                None => match source.next_page().await {
                    Ok(page) => page,
                    Err(e) => {
                        // The status is sent; a cut-short body is all that can signal it.
                        tracing::error!(error = %e, "export stopped");
                        let failed = Err(std::io::Error::other("export failed"));
                        return Some((failed, (source, None, encoder, true)));
                    }
                },
            };
            match page {
                Some(items) => {
                    let chunk = encoder.page(&items);
                    Some((Ok(chunk), (source, None, encoder, false)))
                }
                None => {
                    let tail = encoder.tail();
                    Some((Ok(tail), (source, None, encoder, true)))
                }
            }
        },
    );
    let head = futures::stream::once(async move { Ok::<_, std::io::Error>(head) });
    let mut res = Response::new(Body::from_stream(futures::StreamExt::chain(head, pages)));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let disposition = format!("attachment; filename=\"{name}.{}\"", format.extension());
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
