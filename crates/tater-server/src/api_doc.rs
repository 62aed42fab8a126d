//! Routes and their OpenAPI description are registered together, so the document at
//! `/api/openapi.json` cannot drift from the router: a route exists only if it is documented.

use axum::http::Method;
use axum::routing::MethodRouter;
use axum::{Extension, Router};
use serde_json::{Map, Value, json};
use tater_domain::policy::Action;

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
    /// Problem answers particular to this operation.
    problems: Vec<(u16, String)>,
}

impl Op {
    fn new(method: Method, path: &str, id: &str, summary: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            id: id.to_owned(),
            summary: summary.to_owned(),
            tag: "platform".into(),
            access: Access::Public,
            params: Vec::new(),
            body: None,
            ok_status: 200,
            ok_description: "OK".into(),
            ok_content: Vec::new(),
            problems: Vec::new(),
        }
    }

    pub fn get(path: &str, id: &str, summary: &str) -> Self {
        Self::new(Method::GET, path, id, summary)
    }
    pub fn post(path: &str, id: &str, summary: &str) -> Self {
        Self::new(Method::POST, path, id, summary)
    }
    pub fn put(path: &str, id: &str, summary: &str) -> Self {
        Self::new(Method::PUT, path, id, summary)
    }
    pub fn delete(path: &str, id: &str, summary: &str) -> Self {
        Self::new(Method::DELETE, path, id, summary)
    }

    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = tag.to_owned();
        self
    }

    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    pub fn query(mut self, name: &str, schema: Value, description: &str) -> Self {
        self.params.push(json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": description }));
        self
    }

    /// A required string path parameter.
    pub fn path_param(mut self, name: &str, description: &str) -> Self {
        self.params.push(json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" }, "description": description }));
        self
    }

    pub fn path_id(mut self) -> Self {
        self.params.push(json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } }));
        self
    }

    pub fn body(mut self, schema: Value) -> Self {
        self.body = Some(schema);
        self
    }

    pub fn ok(mut self, status: u16, description: &str, schema: Option<Value>) -> Self {
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
            op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": schema } } });
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
        }
    }

    pub fn route(mut self, op: Op, handler: MethodRouter<AppState>) -> Self {
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

    /// The router and the OpenAPI 3.1 document describing it.
    pub fn finish(mut self) -> (Router<AppState>, Value) {
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
                },
                "schemas": self.schemas,
            },
            "paths": self.paths,
        });
        (self.router, doc)
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
