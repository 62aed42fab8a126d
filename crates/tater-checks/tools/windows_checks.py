#!/usr/bin/env python3
"""Writes data/windows.json: the built-in Windows checks. Edit here, run, commit both.

Registry checks read the running registry or, offline, a mounted volume's hive files; the
security policy (secedit), audit policy (auditpol) and BitLocker (manage-bde) checks need the
running system and are "not applicable" offline. Remediation scripts are PowerShell, given only
where a change is safe to make unattended."""
import json, os

checks = []
HKLM = "HKLM\\"

def check(id, title, severity, controls, rationale, remediation, rule, script=None):
    c = {"id": id, "title": title, "severity": severity, "rationale": rationale,
         "remediation": remediation, "controls": controls, "platforms": ["windows"], "rule": rule}
    if script:
        c["remediationScript"] = script
    checks.append(c)

def reg_rule(key, value, expect, default=None, missing=None):
    r = {"kind": "registry", "key": HKLM + key, "value": value, "expect": expect}
    if default is not None:
        r["default"] = default
    if missing:
        r["missing"] = missing
    return r

def set_dword(key, value, data):
    ps = "HKLM:\\" + key
    return ("New-Item -Path '%s' -Force | Out-Null; "
            "Set-ItemProperty -Path '%s' -Name '%s' -Value %d -Type DWord") % (ps, ps, value, data)

def dword(id, title, sev, controls, rationale, key, value, want, default=None, expect=None):
    """A DWORD that must equal `want` (or satisfy `expect`); fixed by setting `want`."""
    check(id, title, sev, controls, rationale,
          "Set the DWORD %s\\%s\\%s to %d (Group Policy or the registry)." % ("HKLM", key, value, want),
          reg_rule(key, value, expect or {"oneOf": [str(want)]}, default),
          set_dword(key, value, want))

def service_off(id, name, title, sev, rationale):
    key = "SYSTEM\\CurrentControlSet\\Services\\" + name
    check(id, title, sev, ["cm-7"], rationale,
          "Disable the %s service (startup type Disabled), or remove the feature that installs it." % name,
          reg_rule(key, "Start", {"oneOf": ["4"]}, missing="pass"),
          "Stop-Service -Name '%s' -Force -ErrorAction SilentlyContinue; Set-Service -Name '%s' -StartupType Disabled" % (name, name))

# --- SMB, name resolution, remote access -------------------------------------------------
LANMAN_SERVER = "SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters"
LANMAN_WKS = "SYSTEM\\CurrentControlSet\\Services\\LanmanWorkstation\\Parameters"
dword("win.smb.v1-server-off", "The SMBv1 server is disabled", "High", ["cm-7", "sc-8"],
      "SMBv1 has no encryption or pre-authentication integrity and carried EternalBlue and WannaCry.",
      LANMAN_SERVER, "SMB1", 0)
check("win.smb.v1-client-off", "The SMBv1 client driver is disabled", "High", ["cm-7", "sc-8"],
      "A client that still speaks SMBv1 can be downgraded by a hostile server.",
      "Disable the mrxsmb10 driver (Start = 4) or remove the SMB 1.0/CIFS Client feature.",
      reg_rule("SYSTEM\\CurrentControlSet\\Services\\mrxsmb10", "Start", {"oneOf": ["4"]}, missing="pass"),
      set_dword("SYSTEM\\CurrentControlSet\\Services\\mrxsmb10", "Start", 4))
dword("win.smb.server-signing", "The SMB server requires signing", "Medium", ["sc-8", "sc-8.1"],
      "Unsigned SMB sessions can be relayed and tampered with in transit.",
      LANMAN_SERVER, "RequireSecuritySignature", 1, default="0")
dword("win.smb.client-signing", "The SMB client requires signing", "Medium", ["sc-8", "sc-8.1"],
      "A client that accepts unsigned sessions can be relayed to other servers.",
      LANMAN_WKS, "RequireSecuritySignature", 1, default="0")
dword("win.smb.null-session-shares", "Anonymous access to shares and named pipes is restricted", "High", ["ac-3", "ac-14"],
      "Null sessions let anyone on the network enumerate and reach shares without credentials.",
      LANMAN_SERVER, "RestrictNullSessAccess", 1, default="1")
