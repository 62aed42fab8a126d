//! Calling a use case with one JSON object, as channels generated from the registry do (the
//! MCP server's tools, the AI analyst's tools): the input is read into the use case's own
//! input type, the service function runs with the caller's identity and organization, and the
//! answer comes back as JSON. The service function authorizes as it does for REST, so a
//! generated channel cannot skip a check.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tater_domain::{Actor, ValidationErrors};

use crate::{Identity, Service, ServiceError, ServiceResult};

/// Who calls: the signed-in identity, acting in one of its organizations.
#[derive(Clone)]
pub struct Caller {
    pub identity: Identity,
    pub actor: Actor,
}

impl Caller {
    /// The same caller, its changes audited as made through `channel`.
    pub fn through(self, channel: tater_domain::Channel) -> Self {
        Self {
            identity: self.identity.through(channel),
            actor: self.actor.through(channel),
        }
    }

    /// The same caller, its changes noting the analyst conversation that proposed them
    /// (`_conversation` in their audit entries).
    pub fn in_conversation(self, conversation: tater_domain::ConversationId) -> Self {
        Self {
            identity: self.identity,
            actor: self.actor.in_conversation(conversation),
        }
    }

    /// The same caller, its changes noting the client software that made them (`_client`
    /// in their audit entries).
    pub fn with_client(self, client: Option<tater_domain::ClientInfo>) -> Self {
        Self {
            identity: self.identity.with_client(client.clone()),
            actor: self.actor.with_client(client),
        }
    }
}

/// What a call answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The use case's view, as JSON.
    Json(Value),
    /// Done; nothing to show.
    Nothing,
}

type Running = Pin<Box<dyn Future<Output = ServiceResult<Answer>> + Send>>;

/// A use case's entry point for generated channels.
#[derive(Clone)]
pub struct Invoker(Arc<dyn Fn(Service, Caller, Value) -> Running + Send + Sync>);

impl Invoker {
    pub async fn call(
        &self,
        service: Service,
        caller: Caller,
        input: Value,
    ) -> ServiceResult<Answer> {
        (self.0)(service, caller, input).await
    }
}

/// Reads `input` into `I`; a field that does not fit is a validation error on that field.
pub fn decode<I: DeserializeOwned>(input: Value) -> ServiceResult<I> {
    serde_path_to_error::deserialize(input).map_err(|e| super::query::field_error(e).into())
}

fn run<I, F, Fut>(f: F, finish: fn(Fut::Output) -> ServiceResult<Answer>) -> Invoker
where
    I: DeserializeOwned + Send + 'static,
    F: Fn(Service, Caller, I) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
{
    Invoker(Arc::new(move |service, caller, input| {
        match decode::<I>(input) {
            Ok(input) => {
                let running = f(service, caller, input);
                Box::pin(async move { finish(running.await) })
            }
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }))
}

/// A use case that answers a view.
pub fn json<I, O, F, Fut>(f: F) -> Invoker
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize,
    F: Fn(Service, Caller, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ServiceResult<O>> + Send + 'static,
{
    run(f, |answer| {
        let view = answer?;
        serde_json::to_value(view)
            .map(Answer::Json)
            .map_err(|e| ServiceError::Internal(e.into()))
    })
}

/// A use case whose success is the whole answer.
pub fn nothing<I, F, Fut>(f: F) -> Invoker
where
    I: DeserializeOwned + Send + 'static,
    F: Fn(Service, Caller, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ServiceResult<()>> + Send + 'static,
{
    run(f, |done| done.map(|()| Answer::Nothing))
}

/// An input that names a record and carries its new content (`{"id": …, …fields}`): the id,
/// and the content without it, as the service functions take them.
pub fn split_id(input: Map<String, Value>) -> ServiceResult<(String, Value)> {
    let mut body = input;
    match body.remove("id") {
        Some(Value::String(id)) => Ok((id, Value::Object(body))),
        _ => Err(ValidationErrors::single("id", "is required (a string)").into()),
    }
}

/// The URI of a `GET` route for an input: each `{param}` of `template` from the input
/// (percent-encoded), the rest as the query string ([`to_pairs`], bounded as REST's is).
/// How file use cases are served through their REST route to other channels.
pub fn route_uri(template: &str, mut input: Map<String, Value>) -> ServiceResult<String> {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let mut path = String::new();
    for segment in template.split('/').skip(1) {
        path.push('/');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(param) => {
                let value = match input.remove(param) {
                    Some(Value::String(v)) => v,
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                path.extend(utf8_percent_encode(&value, NON_ALPHANUMERIC));
            }
            None => path.push_str(segment),
        }
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(to_pairs(input)?)
        .finish();
    Ok(if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    })
}

/// A list's input as the query parameters its parser reads: text as it is, numbers and
/// booleans as written, a list as the parameter repeated.
/// Bounded as REST bounds a query string: at most [`super::MAX_PARAMS`] parameters of
/// [`super::MAX_PARAM_LEN`] characters.
pub fn to_pairs(input: Map<String, Value>) -> ServiceResult<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for (name, value) in input {
        let mut add = |v: &Value| {
            let text = match v {
                Value::String(t) => t.clone(),
                Value::Number(_) | Value::Bool(_) => v.to_string(),
                _ => {
                    return Err(ValidationErrors::single(
                        name.clone(),
                        "must be text, a number or true/false",
                    ));
                }
            };
            if pairs.len() == super::MAX_PARAMS {
                return Err(ValidationErrors::single(
                    "",
                    format!("a list takes at most {} parameters", super::MAX_PARAMS),
                ));
            }
            if text.chars().count() > super::MAX_PARAM_LEN {
                return Err(ValidationErrors::single(
                    name.clone(),
                    format!("is limited to {} characters", super::MAX_PARAM_LEN),
                ));
            }
            pairs.push((name.clone(), text));
            Ok(())
        };
        match &value {
            Value::Null => {}
            Value::Array(items) => items.iter().try_for_each(&mut add)?,
            other => add(other)?,
        }
    }
    Ok(pairs)
}
