//! Endpoints: the enrolled machines with their staleness, one machine's latest results and
//! evidence, retiring one, and the enrollment tokens agents enroll with (created with a
//! secret shown once, revoked).

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tater_domain::policy::Action;
use tater_service::use_cases::{EndpointsQuery, ScanResultsQuery};
use tater_service::{
    CreatedEnrollmentToken, EndpointDetail, EndpointView, EnrollmentTokenView, LatestResultView,
    ServiceError,
};

use super::{Layout, ListParams, allowed, typed_list};
use crate::Web;
use crate::error::{PageError, PageResult};
use crate::session::{Posted, Signed};

pub const PATH: &str = "/app/endpoints";
pub const TOKENS_PATH: &str = "/app/endpoints/tokens";
/// Results shown on an endpoint's page at most.
const SHOWN: u32 = 500;

fn can_manage(actor: &tater_domain::Actor) -> bool {
    allowed(actor, Action::WriteRecord)
}

#[derive(Template, WebTemplate)]
#[template(path = "endpoints_list.html")]
pub struct ListPage {
    layout: Layout,
    endpoints: Vec<EndpointView>,
    status: String,
    stale: String,
    scanned: String,
    q: String,
    next: Option<String>,
    can_manage: bool,
    problem: Option<String>,
}

pub async fn list(
    State(web): State<Web>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> PageResult<ListPage> {
    let layout = Layout::new(&web, &signed, "Endpoints", "endpoints").await?;
    let params = ListParams::parse(query.as_deref());
    let (service, actor) = (&web.service, &signed.actor);
    let listed = typed_list(&params, PATH, |q: EndpointsQuery| async move {
        service.list_endpoints(actor, &q).await
    })
    .await?;
    Ok(ListPage {
        layout,
        endpoints: listed.items,
        status: params.value("status"),
        stale: params.value("stale"),
        scanned: params.value("scanned"),
        q: params.value("q"),
        next: listed.next,
        can_manage: can_manage(&signed.actor),
        problem: listed.problem,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "endpoint.html")]
pub struct EndpointPage {
    layout: Layout,
    endpoint: EndpointDetail,
    results: Vec<LatestResultView>,
    /// Where the rest of its results are listed, when the page shows only the first.
    more_results: Option<String>,
    can_manage: bool,
}

pub async fn detail(
    State(web): State<Web>,
    signed: Signed,
    Path(id): Path<String>,
) -> PageResult<EndpointPage> {
    let endpoint = web.service.get_endpoint(&signed.actor, &id).await?;
    let query = ScanResultsQuery {
        endpoint: Some(endpoint.endpoint.id.to_string()),
        limit: Some(SHOWN),
        ..Default::default()
    };
    let results = web.service.list_scan_results(&signed.actor, &query).await?;
    let more_results = results.next_cursor.as_ref().map(|_| {
        format!(
            "/app/actions/list_scan_results?endpoint={}",
            endpoint.endpoint.id
        )
    });
    let results = results.items;
    let layout = Layout::new(&web, &signed, &endpoint.endpoint.hostname, "endpoints").await?;
    Ok(EndpointPage {
        layout,
        more_results,
        can_manage: can_manage(&signed.actor) && endpoint.endpoint.status == "active",
        endpoint,
        results,
    })
}

#[derive(Deserialize)]
pub struct Empty {}

/// Retires the endpoint: its credential stops working at once; its history stays.
pub async fn retire(
    State(web): State<Web>,
    Path(id): Path<String>,
    posted: Posted<Empty>,
) -> PageResult<Redirect> {
    let retired = web
        .service
        .retire_endpoint(&posted.signed.actor, &id)
        .await?;
    Ok(Redirect::to(&format!("{PATH}/{}", retired.id)))
}

#[derive(Template, WebTemplate)]
#[template(path = "enrollment_tokens.html")]
pub struct TokensPage {
    layout: Layout,
    tokens: Vec<EnrollmentTokenView>,
    /// Just created: its secret, shown this once.
    created: Option<CreatedEnrollmentToken>,
    label: String,
    hours: String,
    single_use: bool,
    hostnames: String,
    errors: HashMap<String, String>,
}

async fn tokens_page(
    web: &Web,
    signed: &Signed,
    created: Option<CreatedEnrollmentToken>,
    form: Option<&TokenForm>,
    errors: HashMap<String, String>,
) -> PageResult<TokensPage> {
    if !can_manage(&signed.actor) {
        return Err(PageError::forbidden(
            "Enrollment tokens are managed by Admins.",
        ));
    }
    let tokens = web.service.list_enrollment_tokens(&signed.actor).await?;
    let layout = Layout::new(web, signed, "Enrollment tokens", "endpoints").await?;
    Ok(TokensPage {
        layout,
        tokens,
        created,
        label: form.map(|f| f.label.clone()).unwrap_or_default(),
        hours: form.map_or_else(|| "24".to_owned(), |f| f.expires_in_hours.clone()),
        single_use: form.is_some_and(|f| f.single_use.is_some()),
        hostnames: form.map(|f| f.hostnames.clone()).unwrap_or_default(),
        errors,
    })
}

pub async fn tokens(State(web): State<Web>, signed: Signed) -> PageResult<TokensPage> {
    tokens_page(&web, &signed, None, None, HashMap::new()).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    label: String,
    #[serde(default, rename = "expiresInHours")]
    expires_in_hours: String,
    #[serde(default, rename = "singleUse")]
    single_use: Option<String>,
    #[serde(default)]
    hostnames: String,
}

/// Creates a token; the page shows its secret once (a reload does not show it again).
pub async fn create_token(
    State(web): State<Web>,
    posted: Posted<TokenForm>,
) -> PageResult<Response> {
    let form = &posted.form;
    let mut errors = HashMap::new();
    let hours = match form.expires_in_hours.trim() {
        "" => None,
        h => match h.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.insert(
                    "expiresInHours".into(),
                    "must be a whole number of hours".into(),
                );
                None
            }
        },
    };
    let hostnames: Vec<String> = form
        .hostnames
        .split([',', '\n', ' '])
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    if !errors.is_empty() {
        let page = tokens_page(&web, &posted.signed, None, Some(form), errors).await?;
        return Ok(page.into_response());
    }
    let created = web
        .service
        .create_enrollment_token(
            &posted.signed.actor,
            &form.label,
            hours,
            form.single_use.is_some(),
            (!hostnames.is_empty()).then_some(hostnames.as_slice()),
        )
        .await;
    let page = match created {
        Ok(created) => {
            tokens_page(&web, &posted.signed, Some(created), None, HashMap::new()).await?
        }
        Err(ServiceError::Validation(e)) => {
            let errors =
                e.0.iter()
                    .map(|f| (f.field.clone(), f.message.clone()))
                    .collect();
            tokens_page(&web, &posted.signed, None, Some(form), errors).await?
        }
        Err(e) => return Err(e.into()),
    };
    Ok(page.into_response())
}

pub async fn revoke_token(
    State(web): State<Web>,
    Path(id): Path<String>,
    posted: Posted<Empty>,
) -> PageResult<Redirect> {
    web.service
        .revoke_enrollment_token(&posted.signed.actor, &id)
        .await?;
    Ok(Redirect::to(TOKENS_PATH))
}