dword("win.llmnr.off", "LLMNR (multicast name resolution) is off", "Medium", ["cm-7", "sc-7"],
      "LLMNR answers can be spoofed by anyone on the segment to capture credentials (Responder).",
      "SOFTWARE\\Policies\\Microsoft\\Windows NT\\DNSClient", "EnableMulticast", 0)
check("win.netbios.off", "NetBIOS over TCP/IP is off on every interface", "Medium", ["cm-7", "sc-7"],
      "NBT-NS answers can be spoofed like LLMNR's, and NetBIOS leaks host and user names.",
      "Set NetbiosOptions = 2 on every interface (adapter settings, WINS tab: Disable NetBIOS over TCP/IP).",
      reg_rule("SYSTEM\\CurrentControlSet\\Services\\NetBT\\Parameters\\Interfaces\\*", "NetbiosOptions", {"oneOf": ["2"]}, missing="notApplicable"),
      "Get-ChildItem 'HKLM:\\SYSTEM\\CurrentControlSet\\Services\\NetBT\\Parameters\\Interfaces' | ForEach-Object { Set-ItemProperty -Path $_.PSPath -Name NetbiosOptions -Value 2 -Type DWord }")
TS_POLICY = "SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services"
dword("win.rdp.nla", "Remote Desktop requires Network Level Authentication", "High", ["ac-17", "ia-2"],
      "Without NLA, the logon screen (and its pre-authentication attack surface) is offered to anyone.",
      "SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp", "UserAuthentication", 1, default="1")
dword("win.rdp.encryption-level", "Remote Desktop uses high encryption", "Medium", ["ac-17.2", "sc-8"],
      "Lower RDP encryption levels can be downgraded or broken.",
      TS_POLICY, "MinEncryptionLevel", 3)
dword("win.rdp.no-password-saving", "Remote Desktop clients cannot save passwords", "Medium", ["ia-5"],
      "Saved RDP passwords are a credential store an attacker on the client can take.",
      TS_POLICY, "DisablePasswordSaving", 1)
WINRM = "SOFTWARE\\Policies\\Microsoft\\Windows\\WinRM\\Service"
dword("win.winrm.basic-off", "WinRM does not accept Basic authentication", "High", ["ac-17", "ia-2"],
      "Basic authentication sends reusable credentials with every request.",
      WINRM, "AllowBasic", 0, default="0")
dword("win.winrm.unencrypted-off", "WinRM refuses unencrypted traffic", "High", ["ac-17.2", "sc-8"],
      "Unencrypted remote management exposes commands and their output on the wire.",
      WINRM, "AllowUnencryptedTraffic", 0, default="0")

# --- Accounts, credentials, UAC, logon ----------------------------------------------------
SYS_POLICY = "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"
LSA = "SYSTEM\\CurrentControlSet\\Control\\Lsa"
dword("win.uac.enabled", "User Account Control is on", "High", ["ac-6", "ac-6.2"],
      "Without UAC every administrator process runs with full rights, and so does malware it starts.",
      SYS_POLICY, "EnableLUA", 1, default="1")
check("win.uac.admin-prompt", "UAC asks administrators for consent or credentials", "Medium", ["ac-6", "ac-6.9"],
      "Elevating without a prompt lets any program take administrator rights silently.",
      "Set ConsentPromptBehaviorAdmin to 2 (consent on the secure desktop) or 1 (credentials).",
      reg_rule(SYS_POLICY, "ConsentPromptBehaviorAdmin", {"oneOf": ["1", "2"]}, default="5"),
      set_dword(SYS_POLICY, "ConsentPromptBehaviorAdmin", 2))
dword("win.uac.secure-desktop", "UAC prompts on the secure desktop", "Medium", ["ac-6"],
      "Prompts on the normal desktop can be driven by other programs.",
      SYS_POLICY, "PromptOnSecureDesktop", 1, default="1")
dword("win.uac.builtin-admin-approval", "The built-in Administrator runs in Admin Approval Mode", "Medium", ["ac-6", "ac-6.2"],
      "Otherwise the built-in Administrator bypasses UAC entirely.",
      SYS_POLICY, "FilterAdministratorToken", 1, default="0")
