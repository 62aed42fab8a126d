#!/usr/bin/env python3
"""Writes data/linux.json: the built-in Linux checks. Edit here, run, commit both.

Kept as a script so related checks share their shapes (an sshd setting, a sysctl, a mount
option) instead of repeating 15 lines of JSON each; the JSON is what the code reads."""
import json, os

checks = []

def check(id, title, severity, controls, rationale, remediation, rule, script=None):
    c = {"id": id, "title": title, "severity": severity, "rationale": rationale,
         "remediation": remediation, "controls": controls, "platforms": ["linux"], "rule": rule}
    if script:
        c["remediationScript"] = script
    checks.append(c)

def sshd_fix(key, value):
    return ("sed -i -E 's/^\\s*#?\\s*%s\\s.*/%s %s/I' /etc/ssh/sshd_config && "
            "(grep -qiE '^\\s*%s\\s' /etc/ssh/sshd_config || echo '%s %s' >> /etc/ssh/sshd_config) && "
            "systemctl reload ssh 2>/dev/null || systemctl reload sshd") % (key, key, value, key, key, value)

# --- SSH hardening ---------------------------------------------------------------------
def sshd(id, title, sev, controls, rationale, key, expect, default, value):
    check(id, title, sev, controls, rationale,
          "Set `%s %s` in /etc/ssh/sshd_config and reload sshd." % (key, value),
          {"kind": "sshd", "key": key, "expect": expect, "default": default}, sshd_fix(key, value))

sshd("linux.ssh.root-login", "SSH does not allow root to log in", "High", ["ac-6.2", "ia-2", "ac-17"],
     "Direct root logins defeat individual accountability and give attackers the most valuable account to guess.",
     "PermitRootLogin", {"oneOf": ["no"]}, "prohibit-password", "no")
sshd("linux.ssh.password-auth", "SSH does not accept passwords", "Medium", ["ia-2", "ia-5", "ac-17.2"],
     "Password authentication over SSH invites brute force; keys or certificates resist it.",
     "PasswordAuthentication", {"oneOf": ["no"]}, "yes", "no")
sshd("linux.ssh.max-auth-tries", "SSH limits authentication attempts to 4 or fewer", "Medium", ["ac-7"],
     "Limiting attempts per connection slows online guessing.",
     "MaxAuthTries", {"max": 4}, "6", "4")
sshd("linux.ssh.empty-passwords", "SSH refuses empty passwords", "High", ["ia-5", "ac-17"],
     "An account with an empty password must never be reachable over the network.",
     "PermitEmptyPasswords", {"oneOf": ["no"]}, "no", "no")
sshd("linux.ssh.x11-forwarding", "SSH X11 forwarding is off", "Low", ["cm-7", "ac-17"],
     "X11 forwarding exposes the client's display to the server and widens the attack surface.",
     "X11Forwarding", {"oneOf": ["no"]}, "no", "no")
sshd("linux.ssh.ignore-rhosts", "SSH ignores .rhosts files", "Medium", ["ia-2", "cm-7"],
     "Host-based trust through .rhosts bypasses authentication.",
     "IgnoreRhosts", {"oneOf": ["yes"]}, "yes", "yes")
sshd("linux.ssh.hostbased-auth", "SSH host-based authentication is off", "Medium", ["ia-2", "ia-3"],
     "Host-based authentication trusts whole machines instead of people.",
     "HostbasedAuthentication", {"oneOf": ["no"]}, "no", "no")
sshd("linux.ssh.permit-user-environment", "SSH does not let users set environment options", "Medium", ["cm-6", "ac-3"],
     "User-controlled environment variables (LD_PRELOAD and the like) can bypass restrictions.",
     "PermitUserEnvironment", {"oneOf": ["no"]}, "no", "no")
sshd("linux.ssh.login-grace-time", "SSH gives at most 60 seconds to log in", "Low", ["ac-10", "sc-5"],
     "A short grace time limits unauthenticated connections held open against the server.",
     "LoginGraceTime", {"max": 60, "min": 1}, "120", "60")
