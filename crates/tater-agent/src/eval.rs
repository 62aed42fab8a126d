//! Evaluating a rule against a root: read, compare, explain. Every outcome carries evidence a
//! person can act on (the value found and where); a rule that cannot decide says Error and why.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use regex::RegexBuilder;
use serde::Serialize;
use tater_checks::{AccountTest, Expect, Missing, Rule};

use crate::root::Root;
use crate::windows_rules;

/// A check result, named as the server names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub enum Status {
    Pass,
    Fail,
    #[serde(rename = "Manual Review")]
    ManualReview,
    Skip,
    Error,
    #[serde(rename = "Not Applicable")]
    NotApplicable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "Pass",
            Status::Fail => "Fail",
            Status::ManualReview => "Manual Review",
            Status::Skip => "Skip",
            Status::Error => "Error",
            Status::NotApplicable => "Not Applicable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub evidence: String,
}

fn outcome(status: Status, evidence: impl Into<String>) -> Outcome {
    Outcome {
        status,
        evidence: evidence.into(),
    }
}

fn pass_if(ok: bool, evidence: impl Into<String>) -> Outcome {
    outcome(if ok { Status::Pass } else { Status::Fail }, evidence)
}

pub(crate) fn missing(m: Missing, what: &str) -> Outcome {
    let status = match m {
        Missing::Fail => Status::Fail,
        Missing::Pass => Status::Pass,
        Missing::NotApplicable => Status::NotApplicable,
        Missing::Error => Status::Error,
    };
    outcome(status, format!("{what} does not exist"))
}

/// Evaluates `rule` under `root`, giving up (Error) once `deadline` has passed.
pub fn evaluate(rule: &Rule, root: &Root, deadline: Instant) -> Outcome {
    match eval(rule, root, deadline) {
        Ok(o) => o,
        Err(e) => outcome(Status::Error, e),
    }
}

type R = Result<Outcome, String>;

fn eval(rule: &Rule, root: &Root, deadline: Instant) -> R {
    match rule {
        Rule::Sshd {
            key,
            expect,
            default,
        } => sshd(root, key, expect, default.as_deref()),
        Rule::Sysctl {
            key,
            expect,
            default,
        } => sysctl(root, key, expect, default.as_deref()),
        Rule::KeyValue {
            paths,
            key,
            expect,
            equals,
            default,
        } => key_value(root, paths, key, expect, *equals, default.as_deref()),
        Rule::FileMatch {
            paths,
            pattern,
            present,
            missing: m,
        } => file_match(root, paths, pattern, *present, *m),
        Rule::FileMode {
            path,
            max_mode,
            uid,
            gid,
            missing: m,
        } => file_mode(root, path, max_mode, *uid, *gid, *m),
        Rule::Accounts { test } => accounts(root, *test),
        Rule::Mount {
            path,
            options,
            missing: m,
        } => mount(root, path, options, *m),
        Rule::Service { units, enabled } => service(root, units, *enabled),
        Rule::Package { names, installed } => package(root, names, *installed),
        Rule::Pam {
            paths,
            module,
            args,
        } => pam(root, paths, module, args),
        Rule::WorldWritable { dirs } => world_writable(root, dirs, deadline),
        Rule::Registry {
            key,
            value,
            expect,
            default,
            missing: m,
        } => windows_rules::registry(root, key, value, expect, default.as_deref(), *m),
        Rule::SecurityPolicy {
            section,
            key,
            expect,
            default,
        } => windows_rules::security_policy(root, section, key, expect, default.as_deref()),
        Rule::AuditPolicy {
            subcategory,
            success,
            failure,
        } => windows_rules::audit_policy(root, subcategory, *success, *failure),
        Rule::BitLocker { volume } => windows_rules::bitlocker(root, volume),
        Rule::Any { rules } => combine(rules, root, deadline, true),
        Rule::All { rules } => combine(rules, root, deadline, false),
    }
}

