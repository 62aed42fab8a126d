//! CSV and JSON exports of the lists that are not modules: the endpoint inventory
//! (`/api/endpoints/export`), controls with the organization's overlays
//! (`/api/controls/export`), the current scan results (`/api/scan-results/export`) and the
//! members (`/api/members/export`, for access reviews) and the command channel's jobs
//! (`/api/jobs/export`). Each takes its list's filters and is
//! streamed a page (500) at a time, each page its own read, so a large fleet never sits in
//! memory.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tater_domain::Actor;
use tater_service::Page;

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::{ApiResult, Problem};
use crate::extract::{ExportSlot, Params};
use crate::state::AppState;
use tater_domain::Action;

const PAGE: &str = "500";

/// A list that exports.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
    Endpoints,
    Controls,
    ScanResults,
    Members,
    Jobs,
}

impl Source {
    pub const ALL: [Source; 5] = [
        Source::Endpoints,
        Source::Controls,
        Source::ScanResults,
        Source::Members,
        Source::Jobs,
    ];

    /// The file name (without extension) and the list's path segment.
    pub fn name(self) -> &'static str {
        match self {
            Source::Endpoints => "endpoints",
            Source::Controls => "controls",
            Source::ScanResults => "scan-results",
            Source::Members => "members",
            Source::Jobs => "jobs",
        }
    }

    /// The action its list serves (the service checks it again).
    fn action(self) -> Action {
        match self {
            Source::Members => Action::ManageMembers,
            Source::Jobs => Action::ReadRecords(tater_domain::modules::SCRIPTS.read_role),
            _ => Action::Read,
        }
    }

    /// The CSV columns, in order (the JSON has every field of the list).
    fn columns(self) -> &'static [&'static str] {
        match self {
            Source::Endpoints => &[
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
            ],
            Source::Controls => &[
                "id",
                "label",
                "title",
                "family",
                "frameworks",
                "withdrawn",
                "applicability",
                "implementationStatus",
                "justification",
                "owner",
                "responsibleRoles",
                "narrative",
                "notes",
            ],
            Source::ScanResults => &[
                "endpointId",
                "hostname",
                "scanId",
                "checkId",
                "checkTitle",
                "controls",
                "status",
                "severity",
                "evidence",
            ],
            Source::Members => &[
                "userId",
                "email",
                "displayName",
                "role",
                "entraLinked",
                "hasPassword",
                "createdAt",
                "updatedAt",
            ],
            Source::Jobs => &[
                "id",
                "name",
                "scriptId",
                "scriptVersion",
                "checkId",
                "language",
                "runAs",
                "timeoutSecs",
                "createdBy",
                "createdAt",
                "counts",
                "targets",
            ],
        }
    }

    fn filters(self) -> &'static str {
        match self {
            Source::Endpoints => "status, q, stale",
            Source::Controls => "framework, family, status, applicability, withdrawn, q",
            Source::ScanResults => "status, endpoint, check, control",
            Source::Members | Source::Jobs => "none",
        }
    }

    /// One page of the list with `params` (which carry limit and cursor).
    pub async fn page(
        self,
        s: &AppState,
        actor: &Actor,
        params: &[(String, String)],
    ) -> ApiResult<Page> {
        Ok(match self {
            Source::Endpoints => s.service.list_endpoints(actor, params).await?,
            Source::Controls => s.service.list_controls(actor, params).await?,
            Source::ScanResults => s.service.list_scan_results(actor, params).await?,
            Source::Jobs => s.service.list_jobs(actor, params).await?,
            // A short list, read whole: one page.
            Source::Members => {
                if let Some((k, _)) = params.iter().find(|(k, _)| k != "limit" && k != "cursor") {
                    return Err(invalid(k, "unknown parameter"));
                }
                Page {
                    items: s.service.list_members(actor).await?,
                    next_cursor: None,
                }
            }
        })
    }

    /// The next page after `cursor`, with the filters.
    pub async fn next(
        self,
        s: &AppState,
        actor: &Actor,
        filters: &[(String, String)],
        cursor: Option<String>,
    ) -> ApiResult<(Vec<Value>, Option<String>)> {
        let mut params = filters.to_vec();
        params.push(("limit".into(), PAGE.into()));
        if let Some(c) = cursor {
            params.push(("cursor".into(), c));
        }
        let page = self.page(s, actor, &params).await?;
        Ok((page.items, page.next_cursor))
    }
}

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    for source in Source::ALL {
        let path = format!("/api/{}/export", source.name());
        let op = Op::get(
            &path,
            &format!("{}_export", source.name().replace('-', "_")),
            &format!(
                "The {} as CSV or JSON, with the list's filters ({}), streamed",
                source.name().replace('-', " "),
                source.filters()
            ),
        )
        .tag(match source {
            Source::Controls => "controls",
            Source::Members => "members",
            Source::Jobs => "commands",
            _ => "endpoints",
        })
        .access(Access::Action(source.action()))
        .query(
            "format",
            json!({ "enum": ["csv", "json"] }),
            "json (default) or csv",
        )
        .ok_content(
            "application/json",
            json!({ "type": "array", "items": { "type": "object" } }),
        )
        .ok_content("text/csv", json!({ "type": "string" }));
        api = api.route(
            op,
            get(move |s: State<AppState>, a: ExportSlot, p: Params| export(s, a, p, source)),
        );
    }
    api
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Csv,
    Json,
}

async fn export(
    State(s): State<AppState>,
    slot: ExportSlot,
    Params(p): Params,
    source: Source,
) -> ApiResult<Response> {
    let ExportSlot { actor, permit } = slot;
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
    let first = source.next(&s, &actor, &filters, None).await?;
    let head: Vec<u8> = match format {
        Format::Csv => {
            let mut out = tater_export::UTF8_BOM.as_bytes().to_vec();
            out.extend(tater_export::encode_row(
                source.columns().iter().map(|c| (*c).to_owned()),
            ));
            out
        }
        Format::Json => b"[".to_vec(),
    };
    let state = (s, actor, filters, Some(first), false, true);
    let head = futures::stream::once(async move { Ok::<_, std::io::Error>(head) });
    let body = futures::StreamExt::chain(head, pages(state, format, source));
    let content_type = if format == Format::Csv {
        "text/csv; charset=utf-8"
    } else {
        "application/json"
    };
    let name = format!(
        "{}.{}",
        source.name(),
        if format == Format::Csv { "csv" } else { "json" }
    );
    let res = (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response();
    Ok(permit.hold_until_sent(res))
}

fn invalid(field: &str, message: &str) -> Problem {
    Problem::validation(tater_domain::ValidationErrors::single(field, message).0)
}

/// (state, actor, filters, pending page, finished, first item still to come)
type Cursor = (
    AppState,
    Actor,
    Vec<(String, String)>,
    Option<(Vec<Value>, Option<String>)>,
    bool,
    bool,
);

/// The encoded pages, the next one read only when the previous one was sent.
fn pages(
    state: Cursor,
    format: Format,
    source: Source,
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
                        let cells = source
                            .columns()
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
                Some(c) => match source.next(&s, &actor, &filters, Some(c)).await {
                    Ok(p) => Some(p),
                    Err(_) => {
                        // The status is sent; a cut-short body is all that can signal it.
                        tracing::error!(list = source.name(), "export stopped");
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
