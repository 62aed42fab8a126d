//! Two root filesystems in the repository — one hardened, one weak — and the result every
//! check must give on each (`fixtures/*.expected.json`, written by hand: all Pass on the
//! hardened root, all Fail on the weak one). Git keeps neither modes nor owners, so each
//! fixture's `MODES` file says them and the test applies it to a copy before scanning.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

mod common;

use std::collections::BTreeMap;

use common::{fixtures, prepare, prepare_windows};

use tater_agent::root::Root;
use tater_agent::{Status, run};
use tater_checks::CheckCatalog;

fn check_fixture(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let windows = name.starts_with("windows-");
    let owners = if windows {
        prepare_windows(name, dir.path());
        true
    } else {
        prepare(name, dir.path())
    };
    if !owners {
        eprintln!("skipped: file owner expectations need root (chown); the rest is checked");
    }
    let platform = if windows { "windows" } else { "linux" };
    let expected: BTreeMap<String, Status> = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join(format!("{name}.expected.json"))).unwrap(),
    )
    .unwrap();
    let catalog = CheckCatalog::builtin().unwrap();
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        {
            let mut ids: Vec<&String> = catalog
                .checks()
                .iter()
                .filter(|c| c.platforms.iter().any(|p| p == platform))
                .map(|c| &c.id)
                .collect();
            ids.sort();
            ids
        },
        "{name}: every check has an expected result"
    );
    let results = run(catalog.checks(), &Root::new(dir.path()));
    assert_eq!(
        results.len(),
        expected.len(),
        "{name}: one result per check"
    );
    let mut wrong = Vec::new();
    for r in &results {
        let ownership = catalog
            .get(&r.check_id)
            .is_some_and(|c| matches!(c.rule, Some(tater_checks::Rule::FileMode { .. })));
        if !owners && ownership {
            continue;
        }
        if expected[&r.check_id] != r.status {
            wrong.push(format!(
                "{}: expected {:?}, got {:?} — {}",
                r.check_id, expected[&r.check_id], r.status, r.evidence
            ));
        }
    }
    assert!(wrong.is_empty(), "{name}:\n{}", wrong.join("\n"));
}

#[test]
fn the_hardened_root_passes_every_check() {
    check_fixture("hardened");
}

#[test]
fn the_weak_root_fails_every_check() {
    check_fixture("weak");
}

/// A Windows volume (its hives written by the tests and read back with hivexget), audited
/// from Linux: every registry check passes; the ones that need the running system (security
/// and audit policy, BitLocker) say so.
#[test]
fn the_hardened_windows_volume_passes_every_registry_check() {
    check_fixture("windows-hardened");
}

#[test]
fn the_weak_windows_volume_fails_every_registry_check() {
    check_fixture("windows-weak");
}

#[test]
fn there_are_at_least_fifty_windows_checks_each_with_a_rule_and_controls() {
    let catalog = CheckCatalog::builtin().unwrap();
    let windows: Vec<_> = catalog
        .checks()
        .iter()
        .filter(|c| c.platforms.contains(&"windows".to_owned()))
        .collect();
    assert!(windows.len() >= 50, "{}", windows.len());
    for c in windows {
        assert!(c.rule.is_some() && !c.controls.is_empty(), "{}", c.id);
        assert!(
            !c.rationale.is_empty() && !c.remediation.is_empty(),
            "{}",
            c.id
        );
    }
}

/// The offline scan names the volume's machine from its registry.
#[test]
fn an_offline_windows_volume_is_described_from_its_registry() {
    let dir = tempfile::tempdir().unwrap();
    prepare_windows("windows-hardened", dir.path());
    let facts = tater_agent::facts::gather(&Root::new(dir.path()));
    assert_eq!(
        (
            facts.hostname.as_str(),
            facts.os.as_str(),
            facts.os_version.as_str()
        ),
        ("HARDENED-WIN", "Windows 11 Enterprise", "22631")
    );
}

