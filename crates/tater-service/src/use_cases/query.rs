//! Reading a use case's typed input from query parameters: the REST channel's lists and the
//! exports that page through them share this one reader, so no list parses its parameters
//! by hand.

use std::any::TypeId;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use schemars::{JsonSchema, SchemaGenerator};
use serde::de::DeserializeOwned;
use tater_domain::ValidationErrors;
use tater_domain::module::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

use super::{Paging, TrendQuery};

/// Most parameters a list takes at once, on any channel; more is an abuse, not a query.
pub const MAX_PARAMS: usize = 64;
/// Longest parameter value, in characters.
pub const MAX_PARAM_LEN: usize = 4096;

/// `T` from decoded query parameters: numbers and booleans read from their text, a name `T`
/// does not know refused as an unknown parameter, every error on the field it concerns.
///
/// The names `T` knows are its schema's properties: that also holds for inputs made of a
/// flattened part (the audit log's filters), where serde cannot refuse unknown fields.
pub fn from_pairs<T: DeserializeOwned + JsonSchema + 'static>(
    pairs: &[(String, String)],
) -> Result<T, ValidationErrors> {
    let known = known_names::<T>();
    let mut errors = ValidationErrors::new();
    // A few names are enough to say what is wrong; a hostile query does not get its 64
    // names of 4 KiB echoed back.
    for (name, _) in pairs
        .iter()
        .filter(|(k, _)| !known.contains(k))
        .take(MAX_REPORTED)
    {
        let shown: String = name.chars().take(64).collect();
        errors.add(&shown, "unknown parameter");
    }
    errors.into_result(())?;
    let encoded = serde_urlencoded::to_string(pairs)
        .map_err(|e| ValidationErrors::single("", e.to_string()))?;
    let reader = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
    serde_path_to_error::deserialize(reader).map_err(field_error)
}

/// A value that does not fit its type, as a validation error on the field it names (an
/// unknown one by its own name).
pub(super) fn field_error<E: std::fmt::Display>(
    e: serde_path_to_error::Error<E>,
) -> ValidationErrors {
    let message = e.inner().to_string();
    match unknown_field(&message) {
        Some(name) => ValidationErrors::single(name, "unknown parameter"),
        None => {
            let field = e.path().to_string();
            let field = if field == "." { String::new() } else { field };
            ValidationErrors::single(&field, message)
        }
    }
}

/// Unknown parameter names reported at most.
const MAX_REPORTED: usize = 8;

/// The property names of `T`'s schema, made once per type.
fn known_names<T: JsonSchema + 'static>() -> Arc<BTreeSet<String>> {
    static KNOWN: LazyLock<Mutex<HashMap<TypeId, Arc<BTreeSet<String>>>>> =
        LazyLock::new(Mutex::default);
    let mut cache = KNOWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cache
        .entry(TypeId::of::<T>())
        .or_insert_with(|| {
            let schema = SchemaGenerator::default().into_root_schema_for::<T>();
            Arc::new(
                super::properties(&schema.to_value())
                    .keys()
                    .cloned()
                    .collect(),
            )
        })
        .clone()
}

/// The name in serde's "unknown field `x`, expected ..." message.
fn unknown_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
}

impl Paging {
    /// The page size asked for: 1 to 500, 50 when none is named.
    pub fn page_size(&self, errors: &mut ValidationErrors) -> u32 {
        bounded(self.limit, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, errors)
    }
}

impl TrendQuery {
    /// How many points at most: 1 to 5000, 500 when none is named.
    pub fn points(&self, errors: &mut ValidationErrors) -> u32 {
        bounded(self.limit, 500, 5000, errors)
    }
}

/// `limit` within 1..=`max`, or `default`; out of range is an error on `limit`.
fn bounded(limit: Option<u32>, default: u32, max: u32, errors: &mut ValidationErrors) -> u32 {
    match limit {
        None => default,
        Some(n) if (1..=max).contains(&n) => n,
        Some(_) => {
            errors.add("limit", format!("must be a whole number from 1 to {max}"));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::use_cases::{EndpointStatusFilter, EndpointsQuery};

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn typed_from_text_with_errors_on_their_field() {
        let q: EndpointsQuery = from_pairs(&pairs(&[
            ("status", "retired"),
            ("stale", "true"),
            ("limit", "7"),
        ]))
        .unwrap();
        assert!(matches!(q.status, Some(EndpointStatusFilter::Retired)));
        assert_eq!((q.stale, q.limit), (Some(true), Some(7)));
        let e = from_pairs::<EndpointsQuery>(&pairs(&[("limit", "ten")])).unwrap_err();
        assert_eq!(e.0[0].field, "limit");
        let e = from_pairs::<EndpointsQuery>(&pairs(&[("page", "2")])).unwrap_err();
        assert_eq!(
            (e.0[0].field.as_str(), e.0[0].message.as_str()),
            ("page", "unknown parameter")
        );
        let e = from_pairs::<EndpointsQuery>(&pairs(&[("status", "gone")])).unwrap_err();
        assert_eq!(e.0[0].field, "status");
        assert!(from_pairs::<Paging>(&pairs(&[("limit", "1"), ("limit", "2")])).is_err());
    }

    #[test]
    fn flattened_inputs_still_refuse_unknown_names() {
        use crate::use_cases::AuditQuery;
        let q: AuditQuery = from_pairs(&pairs(&[
            ("entityType", "risk"),
            ("limit", "5"),
            ("via", "api"),
        ]))
        .unwrap();
        assert_eq!(q.filters.entity_type.as_deref(), Some("risk"));
        assert_eq!(q.limit, Some(5));
        let e = from_pairs::<AuditQuery>(&pairs(&[("tenant_id", "x")])).unwrap_err();
        assert_eq!(e.0[0].field, "tenant_id");
        assert!(from_pairs::<AuditQuery>(&pairs(&[("via", "fax")])).is_err());
    }

    #[test]
    fn page_sizes_are_bounded() {
        let mut errors = ValidationErrors::new();
        let size = |limit| Paging {
            limit,
            cursor: None,
        };
        assert_eq!(size(None).page_size(&mut errors), 50);
        assert_eq!(size(Some(500)).page_size(&mut errors), 500);
        assert!(errors.0.is_empty());
        size(Some(0)).page_size(&mut errors);
        size(Some(501)).page_size(&mut errors);
        assert_eq!(errors.0.len(), 2);
        let trend = TrendQuery {
            from: None,
            to: None,
            limit: Some(5000),
        };
        assert_eq!(trend.points(&mut errors), 5000);
    }
}
