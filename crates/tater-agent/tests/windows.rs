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
use tater_testkit::{TestDb, both_engines};

use common::{get, start, text};

both_engines!(the_windows_agent_enrolls_and_reports_under_wine);
both_engines!(a_tampered_update_is_refused_under_wine);

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

/// Runs `exe` under Wine (blocking, on a worker thread so the in-process server keeps serving).
async fn wine(exe: &Path, args: Vec<String>) -> Output {
    let exe = exe.to_path_buf();
    tokio::task::spawn_blocking(move || {
        Command::new("wine")
            .arg(exe)
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
    let out = wine(
        &exe,
        vec![
            "enroll".into(),
            "--server".into(),
            base.clone(),
            "--token".into(),
            token,
            "--config".into(),
            win(&cfg),
            "--spool-dir".into(),
            win(&spool),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    // Written with an owner-only access list, which Wine keeps as Unix mode bits: none for
    // others (Wine gives the owner's group the owner's bits, which Windows has no notion of).
    let mode = std::fs::metadata(&cfg).unwrap().permissions().mode();
    assert_eq!(mode & 0o007, 0, "the configuration is private: {mode:o}");
    let endpoints = get(&http, format!("{base}/api/endpoints"), &key).await;
    assert_eq!(endpoints["items"][0]["os"], "Windows", "{endpoints}");

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
    let publish = |key: &SigningKey| {
        let signature = b64(&key.sign(&original).to_bytes());
        let (service, op, content) = (service.clone(), &op, original.clone());
        async move {
            service
                .admin_publish_agent_release(
                    op,
                    "9.9.9",
                    "windows",
                    "x86_64",
                    &content,
                    Some(&signature),
                )
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

    publish(&other_key).await;
    let out = update().await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("signature does not verify"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&exe).unwrap(), original, "binary unchanged");
    assert!(!work.path().join("tater-agent.exe.previous").exists());

    publish(&release_key).await;
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
