//! The Windows agent, cross-built (`scripts/build-agent-windows`) and run under Wine against a
//! Linux-built server in this process: enrollment, a report delivered, a private
//! configuration, and a tampered update refused with the binary unchanged.
//!
//! Runs when `TATER_TEST_WINDOWS_AGENT` names the built `tater-agent.exe` and `WINEPREFIX` a
//! prepared Wine prefix (`scripts/test-agent-windows` sets both; `.ci/run` calls it);
//! otherwise each test says it was skipped.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;
use tater_domain::Role;
use tater_service::SystemOperator;
use tater_store::ReleaseKey;
use tater_testkit::{TestDb, both_engines};

use common::{get, start, text};

/// The first bytes of an OLE compound document (every MSI is one).
const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

both_engines!(the_windows_agent_enrolls_and_reports_under_wine);
both_engines!(a_tampered_update_is_refused_under_wine);

/// `tater-agent.exe scan` of the running (Wine) system: every Windows check gives a result,
/// and a registry value set with `wine reg add` flips its check.
#[tokio::test]
async fn the_windows_checks_run_live_and_follow_the_registry() {
    let Some(built) = windows_agent("the_windows_checks_run_live_and_follow_the_registry") else {
        return;
    };
    let scan = || {
        wine(
            &built,
            vec![
                "scan".into(),
                "--format".into(),
                "json".into(),
                "--only".into(),
                "win.llmnr.off".into(),
            ],
        )
    };
    let status = |out: &Output| -> String {
        let results: Vec<Value> =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)));
        results[0]["status"].as_str().unwrap().to_owned()
    };
    let key = r"HKLM\SOFTWARE\Policies\Microsoft\Windows NT\DNSClient";
    let reg = |args: &[&str]| {
        let out = Command::new("wine")
            .arg("reg")
            .args(args)
            .env("WINEDEBUG", "-all")
            .output()
            .unwrap();
        assert!(out.status.success(), "wine reg {args:?}: {}", text(&out));
    };
    let _ = Command::new("wine")
        .args(["reg", "delete", key, "/f"])
        .env("WINEDEBUG", "-all")
        .output();

    let all = wine(
        &built,
        vec!["scan".into(), "--format".into(), "json".into()],
    )
    .await;
    let results: Vec<Value> =
        serde_json::from_slice(&all.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&all)));
    assert!(results.len() >= 50, "{} results", results.len());
    assert!(
        results
            .iter()
            .all(|r| r["checkId"].as_str().unwrap().starts_with("win.")),
        "only Windows checks on Windows"
    );
    assert_eq!(status(&scan().await), "Fail");
    reg(&[
        "add",
        key,
        "/v",
        "EnableMulticast",
        "/t",
        "REG_DWORD",
        "/d",
        "0",
        "/f",
    ]);
    assert_eq!(status(&scan().await), "Pass");
    reg(&[
        "add",
        key,
        "/v",
        "EnableMulticast",
        "/t",
        "REG_DWORD",
        "/d",
        "1",
        "/f",
    ]);
    assert_eq!(status(&scan().await), "Fail");
    reg(&["delete", key, "/f"]);
}

