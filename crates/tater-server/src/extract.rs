//! Extractors: credentials to an `Actor`, JSON bodies and query strings, each rejecting bad
//! input with a problem instead of axum's plain-text rejections.

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tater_domain::{Actor, ValidationErrors, authorize};
use tater_service::{Credential, Identity};

use crate::api_doc::DeclaredAction;
use crate::error::Problem;
use crate::gate::ExportPermit;
use crate::rate_limit::TenantBucket;
use crate::state::AppState;

/// The header that selects the organization to act in (SPEC A3).
pub const ORG_HEADER: &str = "x-organization-id";
pub const API_KEY_HEADER: &str = "x-api-key";

pub(crate) fn header_str<'a>(
    headers: &'a HeaderMap,
    name: &str,
) -> Result<Option<&'a str>, Problem> {
    // Sent twice, a credential or an organization would be whichever copy a proxy in between
    // keeps: refused, not guessed.
    if headers.get_all(name).iter().nth(1).is_some() {
        return Err(Problem::bad_request(
            "BAD_HEADER",
            format!("send the {name} header once"),
        ));
    }
    headers
        .get(name)
        .map(|v| {
            v.to_str().map_err(|_| {
                Problem::bad_request("BAD_HEADER", format!("the {name} header is not valid text"))
            })
        })
        .transpose()
}

pub(crate) fn credential(headers: &HeaderMap) -> Result<Credential, Problem> {
    let unauthorized = |msg: &str| {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Unauthorized",
            msg,
        )
    };
    let authorization = header_str(headers, header::AUTHORIZATION.as_str())?;
    let key = header_str(headers, API_KEY_HEADER)?;
    match (authorization, key) {
        (Some(_), Some(_)) => Err(Problem::bad_request(
            "BAD_REQUEST",
            "send either Authorization or X-API-Key, not both",
        )),
        (Some(v), None) => {
            let (scheme, token) = v.trim().split_once(' ').unwrap_or((v, ""));
            if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
                return Err(unauthorized("use Authorization: Bearer <token>"));
            }
            Ok(Credential::Bearer(token.trim().to_owned()))
        }
        (None, Some(k)) => Ok(Credential::ApiKey(k.trim().to_owned())),
        (None, None) => Err(unauthorized(
            "sign in: send Authorization: Bearer <token> or X-API-Key",
        )),
    }
}

/// Who is calling, before an organization is chosen.
pub struct AuthIdentity {
    pub identity: Identity,
    pub org_header: Option<String>,
}

impl FromRequestParts<AppState> for AuthIdentity {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let credential = credential(&parts.headers)?;
        let org_header = header_str(&parts.headers, ORG_HEADER)?.map(str::to_owned);
        let identity = state.service.identify(credential).await?;
        Ok(Self {
            identity,
            org_header,
        })
    }
}

/// An authenticated caller taking one of its organization's export slots
/// (`--export-concurrency`): the slot is held until the export's body is sent or dropped
/// (see [`Permit::hold_until_sent`]); over the cap, 429 with `Retry-After`.
pub struct ExportSlot {
    pub actor: Actor,
    pub permit: ExportPermit,
}

impl FromRequestParts<AppState> for ExportSlot {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let AuthActor(actor) = AuthActor::from_request_parts(parts, state).await?;
        let permit = state.gates.export(actor.org(), actor.audit_user_id()).inspect_err(
            |_| tracing::info!(org = %actor.org(), "export refused: too many at once for the organization"),
        )?;
        Ok(Self { actor, permit })
    }
}

/// Put on a request the MCP server makes to a route in-process (a file tool): the caller's
/// changes and exports are audited through MCP, naming the client. An extension, so no
/// outside request can carry it.
#[derive(Clone)]
pub struct ViaMcp {
    pub channel: tater_domain::Channel,
    pub client: Option<tater_domain::ClientInfo>,
}

/// Put on a request the server dispatches in-process after authenticating it another way (a
/// redeemed download link): the route acts as this caller and reads no credential headers.
/// An extension, so no outside request can carry it.
#[derive(Clone)]
pub struct PreAuthenticated(pub Actor);