sshd("linux.ssh.client-alive-interval", "SSH checks idle sessions within 15 minutes", "Low", ["ac-12", "sc-10"],
     "Idle sessions left open can be hijacked; the server should notice and end them.",
     "ClientAliveInterval", {"max": 900, "min": 1}, "0", "300")
sshd("linux.ssh.max-sessions", "SSH allows at most 10 sessions per connection", "Low", ["ac-10"],
     "Limiting multiplexed sessions bounds what one stolen connection can do.",
     "MaxSessions", {"max": 10}, "10", "10")
sshd("linux.ssh.log-level", "SSH logs at INFO or VERBOSE", "Low", ["au-2", "au-3"],
     "Authentication events must be logged to be investigated.",
     "LogLevel", {"oneOf": ["INFO", "VERBOSE"]}, "INFO", "VERBOSE")
sshd("linux.ssh.strict-modes", "SSH checks file modes of user keys", "Medium", ["ac-3", "cm-6"],
     "StrictModes refuses logins when a user's key files are writable by others.",
     "StrictModes", {"oneOf": ["yes"]}, "yes", "yes")
check("linux.ssh.config-perms", "sshd_config is owned by root and not writable by others", "Medium", ["ac-3", "cm-6"],
      "Whoever can write sshd_config controls who can log in.",
      "Run `chown root:root /etc/ssh/sshd_config && chmod 600 /etc/ssh/sshd_config`.",
      {"kind": "fileMode", "path": "/etc/ssh/sshd_config", "maxMode": "0644", "uid": 0, "gid": 0, "missing": "notApplicable"},
      "chown root:root /etc/ssh/sshd_config && chmod 600 /etc/ssh/sshd_config")

# --- Password and lockout policy -----------------------------------------------------------
def logindefs(id, title, sev, controls, rationale, key, expect, value):
    check(id, title, sev, controls, rationale, "Set `%s %s` in /etc/login.defs." % (key, value),
          {"kind": "keyValue", "paths": ["/etc/login.defs"], "key": key, "expect": expect},
          "sed -i -E 's/^\\s*%s\\s.*/%s %s/' /etc/login.defs && (grep -qE '^\\s*%s\\s' /etc/login.defs || echo '%s %s' >> /etc/login.defs)" % (key, key, value, key, key, value))

logindefs("linux.logindefs.pass-max-days", "Passwords expire within 365 days", "Low", ["ia-5.1"],
          "Long-lived passwords stay useful to whoever learned them.", "PASS_MAX_DAYS", {"max": 365, "min": 1}, "365")
logindefs("linux.logindefs.pass-min-days", "Passwords cannot be changed again within a day", "Low", ["ia-5.1"],
          "A minimum age stops users cycling straight back to an old password.", "PASS_MIN_DAYS", {"min": 1}, "1")
logindefs("linux.logindefs.pass-warn-age", "Users are warned 7 days before a password expires", "Low", ["ia-5.1"],
          "Warning users avoids lockouts that tempt administrators to weaken policy.", "PASS_WARN_AGE", {"min": 7}, "7")
logindefs("linux.logindefs.umask", "The default umask is 027 or stricter", "Medium", ["ac-3", "cm-6"],
          "A permissive umask makes new files readable by everyone.", "UMASK", {"oneOf": ["027", "077", "0027", "0077"]}, "027")
logindefs("linux.logindefs.encrypt-method", "Passwords are hashed with SHA-512 or yescrypt", "High", ["ia-5.1", "sc-13"],
          "Weak password hashes are cracked quickly once /etc/shadow leaks.", "ENCRYPT_METHOD", {"oneOf": ["SHA512", "YESCRYPT"]}, "YESCRYPT")

