//! The registry of use cases: one table of everything a person or an assistant can do, with
//! its name, the [`Action`] it needs, whether it reads, writes or deletes, and the JSON
//! Schemas of its one input object and its answer.
//!
//! Every channel is generated from this table: the REST API takes each operation's summary,
//! role, parameters, body and answer from it (an operation without an entry does not start),
//! and the MCP server, the web application and the AI analyst list the same entries. A new
//! module appears in all of them by its declaration alone (see [`modules`]).
//!
//! An input is one JSON object holding everything the use case takes: the record's `id` (a
//! path parameter in REST), filters and paging (query parameters), and the fields of the body.

mod catalog;
mod declared;
mod inputs;
pub mod invoke;
mod modules;
pub mod offer;
mod query;

use std::sync::LazyLock;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tater_domain::Action;

pub use inputs::*;
pub use invoke::{Answer, Caller, Invoker};
pub use modules::{ExportHook, ExportedFile, ExtraFormat, extra_formats, record_name};
pub use query::{MAX_PARAM_LEN, MAX_PARAMS, from_pairs};

/// Who may call a use case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Anyone, without a credential (the server's status, its security contact).
    Public,
    /// Any signed-in person; no organization needs to be selected (their own account and
    /// invitations).
    Signed,
    /// Allowed this action in the active organization.
    Action(Action),
}

/// What calling a use case does to the organization's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Read,
    Write,
    Delete,
}

/// A JSON Schema, from a Rust type or from a declaration ([`tater_domain::module::ModuleDef`]).
#[derive(Clone)]
pub enum Shape {
    /// Made by the schema generator it is given, so each channel chooses where the named
    /// types go (`components/schemas` in the API document, `$defs` in a standalone schema).
    Typed(fn(&mut SchemaGenerator) -> Schema),
    Declared(Value),
    /// A declared schema shared by name (a module's record): kept once among the
    /// generator's named types, referred to wherever it appears.
    Named(String, Value),
    /// A page of a list: `items` of the inner shape and the `nextCursor` that continues it.
    Page(Box<Shape>),
    /// A whole (short) list: `items` of the inner shape.
    Items(Box<Shape>),
}

impl Shape {
    /// The schema of `T`, inline (an input, whose fields channels split up).
    pub fn input<T: JsonSchema>() -> Self {
        Shape::Typed(T::json_schema)
    }

    /// The schema of `T`, by reference when `T` is a named type (an answer, shared).
    pub fn output<T: JsonSchema>() -> Self {
        Shape::Typed(|g| g.subschema_for::<T>())
    }

    /// The schema with `generator` holding the named types it refers to.
    pub fn with(&self, generator: &mut SchemaGenerator) -> Value {
        match self {
            Shape::Typed(make) => make(generator).to_value(),
            Shape::Declared(v) => v.clone(),
            Shape::Named(name, v) => {
                let path = generator.settings().definitions_path.clone();
                generator
                    .definitions_mut()
                    .entry(name.clone())
                    .or_insert_with(|| v.clone());
                json!({ "$ref": format!("#{path}/{name}") })
            }
            Shape::Items(item) => json!({
                "type": "object",
                "required": ["items"],
                "properties": { "items": { "type": "array", "items": item.with(generator) } },
            }),
            Shape::Page(item) => json!({
                "type": "object",
                "required": ["items", "nextCursor"],
                "properties": {
                    "items": { "type": "array", "items": item.with(generator) },
                    "nextCursor": { "type": ["string", "null"], "description": "continues the list; null on its last page" },
                },
            }),
        }
    }

    /// The schema on its own: draft 2020-12, its named types under `$defs`.
    pub fn standalone(&self) -> Value {
        let mut generator = SchemaSettings::draft2020_12().into_generator();
        let mut schema = self.with(&mut generator);
        let defs = generator.take_definitions(true);
        if let Some(o) = schema.as_object_mut() {
            o.insert(
                "$schema".into(),
                json!("https://json-schema.org/draft/2020-12/schema"),
            );
            if !defs.is_empty() {
                o.insert("$defs".into(), Value::Object(defs));
            }
        }
        schema
    }
}