/// `any`: passes on the first pass; `all`: fails on the first failure. Evidence joins the
/// parts that decided.
fn combine(rules: &[Rule], root: &Root, deadline: Instant, any: bool) -> R {
    let mut evidence = Vec::new();
    let mut errors = Vec::new();
    for r in rules {
        let o = evaluate(r, root, deadline);
        match (any, o.status) {
            (true, Status::Pass) | (false, Status::Fail) => return Ok(o),
            (_, Status::Error) => errors.push(o.evidence),
            _ => evidence.push(o.evidence),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    let status = if any { Status::Fail } else { Status::Pass };
    Ok(outcome(status, evidence.join("; ")))
}

/// Compares a value with an expectation; the error text says what was expected.
fn compare(value: &str, expect: &Expect) -> Result<(), String> {
    let v = value.trim();
    if let Some(allowed) = &expect.one_of
        && !allowed.iter().any(|a| a.eq_ignore_ascii_case(v))
    {
        return Err(format!("expected {}", allowed.join(" or ")));
    }
    if let Some(denied) = &expect.none_of
        && denied.iter().any(|d| d.eq_ignore_ascii_case(v))
    {
        return Err(format!("must not be {v}"));
    }
    if expect.min.is_some() || expect.max.is_some() {
        let n: i64 = v.parse().map_err(|_| "expected a number".to_owned())?;
        if let Some(min) = expect.min
            && n < min
        {
            return Err(format!("expected at least {min}"));
        }
        if let Some(max) = expect.max
            && n > max
        {
            return Err(format!("expected at most {max}"));
        }
    }
    Ok(())
}

pub(crate) fn judged(what: &str, value: &str, source: &str, expect: &Expect) -> Outcome {
    match compare(value, expect) {
        Ok(()) => outcome(Status::Pass, format!("{what} = {value} ({source})")),
        Err(why) => outcome(Status::Fail, format!("{what} = {value} ({source}); {why}")),
    }
}

/// Non-comment lines, trimmed.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn sshd(root: &Root, key: &str, expect: &Expect, default: Option<&str>) -> R {
    let Some(main) = root.read(SSHD_CONFIG)? else {
        return Ok(outcome(
            Status::NotApplicable,
            "no OpenSSH server configuration (/etc/ssh/sshd_config)",
        ));
    };
    let mut budget = SSHD_MAX_FILES;
    let found = match sshd_value(root, SSHD_CONFIG, &main, key, 0, &mut budget)? {
        SshdWalk::Found(value, source) => Some((value, source)),
        SshdWalk::Matched | SshdWalk::NotSet => None,
    };
    Ok(match (found, default) {
        (Some((v, source)), _) => judged(key, &v, &source, expect),
        (None, Some(d)) => judged(key, d, "OpenSSH default, not set", expect),
        (None, None) => outcome(Status::Fail, format!("{key} is not set")),
    })
}

const SSHD_CONFIG: &str = "/etc/ssh/sshd_config";
/// OpenSSH refuses includes nested deeper than this (servconf.c), so a cycle ends there.
const SSHD_MAX_DEPTH: usize = 16;
/// Files read at most per keyword: a wide fan of includes is bounded too.
const SSHD_MAX_FILES: usize = 256;

enum SshdWalk {
    /// The keyword's first value, and the file that set it.
    Found(String, String),
    /// A Match block began: what follows is conditional, so nothing after it counts.
    Matched,
    NotSet,
}

/// sshd takes the first value of a keyword, reading `Include`d files in place (globs sorted,
/// relative paths under /etc/ssh); a Match block makes the rest of the main file conditional
/// (in an included file, the rest of that file).
fn sshd_value(
    root: &Root,
    name: &str,
    text: &str,
    key: &str,
    depth: usize,
    budget: &mut usize,
) -> Result<SshdWalk, String> {
    for line in lines(text) {
        let mut parts = line.splitn(2, |c: char| c.is_whitespace() || c == '=');
        let k = parts.next().unwrap_or_default();
        let v = parts
            .next()
            .unwrap_or_default()
            .trim()
            .trim_start_matches('=')
            .trim();
        if k.eq_ignore_ascii_case("match") {
            return Ok(SshdWalk::Matched);
        }
        if k.eq_ignore_ascii_case("include") {
            if depth >= SSHD_MAX_DEPTH {
                return Err(format!(
                    "{name}: includes nested deeper than {SSHD_MAX_DEPTH} (an include cycle?)"
                ));
            }
            for pattern in v.split_whitespace() {
                let pattern = if pattern.starts_with('/') {
                    pattern.to_owned()
                } else {
                    format!("/etc/ssh/{pattern}")
                };
                for path in root.expand(&pattern) {
                    if *budget == 0 {
                        return Err(format!("more than {SSHD_MAX_FILES} files included"));
                    }
                    *budget -= 1;
                    let Some(t) = root.read(&path)? else {
                        continue;
                    };
                    match sshd_value(root, &path, &t, key, depth + 1, budget)? {
                        found @ SshdWalk::Found(..) => return Ok(found),
                        SshdWalk::Matched | SshdWalk::NotSet => {}
                    }
                }
            }
            continue;
        }
        if k.eq_ignore_ascii_case(key) {
            return Ok(SshdWalk::Found(v.to_owned(), name.to_owned()));
        }
    }
    Ok(SshdWalk::NotSet)
}

fn sysctl(root: &Root, key: &str, expect: &Expect, default: Option<&str>) -> R {
    let configured = sysctl_configured(root, key)?;
    if root.is_live() {
        let proc_path = format!("/proc/sys/{}", key.replace('.', "/"));
        if let Some(v) = root.read(&proc_path)? {
            let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut o = judged(key, &v, "running kernel", expect);
            if let Some((cv, src)) = &configured
                && cv != &v
            {
                o.evidence.push_str(&format!(
                    "; {src} sets {cv}, which applies at the next boot"
                ));
            }
            return Ok(o);
        }
    }
    Ok(match (configured, default) {
        (Some((v, src)), _) => judged(key, &v, &src, expect),
        (None, Some(d)) => judged(key, d, "kernel default, not configured", expect),
        (None, None) => outcome(Status::Fail, format!("{key} is not configured")),
    })
}

/// The persistent value: sysctl.d files ordered by name (/etc overriding /run and /usr/lib of
/// the same name), then /etc/sysctl.conf; the last assignment wins.
fn sysctl_configured(root: &Root, key: &str) -> Result<Option<(String, String)>, String> {
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for dir in [
        "/usr/lib/sysctl.d",
        "/lib/sysctl.d",
        "/run/sysctl.d",
        "/etc/sysctl.d",
    ] {
        for path in root.expand(&format!("{dir}/*.conf")) {
            let name = path.rsplit('/').next().unwrap_or_default().to_owned();
            by_name.insert(name, path);
        }
    }
    let mut files: Vec<String> = by_name.into_values().collect();
    files.push("/etc/sysctl.conf".into());
    let mut found = None;
    for path in files {
        let Some(text) = root.read(&path)? else {
            continue;
        };
        for line in lines(&text).filter(|l| !l.starts_with(';')) {
            if let Some((k, v)) = line.split_once('=') {
                let k = k.trim().trim_start_matches('-').replace('/', ".");
                if k == key {
                    found = Some((v.trim().to_owned(), path.clone()));
                }
            }
        }
    }
    Ok(found)
}

fn key_value(
    root: &Root,
    paths: &[String],
    key: &str,
    expect: &Expect,
    equals: bool,
    default: Option<&str>,
) -> R {
    let mut found: Option<(String, String)> = None;
    let mut any_file = false;
    for pattern in paths {
        for path in root.expand(pattern) {
            let Some(text) = root.read(&path)? else {
                continue;
            };
            any_file = true;
            for line in lines(&text) {
                let (k, v) = if equals {
                    match line.split_once('=') {
                        Some((k, v)) => (k.trim(), v.trim()),
                        None => continue,
                    }
                } else {
                    let mut parts = line.splitn(2, char::is_whitespace);
                    (
                        parts.next().unwrap_or_default(),
                        parts.next().unwrap_or_default().trim(),
                    )
                };
                if k == key {
                    found = Some((v.trim_matches('"').to_owned(), path.clone()));
                }
            }
        }
    }
    Ok(match (found, default) {
        (Some((v, src)), _) => judged(key, &v, &src, expect),
        (None, Some(d)) => judged(key, d, "default, not set", expect),
        (None, None) if any_file => outcome(
            Status::Fail,
            format!("{key} is not set in {}", paths.join(", ")),
        ),
        (None, None) => outcome(Status::Fail, format!("{} does not exist", paths.join(", "))),
    })
}

fn file_match(root: &Root, paths: &[String], pattern: &str, present: bool, m: Missing) -> R {
    let re = RegexBuilder::new(pattern)
        .multi_line(true)
        .build()
        .map_err(|e| format!("bad pattern in the rule: {e}"))?;
    let mut read_any = false;
    for pattern_path in paths {
        for path in root.expand(pattern_path) {
            let Some(text) = root.read(&path)? else {
                continue;
            };
            read_any = true;
            if let Some(found) = re.find(&text) {
                let line = found.as_str().trim();
                return Ok(pass_if(present, format!("{path}: `{line}`")));
            }
        }
    }
    if !read_any {
        return Ok(missing(m, &paths.join(", ")));
    }
    Ok(pass_if(
        !present,
        format!("no line matching `{pattern}` in {}", paths.join(", ")),
    ))
}

fn file_mode(
    root: &Root,
    path: &str,
    max_mode: &str,
    uid: Option<u32>,
    gid: Option<u32>,
    m: Missing,
) -> R {
    let max = u32::from_str_radix(max_mode.trim_start_matches('0'), 8)
        .map_err(|_| "bad mode in the rule".to_owned())?;
    let Some(meta) = root.symlink_metadata(path) else {
        return Ok(missing(m, path));
    };
    let meta = crate::os::unix_mode(&meta).ok_or_else(no_unix_modes)?;
    let mode = meta.mode & 0o7777;
    let mut problems = Vec::new();
    if mode & !max != 0 {
        problems.push(format!("mode {mode:04o} allows more than {max:04o}"));
    }
    if let Some(u) = uid
        && meta.uid != u
    {
        problems.push(format!("owner uid {} (expected {u})", meta.uid));
    }
    // A group other than root is accepted when it is the expected one or root.
    if let Some(g) = gid
        && meta.gid != g
        && meta.gid != 0
    {
        problems.push(format!("group gid {} (expected {g} or 0)", meta.gid));
    }
    let desc = format!(
        "{path}: mode {mode:04o}, uid {}, gid {}",
        meta.uid, meta.gid
    );
    Ok(if problems.is_empty() {
        outcome(Status::Pass, desc)
    } else {
        outcome(Status::Fail, format!("{desc}; {}", problems.join(", ")))
    })
}

/// `name:x:uid:gid:...` rows of a colon file.
fn rows(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').collect())
        .collect()
}

fn accounts(root: &Root, test: AccountTest) -> R {
    let passwd = root
        .read("/etc/passwd")?
        .ok_or("/etc/passwd does not exist")?;
    let users = rows(&passwd);
    let field = |r: &Vec<&str>, i: usize| r.get(i).copied().unwrap_or_default().to_owned();
    let list = |names: Vec<String>| names.join(", ");
    Ok(match test {
        AccountTest::Uid0OnlyRoot => {
            let zero: Vec<String> = users
                .iter()
                .filter(|r| field(r, 2) == "0")
                .map(|r| field(r, 0))
                .collect();
            pass_if(zero == ["root"], format!("UID 0 accounts: {}", list(zero)))
        }
        AccountTest::NoEmptyPasswords => {
            let shadow = root
                .read("/etc/shadow")?
                .ok_or("/etc/shadow does not exist")?;
            let empty: Vec<String> = rows(&shadow)
                .iter()
                .filter(|r| r.len() > 1 && r[1].is_empty())
                .map(|r| field(r, 0))
                .collect();
            pass_if(
                empty.is_empty(),
                if empty.is_empty() {
                    "every account has a password or is locked".into()
                } else {
                    format!("empty password: {}", list(empty))
                },
            )
        }
        AccountTest::SystemAccountsNoLogin => {
            let uid_min = root
                .read("/etc/login.defs")?
                .and_then(|t| {
                    lines(&t)
                        .find_map(|l| {
                            l.strip_prefix("UID_MIN")
                                .map(|v| v.trim().parse::<u32>().ok())
                        })
                        .flatten()
                })
                .unwrap_or(1000);
            let exempt = ["root", "sync", "shutdown", "halt"];
            let nologin =
                |s: &str| s.ends_with("/nologin") || s.ends_with("/false") || s.is_empty();
            let bad: Vec<String> = users
                .iter()
                .filter(|r| {
                    field(r, 2).parse::<u32>().is_ok_and(|u| u < uid_min)
                        && !exempt.contains(&r[0])
                        && !nologin(&field(r, 6))
                })
                .map(|r| format!("{} ({})", field(r, 0), field(r, 6)))
                .collect();
            pass_if(
                bad.is_empty(),
                if bad.is_empty() {
                    format!("no account below UID {uid_min} has a login shell")
                } else {
                    format!("login shells: {}", list(bad))
                },
            )
        }
        AccountTest::UniqueUids => duplicates(users.iter().map(|r| field(r, 2)), "UID"),
        AccountTest::UniqueNames => duplicates(users.iter().map(|r| field(r, 0)), "account name"),
        AccountTest::UniqueGids => {
            let group = root
                .read("/etc/group")?
                .ok_or("/etc/group does not exist")?;
            duplicates(rows(&group).iter().map(|r| field(r, 2)), "GID")
        }
        AccountTest::NoLegacyPlusEntries => {
            let mut found = Vec::new();
            for f in ["/etc/passwd", "/etc/shadow", "/etc/group"] {
                if root
                    .read(f)?
                    .is_some_and(|t| t.lines().any(|l| l.starts_with('+')))
                {
                    found.push(f.to_owned());
                }
            }
            pass_if(
                found.is_empty(),
                if found.is_empty() {
                    "no '+' entries".into()
                } else {
                    format!("'+' entries in {}", list(found))
                },
            )
        }
        AccountTest::GroupsExist => {
            let group = root
                .read("/etc/group")?
                .ok_or("/etc/group does not exist")?;
            let gids: HashSet<String> = rows(&group).iter().map(|r| field(r, 2)).collect();
            let bad: Vec<String> = users
                .iter()
                .filter(|r| !gids.contains(&field(r, 3)))
                .map(|r| format!("{} (gid {})", field(r, 0), field(r, 3)))
                .collect();
            pass_if(
                bad.is_empty(),
                if bad.is_empty() {
                    "every primary group exists".into()
                } else {
                    format!("missing groups: {}", list(bad))
                },
            )
        }
        AccountTest::RootGid0 => {
            let gid = users
                .iter()
                .find(|r| r[0] == "root")
                .map(|r| field(r, 3))
                .unwrap_or_default();
            pass_if(gid == "0", format!("root's primary GID is {gid}"))
        }
    })
}

fn duplicates(values: impl Iterator<Item = String>, what: &str) -> Outcome {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut dups: Vec<String> = counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(v, _)| v)
        .collect();
    dups.sort();
    pass_if(
        dups.is_empty(),
        if dups.is_empty() {
            format!("every {what} is unique")
        } else {
            format!("{what}s used more than once: {}", dups.join(", "))
        },
    )
}

