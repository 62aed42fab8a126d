//! The endpoint agent's rule evaluation (`tater_agent::eval`) over configuration files a
//! machine's users and packages write: sshd_config (with Include), sysctl.conf and sysctl.d,
//! login.defs, fstab, PAM stacks, passwd/shadow/group, audit rules, GRUB. Every built-in Linux
//! rule is evaluated against a scratch root holding up to four fuzzed files.
//! Invariants: no panic, no hang and no unbounded growth (an Include cycle, say).
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use tater_agent::eval::evaluate;
use tater_agent::root::Root;
use tater_checks::{CheckCatalog, Rule};

/// The files the built-in rules read, and two an Include or a drop-in directory reaches.
const FILES: &[&str] = &[
    "etc/ssh/sshd_config",
    "etc/ssh/sshd_config.d/50-fuzz.conf",
    "etc/sysctl.conf",
    "etc/sysctl.d/99-fuzz.conf",
    "etc/login.defs",
    "etc/fstab",
    "etc/pam.d/system-auth",
    "etc/pam.d/common-password",
    "etc/pam.d/common-auth",
    "etc/security/faillock.conf",
    "etc/security/pwquality.conf",
    "etc/passwd",
    "etc/shadow",
    "etc/group",
    "etc/gshadow",
    "etc/audit/audit.rules",
    "boot/grub/grub.cfg",
    "etc/security/limits.conf",
];


fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let catalog = CheckCatalog::builtin().expect("the built-in checks load");
        catalog
            .checks()
            .iter()
            .filter(|c| c.platforms.iter().any(|p| p == "linux"))
            .filter_map(|c| c.rule.clone())
            // Rules that read no file content (modes, units, packages, directory walks) are
            // left out, and so are regex searches (their parsing is the regex crate's, and
            // compiling patterns each time would take most of every run).
            .filter(|r| {
                !matches!(
                    r,
                    Rule::FileMode { .. }
                        | Rule::FileMatch { .. }
                        | Rule::Service { .. }
                        | Rule::Package { .. }
                        | Rule::WorldWritable { .. }
                )
            })
            .collect()
    })
}

// The input is up to four files separated by NUL bytes, each a slot byte (which of FILES,
// modulo its length) then its text, so seeds are real configuration files written by hand
// (corpus/agent_rules; there slot 'H' is FILES[0], 'I' FILES[1], and so on).
fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    for file in data.split(|b| *b == 0).take(4) {
        let Some((slot, text)) = file.split_first() else {
            continue;
        };
        let path = dir.path().join(FILES[usize::from(*slot) % FILES.len()]);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(&path, text);
    }
    let root = Root::new(dir.path());
    // A hang or runaway memory is caught by libFuzzer's -timeout and -rss_limit_mb (set in
    // scripts/fuzz); the deadline is the agent's own per-rule bound.
    for rule in rules() {
        let _ = evaluate(rule, &root, Instant::now() + Duration::from_secs(5));
    }
});