/// What a use case answers.
#[derive(Clone)]
pub enum Output {
    /// A JSON document of this shape.
    Json(Shape),
    /// A file in one of these media types (exports, documents).
    File(Vec<&'static str>),
    /// Nothing: the call succeeding is the answer.
    Nothing,
}

/// Which rate-limit bucket a call counts against, whatever channel carries it: reads the
/// general one, changes the write one, and the organization's settings, members and keys the
/// settings one (as their REST paths do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateClass {
    General,
    Write,
    Settings,
}

/// What an assistant may assume of a call (MCP tool annotations). Hints only: the server
/// enforces every rule itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hints {
    /// Changes nothing (exactly the reads).
    pub read_only: bool,
    /// May destroy or take away something: deletes, revocations, running scripts.
    pub destructive: bool,
    /// Calling it again with the same input changes nothing more.
    pub idempotent: bool,
    /// Reaches outside Tater (a SIEM, an email).
    pub open_world: bool,
}

/// One use case.
#[derive(Clone)]
pub struct UseCase {
    /// Unique, in snake case: `risks_list`, `api_keys_create`. The REST operation id.
    pub name: String,
    /// The name an assistant calls it by: snake case `verb_noun` (`list_poam_items`,
    /// `execute_script`), unique. The MCP tool name.
    pub tool: String,
    pub hints: Hints,
    /// The identity step itself (asking for and entering an emailed code): a change, yet
    /// callable before the caller's identity is verified.
    pub identity_step: bool,
    /// How a generated channel calls it; `None` for what only REST serves (files, public
    /// pages).
    pub invoke: Option<Invoker>,
    /// One sentence for people and assistants choosing what to call.
    pub summary: String,
    pub gate: Gate,
    pub effect: Effect,
    pub input: Shape,
    pub output: Output,
    /// The module whose one record it acts on (its input's `id`), so that record's page can
    /// offer it: an audit's snapshots, a policy's versions.
    pub about: Option<&'static str>,
}

impl UseCase {
    fn new(name: &str, summary: &str, gate: Gate, effect: Effect) -> Self {
        Self {
            name: name.to_owned(),
            tool: name.to_owned(),
            // Reads repeat freely; a delete repeated finds nothing more to delete.
            hints: Hints {
                read_only: effect == Effect::Read,
                destructive: effect == Effect::Delete,
                idempotent: effect != Effect::Write,
                open_world: false,
            },
            identity_step: false,
            invoke: None,
            summary: summary.to_owned(),
            gate,
            effect,
            input: Shape::input::<NoInput>(),
            output: Output::Nothing,
            about: None,
        }
    }

    /// A use case that only reads.
    pub fn read(name: &str, summary: &str, gate: Gate) -> Self {
        Self::new(name, summary, gate, Effect::Read)
    }

    /// A use case that creates or changes something (and writes its audit entry).
    pub fn write(name: &str, summary: &str, gate: Gate) -> Self {
        Self::new(name, summary, gate, Effect::Write)
    }

    /// A use case that deletes or revokes something.
    pub fn delete(name: &str, summary: &str, gate: Gate) -> Self {
        Self::new(name, summary, gate, Effect::Delete)
    }

    /// The name an assistant calls it by (see [`UseCase::tool`]).
    pub fn tool(mut self, name: &str) -> Self {
        self.tool = name.to_owned();
        self
    }

    /// It acts on one record of `module`, named by its input's `id` (see [`UseCase::about`]).
    pub fn about(mut self, module: &'static tater_domain::module::ModuleDef) -> Self {
        self.about = Some(module.name);
        self
    }

    /// How generated channels call it (see [`invoke`]).
    pub fn runs(mut self, invoker: Invoker) -> Self {
        self.invoke = Some(invoker);
        self
    }

    /// It may destroy or take away something (a revocation, running a script).
    pub fn destructive(mut self) -> Self {
        self.hints.destructive = true;
        self
    }

    /// Repeating it with the same input changes nothing more (a replacement, a setting).
    pub fn idempotent(mut self) -> Self {
        self.hints.idempotent = true;
        self
    }

    /// It is the identity step itself (see [`UseCase::identity_step`]).
    pub fn identity_step(mut self) -> Self {
        self.identity_step = true;
        self
    }

