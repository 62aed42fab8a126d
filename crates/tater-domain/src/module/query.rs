//! List queries: filters, sort and cursor pagination, parsed from query parameters against a
//! module's declaration and compiled to SQL by the store.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use time::Date;

use super::def::{DerivedWhen, FieldKind, ModuleDef, ValueType};
use super::normalize_control_id;
use super::view::Record;
use crate::time::{format_date, parse_date};
use crate::{RecordId, Timestamp, ValidationErrors};

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 500;
/// The longest `q` search text accepted.
pub const MAX_SEARCH_LEN: usize = 200;

/// What a condition or sort reads from a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Operand {
    /// A top-level value of the record's data, named by the module declaration (never by the
    /// client), so the store may put the name into SQL.
    Field {
        name: &'static str,
        ty: ValueType,
    },
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Number(f64),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Lte,
    Gt,
    Gte,
}

/// A filter condition. The store compiles it to SQL with bound parameters; `null` values never
/// match a comparison, so each condition says explicitly what it does with them.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Eq(Operand, Scalar),
    In(Operand, Vec<Scalar>),
    NotIn(Operand, Vec<Scalar>),
    Cmp(Operand, CmpOp, Scalar),
    IsNull(Operand),
    NotNull(Operand),
    /// A list field holds this string.
    Contains(Operand, String),
    /// Any of these text fields contains the string, ignoring ASCII case.
    Search(Vec<Operand>, String),
    All(Vec<Condition>),
    Any(Vec<Condition>),
}

/// What to sort by, and the cursor's view of it.
#[derive(Debug, Clone, PartialEq)]
pub struct SortSpec {
    /// As the client wrote it, e.g. `-createdAt`; cursors remember it.
    pub name: String,
    pub operand: Operand,
    pub descending: bool,
}

impl SortSpec {
    /// The sort value of a record, as the store compares it (enums by rank, times in ms).
    pub fn value_of(&self, record: &Record) -> Option<Scalar> {
        match self.operand {
            Operand::CreatedAt => Some(Scalar::Number(record.meta.created_at.millis() as f64)),
            Operand::UpdatedAt => Some(Scalar::Number(record.meta.updated_at.millis() as f64)),
            Operand::Field { name, ty } => {
                let v = record.data.get(name)?;
                match ty {
                    ValueType::Text => v.as_str().map(|s| Scalar::Text(s.to_owned())),
                    ValueType::Number => v.as_f64().map(Scalar::Number),
                    ValueType::Bool => v.as_bool().map(Scalar::Bool),
                    ValueType::Rank(values) => {
                        let s = v.as_str()?;
                        values
                            .iter()
                            .position(|x| *x == s)
                            .map(|p| Scalar::Number(p as f64))
                    }
                    ValueType::List => None,
                }
            }
        }
    }
}

/// Where the previous page ended: the last row's sort value and id.
#[derive(Debug, Clone, PartialEq)]
pub struct PageCursor {
    pub value: Option<Scalar>,
    pub id: RecordId,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("is not a cursor this server issued")]
    Malformed,
    #[error("was issued for another sort order")]
    OtherSort,
}

impl PageCursor {
    /// An opaque, URL-safe token that also remembers the sort it belongs to.
    pub fn encode(&self, sort: &SortSpec) -> String {
        let v = match &self.value {
            None => Value::Null,
            Some(Scalar::Text(s)) => json!({ "t": s }),
            Some(Scalar::Number(n)) => json!({ "n": n }),
            Some(Scalar::Bool(b)) => json!({ "b": b }),
        };
        let raw = json!({ "s": sort.name, "v": v, "id": self.id.to_string() });
        URL_SAFE_NO_PAD.encode(raw.to_string())
    }

    pub fn decode(token: &str, sort: &SortSpec) -> Result<Self, CursorError> {
        if token.len() > 2048 {
            return Err(CursorError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| CursorError::Malformed)?;
        let raw: Value = serde_json::from_slice(&bytes).map_err(|_| CursorError::Malformed)?;
        if raw.get("s").and_then(Value::as_str) != Some(sort.name.as_str()) {
            return Err(CursorError::OtherSort);
        }
        let id = raw
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or(CursorError::Malformed)?;
        let value = match raw.get("v") {
            Some(Value::Null) => None,
            Some(v) => Some(if let Some(s) = v.get("t").and_then(Value::as_str) {
                Scalar::Text(s.to_owned())
            } else if let Some(n) = v.get("n").and_then(Value::as_f64) {
                Scalar::Number(n)
            } else if let Some(b) = v.get("b").and_then(Value::as_bool) {
                Scalar::Bool(b)
            } else {
                return Err(CursorError::Malformed);
            }),
            None => return Err(CursorError::Malformed),
        };
        Ok(Self { value, id })
    }
}

/// A parsed list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// All must hold.
    pub filter: Vec<Condition>,
    pub sort: SortSpec,
    pub after: Option<PageCursor>,
    pub limit: u32,
}