fn mount(root: &Root, path: &str, wanted: &[String], m: Missing) -> R {
    let (table, source) = if root.is_live() {
        ("/proc/self/mounts", "running mounts")
    } else {
        ("/etc/fstab", "/etc/fstab")
    };
    let text = root.read(table)?.unwrap_or_default();
    // The last entry for a mount point is the one in effect.
    let entry = lines(&text)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() >= 4 && f[1] == path)
        .last();
    let Some(f) = entry else {
        return Ok(missing(
            m,
            &format!("a separate {path} filesystem ({source})"),
        ));
    };
    let opts: Vec<&str> = f[3].split(',').collect();
    let absent: Vec<&String> = wanted
        .iter()
        .filter(|w| !opts.contains(&w.as_str()))
        .collect();
    let evidence = format!("{path} ({} {}) options {} ({source})", f[0], f[2], f[3]);
    Ok(if absent.is_empty() {
        outcome(Status::Pass, evidence)
    } else {
        outcome(
            Status::Fail,
            format!(
                "{evidence}; missing {}",
                absent
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        )
    })
}

/// A unit is enabled when some `*.wants` or `*.requires` directory under /etc/systemd/system
/// links to it (and it is not masked).
fn service(root: &Root, units: &[String], want_enabled: bool) -> R {
    let base = "/etc/systemd/system";
    let dirs: Vec<String> = std::fs::read_dir(root.path(base))
        .map(|it| {
            it.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".wants") || n.ends_with(".requires"))
                .collect()
        })
        .unwrap_or_default();
    let mut enabled = Vec::new();
    for unit in units {
        let masked = root
            .symlink_metadata(&format!("{base}/{unit}"))
            .is_some_and(|_| {
                std::fs::read_link(root.path(&format!("{base}/{unit}")))
                    .is_ok_and(|t| t == std::path::Path::new("/dev/null"))
            });
        if masked {
            continue;
        }
        if let Some(d) = dirs.iter().find(|d| {
            root.symlink_metadata(&format!("{base}/{d}/{unit}"))
                .is_some()
        }) {
            enabled.push(format!("{unit} (via {d})"));
        }
    }
    Ok(match (want_enabled, enabled.is_empty()) {
        (true, false) | (false, false) => {
            pass_if(want_enabled, format!("enabled: {}", enabled.join(", ")))
        }
        (true, true) => outcome(
            Status::Fail,
            format!("none enabled of {}", units.join(", ")),
        ),
        (false, true) => outcome(Status::Pass, format!("not enabled: {}", units.join(", "))),
    })
}