check("linux.pam.pwquality-minlen", "Passwords must be at least 14 characters", "Medium", ["ia-5.1"],
      "Length is the strongest defence against guessing and cracking.",
      "Set `minlen = 14` in /etc/security/pwquality.conf and enable pam_pwquality in /etc/pam.d/common-password.",
      {"kind": "keyValue", "paths": ["/etc/security/pwquality.conf", "/etc/security/pwquality.conf.d/*.conf"], "key": "minlen", "equals": True, "expect": {"min": 14}})
check("linux.pam.pwquality-enabled", "Password changes go through pam_pwquality", "Medium", ["ia-5.1"],
      "Without the module, the password rules in pwquality.conf are never applied.",
      "Add `password requisite pam_pwquality.so retry=3` to /etc/pam.d/common-password (or system-auth).",
      {"kind": "pam", "paths": ["/etc/pam.d/common-password", "/etc/pam.d/system-auth"], "module": "pam_pwquality.so", "args": {}})
check("linux.pam.faillock", "Accounts lock after 5 or fewer failed logins", "High", ["ac-7"],
      "Locking after repeated failures stops online password guessing.",
      "Enable pam_faillock with `deny = 5` (in /etc/security/faillock.conf or on the pam_faillock line) in /etc/pam.d/common-auth.",
      {"kind": "all", "rules": [
          {"kind": "pam", "paths": ["/etc/pam.d/common-auth", "/etc/pam.d/system-auth"], "module": "pam_faillock.so", "args": {}},
          {"kind": "any", "rules": [
              {"kind": "keyValue", "paths": ["/etc/security/faillock.conf"], "key": "deny", "equals": True, "expect": {"min": 1, "max": 5}},
              {"kind": "pam", "paths": ["/etc/pam.d/common-auth", "/etc/pam.d/system-auth"], "module": "pam_faillock.so", "args": {"deny": {"min": 1, "max": 5}}}]}]})
check("linux.pam.faillock-unlock", "Locked accounts stay locked for at least 15 minutes", "Medium", ["ac-7"],
      "A short lockout only slows an attacker down a little.",
      "Set `unlock_time = 900` (or 0, never) in /etc/security/faillock.conf.",
      {"kind": "keyValue", "paths": ["/etc/security/faillock.conf"], "key": "unlock_time", "equals": True, "expect": {"min": 900}, "default": "600"})
check("linux.pam.no-nullok", "PAM does not accept empty passwords", "High", ["ia-5", "ia-2"],
      "`nullok` on pam_unix lets accounts with empty passwords log in.",
      "Remove `nullok` from pam_unix.so lines in /etc/pam.d/common-auth and common-password.",
      {"kind": "fileMatch", "paths": ["/etc/pam.d/common-auth", "/etc/pam.d/common-password", "/etc/pam.d/system-auth", "/etc/pam.d/password-auth"],
       "pattern": "^\\s*[^#\\n]*pam_unix\\.so[^\\n]*\\bnullok\\b", "present": False, "missing": "pass"},
      "sed -i -E 's/\\s+nullok\\b//' /etc/pam.d/common-auth /etc/pam.d/common-password")
check("linux.pam.password-remember", "Users cannot reuse their last 5 passwords", "Low", ["ia-5.1"],
      "Reuse turns a leaked old password into a current one.",
      "Add `remember=5` to pam_pwhistory (or pam_unix) in /etc/pam.d/common-password.",
      {"kind": "any", "rules": [
          {"kind": "pam", "paths": ["/etc/pam.d/common-password", "/etc/pam.d/system-auth"], "module": "pam_pwhistory.so", "args": {"remember": {"min": 5}}},
          {"kind": "pam", "paths": ["/etc/pam.d/common-password", "/etc/pam.d/system-auth"], "module": "pam_unix.so", "args": {"remember": {"min": 5}}}]})

# --- Account hygiene -----------------------------------------------------------------------
def accounts(id, title, sev, controls, rationale, remediation, test):
    check(id, title, sev, controls, rationale, remediation, {"kind": "accounts", "test": test})

accounts("linux.accounts.uid0", "Only root has UID 0", "Critical", ["ac-2", "ac-6"],
         "A second UID 0 account is a hidden superuser.", "Remove or renumber every account other than root with UID 0 in /etc/passwd.", "uid0OnlyRoot")
