//! The pages, one module per area, and the layout every signed-in page shares.

pub(crate) mod account;
mod actions;
mod activity;
mod beacon;
mod controls;
mod dashboard;
mod endpoints;
mod records;
mod sign_in;

use axum::Router;
use axum::routing::{get, post};
use tater_service::MembershipView;

use crate::Web;
use crate::error::PageResult;
use crate::session::Signed;

pub fn routes() -> Router<Web> {
    let router = Router::new();
    records::routes(router)
        .route(crate::APP_PATH, get(dashboard::page))
        .route(
            crate::SIGN_IN_PATH,
            get(sign_in::form).post(sign_in::submit),
        )
        .route("/app/sign-out", post(sign_in::sign_out))
        .route(
            "/app/sign-out-everywhere",
            post(sign_in::sign_out_everywhere),
        )
        .route("/app/organization", post(sign_in::choose_org))
        .route(controls::PATH, get(controls::list))
        .route("/app/controls/{id}", get(controls::detail))
        .route("/app/controls/{id}/overlay", post(controls::save_overlay))
        .route(endpoints::PATH, get(endpoints::list))
        .route(
            endpoints::TOKENS_PATH,
            get(endpoints::tokens).post(endpoints::create_token),
        )
        .route(
            "/app/endpoints/tokens/{id}/revoke",
            post(endpoints::revoke_token),
        )
        .route("/app/endpoints/{id}", get(endpoints::detail))
        .route("/app/endpoints/{id}/retire", post(endpoints::retire))
        .route(account::PATH, get(account::page))
        .route("/app/account/beacon", post(beacon::opt_out))
        .route("/app/beacon", post(beacon::record))
        .route("/app/account/password", post(account::change_password))
        .route(account::SSP_PATH, get(account::ssp))
        .route("/app/ssp/download", get(account::ssp_download))
        .route(actions::PATH, get(actions::index))
        .route(
            "/app/actions/{tool}",
            get(actions::page).post(actions::submit),
        )
        .route(activity::PATH, get(activity::page))
        .route("/app/activity/export", get(activity::export))
        .route("/app/activity/verify", get(activity::verify))
        .route("/assets/{file}", get(crate::assets::serve))
}

/// A query string's pairs, without the ones a form left empty.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    serde_html_form::from_str::<Vec<(String, String)>>(query.unwrap_or_default())
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect()
}

/// The file the REST route `path` (with its query) makes, as the signed-in person: pages'
/// downloads run the same export as the API.
pub(crate) async fn download(
    web: &Web,
    actor: tater_domain::Actor,
    path: String,
    extensions: axum::http::Extensions,
) -> PageResult<axum::response::Response> {
    let Some(files) = &web.files else {
        return Err(tater_service::ServiceError::NotFound.into());
    };
    Ok((files.0)(actor, path, extensions).await)
}

/// A link of the main navigation.
pub struct NavLink {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
}

/// The navigation: the dashboard and every module the role may read.
fn nav(actor: &tater_domain::Actor, section: &str) -> Vec<NavLink> {
    let mut links = vec![NavLink {
        href: crate::APP_PATH.to_owned(),
        label: "Dashboard",
        current: section == "dashboard",
    }];
    links.push(NavLink {
        href: controls::PATH.to_owned(),
        label: "Controls",
        current: section == "controls",
    });
    links.push(NavLink {
        href: endpoints::PATH.to_owned(),
        label: "Endpoints",
        current: section == "endpoints",
    });
    links.extend(
        tater_domain::modules::ALL
            .iter()
            .filter(|m| actor.role() >= m.read_role.max(tater_domain::Role::Viewer))
            .map(|m| NavLink {
                href: format!("/app/{}", m.name),
                label: m.plural,
                current: section == m.name,
            }),
    );
    if activity::may_read(actor) {
        links.push(NavLink {
            href: activity::PATH.to_owned(),
            label: "Activity Log",
            current: section == "activity",
        });
    }
    links.push(NavLink {
        href: account::SSP_PATH.to_owned(),
        label: "SSP",
        current: section == "ssp",
    });
    links.push(NavLink {
        href: actions::PATH.to_owned(),
        label: "More",
        current: section == "actions",
    });
    links
}

/// An organization in the switcher.
pub struct OrgChoice {
    pub id: String,
    pub name: String,
    pub selected: bool,
}

/// What the frame around every signed-in page shows: who, where, and the forms (sign-out,
/// organization switcher) that need the CSRF token.
pub struct Layout {
    pub title: String,
    pub email: String,
    pub org_name: String,
    pub role: String,
    pub csrf: String,
    pub orgs: Vec<OrgChoice>,
    pub nav: Vec<NavLink>,
    /// The page's route template, which the page-view beacon reports.
    pub page: String,
}

impl Layout {
    pub async fn new(web: &Web, signed: &Signed, title: &str, section: &str) -> PageResult<Self> {
        let me = web
            .service
            .me(&signed.caller.identity, Some(&signed.actor))
            .await?;
        let current = signed.actor.org();
        let name_of = |m: &MembershipView| m.org_name.clone();
        Ok(Self {
            title: title.to_owned(),
            email: me.user.email.to_string(),
            org_name: me
                .memberships
                .iter()
                .find(|m| m.org_id == current)
                .map(name_of)
                .unwrap_or_default(),
            role: signed.actor.role().to_string(),
            csrf: signed.caller.session.csrf_token.clone(),
            orgs: me
                .memberships
                .iter()
                .map(|m| OrgChoice {
                    id: m.org_id.to_string(),
                    name: name_of(m),
                    selected: m.org_id == current,
                })
                .collect(),
            nav: nav(&signed.actor, section),
            page: signed.page.clone(),
        })
    }
}
