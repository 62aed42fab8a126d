//! The dashboard: posture score and totals, its trend, failing controls by severity, stale
//! endpoints, work that is due (overdue POA&M items and tasks, exceptions ending soon, policies
//! the person has to acknowledge) and the
//! risk heat map — each count a link to the list behind it.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use tater_domain::module::ModuleDef;
use tater_domain::modules::{BCP_PLANS, EXCEPTIONS, POAM, TASKS};
use tater_domain::time::format_date;
use tater_service::use_cases::TrendQuery;
use tater_service::{FailingControl, PostureTotals};

use super::Layout;
use crate::Web;
use crate::charts::{Bar, Gauge, HEAT_CELL, HEAT_LEFT, HeatCell, heat_cells, trend_points};
use crate::error::PageResult;
use crate::session::Signed;

/// Failing controls listed by name (the rest are counted).
const FAILING_SHOWN: usize = 10;
/// Scans on the trend line at most.
const TREND_POINTS: u32 = 200;
const TREND_WIDTH: f64 = 600.0;
const TREND_HEIGHT: f64 = 120.0;
const SEVERITIES: [&str; 4] = ["Critical", "High", "Medium", "Low"];
/// Exceptions ending within this many days are listed.
const ENDING_WITHIN_DAYS: i64 = 30;
/// Records counted per list; more shows as "500+".
const COUNTED: &str = "500";
/// Ending exceptions listed by name.
const ENDING_SHOWN: usize = 5;

/// A count and the list page it was taken from.
pub struct Due {
    pub label: &'static str,
    pub count: String,
    pub href: String,
    pub bad: bool,
}

/// How many records of `def` match `filters` (up to [`COUNTED`]), the first of them, and the
/// list page that shows them all.
async fn due(
    web: &Web,
    actor: &tater_domain::Actor,
    def: &'static ModuleDef,
    label: &'static str,
    filters: &[(&str, String)],
) -> PageResult<(Due, Vec<serde_json::Value>)> {
    let mut pairs: Vec<(String, String)> = filters
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let href = format!("/app/{}?{}", def.name, super::records::encode(&pairs));
    pairs.push(("limit".into(), COUNTED.into()));
    let query = web.service.list_query(def, &pairs, &[])?;
    let page = web.service.list_records(actor, def, &query).await?;
    let more = if page.next_cursor.is_some() { "+" } else { "" };
    let due = Due {
        label,
        count: format!("{}{more}", page.items.len()),
        bad: !page.items.is_empty(),
        href,
    };
    Ok((due, page.items))
}

/// The published policies the person has not acknowledged yet, and where they are listed.
async fn to_acknowledge(web: &Web, actor: &tater_domain::Actor) -> PageResult<Due> {
    let open = web
        .service
        .policies_to_acknowledge(actor)
        .await?
        .items
        .len();
    Ok(Due {
        label: "Policies for you to acknowledge",
        count: open.to_string(),
        href: format!("{}/list_policies_to_acknowledge", super::actions::PATH),
        bad: open > 0,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    layout: Layout,
    gauge: Gauge,
    formula: &'static str,
    totals: PostureTotals,
    endpoints: tater_service::EndpointCounts,
    frameworks: Vec<Bar>,
    by_severity: Vec<(&'static str, usize)>,
    failing: Vec<FailingControl>,
    failing_more: usize,
    trend: String,
    trend_count: usize,
    /// The risk heat map's 25 cells, likelihood 5 first.
    heat: Vec<HeatCell>,
    /// A heat map cell's side, and the room left of the cells for the likelihood axis.
    heat_side: u32,
    heat_left: u32,
    /// Overdue POA&M items, overdue tasks, exceptions ending soon, policies to acknowledge,
    /// continuity plans past their review or test date.
    due: Vec<Due>,
    /// The exceptions ending soonest: (id, title, end date).
    ending: Vec<(String, String, String)>,
    unscored_risks: i64,
}

pub async fn page(State(web): State<Web>, signed: Signed) -> PageResult<DashboardPage> {
    let service = &web.service;
    let query = TrendQuery {
        from: None,
        to: None,
        limit: Some(TREND_POINTS),
    };
    let actor = &signed.actor;
    let ends_by = format_date(
        service
            .now()
            .plus_seconds(ENDING_WITHIN_DAYS * 86_400)
            .date(),
    );
    let overdue = [("overdue", "true".to_owned())];
    let ending_soon = [
        ("status", "Approved".to_owned()),
        ("requestedUntil.lte", ends_by),
        ("sort", "requestedUntil".to_owned()),
    ];
    // Independent reads: at once, so the page takes as long as the slowest of them.
    let review = [("reviewOverdue", "true".to_owned())];
    let test = [("testOverdue", "true".to_owned())];
    let (layout, posture, trend, heat_map, poam, tasks, exceptions, policies) = tokio::try_join!(
        Layout::new(&web, &signed, "Dashboard", "dashboard"),
        async { Ok(service.posture(actor).await?) },
        async { Ok(service.posture_trend(actor, &query).await?) },
        async { Ok(service.risk_heat_map(actor, false).await?) },
        due(&web, actor, &POAM, "Overdue POA&M items", &overdue),
        due(&web, actor, &TASKS, "Overdue tasks", &overdue),
        due(
            &web,
            actor,
            &EXCEPTIONS,
            "Exceptions ending within 30 days",
            &ending_soon
        ),
        to_acknowledge(&web, actor),
    )?;
    let (plans_review, plans_test) = tokio::try_join!(
        due(
            &web,
            actor,
            &BCP_PLANS,
            "Continuity plans past review",
            &review
        ),
        due(
            &web,
            actor,
            &BCP_PLANS,
            "Continuity plans past their test",
            &test
        ),
    )?;
    let ending = exceptions
        .1
        .iter()
        .take(ENDING_SHOWN)
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (text("id"), text("title"), text("requestedUntil"))
        })
        .collect();

    // Raw pass rate per scan, oldest first (the API lists newest first).
    let rates: Vec<f64> = trend
        .points
        .iter()
        .rev()
        .filter_map(|p| {
            let c = &p.counts;
            let counted = c.pass + c.fail + c.manual_review + c.error;
            (counted > 0).then(|| 100.0 * c.pass as f64 / counted as f64)
        })
        .collect();
    let frameworks = posture
        .by_framework
        .iter()
        .map(|f| Bar::new(f.title.clone(), f.summary.score, 100.0))
        .collect();
    let by_severity = SEVERITIES
        .iter()
        .map(|s| {
            let n = posture
                .failing
                .iter()
                .filter(|f| f.severity.as_str() == *s)
                .count();
            (*s, n)
        })
        .collect();
    let failing_more = posture.failing.len().saturating_sub(FAILING_SHOWN);
    let mut failing = posture.failing;
    failing.truncate(FAILING_SHOWN);
    let heat = heat_cells(&heat_map.cells);
    Ok(DashboardPage {
        layout,
        gauge: Gauge::new(posture.score),
        formula: posture.score_formula,
        totals: posture.totals,
        endpoints: posture.endpoints,
        frameworks,
        by_severity,
        failing,
        failing_more,
        trend_count: rates.len(),
        trend: trend_points(&rates, TREND_WIDTH, TREND_HEIGHT),
        heat,
        heat_side: HEAT_CELL,
        heat_left: HEAT_LEFT,
        unscored_risks: heat_map.unscored,
        due: vec![
            poam.0,
            tasks.0,
            exceptions.0,
            policies,
            plans_review.0,
            plans_test.0,
        ],
        ending,
    })
}
