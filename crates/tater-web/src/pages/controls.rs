//! Controls: the catalog (1,189 SP 800-53 controls and enhancements) filtered by framework,
//! family, status and text; a control with its statement, guidance and parameters, the
//! organization's overlay and its edit form, the latest results per endpoint of the checks
//! mapped to it, and the POA&M items and risks that name it.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value};
use tater_domain::modules::{CONTROL_OVERLAYS, CONTROL_TEST_RUNS, RISKS};
use tater_domain::policy::Action;
use tater_service::use_cases::{ControlsQuery, ScanResultsQuery};
use tater_service::{ControlView, LatestResultView, ServiceError};

use super::{Layout, ListParams, allowed, typed_list};
use crate::Web;
use crate::error::{PageError, PageResult};
use crate::form::{self, FormField};
use crate::session::{Posted, Signed};

pub const PATH: &str = "/app/controls";
/// Results and linked records shown on a control's page at most.
const SHOWN: u32 = 100;

#[derive(Template, WebTemplate)]
#[template(path = "controls_list.html")]
pub struct ListPage {
    layout: Layout,
    frameworks: Vec<(String, String, bool)>,
    families: Vec<(String, String, bool)>,
    statuses: Vec<(&'static str, bool)>,
    /// The evidence filter's choices: value, label, selected.
    coverage: Vec<(&'static str, &'static str, bool)>,
    /// The failing filter's choices: value, label, selected.
    failing: Vec<(&'static str, &'static str, bool)>,
    q: String,
    controls: Vec<ControlView>,
    next: Option<String>,
    problem: Option<String>,
}

const STATUSES: [&str; 6] = [
    "unset",
    "implemented",
    "partial",
    "planned",
    "alternative",
    "not-applicable",
];

pub async fn list(
    State(web): State<Web>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> PageResult<ListPage> {
    let layout = Layout::new(&web, &signed, "Controls", "controls").await?;
    let params = ListParams::parse(query.as_deref());
    let value = |name: &str| params.value(name);
    let catalog = web.service.catalog()?;
    let frameworks = web
        .service
        .list_frameworks(&signed.actor)?
        .into_iter()
        .map(|f| {
            let selected = f.id == value("framework");
            (
                f.id,
                format!("{} ({} controls)", f.title, f.control_count),
                selected,
            )
        })
        .collect();
    let families = catalog
        .families()
        .iter()
        .map(|(id, title)| {
            (
                id.clone(),
                format!("{} — {title}", id.to_uppercase()),
                *id == value("family"),
            )
        })
        .collect();
    let (service, actor) = (&web.service, &signed.actor);
    let listed = typed_list(&params, PATH, |q: ControlsQuery| async move {
        service.list_controls(actor, &q).await
    })
    .await?;
    Ok(ListPage {
        layout,
        frameworks,
        families,
        statuses: STATUSES
            .iter()
            .map(|s| (*s, *s == value("status")))
            .collect(),
        coverage: [
            ("covered", "some current evidence"),
            ("uncovered", "no current evidence"),
        ]
        .map(|(s, label)| (s, label, s == value("evidence")))
        .to_vec(),
        failing: [
            ("any", "any severity"),
            ("Critical", "critical"),
            ("High", "high"),
            ("Medium", "medium"),
            ("Low", "low"),
        ]
        .map(|(s, label)| (s, label, s == value("failing")))
        .to_vec(),
        q: value("q"),
        controls: listed.items,
        next: listed.next,
        problem: listed.problem,
    })
}

/// A parameter with its input on the overlay form.
pub struct ParamInput {
    pub name: String,
    pub label: String,
    pub guidelines: String,
    pub value: String,
    pub choices: String,
    pub error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "control.html")]
pub struct ControlPage {
    layout: Layout,
    control: ControlView,
    results: Vec<LatestResultView>,
    risks: Vec<(String, String)>,
    /// Where the rest are listed, when the page shows only the first [`SHOWN`].
    more_results: Option<String>,
    more_risks: Option<String>,
    /// The control's most recent test run, if any.
    last_test: Option<LastTest>,
    /// The records linked to the control, newest first.
    links: Vec<super::links::LinkRow>,
    can_write: bool,
    form: Vec<FormField>,
    params: Vec<ParamInput>,
    version: String,
    problem: Option<String>,
    errors: Vec<(String, String)>,
}

/// The newest control test run of a control, as the control page shows it.
struct LastTest {
    href: String,
    tested_on: String,
    result: String,
    tester: String,
}

/// The control's newest test run (control-test-runs sorted by test date).
async fn last_test(web: &Web, signed: &Signed, control: &str) -> PageResult<Option<LastTest>> {
    let query = web.service.list_query(
        &CONTROL_TEST_RUNS,
        &[
            ("control".into(), control.to_owned()),
            ("sort".into(), "-testedOn".into()),
            ("limit".into(), "1".into()),
        ],
        &[],
    )?;
    let page = web
        .service
        .list_records(&signed.actor, &CONTROL_TEST_RUNS, &query)
        .await?;
    Ok(page.items.first().map(|r| LastTest {
        href: format!(
            "/app/control-test-runs/{}",
            r["id"].as_str().unwrap_or_default()
        ),
        tested_on: form::shown(&r["testedOn"]),
        result: form::shown(&r["result"]),
        tester: form::shown(&r["tester"]),
    }))
}

/// The overlay's fields as the form shows them (what is stored, or what was posted).
fn overlay_values(control: &ControlView) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<&String>| {
        if let Some(v) = v {
            m.insert(k.to_owned(), Value::String(v.clone()));
        }
    };
    if control.overlay.is_some() {
        put("applicability", Some(&control.applicability));
    }
    put(
        "implementationStatus",
        control.implementation_status.as_ref(),
    );
    put("justification", control.justification.as_ref());
    put("narrative", control.narrative.as_ref());
    put("owner", control.owner.as_ref());
    put("notes", control.notes.as_ref());
    m.insert(
        "responsibleRoles".into(),
        Value::Array(
            control
                .responsible_roles
                .iter()
                .cloned()
                .map(Value::String)
                .collect(),
        ),
    );
    m
}