/// As a Windows service: installed, started by the service manager, scanning and reporting on
/// its own, stopped and removed. (One test only: the Wine prefix has one service manager.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_runs_as_a_windows_service_under_wine() {
    let Some(built) = windows_agent("the_agent_runs_as_a_windows_service_under_wine") else {
        return;
    };
    let db = TestDb::sqlite();
    let (server, service) = start(&db, "127.0.0.1:0".parse().unwrap()).await;
    let base = format!("http://{}", server.addr);
    let org = common::org(&service, "Services").await;
    let key = common::member_key(&service, &org, "admin@services.test", Role::Admin).await;
    let http = reqwest::Client::new();
    let token = common::enrollment_token(&http, &base, &key).await;
    let work = tempfile::tempdir().unwrap();
    let exe = work.path().join("tater-agent.exe");
    std::fs::copy(&built, &exe).unwrap();
    let cfg = work.path().join("config.json");
    let spool = work.path().join("spool");
    // A service left behind by an interrupted run would be in the way.
    let _ = wine(&exe, vec!["service".into(), "uninstall".into()]).await;
    enroll_sealed(&exe, &base, token, &cfg, &spool).await;
    let out = wine(
        &exe,
        vec![
            "service".into(),
            "install".into(),
            "--config".into(),
            win(&cfg),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let started = net_start().await;
    // (Wine's `net start` may answer "already running": its service manager can start an
    // automatic service as soon as it exists. What counts is the scan below.)
    let reported = scan_arrives(&http, &base, &key).await;
    let out = wine(&exe, vec!["service".into(), "uninstall".into()]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        reported,
        "the service delivered a scan of its own; net start said: {}",
        text(&started)
    );

    // The MSI: installs the binary under Program Files and registers the service with the
    // configuration in ProgramData; once the machine is enrolled there, the service the MSI
    // registered reports.
    // (The MSI can enroll by itself with SERVER_URL and ENROLL_TOKEN, a deferred custom action
    // checked in the_msi_holds_the_binary_the_service_and_the_enrollment; Wine's installer
    // formats such an action's command line only when it runs, without the properties, so the
    // machine is enrolled here by the installed binary instead.)
    let Some(msi) = std::env::var_os("TATER_TEST_WINDOWS_MSI") else {
        eprintln!("the MSI leg: skipped (scripts/test-agent-windows packages it)");
        server.shutdown().await;
        return;
    };
    // Another organization: this (Wine) host is already enrolled in the first one.
    let org = common::org(&service, "Deployed by MSI").await;
    let key = common::member_key(&service, &org, "admin@msi.test", Role::Admin).await;
    let token = common::enrollment_token(&http, &base, &key).await;
    let msiexec = |args: Vec<String>| wine("msiexec", args);
    let msi = win(Path::new(&msi));
    // An earlier, interrupted run may have left this version installed.
    let _ = msiexec(vec!["/x".into(), msi.clone(), "/qn".into()]).await;
    let prefix = PathBuf::from(std::env::var_os("WINEPREFIX").unwrap());
    let _ = std::fs::remove_dir_all(prefix.join("drive_c/Program Files/Tater"));
    let out = msiexec(vec!["/i".into(), msi.clone(), "/qn".into()]).await;
    assert!(out.status.success(), "msiexec /i: {}", text(&out));
    let installed = prefix.join("drive_c/Program Files/Tater/Agent/tater-agent.exe");
    assert!(installed.is_file(), "the binary is installed");
    let out = wine(
        &installed,
        vec![
            "enroll".into(),
            "--server".into(),
            base.clone(),
            "--token".into(),
            token,
            "--protect".into(),
            "machine".into(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let config = prefix.join("drive_c/ProgramData/Tater/Agent/config.json");
    let stored = std::fs::read_to_string(&config).unwrap();
    assert!(
        stored.starts_with("tater-agent-dpapi-config:v1:"),
        "{stored}"
    );
    let _ = net_start().await;
    let reported = scan_arrives(&http, &base, &key).await;
    // Removing the package: asked for, but not asserted. Wine's installer forgets an
    // installation made in the same prefix between runs and then removes nothing; what removal
    // does is in the package's tables (stop and delete the service, waiting), checked by
    // the_msi_holds_the_binary_the_service_and_the_enrollment.
    let _ = msiexec(vec!["/x".into(), msi, "/qn".into()]).await;
    let _ = wine(&installed, vec!["service".into(), "uninstall".into()]).await;
    let _ = std::fs::remove_dir_all(prefix.join("drive_c/ProgramData/Tater"));
    let _ = std::fs::remove_dir_all(prefix.join("drive_c/Program Files/Tater"));
    assert!(reported, "the service the MSI registered delivered a scan");
    server.shutdown().await;
}

/// `net start TaterAgent` under Wine.
async fn net_start() -> Output {
    wine("net", vec!["start".into(), "TaterAgent".into()]).await
}

/// `tater-agent.exe enroll` with its configuration sealed by DPAPI for the machine.
async fn enroll_sealed(exe: &Path, base: &str, token: String, cfg: &Path, spool: &Path) {
    let out = wine(
        exe,
        vec![
            "enroll".into(),
            "--server".into(),
            base.to_owned(),
            "--token".into(),
            token,
            "--config".into(),
            win(cfg),
            "--spool-dir".into(),
            win(spool),
            "--protect".into(),
            "machine".into(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
}

/// Waits (a minute at most) until the organization's one endpoint has delivered a scan.
async fn scan_arrives(http: &reqwest::Client, base: &str, key: &str) -> bool {
    for _ in 0..120 {
        let now = get(http, format!("{base}/api/endpoints"), key).await;
        if now["items"][0]["lastScanId"].is_string() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    false
}

/// The MSI read back with msitools: the binary, its 64-bit component, the service (automatic,
/// LocalSystem, `service run`), started on install and removed on uninstall, and the
/// enrollment step with the token hidden from the log.
#[test]
fn the_msi_holds_the_binary_the_service_and_the_enrollment() {
    let Some(msi) = std::env::var_os("TATER_TEST_WINDOWS_MSI") else {
        eprintln!(
            "the_msi_holds_the_binary_the_service_and_the_enrollment: skipped (scripts/test-agent-windows packages the MSI)"
        );
        return;
    };
    let table = |name: &str| -> Vec<Vec<String>> {
        let out = Command::new("msiinfo")
            .args(["export"])
            .arg(&msi)
            .arg(name)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "msiinfo export {name}: {}",
            text(&out)
        );
        // Three header lines (names, types, table name), then one row per line.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .skip(3)
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect()
    };
    let file = &table("File")[0];
    assert_eq!(
        (file[1].as_str(), file[2].as_str()),
        ("AgentBinary", "tater-agent.exe")
    );
    let component = &table("Component")[0];
    assert_eq!(component[0], "AgentBinary");
    assert_eq!(
        component[3].parse::<u32>().unwrap() & 256,
        256,
        "a 64-bit component"
    );
    let service = &table("ServiceInstall")[0];
    assert_eq!(service[1], "TaterAgent");
    assert_eq!(service[3], "16", "its own process");
    assert_eq!(service[4], "2", "automatic start");
    assert_eq!(service[8], "LocalSystem");
    assert!(
        service[10].starts_with("service run --config"),
        "{service:?}"
    );
    let mut controls: Vec<(String, String)> = table("ServiceControl")
        .into_iter()
        .map(|c| (c[2].clone(), c[4].clone()))
        .collect();
    controls.sort();
    // Start on install (1) without waiting; stop on install (2) and uninstall (32) and delete
    // on uninstall (128), waiting.
    assert_eq!(
        controls,
        vec![
            ("1".to_owned(), "0".to_owned()),
            ("162".to_owned(), "1".to_owned())
        ]
    );
    let action = &table("CustomAction")[0];
    assert_eq!(action[0], "Enroll");
    assert_eq!(
        action[1].parse::<u32>().unwrap(),
        18 | 0x400 | 0x800,
        "runs the installed exe, deferred, as LocalSystem"
    );
    assert!(action[3].contains("--protect machine"), "{action:?}");
    let properties = table("Property");
    assert!(
        properties
            .iter()
            .any(|p| p[0] == "MsiHiddenProperties" && p[1].contains("ENROLL_TOKEN"))
    );
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        properties
            .iter()
            .any(|p| p[0] == "ProductVersion" && p[1] == version)
    );
}

/// The built .exe, or `None` (and a "skipped" line) when this run has none.
fn windows_agent(test: &str) -> Option<PathBuf> {
    match (
        std::env::var_os("TATER_TEST_WINDOWS_AGENT"),
        std::env::var_os("WINEPREFIX"),
    ) {
        (Some(exe), Some(_)) => Some(PathBuf::from(exe)),
        _ => {
            eprintln!(
                "{test}: skipped (run scripts/test-agent-windows, which builds tater-agent.exe and prepares Wine)"
            );
            None
        }
    }
}

/// A Linux path as the Windows program sees it (Wine maps `/` to `Z:\`).
fn win(p: &Path) -> String {
    format!("Z:{}", p.display()).replace('/', "\\")
}

/// Runs a program under Wine: a built `.exe`, or one of Wine's own (`net`, `msiexec`).
/// Blocking, on a worker thread so the in-process server keeps serving.
async fn wine(program: impl Into<std::ffi::OsString>, args: Vec<String>) -> Output {
    let program = program.into();
    tokio::task::spawn_blocking(move || {
        Command::new("wine")
            .arg(program)
            .args(&args)
            .env("WINEDEBUG", "-all")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

async fn the_windows_agent_enrolls_and_reports_under_wine(db: TestDb) {
    let Some(built) = windows_agent("the_windows_agent_enrolls_and_reports_under_wine") else {
        return;
    };
    let (server, service) = start(&db, "127.0.0.1:0".parse().unwrap()).await;
    let base = format!("http://{}", server.addr);
    let org = common::org(&service, "Windows fleet").await;
    let key = common::member_key(&service, &org, "admin@fleet.test", Role::Admin).await;
    let http = reqwest::Client::new();
    let token = common::enrollment_token(&http, &base, &key).await;

    let work = tempfile::tempdir().unwrap();
    let exe = work.path().join("tater-agent.exe");
    std::fs::copy(&built, &exe).unwrap();
    // The SBOM is the Windows build's own dependency tree.
    let sbom = wine(&exe, vec!["sbom".into()]).await;
    assert!(sbom.status.success(), "{}", text(&sbom));
    let sbom: Value = serde_json::from_slice(&sbom.stdout).unwrap();
    let names: Vec<&str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(
        names.contains(&"windows-sys") && !names.contains(&"nix"),
        "{names:?}"
    );

    let cfg = work.path().join("agent").join("config.json");
    let spool = work.path().join("agent").join("spool");
    // As the service would: DPAPI for the machine (LocalSystem's scope).
    enroll_sealed(&exe, &base, token, &cfg, &spool).await;
    let stored = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        stored.starts_with("tater-agent-dpapi-config:v1:") && !stored.contains("tater_agent_"),
        "the credential is sealed with DPAPI: {stored}"
    );
    // Written with an owner-only access list, which Wine keeps as Unix mode bits: none for
    // others (Wine gives the owner's group the owner's bits, which Windows has no notion of).
    let mode = std::fs::metadata(&cfg).unwrap().permissions().mode();
    assert_eq!(mode & 0o007, 0, "the configuration is private: {mode:o}");
    let endpoints = get(&http, format!("{base}/api/endpoints"), &key).await;
    // Described from the live registry (Wine calls itself Windows 7 unless told otherwise).
    let endpoint = &endpoints["items"][0];
    assert!(
        endpoint["os"].as_str().unwrap().contains("Windows")
            && endpoint["osVersion"]
                .as_str()
                .unwrap()
                .parse::<u32>()
                .is_ok(),
        "{endpoint}"
    );

    // One scan of the running (Wine) system, delivered.
    let out = wine(
        &exe,
        vec!["run".into(), "--once".into(), "--config".into(), win(&cfg)],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        std::fs::read_dir(&spool)
            .unwrap()
            .filter_map(|e| e.ok())
            .all(|e| e.path().is_dir()),
        "nothing stays spooled"
    );
    let endpoints = get(&http, format!("{base}/api/endpoints"), &key).await;
    assert!(
        endpoints["items"][0]["lastScanId"].is_string(),
        "the report arrived: {endpoints}"
    );

    // A configuration others may read is refused, with the Windows fix in the message.
    // (Wine shows a file's Unix mode as its access list: 0644 lets Everyone read it.)
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = wine(
        &exe,
        vec!["run".into(), "--once".into(), "--config".into(), win(&cfg)],
    )
    .await;
    assert!(!refused.status.success());
    assert!(text(&refused).contains("icacls"), "{}", text(&refused));
    server.shutdown().await;
}

async fn a_tampered_update_is_refused_under_wine(db: TestDb) {
    let Some(built) = windows_agent("a_tampered_update_is_refused_under_wine") else {
        return;
    };
    let (server, service) = start(&db, "127.0.0.1:0".parse().unwrap()).await;
    let base = format!("http://{}", server.addr);
    let op = SystemOperator {
        name: "test",
        detail: "windows-update-tests".into(),
    };
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let release_key = SigningKey::from_bytes(&[7u8; 32]);
    let other_key = SigningKey::from_bytes(&[8u8; 32]);
    let public = b64(release_key.verifying_key().as_bytes());
    let work = tempfile::tempdir().unwrap();
    let exe = work.path().join("tater-agent.exe");
    std::fs::copy(&built, &exe).unwrap();
    let original = std::fs::read(&exe).unwrap();
    // The "new release" is the same program, so that once installed it can be run.
    let publish = |key: &SigningKey, kind: &str, content: &[u8]| {
        let signature = b64(&key.sign(content).to_bytes());
        let (service, op, content) = (service.clone(), &op, content.to_vec());
        let release = ReleaseKey {
            kind: kind.into(),
            ..ReleaseKey::exe("9.9.9", "windows", "x86_64")
        };
        async move {
            service
                .admin_publish_agent_release(op, &release, &content, Some(&signature))
                .await
                .unwrap();
        }
    };
    let update = || {
        wine(
            &exe,
            vec![
                "update".into(),
                "--server".into(),
                base.clone(),
                "--public-key".into(),
                public.clone(),
            ],
        )
    };

    // The installer of the same version comes first in the version document: an update
    // must still pick the executable (installing these bytes as the .exe would break it).
    let msi = [&OLE_MAGIC[..], b" an installer, not the agent"].concat();
    publish(&release_key, "msi", &msi).await;
    publish(&other_key, "exe", &original).await;
    let out = update().await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("signature does not verify"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&exe).unwrap(), original, "binary unchanged");
    assert!(!work.path().join("tater-agent.exe.previous").exists());

    publish(&release_key, "exe", &original).await;
    let out = update().await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("updated to tater-agent 9.9.9"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read(work.path().join("tater-agent.exe.previous")).unwrap(),
        original
    );
    let version = wine(&exe, vec!["--version".into()]).await;
    assert!(version.status.success(), "{}", text(&version));
    server.shutdown().await;
}
