//! One export pipeline for every list: a [`PagedSource`] hands out pages of views, and a
//! channel encodes them as they come (`tater_export::ListEncoder`), so no export ever holds
//! more than one page. Module records ([`crate::RecordExport`]) and the other lists
//! ([`ListExport`]: endpoints, controls, current scan results, members, jobs) are sources alike.

use std::future::Future;
use std::pin::Pin;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::Value;
use tater_domain::Actor;
use tater_domain::policy::Action;

use crate::{Page, RecordExport, Service, ServiceResult};

/// The next page of a source, boxed so sources of every kind share one trait object.
pub type NextPage<'a> =
    Pin<Box<dyn Future<Output = ServiceResult<Option<Vec<Value>>>> + Send + 'a>>;

/// Something an export reads a page at a time, in list order, until it answers `None`.
pub trait PagedSource: Send {
    fn next_page(&mut self) -> NextPage<'_>;
}

impl PagedSource for RecordExport {
    fn next_page(&mut self) -> NextPage<'_> {
        Box::pin(RecordExport::next_page(self))
    }
}

/// A source of one page, already read (short lists: keys, tokens, destinations).
pub struct OnePage(pub Option<Vec<Value>>);

impl PagedSource for OnePage {
    fn next_page(&mut self) -> NextPage<'_> {
        let page = self.0.take();
        Box::pin(async move { Ok(page) })
    }
}

/// Rows per page of a list export.
const PAGE: &str = "500";

/// The lists that export and are not modules.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExportList {
    Endpoints,
    Controls,
    ScanResults,
    Members,
    Jobs,
}

impl ExportList {
    pub const ALL: [ExportList; 5] = [
        ExportList::Endpoints,
        ExportList::Controls,
        ExportList::ScanResults,
        ExportList::Members,
        ExportList::Jobs,
    ];

    /// The file name (without extension) and the list's path segment.
    pub fn name(self) -> &'static str {
        match self {
            ExportList::Endpoints => "endpoints",
            ExportList::Controls => "controls",
            ExportList::ScanResults => "scan-results",
            ExportList::Members => "members",
            ExportList::Jobs => "jobs",
        }
    }

    /// The action its list serves (each page's use case checks it again).
    pub fn action(self) -> Action {
        match self {
            ExportList::Members => Action::ManageMembers,
            ExportList::Jobs => Action::ReadRecords(tater_domain::modules::SCRIPTS.read_role),
            _ => Action::Read,
        }
    }

    /// The CSV columns, in order (the JSON has every field of the list).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            ExportList::Endpoints => &[
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
            ExportList::Controls => &[
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
            ExportList::ScanResults => &[
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
            ExportList::Members => &[
                "userId",
                "email",
                "displayName",
                "role",
                "entraLinked",
                "hasPassword",
                "createdAt",
                "updatedAt",
            ],
            ExportList::Jobs => &[
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

    /// The input of the list's export, for every channel: the list's own query without
    /// `limit` and `cursor` (an export holds every matching row), and `format`.
    pub fn input(self) -> fn(&mut SchemaGenerator) -> Schema {
        use crate::use_cases::{ControlsQuery, EndpointsQuery, NoInput, ScanResultsQuery};
        match self {
            ExportList::Endpoints => export_input::<EndpointsQuery>,
            ExportList::Controls => export_input::<ControlsQuery>,
            ExportList::ScanResults => export_input::<ScanResultsQuery>,
            ExportList::Members | ExportList::Jobs => export_input::<NoInput>,
        }
    }
}

/// `Q`'s filters (its properties but `limit` and `cursor`) and the export's `format`.
fn export_input<Q: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let query = Q::json_schema(generator).to_value();
    let mut input = crate::use_cases::without_properties(&query, &["limit", "cursor"]);
    let format = crate::use_cases::ListExportInput::json_schema(generator).to_value();
    if let (Some(Value::Object(input)), Some(Value::Object(more))) = (
        input.as_object_mut().map(|o| {
            o.entry("properties")
                .or_insert_with(|| serde_json::json!({}))
        }),
        format.get("properties"),
    ) {
        input.extend(more.clone());
    }
    Schema::try_from(input).unwrap_or_else(|_| Schema::default())
}

/// An export of one of the [`ExportList`]s in progress: its filters, and where the next page
/// starts.
pub struct ListExport {
    service: Service,
    actor: Actor,
    list: ExportList,
    filters: Vec<(String, String)>,
    cursor: Option<String>,
    done: bool,
}

impl PagedSource for ListExport {
    fn next_page(&mut self) -> NextPage<'_> {
        Box::pin(async move {
            if self.done {
                return Ok(None);
            }
            let mut params = self.filters.clone();
            params.push(("limit".into(), PAGE.into()));
            if let Some(c) = self.cursor.take() {
                params.push(("cursor".into(), c));
            }
            let page = self
                .service
                .list_page(&self.actor, self.list, &params)
                .await?;
            self.done = page.next_cursor.is_none();
            self.cursor = page.next_cursor;
            Ok(Some(page.items))
        })
    }
}

impl Service {
    /// Starts an export of `list` with its filters (`limit` and `cursor` do not apply: an
    /// export holds every matching row). The caller's right is checked now; a bad filter
    /// shows with the first page.
    pub fn export_list(
        &self,
        actor: &Actor,
        list: ExportList,
        filters: Vec<(String, String)>,
    ) -> ServiceResult<ListExport> {
        tater_domain::authorize(actor, list.action())?;
        if let Some((k, _)) = filters.iter().find(|(k, _)| k == "limit" || k == "cursor") {
            return Err(tater_domain::ValidationErrors::single(
                k.as_str(),
                "does not apply to an export",
            )
            .into());
        }
        Ok(ListExport {
            service: self.clone(),
            actor: actor.clone(),
            list,
            filters,
            cursor: None,
            done: false,
        })
    }

    /// One page of `list` with `params` (which carry limit and cursor).
    async fn list_page(
        &self,
        actor: &Actor,
        list: ExportList,
        params: &[(String, String)],
    ) -> ServiceResult<Page> {
        Ok(match list {
            ExportList::Endpoints => {
                let query = crate::use_cases::from_pairs(params)?;
                self.list_endpoints(actor, &query).await?.into_values()?
            }
            ExportList::Controls => {
                let query = crate::use_cases::from_pairs(params)?;
                self.list_controls(actor, &query).await?.into_values()?
            }
            ExportList::ScanResults => {
                let query = crate::use_cases::from_pairs(params)?;
                self.list_scan_results(actor, &query).await?.into_values()?
            }
            ExportList::Jobs => {
                let query = crate::use_cases::from_pairs(params)?;
                self.list_jobs(actor, &query).await?.into_values()?
            }
            // A short list, read whole: one page.
            ExportList::Members => {
                if let Some((k, _)) = params.iter().find(|(k, _)| k != "limit" && k != "cursor") {
                    return Err(tater_domain::ValidationErrors::single(
                        k.as_str(),
                        "unknown parameter",
                    )
                    .into());
                }
                Page {
                    items: crate::to_values(&self.list_members(actor).await?)?,
                    next_cursor: None,
                }
            }
        })
    }
}