fn package(root: &Root, names: &[String], want_installed: bool) -> R {
    let Some(status) = root.read("/var/lib/dpkg/status")? else {
        if root.symlink_metadata("/var/lib/rpm").is_some()
            || root.symlink_metadata("/usr/lib/sysimage/rpm").is_some()
        {
            return Err("the RPM package database is not supported yet".into());
        }
        return Err("no package database (/var/lib/dpkg/status)".into());
    };
    let mut installed = Vec::new();
    for para in status.split("\n\n") {
        let mut name = None;
        let mut ok = false;
        for line in para.lines() {
            if let Some(n) = line.strip_prefix("Package: ") {
                name = Some(n.trim());
            } else if let Some(s) = line.strip_prefix("Status: ") {
                ok = s.trim().ends_with(" installed");
            }
        }
        if let Some(n) = name
            && ok
            && names.iter().any(|w| w == n)
        {
            installed.push(n.to_owned());
        }
    }
    Ok(match (want_installed, installed.is_empty()) {
        (true, false) => outcome(Status::Pass, format!("installed: {}", installed.join(", "))),
        (true, true) => outcome(Status::Fail, format!("not installed: {}", names.join(", "))),
        (false, true) => outcome(Status::Pass, format!("not installed: {}", names.join(", "))),
        (false, false) => outcome(Status::Fail, format!("installed: {}", installed.join(", "))),
    })
}