async fn render(
    web: &Web,
    signed: &Signed,
    control: ControlView,
    values: &Map<String, Value>,
    params: &HashMap<String, String>,
    errors: HashMap<String, String>,
) -> PageResult<ControlPage> {
    let title = format!("{} {}", control.label, control.title);
    let layout = Layout::new(web, signed, &title, "controls").await?;
    let results = web
        .service
        .list_scan_results(
            &signed.actor,
            &ScanResultsQuery {
                control: Some(control.id.clone()),
                limit: Some(SHOWN),
                ..Default::default()
            },
        )
        .await?;
    let more_results = results
        .next_cursor
        .as_ref()
        .map(|_| format!("/app/actions/list_scan_results?control={}", control.id));
    let results = results.items;
    let risk_query = web.service.list_query(
        &RISKS,
        &[
            ("controls".into(), control.id.clone()),
            ("limit".into(), SHOWN.to_string()),
        ],
        &[],
    )?;
    let risks = web
        .service
        .list_records(&signed.actor, &RISKS, &risk_query)
        .await?;
    let more_risks = risks
        .next_cursor
        .as_ref()
        .map(|_| format!("/app/risks?controls={}", control.id));
    let risks = risks
        .items
        .iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap_or_default();
            (format!("/app/risks/{id}"), form::shown(&r["title"]))
        })
        .collect();
    let param_inputs = control
        .params
        .iter()
        .map(|p| {
            let name = format!("parameterValues.{}", p.id);
            ParamInput {
                value: params
                    .get(&p.id)
                    .cloned()
                    .or_else(|| p.value.clone())
                    .unwrap_or_default(),
                error: errors.get(&name).cloned(),
                label: if p.label.is_empty() {
                    p.id.clone()
                } else {
                    p.label.clone()
                },
                guidelines: p.guidelines.clone(),
                choices: p.choices.join("; "),
                name,
            }
        })
        .collect();
    let last_test = last_test(web, signed, &control.id).await?;
    let links = web
        .service
        .list_control_links(&signed.actor, &control.id)
        .await?
        .items;
    Ok(ControlPage {
        layout,
        links: super::links::rows(links),
        can_write: allowed(&signed.actor, Action::WriteRecord) && !control.withdrawn,
        form: form::fields_except(&CONTROL_OVERLAYS, values, &errors, &["control"]),
        params: param_inputs,
        version: control
            .overlay
            .as_ref()
            .map(|o| o.version.to_string())
            .unwrap_or_default(),
        problem: (!errors.is_empty())
            .then(|| "Nothing was saved: please correct the fields marked below.".to_owned()),
        errors: errors.into_iter().collect(),
        results,
        risks,
        more_results,
        more_risks,
        last_test,
        control,
    })
}

pub async fn detail(
    State(web): State<Web>,
    signed: Signed,
    Path(id): Path<String>,
) -> PageResult<ControlPage> {
    let control = web.service.get_control(&signed.actor, &id).await?;
    let values = overlay_values(&control);
    render(
        &web,
        &signed,
        control,
        &values,
        &HashMap::new(),
        HashMap::new(),
    )
    .await
}

/// Saves the overlay form; invalid input shows the page again with the errors at their
/// fields and what was typed kept.
pub async fn save_overlay(
    State(web): State<Web>,
    Path(id): Path<String>,
    posted: Posted<Vec<(String, String)>>,
) -> PageResult<Response> {
    let (mut body, rows) = form::to_body(&CONTROL_OVERLAYS, &posted.form);
    let mut params = HashMap::new();
    for (k, v) in &posted.form {
        if let Some(param) = k.strip_prefix("parameterValues.") {
            params.insert(param.to_owned(), v.clone());
        }
    }
    let chosen: Map<String, Value> = params
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.clone(), Value::String(v.trim().to_owned())))
        .collect();
    if let Some(obj) = body.as_object_mut() {
        obj.insert("parameterValues".into(), Value::Object(chosen));
    }
    let actor = &posted.signed.actor;
    match web.service.put_overlay(actor, &id, &body).await {
        Ok(control) => Ok(Redirect::to(&format!("{PATH}/{}", control.id)).into_response()),
        Err(ServiceError::Validation(errors)) => {
            let control = web.service.get_control(actor, &id).await?;
            let values = body.as_object().cloned().unwrap_or_default();
            let page = render(
                &web,
                &posted.signed,
                control,
                &values,
                &params,
                rows.errors(&errors),
            );
            Ok(page.await?.into_response())
        }
        Err(e) => Err(PageError::from(e)),
    }
}
