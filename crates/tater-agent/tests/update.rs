//! SPEC G2 end to end: releases published with `tater admin agent publish`'s use case, served
//! by a real server; the agent refuses a wrong hash and a wrong signature (its binary
//! untouched), and installs a good release, keeping the previous binary.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};
use tater_server::{App, AppConfig};
use tater_service::SystemOperator;
use tater_store::ReleaseKey;
use tater_testkit::{TestDb, both_engines};

both_engines!(updates_are_verified_before_anything_changes);

const NEW: &[u8] = b"#!/bin/sh\necho 'tater-agent 9.9.9'\n";
/// Same length as NEW, different bytes.
const EVIL: &[u8] = b"#!/bin/sh\necho 'pwned-agent 6.6.6'\n";

async fn agent(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let (exe, rest) = args.split_first().unwrap();
        Command::new(exe).args(rest).output().unwrap()
    })
    .await
    .unwrap()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

async fn updates_are_verified_before_anything_changes(db: TestDb) {
    assert_eq!(NEW.len(), EVIL.len());
    let owner = db.owner();
    let app = App::build(AppConfig::for_tests(&db.url)).await.unwrap();
    let (addr, service) = (app.addr, app.service.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let base = format!("http://{addr}");
    let op = SystemOperator {
        name: "test",
        detail: "update-tests".into(),
    };
    let release_key = SigningKey::from_bytes(&[7u8; 32]);
    let other_key = SigningKey::from_bytes(&[8u8; 32]);
    let public = b64(release_key.verifying_key().as_bytes());
    let publish = |content: &'static [u8], key: Option<&SigningKey>| {
        let signature = key.map(|k| b64(&k.sign(content).to_bytes()));
        let (service, op) = (service.clone(), &op);
        async move {
            service
                .admin_publish_agent_release(
                    op,
                    &ReleaseKey::exe("9.9.9", "linux", "x86_64"),
                    content,
                    signature.as_deref(),
                )
                .await
                .unwrap();
        }
    };

    // The agent under test is a copy, so updating it cannot touch the build's binary.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("tater-agent");
    std::fs::copy(env!("CARGO_BIN_EXE_tater-agent"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let original = std::fs::read(&bin).unwrap();
    let update = |extra: &[&str]| {
        let mut args = vec![
            bin.display().to_string(),
            "update".into(),
            "--server".into(),
            base.clone(),
            "--public-key".into(),
            public.clone(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        agent(args)
    };
    let untouched = || {
        assert_eq!(
            std::fs::read(&bin).unwrap(),
            original,
            "the running binary must be untouched"
        );
        assert!(!dir.path().join("tater-agent.previous").exists());
    };
    let say = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    // Nothing published: up to date.
    let out = update(&["--check"]).await;
    assert!(
        out.status.success() && say(&out).contains("up to date"),
        "{}",
        say(&out)
    );

    // Wrong hash: a mirror (or anyone in the path) serves other bytes than the server
    // announces.
    publish(NEW, Some(&release_key)).await;
    let announced = hex_sha(NEW);
    let mirror = evil_mirror(base.clone(), EVIL).await;
    let mut args = vec![
        bin.display().to_string(),
        "update".into(),
        "--server".into(),
        mirror,
        "--public-key".into(),
        public.clone(),
    ];
    let out = agent(args.clone()).await;
    assert!(!out.status.success(), "{}", say(&out));
    assert!(say(&out).contains("SHA-256"), "{}", say(&out));
    untouched();
    args.push("--check".into());
    let out = agent(args).await;
    assert!(say(&out).contains("9.9.9 is available"), "{}", say(&out));

    // The server itself never serves bytes that do not match what it announces (a damaged
    // row): it refuses the download.
    owner
        .exec(&format!(
            "UPDATE agent_releases SET sha256 = '{}'",
            hex_sha(EVIL)
        ))
        .await;
    let res = reqwest::get(format!("{base}/api/agent/download/9.9.9/linux/x86_64"))
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let out = update(&[]).await;
    assert!(!out.status.success(), "{}", say(&out));
    untouched();

    // Wrong signature: signed by a key the agent does not trust.
    publish(NEW, Some(&other_key)).await;
    let out = update(&[]).await;
    assert!(!out.status.success());
    assert!(
        say(&out).contains("signature does not verify"),
        "{}",
        say(&out)
    );
    untouched();

    // Unsigned while the agent requires a signature.
    publish(NEW, None).await;
    let out = update(&[]).await;
    assert!(
        !out.status.success() && say(&out).contains("not signed"),
        "{}",
        say(&out)
    );
    untouched();

    // A good release: replaced, the old binary kept, the new one runs.
    publish(NEW, Some(&release_key)).await;
    let out = update(&[]).await;
    assert!(out.status.success(), "{}", say(&out));
    assert_eq!(
        std::fs::read(dir.path().join("tater-agent.previous")).unwrap(),
        original
    );
    let version = Command::new(&bin).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        "tater-agent 9.9.9"
    );

    // The version document, as any client sees it.
    let doc: serde_json::Value = reqwest::get(format!("{base}/api/agent/version"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["version"], "9.9.9");
    assert_eq!(doc["artifacts"][0]["sha256"], announced);
    assert_eq!(doc["artifacts"][0]["size"], NEW.len());
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

fn hex_sha(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A mirror that passes the version document through from `upstream` and answers every
/// download with `payload`: what a compromised mirror or a man in the middle would do.
async fn evil_mirror(upstream: String, payload: &'static [u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let body = if path.starts_with("/api/agent/download/") {
                    payload.to_vec()
                } else {
                    reqwest::get(format!("{upstream}{path}"))
                        .await
                        .unwrap()
                        .bytes()
                        .await
                        .unwrap()
                        .to_vec()
                };
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    format!("http://{addr}")
}
