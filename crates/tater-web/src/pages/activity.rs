//! The Activity Log: the organization's audit entries, newest first, filtered by channel
//! (what an AI agent did: `via` claude, mcp or copilot), actor, entity, action and time;
//! downloads of the filtered log; and the chain and signature check.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::Extensions;
use axum::response::Response;
use serde_json::Value;
use tater_domain::policy::Action;
use tater_domain::{AuditAction, Channel};
use tater_service::use_cases::AuditQuery;

use super::{Layout, ListParams, allowed, download, query_pairs, typed_list};
use crate::Web;
use crate::error::{PageError, PageResult};
use crate::session::{SameOrigin, Signed};

pub const PATH: &str = "/app/activity";

/// One entry as a row.
pub struct Row {
    pub seq: i64,
    pub time: String,
    pub who: String,
    /// The log filtered to the same actor.
    pub who_filter: String,
    pub via: &'static str,
    pub action: &'static str,
    pub entity_type: String,
    pub entity_id: String,
    /// A link to the record, when the entity is a module's record.
    pub href: Option<String>,
    /// The fields the entry changed.
    pub fields: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "activity.html")]
pub struct ActivityPage {
    layout: Layout,
    vias: Vec<(&'static str, bool)>,
    actions: Vec<(&'static str, bool)>,
    user_id: String,
    entity_type: String,
    entity_id: String,
    from: String,
    to: String,
    rows: Vec<Row>,
    next: Option<String>,
    downloads: Vec<(&'static str, String)>,
    problem: Option<String>,
}

/// Whether the person may read the log (Auditor and above).
pub fn may_read(actor: &tater_domain::Actor) -> bool {
    allowed(actor, Action::ReadAudit)
}

fn row(e: &tater_audit::EntryView) -> Row {
    let module = tater_domain::modules::ALL
        .iter()
        .find(|m| m.entity_type == e.entity_type);
    let href = match (module, e.action) {
        (Some(m), AuditAction::Create | AuditAction::Update) => {
            Some(format!("/app/{}/{}", m.name, e.entity_id))
        }
        _ => None,
    };
    let fields = match &e.changes {
        Value::Object(m) => m
            .keys()
            .filter(|k| !k.starts_with('_'))
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    };
    Row {
        seq: e.seq,
        time: e.timestamp.to_string(),
        who: e.upn.clone().unwrap_or_else(|| e.user_id.clone()),
        who_filter: format!(
            "{PATH}?{}",
            serde_html_form::to_string([("userId", &e.user_id)]).unwrap_or_default()
        ),
        via: e.via.as_str(),
        action: e.action.as_str(),
        entity_type: e.entity_type.clone(),
        entity_id: e.entity_id.clone(),
        href,
        fields,
    }
}

pub async fn page(
    State(web): State<Web>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> PageResult<ActivityPage> {
    if !may_read(&signed.actor) {
        return Err(PageError::forbidden(
            "The Activity Log is open to Auditors and above.",
        ));
    }
    let layout = Layout::new(&web, &signed, "Activity Log", "activity").await?;
    let params = ListParams::parse(query.as_deref());
    let (service, actor) = (&web.service, &signed.actor);
    let listed = typed_list(&params, PATH, |q: AuditQuery| async move {
        service.audit_log(actor, &q).await
    })
    .await?;
    let encoded = serde_html_form::to_string(params.filters()).unwrap_or_default();
    let via = params.value("via");
    let action = params.value("action");
    let sep = if encoded.is_empty() { "" } else { "&" };
    Ok(ActivityPage {
        layout,
        vias: Channel::ALL
            .iter()
            .map(|c| (c.as_str(), c.as_str() == via))
            .collect(),
        actions: AuditAction::ALL
            .iter()
            .map(|a| (a.as_str(), a.as_str() == action))
            .collect(),
        user_id: params.value("userId"),
        entity_type: params.value("entityType"),
        entity_id: params.value("entityId"),
        from: params.value("from"),
        to: params.value("to"),
        rows: listed.items.iter().map(row).collect(),
        next: listed.next,
        downloads: vec![
            ("CSV", format!("{PATH}/export?{encoded}{sep}format=csv")),
            (
                "JSON Lines (signed, verifiable)",
                format!("{PATH}/export?{encoded}{sep}format=jsonl"),
            ),
        ],
        problem: listed.problem,
    })
}

/// The filtered log as a file, made by the REST export as the signed-in person.
pub async fn export(
    State(web): State<Web>,
    _: SameOrigin,
    signed: Signed,
    RawQuery(query): RawQuery,
    extensions: Extensions,
) -> PageResult<Response> {
    let pairs = query_pairs(query.as_deref());
    let encoded = serde_html_form::to_string(&pairs).unwrap_or_default();
    let path = format!("/api/audit-log/export?{encoded}");
    download(&web, signed.actor, path, extensions).await
}

#[derive(Template, WebTemplate)]
#[template(path = "activity_verify.html")]
pub struct VerifyPage {
    layout: Layout,
    report: tater_audit::Report,
}

/// Checks the whole log: every entry's hash and signature, the chain, the checkpoints.
pub async fn verify(
    State(web): State<Web>,
    _: SameOrigin,
    signed: Signed,
) -> PageResult<VerifyPage> {
    let report = web.service.verify_audit(&signed.actor).await?;
    let layout = Layout::new(&web, &signed, "Activity Log check", "activity").await?;
    Ok(VerifyPage { layout, report })
}