check("win.screen-lock.inactivity", "The screen locks after at most 15 minutes of inactivity", "Medium", ["ac-11", "ac-11.1"],
      "An unattended unlocked session is open to anyone who walks by.",
      "Set 'Interactive logon: Machine inactivity limit' (InactivityTimeoutSecs) to 900 or less.",
      reg_rule(SYS_POLICY, "InactivityTimeoutSecs", {"min": 1, "max": 900}),
      set_dword(SYS_POLICY, "InactivityTimeoutSecs", 900))
check("win.logon.legal-notice", "A logon banner is shown", "Low", ["ac-8"],
      "A system use notice is required before access, and it supports prosecution of misuse.",
      "Set 'Interactive logon: Message text for users attempting to log on' (LegalNoticeText).",
      reg_rule(SYS_POLICY, "LegalNoticeText", {"noneOf": [""]}))
dword("win.logon.hide-last-user", "The logon screen does not show the last user name", "Low", ["ia-6"],
      "Showing the last user hands an attacker half of a credential.",
      SYS_POLICY, "DontDisplayLastUserName", 1, default="0")
dword("win.lsa.restrict-anonymous", "Anonymous enumeration of shares is restricted", "Medium", ["ac-3", "ac-14"],
      "Anonymous enumeration maps the machine's shares and accounts for an attacker.",
      LSA, "RestrictAnonymous", 1, default="0")
dword("win.lsa.restrict-anonymous-sam", "Anonymous enumeration of accounts is restricted", "Medium", ["ac-3", "ac-14"],
      "Anonymous SAM enumeration lists every account name to guess passwords for.",
      LSA, "RestrictAnonymousSAM", 1, default="1")
dword("win.lsa.ntlmv2-only", "Only NTLMv2 is sent; LM and NTLM are refused", "High", ["ia-2", "sc-8"],
      "LM and NTLMv1 responses can be cracked or relayed with little effort.",
      LSA, "LmCompatibilityLevel", 5, default="3")
dword("win.lsa.no-lm-hash", "LAN Manager hashes are not stored", "High", ["ia-5"],
      "LM hashes are trivially cracked.",
      LSA, "NoLMHash", 1, default="1")
check("win.lsa.protection", "LSA runs as a protected process", "Medium", ["ac-3", "sc-39"],
      "A protected LSA keeps credential-dumping tools from reading its memory.",
      "Set RunAsPPL to 1 (or 2) under HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa and restart.",
      reg_rule(LSA, "RunAsPPL", {"oneOf": ["1", "2"]}, default="0"),
      set_dword(LSA, "RunAsPPL", 1))
dword("win.wdigest.off", "WDigest does not keep clear-text credentials", "High", ["ia-5", "sc-28"],
      "With UseLogonCredential on, LSASS holds passwords in clear text for any dumper to read.",
      "SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\WDigest", "UseLogonCredential", 0, default="0")
check("win.laps", "Local administrator passwords are managed by LAPS", "Medium", ["ia-5", "ac-2"],
      "One local administrator password shared by every machine turns one compromise into all.",
      "Enable Windows LAPS (BackupDirectory 1 or 2) or legacy LAPS (AdmPwdEnabled 1) by Group Policy.",
      {"kind": "any", "rules": [
          reg_rule("SOFTWARE\\Microsoft\\Policies\\LAPS", "BackupDirectory", {"oneOf": ["1", "2"]}),
          reg_rule("SOFTWARE\\Policies\\Microsoft\\Windows\\LAPS", "BackupDirectory", {"oneOf": ["1", "2"]}),
          reg_rule("SOFTWARE\\Policies\\Microsoft Services\\AdmPwd", "AdmPwdEnabled", {"oneOf": ["1"]}),
      ]})

# --- Removable media, TLS, logging ----------------------------------------------------------
dword("win.autorun.off", "AutoRun is off for every drive type", "Medium", ["cm-7", "mp-7"],
      "AutoRun starts programs from inserted media without asking.",
      "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\Explorer", "NoDriveTypeAutoRun", 255)
dword("win.autoplay.non-volume-off", "AutoPlay is off for non-volume devices", "Low", ["cm-7", "mp-7"],
      "Phones and cameras can trigger AutoPlay handlers too.",
      "SOFTWARE\\Policies\\Microsoft\\Windows\\Explorer", "NoAutoplayfornonVolume", 1)
