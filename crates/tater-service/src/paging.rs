//! What every keyset-paged list that is not a module shares: reading `limit` and `cursor`,
//! and cutting the `limit + 1` rows the store returns into a page and the next cursor.

use tater_domain::ValidationErrors;
use tater_domain::module::MAX_PAGE_SIZE;

/// A page size of 1 to [`MAX_PAGE_SIZE`], or an error noted on `limit`.
pub(crate) fn parse_limit(v: &str, errors: &mut ValidationErrors) -> Option<u32> {
    match v.parse::<u32>() {
        Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Some(n),
        _ => {
            errors.add(
                "limit",
                format!("must be a whole number from 1 to {MAX_PAGE_SIZE}"),
            );
            None
        }
    }
}

/// A cursor this server issued, read by `decode`, or an error noted on `cursor`.
pub(crate) fn parse_cursor<T>(
    v: &str,
    decode: impl FnOnce(&str) -> Option<T>,
    errors: &mut ValidationErrors,
) -> Option<T> {
    let parsed = decode(v);
    if parsed.is_none() {
        errors.add("cursor", "is not a cursor this server issued");
    }
    parsed
}

/// Keeps the first `limit` of `rows` (the store reads one more to tell whether another page
/// exists) and returns the cursor of the last kept row when there is more.
pub(crate) fn split_page<T>(
    rows: &mut Vec<T>,
    limit: u32,
    cursor_of: impl Fn(&T) -> String,
) -> Option<String> {
    if rows.len() <= limit as usize {
        return None;
    }
    rows.truncate(limit as usize);
    rows.last().map(cursor_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_pages() {
        let mut errors = ValidationErrors::new();
        assert_eq!(parse_limit("500", &mut errors), Some(500));
        assert_eq!(parse_limit("0", &mut errors), None);
        assert_eq!(parse_limit("501", &mut errors), None);
        assert_eq!(parse_cursor("x", |_| None::<u8>, &mut errors), None);
        assert_eq!(errors.0.len(), 3);
        let mut rows = vec![1, 2, 3];
        assert_eq!(
            split_page(&mut rows, 2, |n| n.to_string()),
            Some("2".into())
        );
        assert_eq!(rows, [1, 2]);
        assert_eq!(split_page(&mut rows, 2, |n| n.to_string()), None);
    }
}