    /// Whether a generated channel (MCP, the AI analyst) offers it as a tool: everything with
    /// an invoker, and the files someone signed in may fetch (served through their REST
    /// route).
    pub fn is_tool(&self) -> bool {
        // An auditor token's reads are for the auditor's own client, never a member's tool.
        let auditors_only = self.gate == Gate::Action(Action::AuditorAccess);
        // An acknowledgement is a person's own statement, and a conversation with the analyst
        // (with its confirmations) a person's own, never made through an assistant.
        let persons_own = matches!(
            self.gate,
            Gate::Action(Action::Acknowledge | Action::Converse)
        );
        !auditors_only
            && !persons_own
            && (self.invoke.is_some()
                || (matches!(self.output, Output::File(_)) && self.gate != Gate::Public))
    }

    /// The rate-limit bucket a call counts against.
    pub fn rate_class(&self) -> RateClass {
        use tater_domain::Action as A;
        match self.gate {
            Gate::Action(A::ManageSettings | A::ManageMembers | A::ManageKeys) => {
                RateClass::Settings
            }
            _ if self.hints.read_only => RateClass::General,
            _ => RateClass::Write,
        }
    }

    /// Whether an unverified caller (an API key through MCP) is refused: every change but
    /// the identity step.
    pub fn needs_verified_identity(&self) -> bool {
        !self.hints.read_only && !self.identity_step
    }

    /// It reaches outside Tater.
    pub fn open_world(mut self) -> Self {
        self.hints.open_world = true;
        self
    }

    pub fn takes<T: JsonSchema>(mut self) -> Self {
        self.input = Shape::input::<T>();
        self
    }

    /// An input composed of other types' schemas (a list export: the list's filters and a
    /// format).
    pub fn takes_shape(mut self, shape: Shape) -> Self {
        self.input = shape;
        self
    }

    pub fn takes_declared(mut self, schema: Value) -> Self {
        self.input = Shape::Declared(schema);
        self
    }

    pub fn gives<T: JsonSchema>(mut self) -> Self {
        self.output = Output::Json(Shape::output::<T>());
        self
    }

    pub fn gives_declared(mut self, schema: Value) -> Self {
        self.output = Output::Json(Shape::Declared(schema));
        self
    }

    pub fn gives_shape(mut self, shape: Shape) -> Self {
        self.output = Output::Json(shape);
        self
    }

    pub fn gives_file(mut self, media_types: &[&'static str]) -> Self {
        self.output = Output::File(media_types.to_vec());
        self
    }

    /// The input's schema on its own (draft 2020-12).
    pub fn input_schema(&self) -> Value {
        self.input.standalone()
    }

    /// The answer's schema on its own; a file is a string of its bytes (base64 for the
    /// binary formats), nothing is `null`.
    pub fn output_schema(&self) -> Value {
        match &self.output {
            Output::Json(shape) => shape.standalone(),
            Output::File(media_types) => json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "string",
                "description": format!("a file: {}", media_types.join(", ")),
            }),
            Output::Nothing => json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "null",
            }),
        }
    }
}

/// Every use case, looked up by name.
pub struct Registry {
    cases: Vec<UseCase>,
}

impl Registry {
    pub fn get(&self, name: &str) -> Option<&UseCase> {
        self.cases.iter().find(|c| c.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &UseCase> {
        self.cases.iter()
    }

    pub fn len(&self) -> usize {
        self.cases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let mut cases = catalog::use_cases();
    for def in tater_domain::modules::ALL {
        cases.extend(modules::use_cases(def));
    }
    Registry { cases }
});

/// The registry: the hand-declared use cases and those of every declared module.
pub fn registry() -> &'static Registry {
    &REGISTRY
}

/// `schema` with `names` taken out of its properties and required list (and out of each of
/// its alternatives): what is left of an input once a channel has taken those fields from
/// elsewhere (REST: the path).
pub fn without_properties(schema: &Value, names: &[&str]) -> Value {
    let mut s = schema.clone();
    strip(&mut s, names);
    s
}

fn strip(schema: &mut Value, names: &[&str]) {
    let Some(o) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(props)) = o.get_mut("properties") {
        props.retain(|k, _| !names.contains(&k.as_str()));
    }
    if let Some(Value::Array(req)) = o.get_mut("required") {
        req.retain(|r| r.as_str().is_none_or(|r| !names.contains(&r)));
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(branches)) = o.get_mut(key) {
            for b in branches {
                strip(b, names);
            }
        }
    }
}

