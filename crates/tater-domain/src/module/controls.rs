//! SP 800-53 control identifiers.

/// Normalises a control id to its OSCAL form: `AC-2` → `ac-2`, `AC-2(1)` → `ac-2.1`,
/// `ac-2.1` stays. Returns `None` for anything that is not shaped like a control id.
pub fn normalize_control_id(raw: &str) -> Option<String> {
    let s = raw.trim().to_ascii_lowercase();
    let (family, rest) = s.split_once('-')?;
    if family.len() != 2 || !family.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
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
            "", "ac", "ac-", "a-1", "abc-1", "ac-01", "ac-2(x)", "ac-2.", "ac-2(1", "ac-1234",
        ] {
            assert_eq!(normalize_control_id(bad), None, "{bad}");
        }
    }
}