fn pam(root: &Root, paths: &[String], module: &str, args: &BTreeMap<String, Expect>) -> R {
    let mut seen_file = false;
    let mut last_problem = None;
    for path in paths {
        let Some(text) = root.read(path)? else {
            continue;
        };
        seen_file = true;
        for line in lines(&text) {
            let words: Vec<&str> = line.split_whitespace().collect();
            if !words.iter().any(|w| {
                w.ends_with(module)
                    && (w.len() == module.len() || w.ends_with(&format!("/{module}")))
            }) {
                continue;
            }
            let given: HashMap<&str, &str> =
                words.iter().filter_map(|w| w.split_once('=')).collect();
            let mut problems = Vec::new();
            for (name, expect) in args {
                match given.get(name.as_str()) {
                    Some(v) => {
                        if let Err(why) = compare(v, expect) {
                            problems.push(format!("{name}={v}: {why}"));
                        }
                    }
                    None => problems.push(format!("{name} is not set")),
                }
            }
            if problems.is_empty() {
                return Ok(outcome(Status::Pass, format!("{path}: `{line}`")));
            }
            last_problem = Some(format!("{path}: `{line}`; {}", problems.join(", ")));
        }
    }
    Ok(match (seen_file, last_problem) {
        (_, Some(p)) => outcome(Status::Fail, p),
        (true, None) => outcome(
            Status::Fail,
            format!("{module} is not used in {}", paths.join(", ")),
        ),
        (false, None) => outcome(Status::Fail, format!("{} does not exist", paths.join(", "))),
    })
}

