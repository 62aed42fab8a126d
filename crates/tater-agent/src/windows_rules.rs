//! The Windows rule kinds: registry values (live or from a volume's hives), the local security
//! policy (`secedit`), the advanced audit policy (`auditpol`) and BitLocker (`manage-bde`).
//! The last three need the running system; offline they are "not applicable". Their tools'
//! output is parsed by pure functions, tested on captured samples.

use std::time::{Duration, Instant};

use tater_checks::{Expect, Missing};

use crate::eval::{Outcome, Status};
use crate::root::Root;

type R = Result<Outcome, String>;

fn outcome(status: Status, evidence: impl Into<String>) -> Outcome {
    Outcome {
        status,
        evidence: evidence.into(),
    }
}

fn needs_live(what: &str) -> Outcome {
    outcome(
        Status::NotApplicable,
        format!("{what} can only be read on the running system, not offline"),
    )
}

/// A registry value compared with `expect`; `key\*` requires it of every subkey.
pub fn registry(
    root: &Root,
    key: &str,
    value: &str,
    expect: &Expect,
    default: Option<&str>,
    m: Missing,
) -> R {
    if let Some(parent) = key.strip_suffix("\\*") {
        let Some(subkeys) = root.registry_subkeys(parent)? else {
            return Ok(crate::eval::missing(m, parent));
        };
        if subkeys.is_empty() {
            return Ok(crate::eval::missing(m, &format!("{parent}\\*")));
        }
        let mut passed = Vec::new();
        for sub in &subkeys {
            let o = registry(root, &format!("{parent}\\{sub}"), value, expect, default, m)?;
            if o.status != Status::Pass {
                return Ok(o);
            }
            passed.push(o.evidence);
        }
        return Ok(outcome(Status::Pass, passed.join("; ")));
    }
    let shown = format!("{key}\\{value}");
    let (text, source) = match root.registry_value(key, value)? {
        Some(v) => (v.as_text(), "set"),
        None => match default {
            Some(d) => (d.to_owned(), "not set; Windows's default"),
            None => return Ok(crate::eval::missing(m, &shown)),
        },
    };
    Ok(crate::eval::judged(&shown, &text, source, expect))
}

/// One setting of the exported security policy.
pub fn security_policy(
    root: &Root,
    section: &str,
    key: &str,
    expect: &Expect,
    default: Option<&str>,
) -> R {
    if !root.is_live() {
        return Ok(needs_live("the local security policy"));
    }
    let exported = root.live_tool_output(LiveTool::SecurityPolicy)?;
    let shown = format!("[{section}] {key}");
    match (policy_value(&exported, section, key), default) {
        (Some(v), _) => Ok(crate::eval::judged(&shown, &v, "secedit", expect)),
        (None, Some(d)) => Ok(crate::eval::judged(
            &shown,
            d,
            "not set; Windows's default",
            expect,
        )),
        (None, None) => Ok(outcome(Status::Fail, format!("{shown} is not set"))),
    }
}

/// One subcategory of the advanced audit policy.
pub fn audit_policy(root: &Root, subcategory: &str, success: bool, failure: bool) -> R {
    if !root.is_live() {
        return Ok(needs_live("the audit policy"));
    }
    let report = root.live_tool_output(LiveTool::AuditPolicy)?;
    let Some(setting) = audit_setting(&report, subcategory) else {
        return Err(format!(
            "auditpol does not list the subcategory {subcategory}"
        ));
    };
    let lower = setting.to_ascii_lowercase();
    let has_success = lower.contains("success");
    let has_failure = lower.contains("failure");
    let wanted = match (success, failure) {
        (true, true) => "Success and Failure",
        (true, false) => "Success",
        _ => "Failure",
    };
    let ok = (!success || has_success) && (!failure || has_failure);
    Ok(outcome(
        if ok { Status::Pass } else { Status::Fail },
        format!("{subcategory}: {setting} (at least {wanted} required)"),
    ))
}