accounts("linux.accounts.empty-passwords", "No account has an empty password", "Critical", ["ia-5", "ac-2"],
         "An empty password field lets anyone log in as that account.", "Lock the account (`passwd -l NAME`) or set a password.", "noEmptyPasswords")
accounts("linux.accounts.system-shells", "System accounts cannot log in", "Medium", ["ac-2", "cm-7"],
         "Service accounts with login shells are extra doors nobody watches.", "Set their shell to /usr/sbin/nologin (`usermod -s /usr/sbin/nologin NAME`).", "systemAccountsNoLogin")
accounts("linux.accounts.unique-uids", "No two accounts share a UID", "Medium", ["ia-2", "ac-2"],
         "Shared UIDs make actions unattributable.", "Give every account its own UID.", "uniqueUids")
accounts("linux.accounts.unique-names", "No two accounts share a name", "Medium", ["ia-2", "ac-2"],
         "Duplicate names confuse which account is which.", "Rename or remove duplicate accounts in /etc/passwd.", "uniqueNames")
accounts("linux.accounts.unique-gids", "No two groups share a GID", "Low", ["ac-2"],
         "Shared GIDs grant one group's access to another.", "Give every group its own GID in /etc/group.", "uniqueGids")
accounts("linux.accounts.no-legacy-plus", "No legacy NIS '+' entries", "High", ["ac-2", "cm-7"],
         "'+' lines can pull unexpected accounts in from NIS.", "Remove lines starting with '+' from /etc/passwd, /etc/shadow and /etc/group.", "noLegacyPlusEntries")
accounts("linux.accounts.groups-exist", "Every account's primary group exists", "Low", ["ac-2"],
         "A missing group can later be created by someone else and inherit the files.", "Create the missing groups or fix the GIDs in /etc/passwd.", "groupsExist")
accounts("linux.accounts.root-gid", "root's primary group is GID 0", "Medium", ["ac-6"],
         "Files root creates should not belong to an ordinary group.", "Run `usermod -g 0 root`.", "rootGid0")

# --- Sensitive file permissions ---------------------------------------------------------------
def mode(id, path, max_mode, gid, sev, controls, rationale, missing="fail"):
    check(id, "%s is owned by root with mode %s or stricter" % (path, max_mode), sev, controls, rationale,
          "Run `chown root:%s %s && chmod %s %s`." % ("root" if gid == 0 else str(gid), path, max_mode, path),
          {"kind": "fileMode", "path": path, "maxMode": max_mode, "uid": 0, "gid": gid, "missing": missing},
          "chown 0:%d %s && chmod %s %s" % (gid, path, max_mode, path))

mode("linux.files.passwd", "/etc/passwd", "0644", 0, "Medium", ["ac-3", "ac-6"], "Anyone who can write /etc/passwd can make themselves root.")
mode("linux.files.group", "/etc/group", "0644", 0, "Medium", ["ac-3", "ac-6"], "Anyone who can write /etc/group can join any group.")
mode("linux.files.shadow", "/etc/shadow", "0640", 42, "High", ["ac-3", "ia-5"], "Password hashes must not be readable by ordinary users.")
mode("linux.files.gshadow", "/etc/gshadow", "0640", 42, "Medium", ["ac-3", "ia-5"], "Group password hashes must not be readable by ordinary users.", "pass")
mode("linux.files.crontab", "/etc/crontab", "0600", 0, "Medium", ["ac-3", "cm-5"], "Whoever can read or write the system crontab can schedule commands as root.", "notApplicable")
mode("linux.files.sudoers", "/etc/sudoers", "0440", 0, "High", ["ac-6", "cm-5"], "sudoers decides who becomes root.", "notApplicable")
check("linux.files.grub-cfg", "The boot loader configuration is readable by root only", "Medium", ["ac-3", "cm-6"],
      "grub.cfg reveals the boot password hash and kernel options.", "Run `chmod 0400 /boot/grub/grub.cfg`.",
      {"kind": "fileMode", "path": "/boot/grub/grub.cfg", "maxMode": "0600", "uid": 0, "gid": 0, "missing": "notApplicable"},
      "chown root:root /boot/grub/grub.cfg && chmod 0400 /boot/grub/grub.cfg")
