//! Routes and their OpenAPI description are registered together, so the document at
//! `/api/openapi.json` cannot drift from the router: a route exists only if it is documented.
//!
//! What an operation does comes from the use-case registry ([`tater_service::use_cases`]):
//! its summary, who may call it, its parameters and body (the use case's input, split into
//! path, query and body) and its answer. A route names its use case by operation id and adds
//! only what is particular to HTTP: method, path, status, media types of files. The few
//! operations that are not use cases (the start page, health, sign-in, the agent's own
//! endpoints) say so with [`Op::outside_registry`].

use axum::http::Method;
use axum::routing::MethodRouter;
use axum::{Extension, Router};
use serde_json::{Map, Value, json};
use tater_domain::policy::Action;
use tater_service::use_cases::{self, Gate, Output, UseCase};

use crate::extract::{API_KEY_HEADER, ORG_HEADER};
use crate::state::AppState;

/// Who may call an operation.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    Public,
    /// Authenticated and allowed this action in the active organization. The policy says
    /// which role that takes (the document shows it), and the route checks it as soon as
    /// the caller is known, before any body is read.
    Action(Action),
    /// Authenticated; no organization needs to be selected.
    Signed,
}

/// The action a route serves, in its request's extensions for [`crate::extract::AuthActor`].
#[derive(Debug, Clone, Copy)]
pub struct DeclaredAction(pub Action);

/// One documented operation.
pub struct Op {
    method: Method,
    path: String,
    id: String,
    summary: String,
    tag: String,
    access: Access,
    params: Vec<Value>,
    body: Option<Value>,
    ok_status: u16,
    ok_description: String,
    /// Response media types and their schemas (several when a route serves several formats).
    ok_content: Vec<(String, Value)>,
    /// The request body's media type (JSON, or raw bytes for an upload).
    body_type: &'static str,
    /// Problem answers particular to this operation.
    problems: Vec<(u16, String)>,
    /// Not a use case: documented by hand here.
    outside: bool,
    /// Set by hand (only allowed outside the registry).
    hand_written: bool,
}

