//! The pages, one module per area, and the layout every signed-in page shares.

pub(crate) mod account;
mod actions;
mod activity;
mod analyst;
mod beacon;
mod controls;
mod dashboard;
mod endpoints;
mod files;
mod links;
mod records;
mod referrers;
mod settings;
mod sign_in;

use axum::Router;
use axum::routing::{get, post};
use tater_service::MembershipView;

use crate::Web;
use crate::error::PageResult;
use crate::session::Signed;

pub fn routes() -> Router<Web> {
    let router = Router::new();
    links::routes(records::routes(router))
        .route(crate::APP_PATH, get(dashboard::page))
        .route(
            crate::SIGN_IN_PATH,
            get(sign_in::form).post(sign_in::submit),
        )
        .route(sign_in::ENTRA_START_PATH, get(sign_in::entra_start))
        .route(
            tater_service::ENTRA_CALLBACK_PATH,
            get(sign_in::entra_callback),
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
        .route(analyst::PATH, get(analyst::list).post(analyst::create))
        .route("/app/analyst/{id}", get(analyst::show))
        .route("/app/analyst/{id}/messages", post(analyst::ask))
        .route("/app/analyst/{id}/delete", post(analyst::delete))
        .route("/app/analyst/actions/{id}/confirm", post(analyst::confirm))
        .route("/app/analyst/actions/{id}/dismiss", post(analyst::dismiss))
        .route(settings::PATH, get(settings::page))
        .route(
            "/app/actions/{tool}",
            get(actions::page).post(actions::submit),
        )
        .route("/app/evidence/{id}/files", post(files::upload))
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

/// The query string of a list page: what its filter form sent, and the links it makes.
pub(crate) struct ListParams {
    pub pairs: Vec<(String, String)>,
}

/// The first value named `name` among a query's or a form's pairs.
pub fn pair<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl ListParams {
    pub fn parse(query: Option<&str>) -> Self {
        Self {
            pairs: query_pairs(query),
        }
    }

    /// A parameter's value, or empty.
    pub fn value(&self, name: &str) -> String {
        pair(&self.pairs, name).unwrap_or_default().to_owned()
    }

    /// The filters without the page's position: what downloads and the next page keep.
    pub fn filters(&self) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter(|(k, _)| k != "cursor")
            .cloned()
            .collect()
    }

    /// The same list at `cursor`.
    pub fn next_link(&self, path: &str, cursor: String) -> String {
        let mut p = self.filters();
        p.push(("cursor".into(), cursor));
        format!(
            "{path}?{}",
            serde_html_form::to_string(&p).unwrap_or_default()
        )
    }

    /// The parameters read into a use case's typed query; `None` when they do not fit it.
    pub fn typed<Q: serde::de::DeserializeOwned>(&self) -> Option<Q> {
        let encoded = serde_html_form::to_string(&self.pairs).ok()?;
        serde_html_form::from_str(&encoded).ok()
    }
}

/// One page of a typed list use case run with the page's parameters: its items, the next
/// page's link, and what was wrong with the filters (shown on the page, not as an error).
pub(crate) struct Listed<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
    pub problem: Option<String>,
}

pub(crate) async fn typed_list<Q, T, F, Fut>(
    params: &ListParams,
    path: &str,
    run: F,
) -> PageResult<Listed<T>>
where
    Q: serde::de::DeserializeOwned,
    F: FnOnce(Q) -> Fut,
    Fut: std::future::Future<Output = tater_service::ServiceResult<tater_service::Page<T>>>,
{
    let empty = |problem: String| Listed {
        items: Vec::new(),
        next: None,
        problem: Some(problem),
    };
    let Some(query) = params.typed::<Q>() else {
        return Ok(empty("Some filters are not valid.".into()));
    };
    match run(query).await {
        Ok(page) => Ok(Listed {
            next: page.next_cursor.map(|c| params.next_link(path, c)),
            items: page.items,
            problem: None,
        }),
        Err(tater_service::ServiceError::Validation(e)) => {
            Ok(empty(format!("Some filters are not valid: {e}.")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether the policy allows `actor` `action`: what pages offer (the service decides again
/// when the page's use case runs).
pub(crate) fn allowed(actor: &tater_domain::Actor, action: tater_domain::policy::Action) -> bool {
    tater_domain::policy::authorize(actor, action).is_ok()
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
            .filter(|m| {
                allowed(
                    actor,
                    tater_domain::policy::Action::ReadRecords(m.read_role),
                )
            })
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
    if allowed(actor, tater_domain::policy::Action::Converse) {
        links.push(NavLink {
            href: analyst::PATH.to_owned(),
            label: "Analyst",
            current: section == "analyst",
        });
    }
    if settings::any_offered(actor) {
        links.push(NavLink {
            href: settings::PATH.to_owned(),
            label: "Settings",
            current: section == "settings",
        });
    }
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
        let name_of = |m: &MembershipView| {
            if m.terminated {
                format!("{} (terminated)", m.org_name)
            } else {
                m.org_name.clone()
            }
        };
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
            // A session bound to one organization (Entra ID) is offered no other.
            orgs: me
                .memberships
                .iter()
                .filter(|m| {
                    signed
                        .caller
                        .session
                        .bound_org
                        .is_none_or(|b| b == m.org_id)
                })
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