check("linux.files.world-writable", "No world-writable files in system directories", "High", ["ac-3", "cm-5", "si-7"],
      "A world-writable binary or configuration file lets any user plant code that root will run.",
      "Remove the world-write bit (`chmod o-w FILE`) from every file listed.",
      {"kind": "worldWritable", "dirs": ["/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/local/bin", "/usr/local/sbin", "/etc", "/boot"]})

# --- Kernel hardening (sysctl) ---------------------------------------------------------------
def sysctl(id, title, sev, controls, rationale, key, value, default=None, expect=None):
    check(id, title, sev, controls, rationale,
          "Set `%s = %s` in /etc/sysctl.d/60-tater.conf and run `sysctl --system`." % (key, value),
          {"kind": "sysctl", "key": key, "expect": expect or {"oneOf": [value]}, **({"default": default} if default is not None else {})},
          "echo '%s = %s' >> /etc/sysctl.d/60-tater.conf && sysctl -w %s=%s" % (key, value, key, value))

sysctl("linux.sysctl.aslr", "Address space layout randomisation is full (2)", "Medium", ["si-16"],
       "ASLR makes memory corruption exploits unreliable.", "kernel.randomize_va_space", "2", "2")
sysctl("linux.sysctl.kptr-restrict", "Kernel pointers are hidden from users", "Low", ["si-16", "sc-4"],
       "Leaked kernel addresses defeat KASLR.", "kernel.kptr_restrict", "2", "0", {"min": 1})
sysctl("linux.sysctl.dmesg-restrict", "Only root can read the kernel log", "Low", ["sc-4", "si-11"],
       "The kernel log leaks addresses and hardware details useful to attackers.", "kernel.dmesg_restrict", "1", "0")
sysctl("linux.sysctl.ptrace-scope", "ptrace is limited to descendants (Yama)", "Medium", ["ac-6", "sc-4"],
       "Unrestricted ptrace lets any process read another's memory, including credentials.", "kernel.yama.ptrace_scope", "1", "0", {"min": 1})
sysctl("linux.sysctl.suid-dumpable", "Set-user-ID programs do not dump core", "Medium", ["sc-4", "si-11"],
       "Core dumps of privileged programs can expose secrets.", "fs.suid_dumpable", "0", "0")
sysctl("linux.sysctl.protected-symlinks", "Symlinks in sticky directories are protected", "Medium", ["ac-3"],
       "Protected symlinks stop /tmp race attacks.", "fs.protected_symlinks", "1", "0")
sysctl("linux.sysctl.protected-hardlinks", "Hard links to others' files are restricted", "Medium", ["ac-3"],
       "Protected hard links stop privilege escalation through linked setuid files.", "fs.protected_hardlinks", "1", "0")
sysctl("linux.sysctl.ip-forward", "The host does not route IPv4 packets", "Medium", ["sc-7", "cm-7"],
       "A host that forwards packets can bridge networks that should stay apart.", "net.ipv4.ip_forward", "0", "0")
sysctl("linux.sysctl.send-redirects", "The host does not send ICMP redirects", "Low", ["sc-7", "cm-7"],
       "Only routers should send redirects.", "net.ipv4.conf.all.send_redirects", "0", "1")
sysctl("linux.sysctl.accept-redirects", "The host ignores ICMP redirects", "Medium", ["sc-7", "si-4"],
       "Accepting redirects lets an attacker reroute traffic through themselves.", "net.ipv4.conf.all.accept_redirects", "0", "1")
sysctl("linux.sysctl.accept-source-route", "Source-routed packets are refused", "Medium", ["sc-7"],
       "Source routing lets a sender choose the path and slip past filters.", "net.ipv4.conf.all.accept_source_route", "0", "0")
