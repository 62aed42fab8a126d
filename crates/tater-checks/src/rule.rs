//! Declarative rules: what the agent evaluates for a check, as data. Each kind reads files
//! (relative to the scanned root) and compares what it finds with an [`Expect`]; none writes.

use serde::{Deserialize, Serialize};

/// A comparison on a setting's value. Text comparisons ignore ASCII case (sshd and most
/// Linux settings do); numbers compare numerically.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expect {
    /// The value must be one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<String>>,
    /// The value must not be any of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub none_of: Option<Vec<String>>,
    /// A number no greater than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// A number no smaller than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
}

/// What to conclude when the file a rule reads does not exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Missing {
    #[default]
    Fail,
    Pass,
    NotApplicable,
    Error,
}

/// Account database tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AccountTest {
    /// Only `root` has UID 0.
    Uid0OnlyRoot,
    /// No account in /etc/shadow has an empty password field.
    NoEmptyPasswords,
    /// System accounts (UID below UID_MIN) other than root, sync, shutdown and halt have a
    /// non-login shell.
    SystemAccountsNoLogin,
    /// No two accounts share a UID.
    UniqueUids,
    /// No two accounts share a name.
    UniqueNames,
    /// No two groups share a GID.
    UniqueGids,
    /// No legacy `+` NIS entries in passwd, shadow or group.
    NoLegacyPlusEntries,
    /// Every account's primary group exists in /etc/group.
    GroupsExist,
    /// root's primary group is GID 0.
    RootGid0,
}

/// A rule. Paths are absolute as on the scanned system; the agent reads them under `--root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Rule {
    /// An OpenSSH server setting from /etc/ssh/sshd_config (following `Include`; the first
    /// value wins, as in sshd). No sshd_config: not applicable.
    Sshd {
        key: String,
        expect: Expect,
        /// OpenSSH's built-in default, used when the key is not set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    /// A kernel parameter: the running value (`/proc/sys`) when the root is live, else the
    /// persistent configuration (sysctl.d, sysctl.conf; the last assignment wins).
    Sysctl {
        key: String,
        expect: Expect,
        /// The kernel's default when nothing sets it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    /// `KEY value` (or `key = value` with `equals: true`) in a file such as login.defs or
    /// pwquality.conf; the last assignment wins.
    KeyValue {
        paths: Vec<String>,
        key: String,
        expect: Expect,
        #[serde(default)]
        equals: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    /// A regular expression (multi-line) searched in files; paths may end in a `*` glob.
    FileMatch {
        paths: Vec<String>,
        pattern: String,
        /// Whether a match is required (true) or forbidden (false).
        present: bool,
        #[serde(default)]
        missing: Missing,
    },
    /// A file's permission bits at most `maxMode` (octal text), and its owner/group.
    FileMode {
        path: String,
        max_mode: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gid: Option<u32>,
        #[serde(default)]
        missing: Missing,
    },
    /// A test over /etc/passwd, /etc/shadow and /etc/group.
    Accounts { test: AccountTest },
    /// A mount point exists as its own filesystem with these options (running mounts when the
    /// root is live, else /etc/fstab).
    Mount {
        path: String,
        options: Vec<String>,
        #[serde(default)]
        missing: Missing,
    },
    /// Systemd units: with `enabled: true`, at least one is enabled; with `false`, none is.
    Service { units: Vec<String>, enabled: bool },
    /// Debian packages (dpkg status): with `installed: true`, at least one is installed; with
    /// `false`, none is.
    Package { names: Vec<String>, installed: bool },
    /// A PAM module line in any of the files, with argument checks (`deny`, `minlen`, ...).
    Pam {
        paths: Vec<String>,
        module: String,
        #[serde(default)]
        args: std::collections::BTreeMap<String, Expect>,
    },
    /// No world-writable regular files (or directories without the sticky bit) under these
    /// directories; symbolic links are not followed.
    WorldWritable { dirs: Vec<String> },
    /// A Windows registry value: the running registry, or a mounted volume's hive files.
    /// `key` starts with `HKLM\`; a last component `*` means every subkey (each network
    /// interface, say) must satisfy it.
    Registry {
        key: String,
        value: String,
        expect: Expect,
        /// What Windows does when the value is not set, judged as if it were.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
        /// When neither the value nor a default exists.
        #[serde(default)]
        missing: Missing,
    },
    /// A local security policy setting as `secedit /export /areas SECURITYPOLICY` writes it
    /// (`[System Access]`, `MinimumPasswordLength`). Needs the running system.
    SecurityPolicy {
        section: String,
        key: String,
        expect: Expect,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    /// An advanced audit policy subcategory (`auditpol /get /category:*`) audits successes
    /// and/or failures as required. Needs the running system.
    AuditPolicy {
        subcategory: String,
        success: bool,
        failure: bool,
    },
    /// BitLocker protects the volume (`manage-bde -status`). Needs the running system.
    BitLocker { volume: String },
    /// Passes when any of the rules passes.
    Any { rules: Vec<Rule> },
    /// Passes when all of the rules pass.
    All { rules: Vec<Rule> },
}