SCHANNEL = "SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\"
for proto, slug, sev in [("SSL 3.0", "ssl3", "High"), ("TLS 1.0", "tls1.0", "Medium"), ("TLS 1.1", "tls1.1", "Medium")]:
    for side in ["Server", "Client"]:
        dword("win.schannel.%s-%s-off" % (slug, side.lower()), "%s is disabled for the SChannel %s" % (proto, side.lower()),
              sev, ["sc-8", "sc-13"],
              "%s has known weaknesses (POODLE, BEAST, weak hashes) and no modern cipher suites." % proto,
              SCHANNEL + proto + "\\" + side, "Enabled", 0)
dword("win.powershell.script-block-logging", "PowerShell script block logging is on", "Medium", ["au-2", "au-12"],
      "Script block logs show what PowerShell actually ran, deobfuscated: the main trail of hands-on attacks.",
      "SOFTWARE\\Policies\\Microsoft\\Windows\\PowerShell\\ScriptBlockLogging", "EnableScriptBlockLogging", 1)
dword("win.powershell.transcription", "PowerShell transcription is on", "Low", ["au-2", "au-12"],
      "Transcripts record each PowerShell session's input and output.",
      "SOFTWARE\\Policies\\Microsoft\\Windows\\PowerShell\\Transcription", "EnableTranscripting", 1)
check("win.eventlog.security-size", "The Security event log holds at least 192 MB", "Low", ["au-4"],
      "A small Security log overwrites the evidence of an intrusion within hours.",
      "Set the Security log's maximum size (MaxSize, in KB) to 196608 or more.",
      reg_rule("SOFTWARE\\Policies\\Microsoft\\Windows\\EventLog\\Security", "MaxSize", {"min": 196608}, default="20480"),
      set_dword("SOFTWARE\\Policies\\Microsoft\\Windows\\EventLog\\Security", "MaxSize", 196608))

# --- Patching, malware protection, firewall --------------------------------------------------
check("win.update.service", "The Windows Update service is not disabled", "High", ["si-2"],
      "A disabled update service leaves every later vulnerability unpatched.",
      "Set the wuauserv service's startup type to Manual or Automatic.",
      reg_rule("SYSTEM\\CurrentControlSet\\Services\\wuauserv", "Start", {"noneOf": ["4"]}),
      "Set-Service -Name wuauserv -StartupType Manual")
check("win.update.automatic", "Automatic updates are not turned off by policy", "High", ["si-2"],
      "NoAutoUpdate = 1 stops the machine from installing security updates by itself.",
      "Remove NoAutoUpdate or set it to 0 under HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU.",
      reg_rule("SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU", "NoAutoUpdate", {"noneOf": ["1"]}, default="0"),
      set_dword("SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU", "NoAutoUpdate", 0))
DEFENDER = "SOFTWARE\\Policies\\Microsoft\\Windows Defender"
check("win.defender.realtime", "Microsoft Defender real-time protection is not turned off", "High", ["si-3"],
      "Without real-time protection, malware runs before any scheduled scan sees it.",
      "Remove DisableRealtimeMonitoring and DisableAntiSpyware (or set them to 0) in Defender's policy keys.",
      {"kind": "all", "rules": [
          reg_rule(DEFENDER + "\\Real-Time Protection", "DisableRealtimeMonitoring", {"noneOf": ["1"]}, default="0"),
          reg_rule(DEFENDER, "DisableAntiSpyware", {"noneOf": ["1"]}, default="0"),
      ]},
      "Set-MpPreference -DisableRealtimeMonitoring $false")
check("win.defender.service", "The Microsoft Defender service starts automatically", "High", ["si-3"],
      "A Defender service that does not start protects nothing.",
      "Set the WinDefend service's startup type to Automatic (Start = 2).",
      reg_rule("SYSTEM\\CurrentControlSet\\Services\\WinDefend", "Start", {"oneOf": ["2"]}))