sysctl("linux.sysctl.rp-filter", "Reverse-path filtering is on", "Medium", ["sc-7", "sc-5"],
       "Reverse-path filtering drops spoofed source addresses.", "net.ipv4.conf.all.rp_filter", "1", "0", {"min": 1})
sysctl("linux.sysctl.syncookies", "TCP SYN cookies are on", "Medium", ["sc-5"],
       "SYN cookies keep the host reachable during a SYN flood.", "net.ipv4.tcp_syncookies", "1", "1")
sysctl("linux.sysctl.log-martians", "Packets with impossible addresses are logged", "Low", ["au-2", "si-4"],
       "Martian packets signal spoofing or misrouting worth seeing.", "net.ipv4.conf.all.log_martians", "1", "0")
sysctl("linux.sysctl.ipv6-accept-ra", "IPv6 router advertisements are ignored", "Low", ["sc-7", "cm-7"],
       "Rogue router advertisements can reconfigure the host's routes.", "net.ipv6.conf.all.accept_ra", "0", "1")
sysctl("linux.sysctl.unprivileged-bpf", "Unprivileged users cannot load BPF programs", "Medium", ["ac-6", "si-16"],
       "Unprivileged BPF has been a steady source of kernel exploits.", "kernel.unprivileged_bpf_disabled", "1", "0", {"min": 1})

# --- Core dumps ------------------------------------------------------------------------------
check("linux.coredump.limits", "Core dumps are disabled for all users", "Low", ["sc-4", "cm-6"],
      "Core dumps write process memory, including secrets, to disk.",
      "Add `* hard core 0` to /etc/security/limits.conf (or a file in limits.d).",
      {"kind": "fileMatch", "paths": ["/etc/security/limits.conf", "/etc/security/limits.d/*.conf"],
       "pattern": "^\\s*\\*\\s+hard\\s+core\\s+0\\s*$", "present": True},
      "echo '* hard core 0' > /etc/security/limits.d/60-tater-core.conf")
check("linux.coredump.systemd", "systemd-coredump does not store dumps", "Low", ["sc-4"],
      "systemd-coredump keeps dumps of crashed programs on disk unless told not to.",
      "Set `Storage=none` and `ProcessSizeMax=0` in /etc/systemd/coredump.conf.",
      {"kind": "any", "rules": [
          {"kind": "package", "names": ["systemd-coredump"], "installed": False},
          {"kind": "keyValue", "paths": ["/etc/systemd/coredump.conf", "/etc/systemd/coredump.conf.d/*.conf"], "key": "Storage", "equals": True, "expect": {"oneOf": ["none"]}}]})

# --- Mount options ---------------------------------------------------------------------------
def mount(path, opt, sev, missing="fail"):
    check("linux.mounts.%s-%s" % (path.strip("/").replace("/", "-"), opt), "%s is mounted %s" % (path, opt), sev, ["cm-6", "cm-7", "ac-3"],
          {"noexec": "Programs should never run from a world-writable directory.",
           "nosuid": "Set-user-ID files in a world-writable directory are an escalation path.",
           "nodev": "Device files have no business in a world-writable directory."}[opt],
          "Mount %s as its own filesystem with `%s` in /etc/fstab (for /tmp, tmp.mount works too)." % (path, opt),
          {"kind": "mount", "path": path, "options": [opt], "missing": missing})

mount("/tmp", "noexec", "Low")
checks[-1]["id"] = "linux.mounts.tmp-noexec"
mount("/tmp", "nosuid", "Low")
mount("/tmp", "nodev", "Low")
mount("/dev/shm", "noexec", "Low")
mount("/dev/shm", "nosuid", "Low")
mount("/dev/shm", "nodev", "Low")
mount("/var/tmp", "noexec", "Low", "notApplicable")
mount("/var/tmp", "nosuid", "Low", "notApplicable")