/// What every authenticated request passes once its caller is known: the tenant's rate-limit
/// bucket (SPEC A6), then the action the route declared, checked before any body is read (the
/// use case checks it again, and opens its transaction from the permit it gets).
async fn admit(parts: &Parts, actor: &Actor) -> Result<(), Problem> {
    if let Some(bucket) = parts.extensions.get::<TenantBucket>() {
        bucket.check(actor.org()).await?;
    }
    if let Some(DeclaredAction(action)) = parts.extensions.get::<DeclaredAction>() {
        authorize(actor, *action).map_err(tater_service::ServiceError::from)?;
    }
    Ok(())
}

/// An authenticated caller acting in one organization.
pub struct AuthActor(pub Actor);

impl FromRequestParts<AppState> for AuthActor {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let mut actor = match parts.extensions.get::<PreAuthenticated>() {
            Some(PreAuthenticated(actor)) => actor.clone(),
            None => {
                let credential = credential(&parts.headers)?;
                let org_header = header_str(&parts.headers, ORG_HEADER)?;
                state.service.authenticate(credential, org_header).await?
            }
        };
        if let Some(via) = parts.extensions.get::<ViaMcp>() {
            actor = actor.through(via.channel).with_client(via.client.clone());
        }
        admit(parts, &actor).await?;
        Ok(Self(actor))
    }
}

/// An outside auditor holding an auditor token (`Authorization: Bearer tater_auditor_…`):
/// it opens one audit's snapshots and nothing else. No other credential is one.
pub struct AuditorActor(pub Actor);

impl FromRequestParts<AppState> for AuditorActor {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let Credential::Bearer(token) = credential(&parts.headers)? else {
            return Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "Unauthorized",
                "send the auditor token as Authorization: Bearer <token>",
            ));
        };
        let actor = state.service.authenticate_auditor(&token).await?;
        admit(parts, &actor).await?;
        Ok(Self(actor))
    }
}

/// An authenticated person acting in one organization, with the identity behind it (for use
/// cases about the credential itself, such as verifying its owner). Agents' credentials are
/// not persons and are refused.
pub struct AuthCaller(pub tater_service::use_cases::Caller);

impl FromRequestParts<AppState> for AuthCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let bucket = parts.extensions.get::<TenantBucket>();
        let caller = resolve_caller(state, &parts.headers, bucket).await?;
        if let Some(DeclaredAction(action)) = parts.extensions.get::<DeclaredAction>() {
            authorize(&caller.actor, *action).map_err(tater_service::ServiceError::from)?;
        }
        Ok(Self(caller))
    }
}

/// The person a request's credential names, acting in the organization it selects (among its
/// memberships), counted against that organization's share of the rate limit (SPEC A6).
pub(crate) async fn resolve_caller(
    state: &AppState,
    headers: &HeaderMap,
    bucket: Option<&TenantBucket>,
) -> Result<tater_service::use_cases::Caller, Problem> {
    let credential = credential(headers)?;
    let org_header = header_str(headers, ORG_HEADER)?;
    let identity = state.service.identify(credential).await?;
    let actor = identity.actor(org_header)?;
    if let Some(bucket) = bucket {
        bucket.check(actor.org()).await?;
    }
    Ok(tater_service::use_cases::Caller { identity, actor })
}

/// A JSON body: `Content-Type: application/json` required, size capped by the body limit,
/// syntax errors and type errors answered as problems.
pub struct JsonBody<T>(pub T);

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        if !is_json(req.headers()) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Unsupported media type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::from_status(StatusCode::PAYLOAD_TOO_LARGE)
            } else {
                Problem::bad_request("BAD_BODY", "the request body could not be read")
            }
        })?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            Problem::bad_request("MALFORMED_JSON", format!("the body is not valid JSON: {e}"))
        })?;
        let typed = T::deserialize(value)
            .map_err(|e| Problem::validation(ValidationErrors::single("", e.to_string()).0))?;
        Ok(Self(typed))
    }
}