/// Files visited at most per world-writable scan.
const MAX_VISITS: usize = 500_000;

/// Unix permission checks need a filesystem that has Unix permissions.
fn no_unix_modes() -> String {
    "Unix file modes cannot be read on this platform".into()
}

fn world_writable(root: &Root, dirs: &[String], deadline: Instant) -> R {
    let mut found = Vec::new();
    let mut visited = 0usize;
    let mut stack: Vec<std::path::PathBuf> = dirs.iter().map(|d| root.path(d)).collect();
    let base = root.path("/");
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.filter_map(|e| e.ok()) {
            visited += 1;
            if visited > MAX_VISITS || Instant::now() > deadline {
                return Err(format!(
                    "gave up after {visited} files (time budget); {} found so far",
                    found.len()
                ));
            }
            let Ok(meta) = e.path().symlink_metadata() else {
                continue;
            };
            let ft = meta.file_type();
            if ft.is_symlink() {
                continue;
            }
            let mode = crate::os::unix_mode(&meta).ok_or_else(no_unix_modes)?.mode;
            let shown = || {
                format!(
                    "/{}",
                    e.path()
                        .strip_prefix(&base)
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                )
            };
            if ft.is_dir() {
                if mode & 0o002 != 0 && mode & 0o1000 == 0 {
                    found.push(format!("{} (directory)", shown()));
                }
                stack.push(e.path());
            } else if ft.is_file() && mode & 0o002 != 0 {
                found.push(shown());
            }
        }
    }
    found.sort();
    let shown: Vec<&String> = found.iter().take(20).collect();
    Ok(if found.is_empty() {
        outcome(
            Status::Pass,
            format!(
                "no world-writable files among {visited} in {}",
                dirs.join(", ")
            ),
        )
    } else {
        outcome(
            Status::Fail,
            format!(
                "{} world-writable: {}{}",
                found.len(),
                shown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if found.len() > 20 { ", …" } else { "" }
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sshd_rule(key: &str, want: &str) -> Rule {
        Rule::Sshd {
            key: key.into(),
            expect: Expect {
                one_of: Some(vec![want.into()]),
                ..Expect::default()
            },
            default: None,
        }
    }

    fn scan(files: &[(&str, &str)], rule: &Rule) -> Outcome {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, text) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(full, text).expect("write");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        evaluate(rule, &Root::new(dir.path()), deadline)
    }

    #[test]
    fn an_included_file_is_read_where_its_include_stands() {
        // (main file, drop-in, keyword, whether the drop-in's value counts). Debian's layout puts the
        // drop-in directory first, so its value wins over a later line; a Match block in an
        // included file ends with that file.
        let cases = [
            (
                "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication yes\n",
                "PasswordAuthentication no\n",
                "PasswordAuthentication",
                true,
            ),
            (
                "Include sshd_config.d/*.conf\nPermitRootLogin no\n",
                "Match User backup\n  PermitRootLogin yes\n",
                "PermitRootLogin",
                false,
            ),
        ];
        for (main, drop_in, key, from_drop_in) in cases {
            let files = [
                ("etc/ssh/sshd_config", main),
                ("etc/ssh/sshd_config.d/50-drop-in.conf", drop_in),
            ];
            let o = scan(&files, &sshd_rule(key, "no"));
            assert_eq!(o.status, Status::Pass, "{o:?}");
            assert_eq!(o.evidence.contains("50-drop-in"), from_drop_in, "{o:?}");
        }
    }

    /// A file including itself made the agent read it for ever, its memory growing without
    /// bound (the fuzz seed fuzz/corpus/agent_rules/sshd-self-include is that file).
    #[test]
    fn an_include_cycle_is_an_error_not_a_hang() {
        let themselves = "Include /etc/ssh/sshd_config\nPermitRootLogin no\n";
        let each_other = "Include a.conf\nPermitRootLogin no\n";
        for main in [themselves, each_other] {
            let files = [
                ("etc/ssh/sshd_config", main),
                ("etc/ssh/a.conf", "Include b.conf\n"),
                ("etc/ssh/b.conf", "Include a.conf\n"),
            ];
            let o = scan(&files, &sshd_rule("PermitRootLogin", "no"));
            assert_eq!(o.status, Status::Error, "{o:?}");
            assert!(o.evidence.contains("include cycle"), "{o:?}");
        }
    }
}