# --- Services: audit, time, firewall, updates, legacy services --------------------------------
check("linux.auditd.active", "The audit daemon is installed and enabled", "High", ["au-2", "au-12"],
      "Without auditd, security-relevant events leave no trace.",
      "Install auditd and run `systemctl enable --now auditd`.",
      {"kind": "all", "rules": [{"kind": "package", "names": ["auditd", "audit"], "installed": True},
                                {"kind": "service", "units": ["auditd.service"], "enabled": True}]},
      "apt-get install -y auditd && systemctl enable --now auditd")
def audit_rule(id, title, sev, controls, rationale, pattern, rule_text):
    check(id, title, sev, controls, rationale, "Add `%s` to a file in /etc/audit/rules.d/ and run `augenrules --load`." % rule_text,
          {"kind": "fileMatch", "paths": ["/etc/audit/rules.d/*.rules", "/etc/audit/audit.rules"], "pattern": pattern, "present": True},
          "echo '%s' >> /etc/audit/rules.d/60-tater.rules && augenrules --load" % rule_text)
audit_rule("linux.auditd.identity", "Changes to accounts and groups are audited", "Medium", ["au-2", "au-12", "ac-2.4"],
           "Account changes are the first thing an intruder makes and the first an investigator looks for.",
           "^\\s*-w\\s+/etc/passwd\\s+-p\\s+\\S*w\\S*a?", "-w /etc/passwd -p wa -k identity")
audit_rule("linux.auditd.sudoers", "Changes to sudoers are audited", "Medium", ["au-2", "au-12", "ac-6.9"],
           "sudoers decides who becomes root; every change must be recorded.",
           "^\\s*-w\\s+/etc/sudoers\\s+-p\\s+\\S*w", "-w /etc/sudoers -p wa -k scope")
audit_rule("linux.auditd.time-change", "Changes to the system clock are audited", "Low", ["au-2", "au-8"],
           "Moving the clock is how logs are made to lie.",
           "^\\s*-a\\s+always,exit\\s+[^\\n]*-S\\s+[^\\n]*(adjtimex|settimeofday|clock_settime)", "-a always,exit -F arch=b64 -S adjtimex,settimeofday,clock_settime -k time-change")
audit_rule("linux.auditd.immutable", "Audit rules are locked until reboot", "Low", ["au-9"],
           "`-e 2` stops an intruder from switching auditing off without rebooting.",
           "^\\s*-e\\s+2\\s*$", "-e 2")
check("linux.time.sync", "Time synchronisation is enabled", "Medium", ["au-8"],
      "Audit records are only evidence if their timestamps can be trusted.",
      "Enable chrony or systemd-timesyncd (`systemctl enable --now chrony`).",
      {"kind": "service", "units": ["chrony.service", "chronyd.service", "systemd-timesyncd.service", "ntp.service", "ntpsec.service"], "enabled": True},
      "apt-get install -y chrony && systemctl enable --now chrony")
check("linux.firewall.active", "A host firewall is enabled", "High", ["sc-7", "cm-7"],
      "A host firewall limits exposure when a service listens by mistake.",
      "Enable nftables, ufw or firewalld with a default-deny inbound policy.",
      {"kind": "any", "rules": [
          {"kind": "service", "units": ["nftables.service", "firewalld.service"], "enabled": True},
          {"kind": "all", "rules": [{"kind": "service", "units": ["ufw.service"], "enabled": True},
                                    {"kind": "keyValue", "paths": ["/etc/ufw/ufw.conf"], "key": "ENABLED", "equals": True, "expect": {"oneOf": ["yes"]}}]}]},
      "apt-get install -y ufw && ufw default deny incoming && ufw allow OpenSSH && ufw --force enable")
