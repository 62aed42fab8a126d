//! Control identifiers: SP 800-53 in either written form, or any OSCAL control id.

/// The longest control id accepted from a loaded OSCAL catalog.
const MAX_OSCAL_ID: usize = 64;

/// Normalises a control id to its OSCAL form: `AC-2` → `ac-2`, `AC-2(1)` → `ac-2.1`,
/// `ac-2.1` stays. An id that does not start like an SP 800-53 one (two letters and a dash)
/// may be any OSCAL token, for catalogs loaded beside 800-53 (`sp_800_171_03.01.01`); it is
/// lowercased. Returns `None` for anything that is not shaped like a control id; whether the
/// control exists is the catalog's question.
pub fn normalize_control_id(raw: &str) -> Option<String> {
    let s = raw.trim().to_ascii_lowercase();
    match s.split_once('-') {
        Some((family, rest))
            if family.len() == 2 && family.bytes().all(|b| b.is_ascii_lowercase()) =>
        {
            sp800_53(family, rest)
        }
        _ => oscal_token(&s).then_some(s),
    }
}

fn sp800_53(family: &str, rest: &str) -> Option<String> {
    let (number, enhancement) = if let Some(open) = rest.find('(') {
        let inner = rest[open + 1..].strip_suffix(')')?;
        (&rest[..open], Some(inner.trim()))
    } else if let Some((n, e)) = rest.split_once('.') {
        (n, Some(e))
    } else {
        (rest, None)
    };
    let number = small_number(number)?;
    match enhancement {
        None => Some(format!("{family}-{number}")),
        Some(e) => Some(format!("{family}-{number}.{}", small_number(e)?)),
    }
}

/// An OSCAL id as catalogs write them: a letter, then letters, digits, `_`, `.` or `-`, with a
/// digit somewhere (every control id numbers its control) and no trailing punctuation.
fn oscal_token(s: &str) -> bool {
    let b = s.as_bytes();
    (2..=MAX_OSCAL_ID).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().any(u8::is_ascii_digit)
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_.-".contains(c))
}

/// A one- to three-digit number without leading zeros, as control numbers are written.
fn small_number(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_both_forms() {
        assert_eq!(normalize_control_id("AC-2").as_deref(), Some("ac-2"));
        assert_eq!(normalize_control_id("AC-2(1)").as_deref(), Some("ac-2.1"));
        assert_eq!(
            normalize_control_id(" ac-2.13 ").as_deref(),
            Some("ac-2.13")
        );
        assert_eq!(normalize_control_id("SI-4 (4)").as_deref(), None);
        for bad in [
            "",
            "ac",
            "ac-",
            "ac-01",
            "ac-2(x)",
            "ac-2.",
            "ac-2(1",
            "ac-1234",
            "1-2",
            "x-",
            "a b-1",
            "ac.l2-",
            "acme-1;drop",
        ] {
            assert_eq!(normalize_control_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn other_catalogs_ids_pass_as_tokens() {
        for (raw, id) in [
            ("SP_800_171_03.01.01", "sp_800_171_03.01.01"),
            ("AC.L2-3.1.1", "ac.l2-3.1.1"),
            ("acme-1", "acme-1"),
        ] {
            assert_eq!(normalize_control_id(raw).as_deref(), Some(id), "{raw}");
        }
        assert_eq!(normalize_control_id(&format!("x{}", "1".repeat(64))), None);
    }
}