/// BitLocker on one volume.
pub fn bitlocker(root: &Root, volume: &str) -> R {
    if !root.is_live() {
        return Ok(needs_live("BitLocker's state"));
    }
    let report = root.live_tool_output(LiveTool::BitLocker(volume.to_owned()))?;
    let Some(protection) = field(&report, "Protection Status") else {
        return Err(format!(
            "manage-bde reports no protection status for {volume}"
        ));
    };
    let conversion = field(&report, "Conversion Status").unwrap_or_default();
    let on = protection.eq_ignore_ascii_case("Protection On");
    Ok(outcome(
        if on { Status::Pass } else { Status::Fail },
        format!("{volume}: {protection}; {conversion}"),
    ))
}

/// A system tool a rule reads on the running system.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LiveTool {
    SecurityPolicy,
    AuditPolicy,
    BitLocker(String),
}

/// How long a system tool may take.
const TOOL_BUDGET: Duration = Duration::from_secs(20);

/// Runs a tool and returns what it printed (or wrote, for secedit), within the budget.
pub fn run_tool(tool: &LiveTool) -> Result<String, String> {
    match tool {
        LiveTool::SecurityPolicy => {
            let dir = std::env::temp_dir().join(format!("tater-secedit-{}", std::process::id()));
            crate::os::create_private_dir(&dir).map_err(|e| e.to_string())?;
            let file = dir.join("policy.inf");
            let out = run(
                "secedit.exe",
                &[
                    "/export".as_ref(),
                    "/areas".as_ref(),
                    "SECURITYPOLICY".as_ref(),
                    "/cfg".as_ref(),
                    file.as_os_str(),
                    "/quiet".as_ref(),
                ],
            );
            let text = std::fs::read(&file).map(|b| decode_text(&b));
            let _ = std::fs::remove_dir_all(&dir);
            out?;
            text.map_err(|e| format!("secedit wrote no policy file: {e}"))
        }
        LiveTool::AuditPolicy => run("auditpol.exe", &["/get".as_ref(), "/category:*".as_ref()]),
        LiveTool::BitLocker(volume) => {
            run("manage-bde.exe", &["-status".as_ref(), volume.as_ref()])
        }
    }
}

