//! RFC 5424 messages carrying a CEF line, and their framing per transport: one datagram per
//! message over UDP (RFC 5426), octet counting over TCP (RFC 6587) and TLS (RFC 5425).

use crate::cef;
use crate::entry::EntryView;

/// The private SD-ID's enterprise number: 32473 is reserved for documentation and examples
/// (RFC 5612); receivers match on the `tater@32473` name.
pub const SD_ID: &str = "tater@32473";
pub const MSGID: &str = "AUDIT";

/// Where messages come from and how they are filed.
#[derive(Debug, Clone)]
pub struct SyslogHeader {
    /// 0–23 (13 = log audit, 16–23 = local0–7).
    pub facility: u8,
    /// 1–48 printable US-ASCII characters.
    pub app_name: String,
    /// The sending host's name (printable US-ASCII, at most 255), or `-`.
    pub hostname: String,
}

/// Keeps printable US-ASCII (33–126) only, at most `max` characters; `-` if nothing is left.
pub fn printable(s: &str, max: usize) -> String {
    let kept: String = s
        .chars()
        .filter(|c| ('!'..='~').contains(c))
        .take(max)
        .collect();
    if kept.is_empty() { "-".into() } else { kept }
}

/// Escapes an SD-PARAM value: `"`, `\` and `]`.
pub fn escape_param(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Syslog severity: deletions and security-relevant changes are warnings (4), the rest
/// notices (5).
fn syslog_severity(e: &EntryView<'_>) -> u8 {
    if cef::severity(e.entity_type, e.action) >= 5 {
        4
    } else {
        5
    }
}

/// The RFC 5424 message: header, structured data with tenant, entry id and sequence number,
/// then a UTF-8 BOM and the CEF line as MSG.
pub fn message(h: &SyslogHeader, e: &EntryView<'_>) -> Vec<u8> {
    let pri = u16::from(h.facility.min(23)) * 8 + u16::from(syslog_severity(e));
    let head = format!(
        "<{pri}>1 {} {} {} {} {MSGID} [{SD_ID} tenantId=\"{}\" entryId=\"{}\" seq=\"{}\"] ",
        e.timestamp,
        printable(&h.hostname, 255),
        printable(&h.app_name, 48),
        std::process::id(),
        escape_param(e.tenant_id),
        escape_param(e.id),
        e.seq,
    );
    let mut out = head.into_bytes();
    out.extend_from_slice("\u{feff}".as_bytes());
    out.extend_from_slice(cef::line(e).as_bytes());
    out
}

/// Octet-counting framing (`MSG-LEN SP MSG`) for TCP and TLS.
pub fn octet_counted(msg: &[u8]) -> Vec<u8> {
    let mut out = format!("{} ", msg.len()).into_bytes();
    out.extend_from_slice(msg);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_and_names_are_made_safe() {
        assert_eq!(escape_param(r#"a"b\c]d"#), r#"a\"b\\c\]d"#);
        assert_eq!(printable("my host\n", 255), "myhost");
        assert_eq!(printable("", 48), "-");
        assert_eq!(octet_counted(b"abc"), b"3 abc");
    }
}