/// Parses list parameters (`limit`, `cursor`, `sort`, `q`, and a filter per declared field).
/// Parameters in `reserved` belong to the caller (e.g. `format` on exports) and are skipped.
/// Unknown parameters are errors, so a typo never silently returns everything.
pub fn parse_list_query(
    def: &ModuleDef,
    params: &[(String, String)],
    today: Date,
    reserved: &[&str],
) -> Result<ListQuery, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let mut seen: Vec<&str> = Vec::new();
    for (key, _) in params {
        if seen.contains(&key.as_str()) {
            errors.add(key.as_str(), "is given more than once");
        }
        seen.push(key);
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };

    let sort_name = get("sort").unwrap_or(def.default_sort);
    let sort = match parse_sort(def, sort_name) {
        Some(s) => s,
        None => {
            errors.add("sort", format!("cannot sort by '{}'", shorten(sort_name)));
            // Keep parsing so every problem is reported; this placeholder is never used.
            SortSpec {
                name: String::new(),
                operand: Operand::CreatedAt,
                descending: true,
            }
        }
    };
    let limit = match get("limit") {
        None => DEFAULT_PAGE_SIZE,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                errors.add(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                );
                DEFAULT_PAGE_SIZE
            }
        },
    };
    let after = match get("cursor") {
        None => None,
        Some(token) => match PageCursor::decode(token, &sort) {
            Ok(c) => Some(c),
            Err(e) => {
                errors.add("cursor", e.to_string());
                None
            }
        },
    };
    let mut filter = Vec::new();
    for (key, value) in params {
        let key = key.as_str();
        if matches!(key, "sort" | "limit" | "cursor") || reserved.contains(&key) {
            continue;
        }
        match parse_filter(def, key, value, today) {
            Ok(c) => filter.push(c),
            Err(message) => errors.add(key, message),
        }
    }
    errors.into_result(ListQuery {
        filter,
        sort,
        after,
        limit,
    })
}

fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

fn parse_sort(def: &ModuleDef, raw: &str) -> Option<SortSpec> {
    let (descending, name) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let operand = match name {
        "createdAt" => Operand::CreatedAt,
        "updatedAt" => Operand::UpdatedAt,
        _ => {
            if let Some(f) = def.field(name).filter(|f| f.sort) {
                Operand::Field {
                    name: f.name,
                    ty: f.value_type(),
                }
            } else {
                let d = def
                    .derived(name)
                    .filter(|d| d.sort && d.when == DerivedWhen::Write)?;
                Operand::Field {
                    name: d.name,
                    ty: d.value_type,
                }
            }
        }
    };
    Some(SortSpec {
        name: raw.to_owned(),
        operand,
        descending,
    })
}

/// The comparison suffixes accepted on numbers, dates and timestamps.
fn cmp_suffix(key: &str) -> (&str, Option<CmpOp>) {
    for (suffix, op) in [
        (".gte", CmpOp::Gte),
        (".lte", CmpOp::Lte),
        (".gt", CmpOp::Gt),
        (".lt", CmpOp::Lt),
    ] {
        if let Some(base) = key.strip_suffix(suffix) {
            return (base, Some(op));
        }
    }
    (key, None)
}

