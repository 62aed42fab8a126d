//! What the agent tells the server about the machine when enrolling.

use crate::root::Root;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub hostname: String,
    pub os: String,
    pub os_version: String,
    pub arch: String,
}

/// Reads host name and OS release under `root`.
pub fn gather(root: &Root) -> Facts {
    if root.platform() == "windows" {
        return windows(root);
    }
    let read = |p: &str| {
        root.read(p)
            .ok()
            .flatten()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let hostname = read("/proc/sys/kernel/hostname")
        .filter(|_| root.is_live())
        .or_else(|| read("/etc/hostname"))
        .unwrap_or_else(|| "localhost".into());
    let release = read("/etc/os-release")
        .or_else(|| read("/usr/lib/os-release"))
        .unwrap_or_default();
    let field = |k: &str| {
        release.lines().find_map(|l| {
            l.strip_prefix(&format!("{k}="))
                .map(|v| v.trim_matches('"').to_owned())
        })
    };
    Facts {
        hostname,
        os: field("NAME").unwrap_or_else(|| "Linux".into()),
        os_version: field("VERSION_ID")
            .or_else(|| field("VERSION"))
            .unwrap_or_else(|| "unknown".into()),
        arch: std::env::consts::ARCH.into(),
    }
}

/// A Windows system, described by its registry (the running one, or the volume's hives).
fn windows(root: &Root) -> Facts {
    let text = |key: &str, name: &str| {
        root.registry_value(key, name)
            .ok()
            .flatten()
            .map(|v| v.as_text().trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    const VERSION: &str = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion";
    let hostname = text(
        "HKLM\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ComputerName",
        "ComputerName",
    )
    .or_else(|| {
        std::env::var("COMPUTERNAME")
            .ok()
            .filter(|_| root.is_live())
    })
    .unwrap_or_else(|| "localhost".into());
    Facts {
        hostname,
        os: text(VERSION, "ProductName").unwrap_or_else(|| "Windows".into()),
        os_version: text(VERSION, "CurrentBuild").unwrap_or_else(|| "unknown".into()),
        arch: std::env::consts::ARCH.into(),
    }
}
