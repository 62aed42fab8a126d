//! The stand-in's OpenID Connect endpoints: `authorize` and `token` of Entra ID's v2.0
//! authorization-code flow with PKCE, speaking the real wire protocol (query parameters in,
//! a redirect with `code` and `state` out; a form-encoded token request in, JSON with an RS256
//! `id_token` out). Tests choose who "is signed in at Microsoft" with [`SignInDesk::sign_in_as`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::entra::{now_secs, sign};

/// The application (client) id of the app registration the stand-in knows.
pub const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
/// Its client secret.
pub const CLIENT_SECRET: &str = "stand-in-client-secret-for-tests";

/// The person signed in at the stand-in.
#[derive(Clone, Debug)]
pub struct Person {
    pub tid: String,
    pub oid: String,
    pub upn: String,
}

struct Pending {
    redirect_uri: String,
    challenge: String,
    nonce: String,
    person: Person,
}

#[derive(Default)]
struct Desk {
    person: Option<Person>,
    /// `error` to answer the next authorize requests with (the person declined, say).
    refuse: Option<String>,
    codes: HashMap<String, Pending>,
    /// Every authorize request's parameters, oldest first.
    authorize_requests: Vec<HashMap<String, String>>,
    /// Token requests refused, with the reason.
    refused_tokens: Vec<String>,
    /// A nonce to put in id tokens instead of the one the sign-in sent (a replayed id token).
    wrong_nonce: Option<String>,
}

/// The sign-in desk shared by the stand-in's routes and the test.
#[derive(Clone, Default)]
pub struct SignInDesk(Arc<Mutex<Desk>>);

impl SignInDesk {
    /// From now on the authorize endpoint signs this person in.
    pub fn sign_in_as(&self, tid: &str, oid: &str, upn: &str) {
        let mut desk = self.0.lock().unwrap();
        desk.person = Some(Person {
            tid: tid.into(),
            oid: oid.into(),
            upn: upn.into(),
        });
        desk.refuse = None;
    }

    /// From now on the authorize endpoint sends the browser back with `error`.
    pub fn refuse_with(&self, error: &str) {
        self.0.lock().unwrap().refuse = Some(error.into());
    }

    /// From now on id tokens carry `nonce` instead of their sign-in's own.
    pub fn issue_wrong_nonce(&self, nonce: &str) {
        self.0.lock().unwrap().wrong_nonce = Some(nonce.into());
    }

    /// The parameters of every authorize request so far.
    pub fn authorize_requests(&self) -> Vec<HashMap<String, String>> {
        self.0.lock().unwrap().authorize_requests.clone()
    }

    /// Why token requests were refused, in order.
    pub fn refused_tokens(&self) -> Vec<String> {
        self.0.lock().unwrap().refused_tokens.clone()
    }

    /// The stand-in's `authorize` and `token` routes, under `/{tenant}/oauth2/v2.0/`.
    pub fn routes(&self) -> axum::Router {
        axum::Router::new()
            .route("/{tenant}/oauth2/v2.0/authorize", get(authorize))
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .with_state(self.clone())
    }
}

fn bad_request(what: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("AADSTS900144: {what}")).into_response()
}

fn redirect(to: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(to) else {
        return bad_request("redirect_uri is not a URL");
    };
    url.query_pairs_mut().extend_pairs(params);
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

async fn authorize(
    State(desk): State<SignInDesk>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut d = desk.0.lock().unwrap();
    d.authorize_requests.push(q.clone());
    let param = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if param("client_id") != CLIENT_ID {
        return bad_request("unknown client_id");
    }
    let ok = param("response_type") == "code"
        && param("code_challenge_method") == "S256"
        && !param("code_challenge").is_empty()
        && param("scope").split(' ').any(|s| s == "openid")
        && !param("state").is_empty()
        && !param("nonce").is_empty();
    if !ok {
        return bad_request("the request lacks a parameter of the PKCE code flow");
    }
    let state = param("state");
    if let Some(error) = d.refuse.clone() {
        return redirect(
            param("redirect_uri"),
            &[
                ("error", &error),
                (
                    "error_description",
                    "AADSTS65004: User declined to consent.",
                ),
                ("state", state),
            ],
        );
    }
    let Some(person) = d.person.clone() else {
        return (StatusCode::OK, "No account is signed in at the stand-in.").into_response();
    };
    let code = format!("code-{}", uuid::Uuid::new_v4());
    d.codes.insert(
        code.clone(),
        Pending {
            redirect_uri: param("redirect_uri").into(),
            challenge: param("code_challenge").into(),
            nonce: param("nonce").into(),
            person,
        },
    );
    redirect(param("redirect_uri"), &[("code", &code), ("state", state)])
}

fn refuse(d: &mut Desk, status: StatusCode, error: &str, why: &str) -> Response {
    d.refused_tokens.push(why.to_owned());
    (status, axum::Json(json!({ "error": error }))).into_response()
}

async fn token(State(desk): State<SignInDesk>, Form(f): Form<HashMap<String, String>>) -> Response {
    let mut d = desk.0.lock().unwrap();
    let param = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    if param("client_id") != CLIENT_ID || param("client_secret") != CLIENT_SECRET {
        return refuse(
            &mut d,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client credentials",
        );
    }
    if param("grant_type") != "authorization_code" {
        return refuse(
            &mut d,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant type",
        );
    }
    // A code works once.
    let Some(pending) = d.codes.remove(param("code")) else {
        return refuse(
            &mut d,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown code",
        );
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(param("code_verifier").as_bytes()));
    if challenge != pending.challenge {
        return refuse(
            &mut d,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "PKCE verifier",
        );
    }
    if param("redirect_uri") != pending.redirect_uri {
        return refuse(
            &mut d,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri",
        );
    }
    let nonce = d.wrong_nonce.clone().unwrap_or(pending.nonce);
    let id_token = sign("k1", &id_claims(&pending.person, &nonce));
    axum::Json(json!({
        "token_type": "Bearer",
        "scope": "openid profile email",
        "expires_in": 3600,
        "id_token": id_token,
    }))
    .into_response()
}

/// Claims of a v2.0 id token for `person`, issued to [`CLIENT_ID`] with `nonce`.
pub fn id_claims(person: &Person, nonce: &str) -> Value {
    let now = now_secs();
    json!({
        "aud": CLIENT_ID,
        "iss": format!("https://login.microsoftonline.com/{}/v2.0", person.tid),
        "iat": now - 5, "nbf": now - 5, "exp": now + 3600,
        "tid": person.tid, "oid": person.oid, "sub": "pairwise-subject",
        "preferred_username": person.upn, "name": "Signed In Person",
        "nonce": nonce, "ver": "2.0",
    })
}