/// A use case's input from a request: the path's parameters and the JSON body's fields as one
/// object, read as the use case's input type (which refuses unknown fields). A body field that
/// contradicts the path is refused.
pub struct Input<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Input<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let (mut parts, body) = req.into_parts();
        // A path that cannot be decoded names nothing: 404, never "the body's id instead".
        let Path(path) = Path::<std::collections::BTreeMap<String, String>>::from_request_parts(
            &mut parts, state,
        )
        .await
        .map_err(|_| Problem::not_found())?;
        let JsonBody(value) =
            JsonBody::<Value>::from_request(Request::from_parts(parts, body), state).await?;
        let Value::Object(mut fields) = value else {
            return Err(Problem::validation(
                ValidationErrors::single("", "the body must be a JSON object").0,
            ));
        };
        for (name, value) in path {
            let value = Value::String(value);
            if fields.get(&name).is_some_and(|given| given != &value) {
                return Err(Problem::validation(
                    ValidationErrors::single(&name, "differs from the path").0,
                ));
            }
            fields.insert(name, value);
        }
        let typed = T::deserialize(Value::Object(fields))
            .map_err(|e| Problem::validation(ValidationErrors::single("", e.to_string()).0))?;
        Ok(Self(typed))
    }
}

use tater_service::use_cases::{MAX_PARAM_LEN, MAX_PARAMS};

/// Query parameters in order, percent-decoded strictly: invalid UTF-8 is a 400, never
/// silently replaced with U+FFFD.
pub struct Params(pub Vec<(String, String)>);

fn decode_component(raw: &str) -> Result<String, Problem> {
    let plus_as_space = raw.replace('+', " ");
    let decoded = percent_decode_str(&plus_as_space)
        .decode_utf8()
        .map_err(|_| {
            Problem::bad_request(
                "INVALID_QUERY",
                "the query string is not valid UTF-8 after percent-decoding",
            )
        })?;
    if decoded.chars().count() > MAX_PARAM_LEN {
        return Err(Problem::bad_request(
            "INVALID_QUERY",
            format!("query parameters are limited to {MAX_PARAM_LEN} characters"),
        ));
    }
    Ok(decoded.into_owned())
}

pub fn parse_query(query: Option<&str>) -> Result<Vec<(String, String)>, Problem> {
    let mut out = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        if out.len() == MAX_PARAMS {
            return Err(Problem::bad_request(
                "INVALID_QUERY",
                format!("at most {MAX_PARAMS} query parameters"),
            ));
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.push((decode_component(k)?, decode_component(v)?));
    }
    Ok(out)
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        parse_query(parts.uri.query()).map(Params)
    }
}

/// A use case's input from the query string: decoded strictly (as [`Params`]), then read
/// as the typed input, which refuses names it does not know.
pub struct QueryInput<T>(pub T);

impl<T: DeserializeOwned + schemars::JsonSchema + 'static, S: Send + Sync> FromRequestParts<S>
    for QueryInput<T>
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let pairs = parse_query(parts.uri.query())?;
        tater_service::use_cases::from_pairs(&pairs)
            .map(QueryInput)
            .map_err(|e| Problem::validation(e.0))
    }
}

/// The `{id}` of a record route. An id that cannot be decoded cannot exist: 404.
pub struct IdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| IdPath(id))
            .map_err(|_| Problem::not_found())
    }
}

/// The `{id}/…/{other}` of a route under a record (a move of a record): 404 when either
/// cannot be decoded.
pub struct TwoIds(pub String, pub String);

impl<S: Send + Sync> FromRequestParts<S> for TwoIds {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|Path((a, b))| TwoIds(a, b))
            .map_err(|_| Problem::not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding_is_strict() {
        let ok = parse_query(Some("q=caf%C3%A9+au+lait&status=Open%2CIn%20Progress&flag")).unwrap();
        assert_eq!(
            ok,
            vec![
                ("q".into(), "café au lait".into()),
                ("status".into(), "Open,In Progress".into()),
                ("flag".into(), String::new())
            ]
        );
        assert!(parse_query(Some("q=%FF")).is_err());
        assert!(parse_query(Some("q=%C3")).is_err());
        let many = vec!["a=1"; 65].join("&");
        assert!(parse_query(Some(&many)).is_err());
    }
}
