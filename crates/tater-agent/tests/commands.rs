//! The command channel end to end, against a real server: refused while the organization has
//! remote execution off; refused (and reported) while the endpoint's own configuration says
//! no; then run, with the exit code, output, a timeout that kills the sleeping script's
//! whole process group, and output cut at 64 KiB.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{agent, start, text};
use serde_json::{Value, json};
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

both_engines!(commands_run_only_when_both_sides_allow_them);

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    /// Enrolls an agent that scans `root`, its configuration and spool in `dir`; the
    /// configuration's path.
    async fn enroll(&self, key: &str, root: &Path, dir: &Path) -> PathBuf {
        let (_, token) = self
            .call(
                reqwest::Method::POST,
                "/api/enrollment-tokens",
                key,
                Some(json!({ "label": "c" })),
            )
            .await;
        let cfg = dir.join("config.json");
        let s = |p: &Path| p.display().to_string();
        let out = agent(vec![
            "enroll".into(),
            "--server".into(),
            self.base.clone(),
            "--token".into(),
            token["token"].as_str().unwrap().into(),
            "--config".into(),
            s(&cfg),
            "--spool-dir".into(),
            s(&dir.join("spool")),
            "--root".into(),
            s(root),
        ])
        .await;
        assert!(out.status.success(), "{}", text(&out));
        let out = agent(vec![
            "run".into(),
            "--once".into(),
            "--config".into(),
            s(&cfg),
            "--root".into(),
            s(root),
        ])
        .await;
        assert!(out.status.success(), "{}", text(&out));
        cfg
    }

    /// A job as `GET /api/jobs/{id}` shows it now.
    async fn job(&self, key: &str, job: &Value) -> Value {
        let path = format!("/api/jobs/{}", job["id"].as_str().unwrap());
        self.call(reqwest::Method::GET, &path, key, None).await.1
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-api-key", key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

async fn commands_run_only_when_both_sides_allow_them(db: TestDb) {
    let (server, service) = start(&db, "127.0.0.1:0".parse().unwrap()).await;
    let api = Api {
        base: format!("http://{}", server.addr),
        http: reqwest::Client::new(),
    };
    let org = common::org(&service, "Commands").await;
    let admin = common::member_key(&service, &org, "admin@cmd.test", Role::Admin).await;
    let boss = common::member_key(&service, &org, "boss@cmd.test", Role::OrgAdmin).await;

    // Enroll the agent (facts from the weak fixture: hostname weak-host).
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    common::prepare("weak", &root);
    let cfg = api.enroll(&admin, &root, work.path()).await;
    let s = |p: &std::path::Path| p.display().to_string();
    let run_agent = || {
        agent(vec![
            "run".into(),
            "--once".into(),
            "--no-scan".into(),
            "--config".into(),
            s(&cfg),
        ])
    };

    let script = |name: &str, content: &str, timeout: i64| json!({ "name": name, "language": "bash", "riskLevel": "Low", "timeoutSecs": timeout, "content": content });
    let (status, echo) = api
        .call(
            reqwest::Method::POST,
            "/api/scripts",
            &admin,
            Some(script("echo", "echo hello; echo oops >&2; exit 3", 30)),
        )
        .await;
    assert_eq!(status, 201, "{echo}");
    let execute = |id: &str| {
        let path = format!("/api/scripts/{id}/execute");
        let (api, admin) = (&api, &admin);
        async move {
            api.call(
                reqwest::Method::POST,
                &path,
                admin,
                Some(json!({ "targets": ["WEAK-HOST"] })),
            )
            .await
        }
    };

    // Remote execution is off for the organization.
    let (status, problem) = execute(echo["id"].as_str().unwrap()).await;
    assert_eq!(
        (status, problem["error"].as_str()),
        (403, Some("FEATURE_DISABLED")),
        "{problem}"
    );
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            "/api/controls/cm-7/remediate",
            &admin,
            None,
        )
        .await;
    assert_eq!(
        status, 403,
        "remediation is refused too while remote execution is off"
    );
    let (status, _) = api
        .call(
            reqwest::Method::PUT,
            "/api/settings",
            &boss,
            Some(json!({ "remoteExecution": true })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, problem) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/scripts/{}/execute", echo["id"].as_str().unwrap()),
            &admin,
            Some(json!({ "targets": ["nobody-here"] })),
        )
        .await;
    assert_eq!(status, 400, "unknown hostnames are refused: {problem}");

    // The endpoint's configuration has not allowed remote scripts: refused and reported.
    let (status, job) = execute(echo["id"].as_str().unwrap()).await;
    assert_eq!(status, 201, "{job}");
    assert_eq!(job["targets"][0]["status"], "pending");
    assert!(run_agent().await.status.success());
    let job_path = format!("/api/jobs/{}", job["id"].as_str().unwrap());
    let (_, seen) = api
        .call(reqwest::Method::GET, &job_path, &admin, None)
        .await;
    assert_eq!(seen["targets"][0]["status"], "refused", "{seen}");
    assert!(
        seen["targets"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("allowRemoteScripts"),
        "{seen}"
    );

    // The machine's owner allows remote scripts.
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    config["allowRemoteScripts"] = json!(true);
    std::fs::write(&cfg, serde_json::to_string(&config).unwrap()).unwrap();

    let (_, job) = execute(echo["id"].as_str().unwrap()).await;
    assert!(run_agent().await.status.success());
    let seen = api.job(&admin, &job).await;
    let t = &seen["targets"][0];
    assert_eq!(
        (t["status"].as_str(), t["exitCode"].as_i64()),
        (Some("failed"), Some(3)),
        "{seen}"
    );
    assert_eq!(
        (t["stdout"].as_str(), t["stderr"].as_str()),
        (Some("hello\n"), Some("oops\n"))
    );
    assert_eq!(seen["scriptVersion"], 1);

    // A sleeping script is killed at its timeout, with everything it started.
    let (_, sleeper) = api
        .call(
            reqwest::Method::POST,
            "/api/scripts",
            &admin,
            Some(script("sleeper", "sleep 60 & sleep 60; echo never", 5)),
        )
        .await;
    let (_, job) = execute(sleeper["id"].as_str().unwrap()).await;
    let started = Instant::now();
    assert!(run_agent().await.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the agent waited for the script"
    );
    let seen = api.job(&admin, &job).await;
    let t = &seen["targets"][0];
    assert_eq!(t["status"], "timedOut", "{seen}");
    assert!(t["durationMs"].as_i64().unwrap() >= 5000);
    assert_eq!(t["stdout"], "");

    // Output beyond 64 KiB is cut, and says so.
    let (_, loud) = api
        .call(
            reqwest::Method::POST,
            "/api/scripts",
            &admin,
            Some(script(
                "loud",
                "head -c 200000 /dev/zero | tr '\\0' a; printf 'x\\0y' >&2",
                30,
            )),
        )
        .await;
    let (_, job) = execute(loud["id"].as_str().unwrap()).await;
    let out = run_agent().await;
    assert!(
        out.status.success() && !text(&out).contains("commands:"),
        "{}",
        text(&out)
    );
    let seen = api.job(&admin, &job).await;
    let t = &seen["targets"][0];
    assert_eq!(t["status"], "succeeded", "{seen}");
    assert_eq!(t["stdout"].as_str().unwrap().len(), 64 * 1024);
    assert!(t["reason"].as_str().unwrap().contains("truncated"));
    assert!(t["stdout"].as_str().unwrap().bytes().all(|b| b == b'a'));
    assert_eq!(
        t["stderr"], "x\u{fffd}y",
        "NUL is stored as U+FFFD on both engines"
    );

    // Remediation: after scans of the weak root and of a weak Windows volume (read offline
    // from its hives), remediating a control opens one job per failing check that has a
    // script, targeting the failing endpoint, in the endpoint's language: bash for Linux
    // checks, PowerShell for Windows ones. (Not run here: it would change the machine the
    // tests run on.)
    let windows = tempfile::tempdir().unwrap();
    let volume = windows.path().join("volume");
    common::prepare_windows("windows-weak", &volume);
    api.enroll(&admin, &volume, windows.path()).await;
    let (status, remediation) = api
        .call(
            reqwest::Method::POST,
            "/api/controls/CM-7/remediate",
            &admin,
            None,
        )
        .await;
    assert_eq!(status, 200, "{remediation}");
    let jobs = remediation["jobs"].as_array().unwrap();
    let of = |prefix: &str| {
        jobs.iter()
            .filter(|j| j["checkId"].as_str().unwrap().starts_with(prefix))
            .collect::<Vec<_>>()
    };
    let (linux, win) = (of("linux."), of("win."));
    assert!(linux.len() >= 5, "{remediation}");
    assert!(win.len() >= 5, "{remediation}");
    assert_eq!(linux.len() + win.len(), jobs.len(), "{remediation}");
    for j in linux {
        assert_eq!(j["language"], "bash", "{j}");
        assert_eq!(j["targets"][0]["hostname"], "weak-host");
        assert_eq!(j["targets"][0]["status"], "pending");
    }
    for j in win {
        assert_eq!(j["language"], "powershell", "{j}");
        assert_eq!(j["targets"].as_array().unwrap().len(), 1, "{j}");
        assert_ne!(j["targets"][0]["hostname"], "weak-host", "{j}");
        assert_eq!(j["targets"][0]["status"], "pending");
    }
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            "/api/controls/zz-99/remediate",
            &admin,
            None,
        )
        .await;
    assert_eq!(status, 404);

    // Every job and outcome is in the audit log.
    let (_, log) = api
        .call(
            reqwest::Method::GET,
            "/api/audit-log?entityType=job&limit=50",
            &boss,
            None,
        )
        .await;
    let entries = log["items"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["via"] == "agent"),
        "outcomes are audited as the agent"
    );
    assert!(entries.iter().filter(|e| e["action"] == "create").count() >= 4);
    server.shutdown().await;
}
