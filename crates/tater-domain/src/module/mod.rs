//! The module machinery: declare a module once (fields, validation, derived fields, filters,
//! CSV columns) and every channel derives its behaviour from that declaration.
//!
//! A module is data, not code: [`ModuleDef`] is a `static` value. The REST routes, exports,
//! OpenAPI schemas and audit entries for all modules are produced by generic code reading it.

mod controls;
mod def;
mod due;
mod flow;
mod links;
mod query;
mod schema;
mod validate;
mod view;

pub use controls::normalize_control_id;
pub use def::{
    Context, Derived, DerivedWhen, FieldDef, FieldKind, Holding, ModuleDef, RecordRetention,
    ValueType, no_rules,
};
pub use due::{Due, DueRule, Remind, past_due};
pub use flow::{Effect, Flow, Guard, Mover, RecordComment, RecordTransition, Refusal, Transition};
pub use links::{CONTROLS, LinkEnd, RecordLink};
pub use query::{
    CmpOp, Condition, CursorError, DEFAULT_PAGE_SIZE, ListQuery, MAX_PAGE_SIZE, MAX_SEARCH_LEN,
    Operand, PageCursor, Scalar, SortSpec, parse_list_query,
};
pub use schema::{input_schema, output_schema};
pub use validate::validate;
pub use view::{META_FIELDS, Record, RecordMeta, into_record_view, record_view};
