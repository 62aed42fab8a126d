//! SPEC L5: any user-supplied text — including `|`, `\`, `=`, CR and LF — comes back out of a
//! CEF parser exactly as it went in, and cannot add or shift fields.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

use proptest::prelude::*;
use serde_json::json;
use tater_siem::cef;
use tater_siem::entry::EntryView;

/// An independent CEF reader: seven `|`-separated header fields (`\|` and `\\` escaped), then
/// `key=value` pairs where a key is a run of letters/digits/underscores before an unescaped
/// `=`, and a value runs up to the space before the next key.
fn parse(line: &str) -> (Vec<String>, Vec<(String, String)>) {
    let body = line.strip_prefix("CEF:").expect("CEF prefix");
    let mut header = Vec::new();
    let mut cur = String::new();
    let mut chars = body.char_indices();
    let mut ext_start = body.len();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => cur.push(chars.next().expect("escape target").1),
            '|' => {
                header.push(std::mem::take(&mut cur));
                if header.len() == 7 {
                    ext_start = i + 1;
                    break;
                }
            }
            c => cur.push(c),
        }
    }
    let ext: Vec<char> = body[ext_start..].chars().collect();
    // Positions of unescaped '='.
    let mut eqs = Vec::new();
    let mut i = 0;
    while i < ext.len() {
        match ext[i] {
            '\\' => i += 2,
            '=' => {
                eqs.push(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    let key_start = |eq: usize| {
        let mut s = eq;
        while s > 0 && (ext[s - 1].is_ascii_alphanumeric() || ext[s - 1] == '_') {
            s -= 1;
        }
        assert!(s == 0 || ext[s - 1] == ' ', "a key must follow a space");
        s
    };
    let mut pairs = Vec::new();
    for (n, &eq) in eqs.iter().enumerate() {
        let key: String = ext[key_start(eq)..eq].iter().collect();
        let end = eqs
            .get(n + 1)
            .map_or(ext.len(), |&next| key_start(next) - 1);
        let raw: Vec<char> = ext[eq + 1..end].to_vec();
        let mut value = String::new();
        let mut j = 0;
        while j < raw.len() {
            if raw[j] == '\\' && j + 1 < raw.len() {
                value.push(match raw[j + 1] {
                    'n' => '\n',
                    'r' => '\r',
                    other => other,
                });
                j += 2;
            } else {
                value.push(raw[j]);
                j += 1;
            }
        }
        pairs.push((key, value));
    }
    (header, pairs)
}

fn check(upn: &str, user_id: &str, entity_id: &str, title: &str) {
    let changes = json!({ "title": { "before": null, "after": title } });
    let e = EntryView {
        id: "0192f7c4-0000-7000-8000-000000000001",
        tenant_id: "t-42",
        seq: 7,
        action: "update",
        entity_type: "risk",
        entity_id,
        user_id,
        upn: Some(upn),
        timestamp: "2026-11-29T21:44:13.123Z",
        timestamp_ms: 1_764_452_653_123,
        via: "web",
        changes: &changes,
    };
    let line = cef::line(&e);
    assert!(
        !line.contains('\n') && !line.contains('\r'),
        "one line: {line:?}"
    );
    let (header, pairs) = parse(&line);
    assert_eq!(
        header,
        [
            "0",
            "TATER",
            "Tater",
            cef::VERSION,
            "risk.update",
            "risk update",
            "3"
        ]
    );
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        cef::EXTENSION_KEYS,
        "no field added or shifted: {line}"
    );
    let values: Vec<String> = pairs.into_iter().map(|(_, v)| v).collect();
    assert_eq!(values, cef::extension_values(&e), "{line}");
    let get = |k: &str| &values[cef::EXTENSION_KEYS.iter().position(|x| *x == k).unwrap()];
    assert_eq!(get("suser"), upn);
    assert_eq!(get("suid"), user_id);
    assert_eq!(get("cs4"), entity_id);
    assert!(get("msg").contains(title));
}

#[test]
fn hand_picked_injections_round_trip() {
    check(
        "a|b\\c=d\ne\rf",
        "x cs1=evil",
        "id= suser=root",
        "Title | with = and \\ and\nnew line",
    );
    check("", "=", "\\", "\\=");
    check(
        "trailing space ",
        " leading",
        "msg=",
        "cs2Label=via cs2=forged",
    );
}

proptest! {
    #[test]
    fn arbitrary_text_round_trips(upn in "\\PC*|.*", user in ".*", id in "[ -~]*", title in "(\\PC|[|=\\\\\r\n])*") {
        check(&upn, &user, &id, &title);
    }
}