check("linux.updates.unattended", "Security updates install automatically", "Medium", ["si-2", "si-2.2"],
      "Unpatched known vulnerabilities are the most common way in.",
      "Install unattended-upgrades (or dnf-automatic) and enable its timer.",
      {"kind": "any", "rules": [
          {"kind": "all", "rules": [{"kind": "package", "names": ["unattended-upgrades"], "installed": True},
                                    {"kind": "fileMatch", "paths": ["/etc/apt/apt.conf.d/*"], "pattern": "APT::Periodic::Unattended-Upgrade\\s+\"1\"", "present": True}]},
          {"kind": "service", "units": ["dnf-automatic.timer", "dnf-automatic-install.timer"], "enabled": True}]},
      "apt-get install -y unattended-upgrades && echo 'APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";' > /etc/apt/apt.conf.d/20auto-upgrades")
def absent(id, names, title, sev, controls, rationale):
    check(id, title, sev, controls, rationale, "Remove it: `apt-get purge %s`." % " ".join(names),
          {"kind": "package", "names": names, "installed": False}, "apt-get purge -y %s" % " ".join(names))
absent("linux.packages.telnetd", ["telnetd", "inetutils-telnetd", "telnet-server"], "No telnet server is installed", "High", ["cm-7", "sc-8", "ia-2"],
       "Telnet sends passwords in clear text.")
absent("linux.packages.rsh-server", ["rsh-server", "rsh-redone-server"], "No rsh/rlogin server is installed", "High", ["cm-7", "ia-2"],
       "The r-services trust host names and send credentials in clear text.")
absent("linux.packages.nis", ["nis", "ypserv"], "NIS is not installed", "Medium", ["cm-7", "ia-2"],
       "NIS distributes password hashes to anyone who asks.")
absent("linux.packages.tftpd", ["tftpd", "tftpd-hpa", "atftpd", "tftp-server"], "No TFTP server is installed", "Medium", ["cm-7"],
       "TFTP has no authentication at all.")
absent("linux.packages.xinetd", ["xinetd", "openbsd-inetd", "inetutils-inetd"], "No inetd super-server is installed", "Low", ["cm-7"],
       "inetd starts legacy network services on demand, unseen by the usual service inventory.")
absent("linux.packages.prelink", ["prelink"], "prelink is not installed", "Low", ["si-7"],
       "prelink rewrites binaries, which defeats file integrity checking.")
check("linux.services.avahi", "The mDNS responder is not enabled", "Low", ["cm-7"],
      "Avahi advertises the host and its services on the local network.",
      "Run `systemctl disable --now avahi-daemon.service avahi-daemon.socket`.",
      {"kind": "service", "units": ["avahi-daemon.service", "avahi-daemon.socket"], "enabled": False},
      "systemctl disable --now avahi-daemon.service avahi-daemon.socket")

# --- Disk encryption and boot loader -----------------------------------------------------------
check("linux.disk.encryption", "Disks are encrypted (dm-crypt/LUKS)", "High", ["sc-28", "sc-28.1"],
      "A lost or stolen disk is a data breach unless it is encrypted.",
      "Encrypt the data volumes with LUKS; they then appear in /etc/crypttab.",
      {"kind": "fileMatch", "paths": ["/etc/crypttab"], "pattern": "^\\s*[^#\\s]+\\s+\\S+", "present": True})
check("linux.boot.grub-password", "The boot loader is password protected", "Medium", ["ac-3", "cm-6"],
      "Without a boot password, anyone at the console can boot into single-user mode as root.",
      "Set a superuser and `password_pbkdf2` (from grub-mkpasswd-pbkdf2) in /etc/grub.d/40_custom and run update-grub.",
      {"kind": "fileMatch", "paths": ["/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", "/etc/grub.d/40_custom", "/etc/grub.d/01_users"],
       "pattern": "^\\s*password_pbkdf2\\s+\\S+\\s+grub\\.pbkdf2\\.", "present": True, "missing": "notApplicable"})

def main():
    ids = [c["id"] for c in checks]
    assert len(ids) == len(set(ids)), "duplicate ids"
    out = os.path.join(os.path.dirname(__file__), "..", "data", "linux.json")
    with open(out, "w") as f:
        json.dump({"version": 1, "checks": checks}, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(len(checks), "checks written")

main()