fn parse_filter(def: &ModuleDef, key: &str, value: &str, today: Date) -> Result<Condition, String> {
    if key == "q" {
        let text = value.trim();
        if text.chars().count() > MAX_SEARCH_LEN {
            return Err(format!("must be at most {MAX_SEARCH_LEN} characters"));
        }
        let fields = def
            .fields
            .iter()
            .filter(|f| f.search)
            .map(|f| Operand::Field {
                name: f.name,
                ty: ValueType::Text,
            })
            .collect();
        return Ok(Condition::Search(fields, text.to_owned()));
    }
    let (base, op) = cmp_suffix(key);
    if let Some(operand) = match base {
        "createdAt" => Some(Operand::CreatedAt),
        "updatedAt" => Some(Operand::UpdatedAt),
        _ => None,
    } {
        let op = op.ok_or("filter timestamps with .gte, .lte, .gt or .lt")?;
        let t = Timestamp::parse(value).map_err(|e| e.to_string())?;
        return Ok(Condition::Cmp(
            operand,
            op,
            Scalar::Number(t.millis() as f64),
        ));
    }
    if let Some(field) = def.field(base).filter(|f| f.filter) {
        let operand = Operand::Field {
            name: field.name,
            ty: field.value_type(),
        };
        return match (field.kind, op) {
            (FieldKind::Enum(values), None) => {
                let mut wanted = Vec::new();
                for v in value.split(',').map(str::trim) {
                    if !values.contains(&v) {
                        return Err(format!(
                            "'{}' is not one of: {}",
                            shorten(v),
                            values.join(", ")
                        ));
                    }
                    wanted.push(Scalar::Text(v.to_owned()));
                }
                Ok(Condition::In(operand, wanted))
            }
            (FieldKind::Text { .. } | FieldKind::LongText { .. }, None) => Ok(Condition::Eq(
                operand,
                Scalar::Text(value.trim().to_owned()),
            )),
            (FieldKind::EndpointRef, None) => value
                .trim()
                .parse::<crate::EndpointId>()
                .map(|id| Condition::Eq(operand, Scalar::Text(id.to_string())))
                .map_err(|_| "must be an endpoint id".into()),
            (FieldKind::Email, None) => crate::Email::parse(value)
                .map(|e| Condition::Eq(operand, Scalar::Text(e.as_str().to_owned())))
                .map_err(|_| "must be an e-mail address".into()),
            (FieldKind::Date, op) => {
                let d = parse_date(value.trim()).map_err(|_| "must be a date (YYYY-MM-DD)")?;
                let s = Scalar::Text(format_date(d));
                Ok(match op {
                    None => Condition::Eq(operand, s),
                    Some(op) => Condition::Cmp(operand, op, s),
                })
            }
            (FieldKind::Integer { .. } | FieldKind::Number { .. }, op) => {
                number_filter(operand, op, value)
            }
            (FieldKind::ControlId, None) => normalize_control_id(value)
                .map(|id| Condition::Eq(operand, Scalar::Text(id)))
                .ok_or_else(|| "must be a control id (e.g. AC-2 or AC-2(1))".into()),
            (FieldKind::ControlIds, None) => normalize_control_id(value)
                .map(|id| Condition::Contains(operand, id))
                .ok_or_else(|| "must be a control id (e.g. AC-2 or AC-2(1))".into()),
            (FieldKind::EndpointRefs, None) => value
                .trim()
                .parse::<crate::EndpointId>()
                .map(|id| Condition::Contains(operand, id.to_string()))
                .map_err(|_| "must be an endpoint id".into()),
            (FieldKind::RecordRef(_), None) => value
                .trim()
                .parse::<crate::RecordId>()
                .map(|id| Condition::Eq(operand, Scalar::Text(id.to_string())))
                .map_err(|_| "must be a record id".into()),
            (FieldKind::Tags, None) => Ok(Condition::Contains(operand, value.trim().to_owned())),
            _ => Err("this filter does not take .gte/.lte/.gt/.lt".into()),
        };
    }
    if let Some(d) = def.derived(base) {
        let operand = Operand::Field {
            name: d.name,
            ty: d.value_type,
        };
        return match (d.when, d.filter, op) {
            (DerivedWhen::Read, Some(make), None) => make(value.trim(), today),
            (DerivedWhen::Write, _, op) if d.value_type == ValueType::Number => {
                number_filter(operand, op, value)
            }
            _ => Err("cannot filter on this field".into()),
        };
    }
    Err("unknown parameter".into())
}

fn number_filter(operand: Operand, op: Option<CmpOp>, value: &str) -> Result<Condition, String> {
    let n: f64 = value
        .trim()
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or("must be a number")?;
    Ok(match op {
        None => Condition::Eq(operand, Scalar::Number(n)),
        Some(op) => Condition::Cmp(operand, op, Scalar::Number(n)),
    })
}