fn run(program: &str, args: &[&std::ffi::OsStr]) -> Result<String, String> {
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > TOOL_BUDGET => {
                let _ = child.kill();
                return Err(format!("{program} did not finish within {TOOL_BUDGET:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("reading {program}: {e}"))?;
    if !output.status.success() {
        return Err(format!("{program} failed ({})", output.status));
    }
    Ok(decode_text(&output.stdout))
}

/// Text that may be UTF-16LE with a byte-order mark (secedit's files) or ANSI/UTF-8.
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return crate::registry::utf16le(rest);
    }
    String::from_utf8_lossy(bytes).into_owned()
}

/// `key = value` in `[section]` of an exported policy (INF) file; names ignore case.
pub fn policy_value(inf: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    for line in inf.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_owned();
            continue;
        }
        if !current.eq_ignore_ascii_case(section) {
            continue;
        }
        if let Some((k, v)) = line.split_once('=')
            && k.trim().eq_ignore_ascii_case(key)
        {
            return Some(v.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// The setting `auditpol /get /category:*` shows for a subcategory: its lines are the name,
/// two or more spaces, and the setting (`No Auditing`, `Success`, `Success and Failure`).
pub fn audit_setting(report: &str, subcategory: &str) -> Option<String> {
    report.lines().find_map(|line| {
        let trimmed = line.trim();
        let (name, setting) = trimmed.split_once("  ")?;
        name.trim()
            .eq_ignore_ascii_case(subcategory)
            .then(|| setting.trim().to_owned())
    })
}

/// `Name:   value` in manage-bde's report.
pub fn field(report: &str, name: &str) -> Option<String> {
    report.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `secedit /export /areas SECURITYPOLICY` output as Microsoft documents its sections
    /// (UTF-16LE with a byte-order mark).
    const SECEDIT: &str = "[Unicode]\r\nUnicode=yes\r\n[System Access]\r\nMinimumPasswordAge = 1\r\nMaximumPasswordAge = 60\r\nMinimumPasswordLength = 14\r\nPasswordComplexity = 1\r\nPasswordHistorySize = 24\r\nLockoutBadCount = 5\r\nRequireLogonToChangePassword = 0\r\nForceLogoffWhenHourExpire = 0\r\nNewAdministratorName = \"Administrator\"\r\nNewGuestName = \"Guest\"\r\nClearTextPassword = 0\r\nLSAAnonymousNameLookup = 0\r\nEnableAdminAccount = 1\r\nEnableGuestAccount = 0\r\n[Event Audit]\r\nAuditSystemEvents = 0\r\n[Version]\r\nsignature=\"$CHICAGO$\"\r\nRevision=1\r\n";

    const AUDITPOL: &str = "System audit policy\r\nCategory/Subcategory                      Setting\r\nSystem\r\n  Security System Extension               Success and Failure\r\n  System Integrity                        Success and Failure\r\n  Security State Change                   Success\r\nLogon/Logoff\r\n  Logon                                   Success and Failure\r\n  Logoff                                  Success\r\n  Account Lockout                         Failure\r\n  Special Logon                           No Auditing\r\nAccount Logon\r\n  Credential Validation                   Success and Failure\r\n";

    const MANAGE_BDE: &str = "BitLocker Drive Encryption: Configuration Tool version 10.0.19041\r\nCopyright (C) 2013 Microsoft Corporation. All rights reserved.\r\n\r\nVolume C: [OS]\r\n[OS Volume]\r\n\r\n    Size:                 237.87 GB\r\n    BitLocker Version:    2.0\r\n    Conversion Status:    Fully Encrypted\r\n    Percentage Encrypted: 100.0%\r\n    Encryption Method:    XTS-AES 128\r\n    Protection Status:    Protection On\r\n    Lock Status:          Unlocked\r\n";

    #[test]
    fn secedit_exports_are_read_as_utf16_and_by_section() {
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(SECEDIT.encode_utf16().flat_map(u16::to_le_bytes));
        let text = decode_text(&bytes);
        assert_eq!(
            policy_value(&text, "System Access", "minimumpasswordlength").as_deref(),
            Some("14")
        );
        assert_eq!(
            policy_value(&text, "System Access", "NewGuestName").as_deref(),
            Some("Guest")
        );
        // A key of another section is not taken.
        assert_eq!(
            policy_value(&text, "System Access", "AuditSystemEvents"),
            None
        );
        assert_eq!(
            policy_value(&text, "Event Audit", "AuditSystemEvents").as_deref(),
            Some("0")
        );
    }

    #[test]
    fn auditpol_settings_are_found_by_subcategory() {
        assert_eq!(
            audit_setting(AUDITPOL, "logon").as_deref(),
            Some("Success and Failure")
        );
        assert_eq!(
            audit_setting(AUDITPOL, "Logoff").as_deref(),
            Some("Success")
        );
        assert_eq!(
            audit_setting(AUDITPOL, "Special Logon").as_deref(),
            Some("No Auditing")
        );
        // A category heading is not a subcategory, and a prefix is not a match.
        assert_eq!(audit_setting(AUDITPOL, "System"), None);
        assert_eq!(audit_setting(AUDITPOL, "Log"), None);
    }

    #[test]
    fn manage_bde_fields_are_read() {
        assert_eq!(
            field(MANAGE_BDE, "Protection Status").as_deref(),
            Some("Protection On")
        );
        assert_eq!(
            field(MANAGE_BDE, "Conversion Status").as_deref(),
            Some("Fully Encrypted")
        );
    }
}
