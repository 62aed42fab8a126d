//! What a page shows when it cannot do what was asked: a page of its own with the status a
//! REST call would get, or — when the session is missing or over — the way to sign in.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tater_service::ServiceError;

use crate::SIGN_IN_PATH;

/// A page that could not be served.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in (or the session ended): to the sign-in page.
    SignIn,
    /// The same, for a request htmx made: 401 with `HX-Redirect`, so the whole page goes to
    /// the sign-in page instead of a fragment being swapped for nothing.
    SignInFromScript,
    /// The organization's rate limit is spent: a page saying when to try again.
    Limited { retry_after_secs: u64 },
    /// Any other refusal or failure, shown as a page.
    Shown {
        status: StatusCode,
        title: &'static str,
        message: String,
    },
}

pub type PageResult<T> = Result<T, PageError>;

impl PageError {
    pub fn forbidden(message: &str) -> Self {
        Self::Shown {
            status: StatusCode::FORBIDDEN,
            title: "Not allowed",
            message: message.to_owned(),
        }
    }

    pub fn bad_request(message: &str) -> Self {
        Self::Shown {
            status: StatusCode::BAD_REQUEST,
            title: "Not understood",
            message: message.to_owned(),
        }
    }
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let title = match status.as_u16() {
            401 => return Self::SignIn,
            403 => "Not allowed",
            404 => "Not found",
            409 => "Not possible now",
            429 => "Too many requests",
            500.. => "Something went wrong",
            _ => "Not possible",
        };
        let message = match &e {
            ServiceError::Internal(cause) => {
                tracing::error!(error = ?cause, "a page failed");
                "The server could not show this page. The error is logged.".to_owned()
            }
            other => other.to_string(),
        };
        Self::Shown {
            status,
            title,
            message,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn => Redirect::to(SIGN_IN_PATH).into_response(),
            Self::SignInFromScript => {
                (StatusCode::UNAUTHORIZED, [("hx-redirect", SIGN_IN_PATH)]).into_response()
            }
            Self::Limited { retry_after_secs } => too_many_requests(
                "Your organization has made more requests than its limit allows.",
                retry_after_secs,
            ),
            Self::Shown {
                status,
                title,
                message,
            } => {
                let page = ErrorPage {
                    title,
                    message: &message,
                };
                (status, page).into_response()
            }
        }
    }
}

/// The page a browser gets for a refused request: `why`, and when to try again (also in
/// `Retry-After`). The server answers the web application's paths with it when a limit of
/// its own (per address) refuses them, as the pages do for their organization's.
pub fn too_many_requests(why: &str, retry_after_secs: u64) -> Response {
    let message = format!("{why} Try again in {retry_after_secs} s.");
    let page = ErrorPage {
        title: "Too many requests",
        message: &message,
    };
    let mut res = (StatusCode::TOO_MANY_REQUESTS, page).into_response();
    res.headers_mut()
        .insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
    res
}
