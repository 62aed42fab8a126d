//! The command channel's switch, cancellation and expiry (issue 21, finding 2): a queued
//! command is never handed to an agent once it may no longer run, and every stop is audited.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::{Role, Timestamp};
use tater_service::FixedClock;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    turning_remote_execution_off_stops_queued_commands,
    admins_cancel_pending_commands,
    commands_nobody_fetched_expire
);

struct Channel {
    app: TestApp,
    org: tater_domain::OrgId,
    clock: Arc<FixedClock>,
    boss: Key,
    admin: Key,
    /// Agent credentials of `web-1` and `web-2`.
    agents: Vec<Key>,
    script: String,
}

async fn setup(db: TestDb) -> Channel {
    let clock = Arc::new(FixedClock::new(Timestamp::from_millis(1_800_000_000_000)));
    let app = TestApp::spawn_with(db, clock.clone()).await;
    let org = app.org("Commands").await;
    let boss = app.member(org, "boss@cmd.test", Role::OrgAdmin).await;
    let admin = app.member(org, "admin@cmd.test", Role::Admin).await;
    let token = token(&app, &admin, false).await;
    let mut agents = Vec::new();
    for host in ["web-1", "web-2"] {
        let (s, e) = enroll(&app, &token, host).await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        agents.push(Key::api(e["apiKey"].as_str().unwrap().to_owned()));
    }
    let on = json!({ "remoteExecution": true });
    assert_eq!(
        app.send(Method::PUT, "/api/settings", &boss, &on).await.0,
        StatusCode::OK
    );
    let script = app
        .create(
            "scripts",
            &admin,
            json!({ "name": "hello", "language": "bash", "riskLevel": "Low", "timeoutSecs": 30, "content": "echo secret-token" }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Channel {
        app,
        org,
        clock,
        boss,
        admin,
        agents,
        script,
    }
}

impl Channel {
    /// Runs the script on both endpoints; the job.
    async fn run(&self) -> Value {
        let (s, job) = self
            .app
            .send(
                Method::POST,
                &format!("/api/scripts/{}/execute", self.script),
                &self.admin,
                &json!({ "targets": ["web-1", "web-2"] }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{job}");
        job
    }

    /// What an agent's poll hands out.
    async fn poll(&self, agent: usize) -> Vec<Value> {
        let (s, v) = self
            .app
            .get("/api/agent/commands", &self.agents[agent])
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["items"].as_array().unwrap().clone()
    }

    async fn statuses(&self, job: &Value) -> Vec<(String, String, String)> {
        let (_, v) = self
            .app
            .get(
                &format!("/api/jobs/{}", job["id"].as_str().unwrap()),
                &self.admin,
            )
            .await;
        v["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["hostname"].as_str().unwrap().to_owned(),
                    t["status"].as_str().unwrap().to_owned(),
                    t["reason"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// Audit entries about `job`, newest first.
    async fn job_audit(&self, job: &Value) -> Vec<Value> {
        self.app
            .audit_entries(self.org)
            .await
            .into_iter()
            .filter(|e| e["entityType"] == "job" && e["entityId"] == job["id"])
            .collect()
    }
}

async fn turning_remote_execution_off_stops_queued_commands(db: TestDb) {
    let c = setup(db).await;
    let job = c.run().await;
    // web-1 fetches its command; web-2 is offline.
    assert_eq!(c.poll(0).await.len(), 1);
    let off = json!({ "remoteExecution": false });
    assert_eq!(
        c.app
            .send(Method::PUT, "/api/settings", &c.boss, &off)
            .await
            .0,
        StatusCode::OK
    );
    // web-2 comes back: nothing is delivered.
    assert!(
        c.poll(1).await.is_empty(),
        "a queued command ran after the switch"
    );
    let st = c.statuses(&job).await;
    assert_eq!(st[0].0, "web-1");
    assert_eq!(st[0].1, "sent", "already delivered: cannot be recalled");
    assert_eq!(st[1].0, "web-2");
    assert_eq!(st[1].1, "cancelled");
    assert!(
        st[1]
            .2
            .contains("remote execution was turned off by boss@cmd.test"),
        "{:?}",
        st[1]
    );
    // The switch and the cancellation are audited, by the OrgAdmin who flipped it.
    let entries = c.job_audit(&job).await;
    let cancel = &entries[0];
    assert_eq!(cancel["action"], "update");
    assert_eq!(cancel["upn"], "boss@cmd.test");
    assert_eq!(cancel["changes"]["cancelled"]["after"], json!(["web-2"]));
    // Turning it on again does not bring the cancelled command back.
    let on = json!({ "remoteExecution": true });
    c.app.send(Method::PUT, "/api/settings", &c.boss, &on).await;
    assert!(c.poll(1).await.is_empty());
    // Creating is refused while off, as before.
    c.app
        .send(Method::PUT, "/api/settings", &c.boss, &off)
        .await;
    let (s, p) = c
        .app
        .send(
            Method::POST,
            &format!("/api/scripts/{}/execute", c.script),
            &c.admin,
            &json!({ "targets": ["web-2"] }),
        )
        .await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("FEATURE_DISABLED"))
    );
}

async fn admins_cancel_pending_commands(db: TestDb) {
    let c = setup(db).await;
    let viewer = c.app.member(c.org, "viewer@cmd.test", Role::Viewer).await;
    let job = c.run().await;
    let id = job["id"].as_str().unwrap();
    let cancel = format!("/api/jobs/{id}/cancel");
    assert_eq!(
        c.app
            .send(Method::POST, &cancel, &viewer, &json!({}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // Another organization's Admin cannot even see it.
    let other = c.app.org("Other").await;
    let stranger = c.app.member(other, "admin@other.test", Role::Admin).await;
    assert_eq!(
        c.app.status(Method::POST, &cancel, &stranger).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(c.poll(0).await.len(), 1, "web-1 takes its command");
    let res = c
        .app
        .req(Method::POST, &cancel, &c.admin)
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(res).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["counts"], json!({ "cancelled": 1, "sent": 1 }));
    assert!(
        c.poll(1).await.is_empty(),
        "the cancelled command is not delivered"
    );
    let st = c.statuses(&job).await;
    assert_eq!(st[1].1, "cancelled");
    assert_eq!(st[1].2, "cancelled by admin@cmd.test");
    let entries = c.job_audit(&job).await;
    assert_eq!(entries[0]["upn"], "admin@cmd.test");
    assert_eq!(
        entries[0]["changes"]["cancelled"]["after"],
        json!(["web-2"])
    );
    // Nothing left to cancel: 409, and nothing more is audited.
    let (s, p) = c.app.call(Method::POST, &cancel, &c.admin).await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::CONFLICT, Some("CONFLICT"))
    );
    assert_eq!(c.job_audit(&job).await.len(), entries.len());
    // The agent can still report what it ran.
    let result = format!("/api/agent/commands/{id}/result");
    let (s, _) = c
        .app
        .send(
            Method::POST,
            &result,
            &c.agents[0],
            &json!({ "status": "succeeded", "exitCode": 0, "stdout": "first" }),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // Once: a second report (an agent retrying after a lost answer) is a conflict that
    // says why, and changes and audits nothing.
    let audited = c.job_audit(&job).await.len();
    let (s, p) = c
        .app
        .send(
            Method::POST,
            &result,
            &c.agents[0],
            &json!({ "status": "failed", "exitCode": 1, "stdout": "second" }),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("is succeeded"),
        "{p}"
    );
    assert_eq!(c.job_audit(&job).await.len(), audited);
    let (_, view) = c.app.get(&format!("/api/jobs/{id}"), &c.admin).await;
    let reported: Vec<&Value> = view["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "succeeded")
        .collect();
    assert_eq!(reported.len(), 1, "{view}");
    assert_eq!(reported[0]["stdout"], "first");
    // Output is kept to its limit even when the NULs it holds are stored as U+FFFD (three
    // bytes for one); a reason is short.
    let job3 = c.run().await;
    let id3 = job3["id"].as_str().unwrap();
    assert_eq!(c.poll(0).await.len(), 1);
    let result3 = format!("/api/agent/commands/{id3}/result");
    let long_reason = json!({ "status": "failed", "reason": "x".repeat(2000) });
    let (s, _) = c
        .app
        .send(Method::POST, &result3, &c.agents[0], &long_reason)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a reason of 2000 bytes");
    let nuls = json!({ "status": "succeeded", "stdout": "\0".repeat(64 * 1024) });
    let (s, _) = c
        .app
        .send(Method::POST, &result3, &c.agents[0], &nuls)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, view) = c.app.get(&format!("/api/jobs/{id3}"), &c.admin).await;
    let kept = view["targets"][0]["stdout"].as_str().unwrap();
    assert!(
        kept.len() <= 64 * 1024 && kept.chars().all(|ch| ch == '\u{fffd}'),
        "{}",
        kept.len()
    );
    // An agent cannot report the server's own end states.
    let job2 = c.run().await;
    let id2 = job2["id"].as_str().unwrap();
    assert_eq!(c.poll(0).await.len(), 1);
    for status in ["cancelled", "expired", "pending", "sent"] {
        let (s, _) = c
            .app
            .send(
                Method::POST,
                &format!("/api/agent/commands/{id2}/result"),
                &c.agents[0],
                &json!({ "status": status }),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{status}");
    }
}

async fn commands_nobody_fetched_expire(db: TestDb) {
    let c = setup(db).await;
    let job = c.run().await;
    assert_eq!(c.poll(0).await.len(), 1);
    // Just inside the default 24-hour lifetime: still delivered.
    c.clock.advance_secs(24 * 3600 - 60);
    let fresh = c.run().await;
    c.clock.advance_secs(120);
    // web-2 returns after 24 hours: the old command is expired, the fresh one still runs.
    let got = c.poll(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["jobId"], fresh["id"]);
    let st = c.statuses(&job).await;
    assert_eq!(st[1].1, "expired");
    assert_eq!(st[1].2, "not fetched by the agent within 24 hours");
    let entries = c.job_audit(&job).await;
    assert_eq!(entries[0]["via"], "cron");
    assert_eq!(entries[0]["userId"], "system:job-expiry");
    assert_eq!(entries[0]["changes"]["expired"]["after"], json!(["web-2"]));
    // The sweep expires what no agent asks for: web-1's copy of the fresh job.
    c.clock.advance_secs(24 * 3600);
    let ended = c.app.service.expire_overdue_jobs().await.unwrap();
    assert_eq!(ended, 1);
    assert_eq!(c.statuses(&fresh).await[0].1, "expired");
    assert!(c.poll(0).await.is_empty());
    assert_eq!(c.app.service.expire_overdue_jobs().await.unwrap(), 0);
    // The job list shows the end states.
    let (_, list) = c.app.get("/api/jobs", &c.admin).await;
    let counts: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["counts"])
        .collect();
    assert_eq!(
        counts,
        vec![
            &json!({ "expired": 1, "sent": 1 }),
            &json!({ "expired": 1, "sent": 1 })
        ]
    );
}