impl Op {
    fn new(method: Method, path: &str, id: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            id: id.to_owned(),
            summary: String::new(),
            tag: "platform".into(),
            access: Access::Public,
            params: Vec::new(),
            body: None,
            ok_status: 200,
            ok_description: "OK".into(),
            ok_content: Vec::new(),
            body_type: "application/json",
            problems: Vec::new(),
            outside: false,
            hand_written: false,
        }
    }

    /// An operation that is not a use case (pages, health, sign-in, the agent's own calls):
    /// its access, parameters and body are written here.
    pub fn outside_registry(mut self) -> Self {
        self.outside = true;
        self
    }

    pub fn get(path: &str, id: &str) -> Self {
        Self::new(Method::GET, path, id)
    }
    pub fn post(path: &str, id: &str) -> Self {
        Self::new(Method::POST, path, id)
    }
    pub fn put(path: &str, id: &str) -> Self {
        Self::new(Method::PUT, path, id)
    }
    pub fn delete(path: &str, id: &str) -> Self {
        Self::new(Method::DELETE, path, id)
    }

    /// What the operation does, for one outside the registry (the others take their use
    /// case's summary).
    pub fn summary(mut self, summary: &str) -> Self {
        self.hand_written = true;
        self.summary = summary.to_owned();
        self
    }

    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = tag.to_owned();
        self
    }

    pub fn access(mut self, access: Access) -> Self {
        self.hand_written = true;
        self.access = access;
        self
    }

    pub fn query(mut self, name: &str, schema: Value, description: &str) -> Self {
        self.hand_written = true;
        self.params.push(json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": description }));
        self
    }

    /// A query parameter the operation cannot do without.
    pub fn required_query(mut self, name: &str, schema: Value, description: &str) -> Self {
        self.hand_written = true;
        self.params.push(json!({ "name": name, "in": "query", "required": true, "schema": schema, "description": description }));
        self
    }

    /// A required string path parameter.
    pub fn path_param(mut self, name: &str, description: &str) -> Self {
        self.hand_written = true;
        self.params.push(json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" }, "description": description }));
        self
    }

    pub fn path_id(mut self) -> Self {
        self.hand_written = true;
        self.params.push(json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } }));
        self
    }

    /// A request body of raw bytes (a file upload) instead of JSON.
    pub fn file_body(mut self) -> Self {
        self.hand_written = true;
        self.body = Some(json!({ "type": "string", "format": "binary" }));
        self.body_type = "application/octet-stream";
        self
    }

    pub fn body(mut self, schema: Value) -> Self {
        self.hand_written = true;
        self.body = Some(schema);
        self
    }

    pub fn ok(mut self, status: u16, description: &str, schema: Option<Value>) -> Self {
        self.hand_written |= schema.is_some();
        self.ok_status = status;
        self.ok_description = description.to_owned();
        self.ok_content = schema
            .map(|s| ("application/json".to_owned(), s))
            .into_iter()
            .collect();
        self
    }

    /// A problem answer this operation gives besides the ones every operation documents.
    pub fn problem(mut self, status: u16, description: &str) -> Self {
        self.problems.push((status, description.to_owned()));
        self
    }

    pub fn ok_content(mut self, content_type: &str, schema: Value) -> Self {
        self.ok_content.push((content_type.to_owned(), schema));
        self
    }

    /// Takes from the use case what it says: summary, access, parameters, body, answer.
    fn derive(&mut self, uc: &UseCase, generator: &mut schemars::SchemaGenerator) {
        self.summary = uc.summary.clone();
        self.access = match uc.gate {
            Gate::Public => Access::Public,
            Gate::Signed => Access::Signed,
            Gate::Action(action) => Access::Action(action),
        };
        let input = uc.input.with(generator);
        let fields = use_cases::properties(&input);
        let in_path = path_names(&self.path);
        let required: Vec<&str> = input
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for name in &in_path {
            let schema = fields
                .get(*name)
                .map_or_else(|| json!({ "type": "string" }), param_schema);
            self.params
                .push(json!({ "name": name, "in": "path", "required": true, "schema": schema }));
        }
        let rest = use_cases::without_properties(&input, &in_path);
        if self.method == Method::POST || self.method == Method::PUT {
            let has_fields = !use_cases::properties(&rest).is_empty();
            if has_fields || rest.get("oneOf").is_some() {
                self.body = Some(rest);
            }
        } else {
            for (name, schema) in use_cases::properties(&rest) {
                let mut param = json!({
                    "name": name, "in": "query", "required": required.contains(&name.as_str()),
                    "schema": param_schema(&schema),
                });
                if let Some(d) = schema.get("description") {
                    param["description"] = d.clone();
                }
                self.params.push(param);
            }
        }
        match &uc.output {
            Output::Json(shape) => {
                self.ok_content = vec![("application/json".to_owned(), shape.with(generator))];
            }
            // A route may say more of a file's shape (a JSON export is an array); every
            // media type the use case names is documented either way.
            Output::File(media_types) => {
                for media in media_types.iter() {
                    if !self.ok_content.iter().any(|(m, _)| m == media) {
                        let schema = match *media {
                            m if m.starts_with("text/") || m.ends_with("ndjson") => {
                                json!({ "type": "string" })
                            }
                            // A JSON document; the use case does not say its shape.
                            m if m.ends_with("json") => json!({}),
                            _ => json!({ "type": "string", "format": "binary" }),
                        };
                        self.ok_content.push(((*media).to_owned(), schema));
                    }
                }
            }
            Output::Nothing => {}
        }
    }

    fn to_json(&self) -> Value {
        let mut params = self.params.clone();
        let mut responses = Map::new();
        let mut ok = json!({ "description": self.ok_description });
        if !self.ok_content.is_empty() {
            let content: Map<String, Value> = self
                .ok_content
                .iter()
                .map(|(ct, schema)| (ct.clone(), json!({ "schema": schema })))
                .collect();
            ok["content"] = Value::Object(content);
        }
        responses.insert(self.ok_status.to_string(), ok);
        let problem = |d: &str| json!({ "description": d, "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } });
        responses.insert("400".into(), problem("Invalid input (VALIDATION_FAILED with per-field errors, MALFORMED_JSON, INVALID_QUERY, AMBIGUOUS_ORG, ...)"));
        let mut op = json!({
            "operationId": self.id,
            "summary": self.summary,
            "tags": [self.tag],
        });
        match self.access {
            Access::Public => {}
            Access::Action(Action::AuditorAccess) => {
                op["security"] = json!([{ "auditorToken": [] }]);
                responses.insert(
                    "401".into(),
                    problem("No valid auditor token: unknown, revoked or expired (UNAUTHORIZED)"),
                );
            }
            Access::Action(_) | Access::Signed => {
                op["security"] = json!([{ "bearer": [] }, { "apiKey": [] }]);
                responses.insert("401".into(), problem("No valid credential (UNAUTHORIZED)"));
                responses.insert("403".into(), problem("Role too low (FORBIDDEN), or organization not yours (ORG_MISMATCH, NOT_A_MEMBER)"));
                params.push(json!({
                    "name": ORG_HEADER, "in": "header", "required": false,
                    "schema": { "type": "string", "format": "uuid" },
                    "description": "The organization to act in; needed when the caller belongs to several.",
                }));
            }
        }
        if let Access::Action(action) = self.access {
            let role = action.required_role();
            op["x-tater-min-role"] = json!(role);
            op["x-tater-action"] = json!(action.name());
            op["description"] = json!(if action == Action::AgentReport {
                "An endpoint agent's own credential only; no person may call it.".to_owned()
            } else if action == Action::AuditorAccess {
                "An auditor token only (`Authorization: Bearer tater_auditor_…`, made by an \
                 OrgAdmin for one audit): read-only, that audit's snapshots alone, every use \
                 audited as `auditor-token:<id>`."
                    .to_owned()
            } else {
                format!("Requires the {role} role or higher in the active organization.")
            });
        }
        if self.path.contains('{') {
            responses.insert(
                "404".into(),
                problem("No such record in your organization (NOT_FOUND)"),
            );
        }
        if let Some(schema) = &self.body {
            op["requestBody"] =
                json!({ "required": true, "content": { self.body_type: { "schema": schema } } });
            responses.insert(
                "413".into(),
                problem("Body over the size limit (PAYLOAD_TOO_LARGE)"),
            );
            responses.insert(
                "415".into(),
                problem("Body is not JSON (UNSUPPORTED_MEDIA_TYPE)"),
            );
            responses.insert(
                "409".into(),
                problem("Stale version or duplicate (CONFLICT)"),
            );
        }
        if self.path != "/healthz" {
            responses.insert(
                "429".into(),
                problem("Over a rate limit (RATE_LIMITED) or too many at once (TOO_MANY_CONCURRENT: downloads per address, exports per organization); wait for Retry-After"),
            );
        }
        responses.insert(
            "500".into(),
            problem("Internal error (INTERNAL); details are logged, never returned"),
        );
        for (status, description) in &self.problems {
            responses.insert(status.to_string(), problem(description));
        }
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        op["responses"] = Value::Object(responses);
        op
    }
}

/// A router that documents what it routes.
pub struct ApiRouter {
    router: Router<AppState>,
    paths: Map<String, Value>,
    schemas: Map<String, Value>,
    /// Makes schemas from types (draft 2020-12); the types they name go to
    /// `components/schemas` once, whichever operations share them.
    generator: schemars::SchemaGenerator,
    /// Routes that do not match the registry; `finish` refuses to build with any.
    errors: Vec<String>,
}

impl Default for ApiRouter {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiRouter {
    pub fn new() -> Self {
        let mut schemas = Map::new();
        schemas.insert("Problem".into(), problem_schema());
        let settings = schemars::generate::SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/components/schemas".into();
        });
        Self {
            router: Router::new(),
            paths: Map::new(),
            schemas,
            generator: settings.into_generator(),
            errors: Vec::new(),
        }
    }

    pub fn route(mut self, mut op: Op, handler: MethodRouter<AppState>) -> Self {
        if op.outside && use_cases::registry().get(&op.id).is_some() {
            self.errors.push(format!(
                "{} {}: {} is a use case, not an operation outside the registry",
                op.method, op.path, op.id
            ));
        }
        if !op.outside {
            match use_cases::registry().get(&op.id) {
                Some(uc) if !op.hand_written => op.derive(uc, &mut self.generator),
                Some(_) => self.errors.push(format!(
                    "{} {}: access, parameters, body and answer come from the use case {}",
                    op.method, op.path, op.id
                )),
                None => self.errors.push(format!(
                    "{} {}: no use case named {} in the registry",
                    op.method, op.path, op.id
                )),
            }
        }
        let entry = self
            .paths
            .entry(op.path.clone())
            .or_insert_with(|| json!({}));
        entry[op.method.as_str().to_ascii_lowercase()] = op.to_json();
        let handler = match op.access {
            Access::Action(action) => handler.layer(Extension(DeclaredAction(action))),
            Access::Public | Access::Signed => handler,
        };
        self.router = self.router.route(&op.path, handler);
        self
    }

    /// Adds a named schema under `components/schemas` and returns a `$ref` to it.
    pub fn schema(&mut self, name: &str, schema: Value) -> Value {
        self.schemas.insert(name.to_owned(), schema);
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    /// The schema of `T`, made from the type (a `$ref` into `components/schemas` for named
    /// types): what a use case returns is what the document says.
    pub fn schema_of<T: schemars::JsonSchema>(&mut self) -> Value {
        self.generator.subschema_for::<T>().to_value()
    }

    /// The router and the OpenAPI 3.1 document describing it, or what does not match the
    /// use-case registry.
    pub fn finish(mut self) -> Result<(Router<AppState>, Value), String> {
        if !self.errors.is_empty() {
            return Err(self.errors.join("; "));
        }
        for (name, schema) in self.generator.take_definitions(true) {
            self.schemas.entry(name).or_insert(schema);
        }
        let doc = json!({
            "openapi": "3.1.0",
            "info": {
                "title": "Tater API",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Compliance posture and GRC. Every list takes `limit` (1–500, default 50) and `cursor` (from `nextCursor`); errors are application/problem+json with a machine code in `error`.",
            },
            "components": {
                "securitySchemes": {
                    "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "A session token from POST /api/auth/login" },
                    "apiKey": { "type": "apiKey", "in": "header", "name": API_KEY_HEADER, "description": "tater_ followed by 32 hex digits" },
                    "auditorToken": { "type": "http", "scheme": "bearer", "description": "An auditor token: tater_auditor_ followed by 32 hex digits, scoped to one audit" },
                },
                "schemas": self.schemas,
            },
            "paths": self.paths,
        });
        Ok((self.router, doc))
    }
}

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": ["title", "status", "detail", "error"],
        "properties": {
            "type": { "type": "string" },
            "title": { "type": "string" },
            "status": { "type": "integer" },
            "detail": { "type": "string" },
            "error": { "type": "string", "description": "machine code, e.g. VALIDATION_FAILED" },
            "errors": {
                "type": "array",
                "items": { "type": "object", "properties": { "field": { "type": "string" }, "message": { "type": "string" } } },
            },
            "requestId": { "type": "string" },
        },
    })
}

/// The names of a path's parameters: `/api/x/{id}` has `id`.
fn path_names(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// A field's schema as a parameter: a parameter left out is how it is null, so the null
/// alternative goes.
fn param_schema(schema: &Value) -> Value {
    let mut s = schema.clone();
    for key in ["anyOf", "oneOf"] {
        let branches = s.get(key).and_then(Value::as_array).cloned();
        if let Some(branches) = branches {
            let kept: Vec<Value> = branches
                .into_iter()
                .filter(|b| b.get("type") != Some(&json!("null")))
                .collect();
            if let ([only], Some(o)) = (kept.as_slice(), s.as_object_mut()) {
                o.remove(key);
                if let Some(only) = only.as_object() {
                    for (k, v) in only {
                        o.insert(k.clone(), v.clone());
                    }
                }
            }
        }
    }
    if let Some(Value::Array(types)) = s.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types[0].clone();
            s["type"] = only;
        }
    }
    if let Some(o) = s.as_object_mut() {
        o.remove("description");
    }
    s
}
