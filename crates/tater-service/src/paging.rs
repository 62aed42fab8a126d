//! What every keyset-paged list that is not a module shares: reading `cursor` (the page
//! size is [`crate::use_cases::Paging::page_size`]), the byte budget of a page, and the
//! next cursor.

use tater_domain::ValidationErrors;

/// The most record data one page for a client holds (lists and every export's pages): a
/// page stops at `limit` rows or at this many bytes, whichever comes first (at least one row
/// always comes). A slow reader of an export holds one such page, so memory per client stays
/// bounded whatever the records weigh.
pub const PAGE_BYTES: u64 = 1024 * 1024;

/// A time bound (`from`, `to`: RFC 3339 or YYYY-MM-DD) when given, or an error noted on
/// its field.
pub(crate) fn time_bound(
    field: &str,
    v: Option<&str>,
    errors: &mut ValidationErrors,
) -> Option<tater_domain::Timestamp> {
    v.and_then(|v| {
        tater_domain::Timestamp::parse(v)
            .map_err(|e| errors.add(field, e.to_string()))
            .ok()
    })
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

/// The cursor of a page's last row when more rows follow (the store says so: its pages stop
/// at the row limit or the byte budget).
pub(crate) fn next_cursor<T>(
    rows: &[T],
    more: bool,
    cursor_of: impl Fn(&T) -> String,
) -> Option<String> {
    if more {
        rows.last().map(cursor_of)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_pages() {
        let mut errors = ValidationErrors::new();
        assert_eq!(parse_cursor("x", |_| None::<u8>, &mut errors), None);
        assert_eq!(errors.0.len(), 1);
        let rows = vec![1, 2];
        assert_eq!(
            next_cursor(&rows, true, |n| n.to_string()),
            Some("2".into())
        );
        assert_eq!(next_cursor(&rows, false, |n| n.to_string()), None);
        assert_eq!(next_cursor(&[] as &[u8], true, |n| n.to_string()), None);
    }
}