/// The properties of an object schema, in declaration order.
pub fn properties(schema: &Value) -> Map<String, Value> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in registry().iter() {
            assert!(seen.insert(c.name.clone()), "{} twice", c.name);
            assert!(
                c.name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
                "{}",
                c.name
            );
            assert!(!c.summary.is_empty(), "{} has no summary", c.name);
        }
    }

    #[test]
    fn every_input_is_an_object() {
        for c in registry().iter() {
            let s = c.input_schema();
            assert_eq!(s["type"], "object", "{}: {s}", c.name);
        }
    }

    #[test]
    fn modules_appear_by_declaration() {
        for def in tater_domain::modules::ALL {
            let key = def.name.replace('-', "_");
            for verb in ["list", "export", "get", "create", "update", "delete"] {
                let name = format!("{key}_{verb}");
                assert!(registry().get(&name).is_some(), "{name} missing");
            }
        }
    }

    /// The verbs a tool name may start with: a small, fixed vocabulary, so an assistant can
    /// guess what a tool does from its name.
    const VERBS: &[&str] = &[
        "list",
        "count",
        "vote",
        "apply",
        "get",
        "create",
        "update",
        "delete",
        "export",
        "set",
        "revoke",
        "remove",
        "invite",
        "change",
        "accept",
        "acknowledge",
        "decline",
        "allow",
        "retire",
        "execute",
        "cancel",
        "trigger",
        "verify",
        "send",
        "confirm",
        "dismiss",
        "test",
        "replay",
        "request",
        "upsert",
        "transition",
        "link",
        "unlink",
        "terminate",
    ];

    #[test]
    fn tools_are_named_verb_noun_once_each() {
        let mut seen = std::collections::HashSet::new();
        for c in registry().iter() {
            assert!(seen.insert(c.tool.clone()), "tool {} twice", c.tool);
            let (verb, noun) = c.tool.split_once('_').unwrap_or((&c.tool, ""));
            assert!(
                VERBS.contains(&verb),
                "{}: {verb} is not a tool verb",
                c.tool
            );
            assert!(
                !noun.is_empty()
                    && noun
                        .split('_')
                        .all(|w| !w.is_empty() && w.chars().all(|ch| ch.is_ascii_lowercase())),
                "{}: not verb_noun in snake case",
                c.tool
            );
        }
        // The names the trust page promises.
        for seed in [
            "create_risk_acceptance",
            "execute_script",
            "trigger_remediation",
            "upsert_config_doc",
        ] {
            assert!(seen.contains(seed), "{seed} missing");
        }
    }

    #[test]
    fn hints_follow_effects() {
        for c in registry().iter() {
            assert_eq!(c.hints.read_only, c.effect == Effect::Read, "{}", c.tool);
            if c.effect == Effect::Delete {
                assert!(c.hints.destructive, "{} deletes", c.tool);
            }
            if c.hints.read_only {
                assert!(!c.hints.destructive && c.hints.idempotent, "{}", c.tool);
            }
        }
        let hints = |tool: &str| {
            registry()
                .iter()
                .find(|c| c.tool == tool)
                .map(|c| c.hints)
                .unwrap_or_else(|| panic!("{tool} missing"))
        };
        assert!(hints("execute_script").destructive);
        assert!(hints("trigger_remediation").destructive);
        assert!(hints("test_siem_destination").open_world);
        assert!(hints("update_poam_item").idempotent);
        assert!(!hints("create_poam_item").idempotent);
    }

    #[test]
    fn a_member_has_at_least_75_tools() {
        // Everything but the public pages is callable by someone signed in (SPEC I1 asks for
        // 75; none is added to reach the number).
        let callable = registry().iter().filter(|c| c.gate != Gate::Public).count();
        assert!(callable >= 75, "{callable} tools");
    }

    #[test]
    fn every_json_use_case_can_be_called_by_a_generated_channel() {
        // Files (exports, documents) and the public pages are REST's alone for now: the MCP
        // server hands files out as resources or links.
        // An auditor token's reads are REST's alone: they are nobody's tools.
        for c in registry().iter() {
            let file = matches!(c.output, Output::File(_));
            let public = c.gate == Gate::Public;
            let auditors = c.gate == Gate::Action(Action::AuditorAccess);
            assert_eq!(
                c.invoke.is_some(),
                !file && !public && !auditors,
                "{} ({}): invoker present = {}",
                c.name,
                c.tool,
                c.invoke.is_some()
            );
        }
    }
}