/// A damaged or hostile hive is an error for the checks that read it, never a crash.
#[test]
fn damaged_hives_are_errors_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    prepare_windows("windows-hardened", dir.path());
    let system = dir.path().join("Windows/System32/config/SYSTEM");
    let good = std::fs::read(&system).unwrap();
    let catalog = CheckCatalog::builtin().unwrap();
    // Cut short at many lengths, and with bytes flipped across the cells.
    let mut variants: Vec<Vec<u8>> = (0..good.len())
        .step_by(97)
        .map(|n| good[..n].to_vec())
        .collect();
    for i in (4096..good.len()).step_by(13) {
        let mut v = good.clone();
        v[i] ^= 0xA5;
        variants.push(v);
    }
    for v in variants {
        std::fs::write(&system, &v).unwrap();
        // Any outcome but a panic; each check still gives a result.
        let results = run(catalog.checks(), &Root::new(dir.path()));
        assert!(results.len() >= 50);
    }
}

#[test]
fn there_are_at_least_sixty_linux_checks_each_with_a_rule_and_controls() {
    let catalog = CheckCatalog::builtin().unwrap();
    let linux: Vec<_> = catalog
        .checks()
        .iter()
        .filter(|c| c.platforms.contains(&"linux".to_owned()))
        .collect();
    assert!(linux.len() >= 60, "{}", linux.len());
    for c in linux {
        assert!(c.rule.is_some(), "{} has no rule", c.id);
        assert!(!c.controls.is_empty(), "{} maps no control", c.id);
        assert!(
            !c.rationale.is_empty() && !c.remediation.is_empty(),
            "{}",
            c.id
        );
    }
}

/// `tater-agent scan --format json` works offline: each result names the SP 800-53 controls
/// its check gives evidence for, the same ones the catalog (and the server) maps it to.
#[test]
fn the_offline_json_result_names_each_checks_controls() {
    let dir = tempfile::tempdir().unwrap();
    prepare("weak", dir.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tater-agent"))
        .args(["scan", "--format", "json", "--root"])
        .arg(dir.path())
        .output()
        .unwrap();
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let catalog = CheckCatalog::builtin().unwrap();
    assert!(results.len() >= 60, "{} results", results.len());
    for r in &results {
        let id = r["checkId"].as_str().unwrap();
        let controls: Vec<&str> = r["controls"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: no controls in {r}"))
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let check = catalog.get(id).unwrap();
        assert!(!controls.is_empty(), "{id}");
        assert_eq!(controls, check.controls, "{id}");
    }
}

/// `scan --only` with a check of another platform says so, instead of an empty result.
#[test]
fn a_check_for_another_platform_is_refused_by_name() {
    let linux = tempfile::tempdir().unwrap();
    prepare("weak", linux.path());
    let windows = tempfile::tempdir().unwrap();
    prepare_windows("windows-weak", windows.path());
    let scan = |root: &std::path::Path, only: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tater-agent"))
            .args(["scan", "--format", "json", "--only", only, "--root"])
            .arg(root)
            .output()
            .unwrap()
    };
    for (root, other, own, platform) in [
        (
            linux.path(),
            "win.llmnr.off",
            "linux.ssh.root-login",
            "linux",
        ),
        (
            windows.path(),
            "linux.ssh.root-login",
            "win.llmnr.off",
            "windows",
        ),
    ] {
        let out = scan(root, other);
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{said}");
        assert!(out.stdout.is_empty());
        assert!(
            said.contains(&format!("this is a {platform} system"))
                && said.contains(other)
                && said.contains("--root"),
            "{said}"
        );
        // The platform's own check runs (and fails: both roots are the weak ones).
        let out = scan(root, own);
        let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(results.len(), 1, "{results:?}");
        assert_eq!(results[0]["status"], "Fail", "{results:?}");
    }
}