FW_POLICY = "SOFTWARE\\Policies\\Microsoft\\WindowsFirewall\\"
FW_LOCAL = "SYSTEM\\CurrentControlSet\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\"
def firewall(profile, local, value, want, default, title, sev, rationale):
    # Group Policy decides when it sets the value; otherwise the local setting (or Windows's default).
    check("win.firewall.%s-%s" % (profile.lower(), "on" if value == "EnableFirewall" else "inbound-block"),
          title, sev, ["sc-7", "sc-7.5"], rationale,
          "Set %s to %d for the %s profile (Group Policy, or `Set-NetFirewallProfile`)." % (value, want, profile),
          {"kind": "any", "rules": [
              reg_rule(FW_POLICY + profile + "Profile", value, {"oneOf": [str(want)]}),
              {"kind": "all", "rules": [
                  reg_rule(FW_POLICY + profile + "Profile", value, {"oneOf": [str(want)]}, missing="pass"),
                  reg_rule(FW_LOCAL + local + "Profile", value, {"oneOf": [str(want)]}, default=default),
              ]},
          ]},
          "Set-NetFirewallProfile -Profile %s %s" % (profile, "-Enabled True" if value == "EnableFirewall" else "-DefaultInboundAction Block"))
for profile, local in [("Domain", "Domain"), ("Private", "Standard"), ("Public", "Public")]:
    firewall(profile, local, "EnableFirewall", 1, "1", "The firewall is on for the %s profile" % profile, "High",
             "A host firewall is the last filter between the network and every listening service.")
firewall("Public", "Public", "DefaultInboundAction", 1, "1", "The Public profile blocks unsolicited inbound connections",
         "Medium", "On untrusted networks nothing should reach the machine unless a rule allows it.")

# --- Services that should not run --------------------------------------------------------------
service_off("win.services.remote-registry", "RemoteRegistry", "The Remote Registry service is disabled", "Medium",
            "Remote Registry lets other machines read and change this one's registry.")
service_off("win.services.telnet", "TlntSvr", "The Telnet server is not enabled", "High",
            "Telnet sends credentials and sessions in clear text.")
service_off("win.services.ftp", "FTPSVC", "The IIS FTP server is not enabled", "Medium",
            "FTP sends credentials in clear text and is rarely needed on an endpoint.")
service_off("win.services.snmp", "SNMP", "The SNMP service is not enabled", "Medium",
            "SNMP v1/v2c community strings are clear-text passwords and leak configuration.")
service_off("win.services.ssdp", "SSDPSRV", "SSDP discovery is disabled", "Low",
            "SSDP advertises the machine and its devices on the local network.")
service_off("win.services.upnp", "upnphost", "The UPnP device host is disabled", "Low",
            "UPnP lets devices and programs open ports and announce services without review.")

# --- Disk encryption --------------------------------------------------------------------------
check("win.bitlocker.os-volume", "BitLocker protects the system volume", "High", ["sc-28", "sc-28.1"],
      "A lost or stolen laptop is a data breach unless its disk is encrypted.",
      "Turn on BitLocker for C: (manage-bde -on C: with a TPM protector), escrowing the recovery key.",
      {"kind": "bitLocker", "volume": "C:"})

# --- Local security policy (secedit) -------------------------------------------------------------
def policy(id, title, sev, controls, rationale, key, expect, fix, default=None, script=None, section="System Access"):
    rule = {"kind": "securityPolicy", "section": section, "key": key, "expect": expect}
    if default is not None:
        rule["default"] = default
    check(id, title, sev, controls, rationale, fix, rule, script)
policy("win.password.min-length", "Passwords have at least 14 characters", "High", ["ia-5", "ia-5.1"],
       "Short passwords fall to guessing and cracking.", "MinimumPasswordLength", {"min": 14},
       "Set 'Minimum password length' to 14 or more.", script="net accounts /minpwlen:14")
policy("win.password.history", "The last 24 passwords cannot be reused", "Medium", ["ia-5", "ia-5.1"],
       "Without history, a forced change is undone by changing back.", "PasswordHistorySize", {"min": 24},
       "Set 'Enforce password history' to 24.", script="net accounts /uniquepw:24")
policy("win.password.max-age", "Passwords expire within a year", "Low", ["ia-5", "ia-5.1"],
       "A password that never expires keeps working for whoever learned it.", "MaximumPasswordAge", {"min": 1, "max": 365},
       "Set 'Maximum password age' to 365 days or less (not 0).", script="net accounts /maxpwage:365")
policy("win.password.min-age", "Passwords are kept at least a day", "Low", ["ia-5", "ia-5.1"],
       "A minimum age stops users from cycling through the history at once.", "MinimumPasswordAge", {"min": 1},
       "Set 'Minimum password age' to 1 day or more.", script="net accounts /minpwage:1")
