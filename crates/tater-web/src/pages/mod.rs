//! The pages, one module per area, and the layout every signed-in page shares.

mod dashboard;
mod sign_in;

use axum::Router;
use axum::routing::{get, post};
use tater_service::MembershipView;

use crate::Web;
use crate::error::PageResult;
use crate::session::Signed;

pub fn routes() -> Router<Web> {
    Router::new()
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
        .route("/assets/{file}", get(crate::assets::serve))
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
    /// The section the page belongs to, for the navigation.
    pub section: &'static str,
}

impl Layout {
    pub async fn new(
        web: &Web,
        signed: &Signed,
        title: &str,
        section: &'static str,
    ) -> PageResult<Self> {
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
            section,
        })
    }
}
