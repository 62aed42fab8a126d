//! The agent against a real `tater serve` (in process, on a random port): enroll with a token,
//! scan a fixture root, see the results in posture; stop the server during a report, find it
//! spooled, start the server again and see it delivered exactly once.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

mod common;

use common::{agent, get, start, text};

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

both_engines!(enroll_scan_report_and_survive_an_outage);

async fn enroll_scan_report_and_survive_an_outage(db: TestDb) {
    let (server, service) = start(&db, "127.0.0.1:0".parse().unwrap()).await;
    let base = format!("http://{}", server.addr);
    let org = common::org(&service, "Agents").await;
    let key = common::member_key(&service, &org, "admin@agents.test", Role::Admin).await;
    let http = reqwest::Client::new();
    let token = common::enrollment_token(&http, &base, &key).await;

    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    common::prepare("weak", &root);
    let cfg = work.path().join("etc/config.json");
    let spool = work.path().join("spool");
    let s = |p: &Path| p.display().to_string();
    let out = agent(vec![
        "enroll".into(),
        "--server".into(),
        base.clone(),
        "--token".into(),
        token.clone(),
        "--config".into(),
        s(&cfg),
        "--spool-dir".into(),
        s(&spool),
        "--root".into(),
        s(&root),
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Enrolling the same machine again: its current credential proves continuity, so it
    // keeps its endpoint and gets a new credential; another copy of the agent without that
    // credential (a fresh configuration) is refused.
    let first: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    let reenroll = |config: &Path| {
        agent(vec![
            "enroll".into(),
            "--server".into(),
            base.clone(),
            "--token".into(),
            token.clone(),
            "--config".into(),
            s(config),
            "--spool-dir".into(),
            s(&spool),
            "--root".into(),
            s(&root),
        ])
    };
    let out = reenroll(&cfg).await;
    assert!(out.status.success(), "{}", text(&out));
    let second: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert_eq!(second["endpointId"], first["endpointId"]);
    assert_ne!(second["apiKey"], first["apiKey"]);
    let impostor = reenroll(&work.path().join("impostor.json")).await;
    assert!(!impostor.status.success());
    assert!(text(&impostor).contains("409"), "{}", text(&impostor));
    let endpoints = get(&http, format!("{base}/api/endpoints"), &key).await;
    let endpoint = &endpoints["items"][0];
    assert_eq!(
        (endpoint["hostname"].as_str(), endpoint["os"].as_str()),
        (Some("weak-host"), Some("Debian GNU/Linux"))
    );

    // Heartbeats: the agent's credential may send them, a person's may not.
    let config: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    let agent_key = config["apiKey"].as_str().unwrap();
    let beat = |k: &str| {
        http.post(format!("{base}/api/agent/heartbeat"))
            .header("x-api-key", k)
            .send()
    };
    assert_eq!(beat(agent_key).await.unwrap().status().as_u16(), 204);
    assert_eq!(beat(&key).await.unwrap().status().as_u16(), 403);

    // A readable configuration is refused, with the fix in the message.
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = agent(vec![
        "run".into(),
        "--once".into(),
        "--config".into(),
        s(&cfg),
        "--root".into(),
        s(&root),
    ])
    .await;
    assert!(!refused.status.success());
    assert!(text(&refused).contains("chmod 600"), "{}", text(&refused));
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();

    let run_once = |extra: &[&str]| {
        let mut args = vec![
            "run".to_owned(),
            "--once".into(),
            "--config".into(),
            s(&cfg),
            "--root".into(),
            s(&root),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        agent(args)
    };
    let out = run_once(&[]).await;
    assert!(out.status.success(), "{}", text(&out));
    let posture = get(&http, format!("{base}/api/posture"), &key).await;
    let checks = tater_checks::CheckCatalog::builtin()
        .unwrap()
        .checks()
        .iter()
        .filter(|c| c.platforms.iter().any(|p| p == "linux"))
        .count() as i64;
    let totals = &posture["totals"];
    assert_eq!(
        totals["fail"].as_i64().unwrap() + totals["pass"].as_i64().unwrap(),
        checks,
        "{posture}"
    );
    assert!(
        totals["fail"].as_i64().unwrap() >= checks - 9,
        "the weak root fails (ownership aside): {posture}"
    );
    assert!(
        posture["failing"].to_string().contains("ac-6"),
        "failing controls listed"
    );

    // The server goes away: the report is spooled, not lost.
    let addr = server.addr;
    server.shutdown().await;
    let out = run_once(&[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let spooled: Vec<_> = std::fs::read_dir(&spool)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(spooled.len(), 1, "one report waits in the spool");
    let copy = std::fs::read(spooled[0].path()).unwrap();

    // Back on the same address: delivered once; delivering the same report again changes nothing.
    let (server, _) = start(&db, addr).await;
    let out = run_once(&["--no-scan"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_dir(&spool)
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json"))
            .count(),
        0
    );
    std::fs::write(spool.join("99999999999999-again.json"), &copy).unwrap();
    let out = run_once(&["--no-scan"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let trend = get(&http, format!("{base}/api/posture/trend"), &key).await;
    assert_eq!(
        trend["points"].as_array().unwrap().len(),
        2,
        "two scans, each stored once: {trend}"
    );
    server.shutdown().await;
}