policy("win.password.complexity", "Passwords must be complex", "Medium", ["ia-5", "ia-5.1"],
       "Complexity rules rule out the most-guessed passwords.", "PasswordComplexity", {"oneOf": ["1"]},
       "Enable 'Password must meet complexity requirements'.")
policy("win.password.no-reversible", "Passwords are not stored with reversible encryption", "High", ["ia-5", "sc-28"],
       "Reversible encryption is clear text for anyone who can read the account database.", "ClearTextPassword", {"oneOf": ["0"]},
       "Disable 'Store passwords using reversible encryption'.", default="0")
policy("win.lockout.threshold", "Accounts lock after at most 5 failed logons", "Medium", ["ac-7"],
       "Without a lockout threshold, passwords can be guessed without limit.", "LockoutBadCount", {"min": 1, "max": 5},
       "Set 'Account lockout threshold' to 5 or fewer (not 0).", script="net accounts /lockoutthreshold:5")
policy("win.lockout.duration", "Locked accounts stay locked at least 15 minutes", "Low", ["ac-7"],
       "A short lockout only slows guessing a little.", "LockoutDuration", {"min": 15},
       "Set 'Account lockout duration' to 15 minutes or more.", script="net accounts /lockoutduration:15")
policy("win.lockout.reset", "The failed-logon count resets after at least 15 minutes", "Low", ["ac-7"],
       "A quick reset lets guessing continue just under the threshold.", "ResetLockoutCount", {"min": 15},
       "Set 'Reset account lockout counter after' to 15 minutes or more.", script="net accounts /lockoutwindow:15")
policy("win.accounts.guest-disabled", "The Guest account is disabled", "High", ["ac-2", "ia-2"],
       "Guest gives unauthenticated people a session on the machine.", "EnableGuestAccount", {"oneOf": ["0"]},
       "Disable the Guest account.", default="0", script="net user Guest /active:no")
policy("win.accounts.anonymous-sid-lookup", "Anonymous SID/name translation is off", "Medium", ["ac-3", "ac-14"],
       "Anonymous SID lookups reveal the Administrator account whatever it was renamed to.", "LSAAnonymousNameLookup", {"oneOf": ["0"]},
       "Disable 'Network access: Allow anonymous SID/Name translation'.", default="0")

# --- Advanced audit policy (auditpol) --------------------------------------------------------------
def audit(subcategory, success, failure, sev="Medium", controls=("au-2", "au-12")):
    slug = subcategory.lower().replace(" ", "-").replace("/", "-")
    wanted = " and ".join([w for w, on in [("Success", success), ("Failure", failure)] if on])
    flags = "/success:%s /failure:%s" % ("enable" if success else "disable", "enable" if failure else "disable")
    check("win.audit.%s" % slug, "%s is audited (%s)" % (subcategory, wanted), sev, list(controls),
          "Without these events an investigation cannot reconstruct what happened (%s)." % subcategory,
          "Set the advanced audit policy subcategory '%s' to %s." % (subcategory, wanted),
          {"kind": "auditPolicy", "subcategory": subcategory, "success": success, "failure": failure},
          'auditpol /set /subcategory:"%s" %s' % (subcategory, flags))
audit("Credential Validation", True, True)
audit("Security Group Management", True, False, controls=("au-2", "au-12", "ac-2.4"))
audit("User Account Management", True, True, controls=("au-2", "au-12", "ac-2.4"))
audit("Process Creation", True, False)
audit("Logon", True, True)
audit("Logoff", True, False, "Low")
audit("Account Lockout", False, True)
audit("Special Logon", True, False)
audit("Audit Policy Change", True, False)
audit("Authentication Policy Change", True, False)
audit("Sensitive Privilege Use", True, True)
audit("Security System Extension", True, False)
audit("System Integrity", True, True)
audit("Removable Storage", True, True, "Low")

def main():
    ids = [c["id"] for c in checks]
    assert len(ids) == len(set(ids)), "duplicate ids"
    out = os.path.join(os.path.dirname(__file__), "..", "data", "windows.json")
    with open(out, "w") as f:
        json.dump({"version": 1, "checks": checks}, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(len(checks), "checks written")

main()
