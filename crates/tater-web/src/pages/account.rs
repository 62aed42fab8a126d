//! The person's own account: their organizations, a new password (which signs out every
//! other session), and "sign out everywhere"; and the organization's SSP downloads.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{Extensions, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tater_service::ServiceError;

use super::{Layout, download};
use crate::Web;
use crate::error::PageResult;
use crate::session::{Posted, SameOrigin, Signed, session_cookie};

pub const PATH: &str = "/app/account";
pub const SSP_PATH: &str = "/app/ssp";

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
pub struct AccountPage {
    layout: Layout,
    /// Page views are not sent from this browser.
    opted_out: bool,
    has_password: bool,
    memberships: Vec<(String, String)>,
    changed: bool,
    error: Option<(&'static str, String)>,
}

async fn account_page(
    web: &Web,
    signed: &Signed,
    changed: bool,
    error: Option<(&'static str, String)>,
) -> PageResult<AccountPage> {
    let layout = Layout::new(web, signed, "Your account", "account").await?;
    let me = web
        .service
        .me(&signed.caller.identity, Some(&signed.actor))
        .await?;
    Ok(AccountPage {
        opted_out: signed.beacon_opted_out,
        layout,
        has_password: signed.caller.identity.user().password_hash.is_some(),
        memberships: me
            .memberships
            .iter()
            .map(|m| (m.org_name.clone(), m.role.to_string()))
            .collect(),
        changed,
        error,
    })
}

pub async fn page(State(web): State<Web>, signed: Signed) -> PageResult<AccountPage> {
    account_page(&web, &signed, false, None).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default, rename = "currentPassword")]
    current: String,
    #[serde(default, rename = "newPassword")]
    new: String,
}

/// Changes the password: every other session and token ends; this browser gets a new
/// session so the person stays signed in here.
pub async fn change_password(
    State(web): State<Web>,
    posted: Posted<PasswordForm>,
) -> PageResult<Response> {
    let signed = &posted.signed;
    let changed = web
        .service
        .change_password(
            &signed.caller.identity,
            &posted.form.current,
            &posted.form.new,
        )
        .await;
    match changed {
        Ok(_) => {
            let session = web
                .service
                .start_web_session(
                    signed.caller.identity.user().id,
                    signed.caller.session.bound_org,
                )
                .await?;
            let mut res = account_page(&web, signed, true, None)
                .await?
                .into_response();
            if let Some(cookie) = session_cookie(&session.secret) {
                res.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            Ok(res)
        }
        Err(ServiceError::Validation(e)) => {
            let first = e.0.first();
            let field = match first.map(|f| f.field.as_str()) {
                Some("currentPassword") => "currentPassword",
                _ => "newPassword",
            };
            let message = first.map(|f| f.message.clone()).unwrap_or_default();
            Ok(account_page(&web, signed, false, Some((field, message)))
                .await?
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "ssp.html")]
pub struct SspPage {
    layout: Layout,
    /// The system profile's form, filled with the profile as it is (for those who may
    /// change it).
    form: Option<super::settings::SectionForm>,
}

/// The System Security Plan: the system profile behind it and its downloads.
pub async fn ssp(State(web): State<Web>, signed: Signed) -> PageResult<SspPage> {
    let layout = Layout::new(&web, &signed, "System Security Plan", "ssp").await?;
    let form = super::settings::section_form(
        &web,
        &signed,
        "system_profile_put",
        Some("system_profile_get"),
    )
    .await?;
    Ok(SspPage { layout, form })
}

#[derive(Deserialize)]
pub struct SspQuery {
    #[serde(default)]
    format: String,
}

/// The SSP as OSCAL JSON or Word, made by the REST route as the signed-in person.
pub async fn ssp_download(
    State(web): State<Web>,
    _: SameOrigin,
    signed: Signed,
    axum::extract::Query(q): axum::extract::Query<SspQuery>,
    extensions: Extensions,
) -> PageResult<Response> {
    let format = if q.format == "docx" {
        "docx"
    } else {
        "oscal-json"
    };
    download(
        &web,
        signed.actor,
        format!("/api/ssp?format={format}"),
        extensions,
    )
    .await
}
