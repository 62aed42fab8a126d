//! The background job runner, seen from outside: two servers on one database share the work;
//! due-date reminders (tasks, training, vendor assessments, plan reviews and tests, …) reach
//! a real SMTP server (aiosmtpd) 7, 3 and 1 days before the date and once when overdue, each
//! once; an approved exception gets a renewal task 30 days before it
//! ends and ends by itself when its period is over, and the failure it covered counts again. Time moves by the injectable clock, never by sleeping; the
//! test only waits for the runners to notice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::{OrgId, Role, Timestamp};
use tater_service::{FixedClock, MailConfig, RunnerOptions};
use tater_testkit::smtp::MailSink;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    two_servers_send_each_reminder_once,
    a_reminder_the_relay_refused_is_sent_when_it_is_back,
    every_module_that_declares_a_reminder_sends_it,
    an_approved_exception_expires_by_itself,
    jobs_a_lease_cannot_cover_go_back,
    a_running_job_keeps_its_lease_however_long_it_takes
);

/// Rounds every 50 ms, so a test waits little for the runners.
const POLL: Duration = Duration::from_millis(50);
const START: &str = "2026-12-07T08:00:00Z";

fn mail(sink: &MailSink) -> MailConfig {
    MailConfig {
        smtp_url: sink.url(),
        from: "Tater <tater@reminders.test>".into(),
    }
}

/// Two servers on `db`'s database, on one clock, both running the job runner.
async fn two_servers(
    db: TestDb,
    clock: Arc<FixedClock>,
    sink: Option<&MailSink>,
) -> (TestApp, TestApp) {
    two_servers_mailing(db, clock, sink.map(mail)).await
}

async fn two_servers_mailing(
    db: TestDb,
    clock: Arc<FixedClock>,
    mail: Option<MailConfig>,
) -> (TestApp, TestApp) {
    let url = db.url.clone();
    let (c, m) = (clock.clone(), mail.clone());
    let first = TestApp::spawn_configured(db, move |cfg| {
        cfg.clock = c;
        cfg.verification.mail = m;
        cfg.runner_poll = Some(POLL);
    })
    .await;
    let mut cfg = config_for_url(&url);
    cfg.clock = clock;
    cfg.verification.mail = mail;
    cfg.runner_poll = Some(POLL);
    let second = TestApp::start(
        tater_server::App::build(cfg).await.unwrap(),
        None,
        tater_testkit::entra::FakeEntra::start().await,
    );
    (first, second)
}

fn at(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

/// `START` plus `days` days and `hours` hours.
fn later(days: i64, hours: i64) -> Timestamp {
    at(START).plus_seconds(days * 86_400 + hours * 3600)
}

fn date(days: i64) -> String {
    tater_domain::time::format_date(later(days, 0).date())
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Moves the clock and waits until `org`'s plan for the new hour has run and every job it
/// queued is done, so what the runners would send is sent.
async fn move_clock_and_settle(app: &TestApp, clock: &FixedClock, org: OrgId, to: Timestamp) {
    clock.set(to);
    let hour: String = to.to_string().chars().take(13).collect();
    let key = format!("plan:{hour}:{org}");
    eventually(&format!("the plan {key}"), async || {
        state(app, &key).await.as_deref() == Some("done")
    })
    .await;
    eventually("the planned work", async || {
        app.service.runner_jobs_pending().await.unwrap() == 0
    })
    .await;
}

async fn state(app: &TestApp, key: &str) -> Option<String> {
    let job = app.service.runner_job_state(key).await.unwrap();
    job.map(|j| j.state)
}

fn subjects_to(sink: &MailSink, to: &str) -> Vec<String> {
    sink.messages()
        .into_iter()
        .filter(|m| m.to.contains(to))
        .filter_map(|m| {
            m.text
                .lines()
                .find_map(|l| l.strip_prefix("Subject: ").map(str::to_owned))
        })
        .collect()
}

async fn two_servers_send_each_reminder_once(db: TestDb) {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let clock = Arc::new(FixedClock::new(at(START)));
    let (first, second) = two_servers(db, clock.clone(), Some(&sink)).await;
    let org = first.org("Reminders").await;
    let admin = first
        .member(org, "lead@reminders.test", Role::OrgAdmin)
        .await;
    let task = |title: &str, assignee: Option<&str>, due: i64| {
        let mut t = json!({ "title": title, "priority": "High", "dueDate": date(due) });
        if let Some(a) = assignee {
            t["assignee"] = json!(a);
        }
        t
    };
    // Ann and Carl are the organization's contacts, Bob a member; Eve is nobody to it.
    for who in ["ann", "carl"] {
        let person = json!({ "name": who, "email": format!("{who}@reminders.test") });
        first.create("people", &admin, person).await;
    }
    first.member(org, "bob@reminders.test", Role::Admin).await;
    let patch = first
        .create(
            "tasks",
            &admin,
            task("Patch the VPN", Some("ann@reminders.test"), 7),
        )
        .await;
    second
        .create(
            "tasks",
            &admin,
            task("Buy a watch", Some("eve@elsewhere.test"), 2),
        )
        .await;
    // Done before it is due, not assigned, not due for weeks, or for a stranger: no reminders.
    let done = second
        .create(
            "tasks",
            &admin,
            task("Rotate keys", Some("bob@reminders.test"), 1),
        )
        .await;
    let (status, p) = second
        .send(
            Method::POST,
            &format!("/api/tasks/{}/transitions", done["id"].as_str().unwrap()),
            &admin,
            &json!({ "to": "Done" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    second
        .create("tasks", &admin, task("Nobody's", None, 1))
        .await;
    second
        .create(
            "tasks",
            &admin,
            task("Far off", Some("carl@reminders.test"), 30),
        )
        .await;

    // Each stage once, whichever server plans or sends it, however often they look.
    let expected = [
        (0, 1, "Task due in 7 days: Patch the VPN"),
        (0, 2, "Task due in 7 days: Patch the VPN"),
        (4, 0, "Task due in 3 days: Patch the VPN"),
        (6, 0, "Task due tomorrow: Patch the VPN"),
        (6, 5, "Task due tomorrow: Patch the VPN"),
        (8, 0, "Task overdue: Patch the VPN"),
        (9, 0, "Task overdue: Patch the VPN"),
    ];
    let mut sent: Vec<String> = Vec::new();
    for (days, hours, subject) in expected {
        move_clock_and_settle(&first, &clock, org, later(days, hours)).await;
        if sent.last().map(String::as_str) != Some(subject) {
            sent.push(subject.to_owned());
        }
        assert_eq!(
            subjects_to(&sink, "ann@reminders.test"),
            sent,
            "after day {days} hour {hours}"
        );
    }
    assert_eq!(sent.len(), 4);
    let others: Vec<String> = sink
        .messages()
        .into_iter()
        .filter(|m| !m.to.contains("ann@"))
        .map(|m| m.to)
        .collect();
    assert!(others.is_empty(), "nobody else was reminded: {others:?}");
    let text = &sink.messages()[0].text;
    assert!(text.contains("Priority: High"), "{text}");
    assert!(text.contains(patch["id"].as_str().unwrap()), "{text}");
    assert!(text.contains("Reminders"), "names the organization: {text}");

    // Every reminder is in the organization's audit log, made by the runner via cron.
    let notes: Vec<Value> = first
        .audit_entries(org)
        .await
        .into_iter()
        .filter(|e| e["action"] == "notify")
        .collect();
    assert_eq!(notes.len(), 4, "{notes:?}");
    for n in &notes {
        assert_eq!(n["via"], "cron");
        assert_eq!(n["userId"], "system:runner");
        assert_eq!(n["entityType"], "task");
        assert_eq!(n["entityId"], patch["id"]);
        assert_eq!(n["changes"]["_reminder"]["to"], "ann@reminders.test");
    }
    let stages: Vec<&Value> = notes
        .iter()
        .map(|n| &n["changes"]["_reminder"]["stage"])
        .collect();
    for stage in ["7d", "3d", "1d", "overdue"] {
        assert!(stages.contains(&&json!(stage)), "{stages:?}");
    }
    let (_, log) = first
        .get("/api/audit-log?action=notify&via=cron", &admin)
        .await;
    assert_eq!(log["items"].as_array().unwrap().len(), 4, "{log}");

    // Moving the due date plans afresh; finishing the task stops what is left.
    let id = patch["id"].as_str().unwrap();
    let mut moved = patch.clone();
    moved["dueDate"] = json!(date(12));
    moved["version"] = Value::Null;
    let (status, p) = second
        .send(Method::PUT, &format!("/api/tasks/{id}"), &admin, &moved)
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    move_clock_and_settle(&first, &clock, org, later(9, 2)).await;
    assert_eq!(
        subjects_to(&sink, "ann@reminders.test").last().unwrap(),
        "Task due in 3 days: Patch the VPN"
    );
    let (status, _) = first
        .send(
            Method::POST,
            &format!("/api/tasks/{id}/transitions"),
            &admin,
            &json!({ "to": "Done" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    move_clock_and_settle(&first, &clock, org, later(11, 0)).await;
    move_clock_and_settle(&first, &clock, org, later(13, 0)).await;
    assert_eq!(subjects_to(&sink, "ann@reminders.test").len(), 5);
}

async fn a_reminder_the_relay_refused_is_sent_when_it_is_back(db: TestDb) {
    if !MailSink::installed() {
        return;
    }
    // The relay is down when the reminder is due.
    let port = tater_testkit::listen::free_port();
    let relay = MailConfig {
        smtp_url: format!("smtp://127.0.0.1:{port}"),
        from: "Tater <tater@reminders.test>".into(),
    };
    let clock = Arc::new(FixedClock::new(at(START)));
    let (first, _second) = two_servers_mailing(db, clock.clone(), Some(relay)).await;
    let org = first.org("Relay").await;
    let admin = first.member(org, "lead@relay.test", Role::OrgAdmin).await;
    // Dee is a member (Ann in the test above is a contact in People): members get mail too.
    first.member(org, "dee@relay.test", Role::Viewer).await;
    let task = first
        .create(
            "tasks",
            &admin,
            json!({ "title": "Renew the certificate", "assignee": "dee@relay.test",
                    "dueDate": date(3) }),
        )
        .await;
    let key = format!(
        "reminder:{org}:{}:{}:3d:dee@relay.test",
        task["id"].as_str().unwrap(),
        date(3)
    );
    clock.set(later(0, 1));
    eventually("the refused attempt", async || {
        let job = first.service.runner_job_state(&key).await.unwrap();
        job.is_some_and(|j| j.state == "queued" && j.attempts == 1 && j.last_error.is_some())
    })
    .await;
    assert!(
        first
            .audit_entries(org)
            .await
            .iter()
            .all(|e| e["action"] != "notify"),
        "nothing sent, nothing audited"
    );

    // Back a minute later: the retry sends it, once.
    let sink = MailSink::start_on(port);
    move_clock_and_settle(&first, &clock, org, later(0, 1).plus_seconds(61)).await;
    let job = first.service.runner_job_state(&key).await.unwrap().unwrap();
    assert_eq!((job.state.as_str(), job.attempts), ("done", 2));
    assert_eq!(
        subjects_to(&sink, "dee@relay.test"),
        ["Task due in 3 days: Renew the certificate"]
    );
    move_clock_and_settle(&first, &clock, org, later(0, 3)).await;
    assert_eq!(sink.messages().len(), 1);
}

/// Training launched to People, a vendor's assessment and a plan's review and test: each
/// reaches the person its record names, with referenced records named by their titles; what
/// no longer owes work (a retired plan, a completed assignment) reminds nobody.
async fn every_module_that_declares_a_reminder_sends_it(db: TestDb) {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let clock = Arc::new(FixedClock::new(at(START)));
    let (app, _second) = two_servers(db, clock.clone(), Some(&sink)).await;
    let org = app.org("Registers").await;
    let admin = app.member(org, "lead@registers.test", Role::OrgAdmin).await;
    let pat = "pat@registers.test";
    app.create("people", &admin, json!({ "name": "Pat", "email": pat }))
        .await;
    let course = app
        .create(
            "training-courses",
            &admin,
            json!({ "title": "Security awareness" }),
        )
        .await;
    let campaign = app
        .create(
            "training-campaigns",
            &admin,
            json!({ "title": "Winter awareness", "course": course["id"], "audience": "People",
                    "dueDate": date(3) }),
        )
        .await;
    let path = format!(
        "/api/training-campaigns/{}/transitions",
        campaign["id"].as_str().unwrap()
    );
    let (status, p) = app
        .send(Method::POST, &path, &admin, &json!({ "to": "Active" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    app.create(
        "vendors",
        &admin,
        json!({ "name": "Acme Hosting", "status": "Active", "riskTier": "High", "owner": pat,
                "nextAssessment": date(2) }),
    )
    .await;
    let plan = json!({ "title": "Failover", "status": "Active", "owner": pat,
                       "nextReview": date(5), "nextTest": date(12) });
    app.create("bcp-plans", &admin, plan).await;
    let retired = json!({ "title": "Old site", "status": "Retired", "owner": pat,
                          "nextReview": date(1) });
    app.create("bcp-plans", &admin, retired).await;

    move_clock_and_settle(&app, &clock, org, later(0, 1)).await;
    let mut subjects = subjects_to(&sink, pat);
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "Plan review due in 5 days: Failover",
            "Training due in 3 days: Security awareness",
            "Vendor assessment due in 2 days: Acme Hosting",
        ]
    );
    let training = sink
        .messages()
        .into_iter()
        .find(|m| m.text.contains("Subject: Training"))
        .map(|m| m.text)
        .unwrap_or_default();
    assert!(
        training.contains("Campaign: Winter awareness"),
        "{training}"
    );
    assert!(training.contains("Status: Assigned"), "{training}");

    // Pat completes the training; a week on, the plan's test is near and the rest overdue.
    let (_, mine) = app
        .get(
            "/api/training-assignments?assignee=pat%40registers.test",
            &admin,
        )
        .await;
    let mut done = mine["items"][0].clone();
    done["status"] = json!("Completed");
    done["completedOn"] = json!(date(1));
    done["version"] = Value::Null;
    let path = format!("/api/training-assignments/{}", done["id"].as_str().unwrap());
    let (status, p) = app.send(Method::PUT, &path, &admin, &done).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    move_clock_and_settle(&app, &clock, org, later(7, 0)).await;
    let mut later_ones = subjects_to(&sink, pat).split_off(3);
    later_ones.sort();
    assert_eq!(
        later_ones,
        [
            "Plan review overdue: Failover",
            "Plan test due in 5 days: Failover",
            "Vendor assessment overdue: Acme Hosting",
        ]
    );
    let kinds: Vec<Value> = app
        .audit_entries(org)
        .await
        .into_iter()
        .filter(|e| e["action"] == "notify")
        .map(|e| e["entityType"].clone())
        .collect();
    for kind in ["training-assignment", "vendor", "bcp-plan"] {
        assert!(kinds.contains(&json!(kind)), "{kinds:?}");
    }
    assert_eq!(kinds.len(), 6, "{kinds:?}");
}

async fn an_approved_exception_expires_by_itself(db: TestDb) {
    let clock = Arc::new(FixedClock::new(at(START)));
    let (first, second) = two_servers(db, clock.clone(), None).await;
    let org = first.org("Expiry").await;
    let requester = first.member(org, "req@expiry.test", Role::OrgAdmin).await;
    let reviewer = first.member(org, "rev@expiry.test", Role::OrgAdmin).await;
    // One endpoint fails the empty-password check (IA-5).
    let t = token(&first, &requester, false).await;
    let (_, enrolled) = enroll(&first, &t, "web-01").await;
    let agent = Key::api(enrolled["apiKey"].as_str().unwrap().to_owned());
    let scan = report(
        &new_id(),
        "2026-12-07T07:00:00Z",
        &[("linux.accounts.empty-passwords", "Fail")],
    );
    let (status, _) = first
        .send(Method::POST, "/api/agent/scans", &agent, &scan)
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let body = json!({ "title": "Legacy login", "control": "IA-5", "riskLevel": "Moderate",
                       "justification": "Vendor appliance", "requestedUntil": date(10) });
    let exception = first.create("exceptions", &requester, body).await;
    let id = exception["id"].as_str().unwrap();
    for step in ["Under Review", "Approved"] {
        let (status, p) = second
            .send(
                Method::POST,
                &format!("/api/exceptions/{id}/transitions"),
                &reviewer,
                &json!({ "to": step }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{p}");
    }
    let overrides = |p: &Value| (p["totals"]["fail"].clone(), p["totals"]["override"].clone());
    let (_, during) = first.get("/api/posture", &requester).await;
    assert_eq!(overrides(&during), (json!(0), json!(1)));

    // Ending within 30 days: a renewal task for the requester, due on the end date, linked.
    move_clock_and_settle(&first, &clock, org, later(0, 1)).await;
    let renewal = async |app: &TestApp| {
        let path = "/api/tasks?source=Expiring%20exception";
        app.get(path, &requester).await.1["items"]
            .as_array()
            .unwrap()
            .clone()
    };
    let tasks = renewal(&first).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let task = &tasks[0];
    assert_eq!(task["assignee"], "req@expiry.test");
    assert_eq!(task["dueDate"], date(10));
    assert_eq!(task["priority"], "Medium");
    assert_eq!(task["status"], "To Do");
    assert_eq!(task["controls"], json!(["ia-5"]));
    assert!(
        task["title"].as_str().unwrap().contains("Legacy login"),
        "{task}"
    );
    let (_, links) = first
        .get(&format!("/api/exceptions/{id}/links"), &requester)
        .await;
    assert_eq!(links["items"][0]["to"]["id"], task["id"], "{links}");
    let made = first
        .audit_entries(org)
        .await
        .into_iter()
        .find(|e| e["action"] == "create" && e["entityId"] == task["id"])
        .unwrap();
    assert_eq!(made["userId"], "system:runner");
    assert_eq!(made["via"], "cron");

    // The last approved day passes nothing new; the day after, the runner ends it.
    move_clock_and_settle(&first, &clock, org, later(10, 1)).await;
    let (_, still) = first
        .get(&format!("/api/exceptions/{id}"), &requester)
        .await;
    assert_eq!(still["status"], "Approved");
    assert_eq!(renewal(&second).await.len(), 1, "one renewal task");
    move_clock_and_settle(&first, &clock, org, later(11, 1)).await;
    let (_, ended) = first
        .get(&format!("/api/exceptions/{id}"), &requester)
        .await;
    assert_eq!(ended["status"], "Expired", "{ended}");
    let (_, acceptances) = first
        .get(&format!("/api/risk-acceptances?exception={id}"), &requester)
        .await;
    // The acceptance ran to the same end date: expired, not revoked early.
    let acceptance = &acceptances["items"][0];
    assert_eq!(acceptance["status"], "Expired", "{acceptance}");
    assert_eq!(acceptance["revokedOn"], Value::Null);
    let (_, after) = first.get("/api/posture", &requester).await;
    assert_eq!(overrides(&after), (json!(1), json!(0)));

    // One move, made by the runner via cron, with the reason.
    let (_, history) = first
        .get(&format!("/api/exceptions/{id}/transitions"), &requester)
        .await;
    let expiries: Vec<&Value> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["to"] == "Expired")
        .collect();
    assert_eq!(expiries.len(), 1, "{history}");
    assert_eq!(expiries[0]["by"], "system:runner");
    assert_eq!(
        expiries[0]["comment"],
        format!("The approved period ended on {}.", date(10))
    );
    let moves: Vec<Value> = first
        .audit_entries(org)
        .await
        .into_iter()
        .filter(|e| e["action"] == "transition" && e["changes"]["status"]["after"] == "Expired")
        .collect();
    assert_eq!(moves.len(), 1);
    assert_eq!(moves[0]["via"], "cron");
}

/// A runner starts a job only while its lease outlasts the longest a job may take (30 s), so a
/// replica taking over a lease never finds the job still running; what a round cannot start
/// in time goes back to the queue, due at once for any runner.
async fn jobs_a_lease_cannot_cover_go_back(db: TestDb) {
    let clock = Arc::new(FixedClock::new(at(START)));
    let c = clock.clone();
    let app = TestApp::spawn_configured(db, move |cfg| cfg.clock = c).await;
    let hour: String = at(START).to_string().chars().take(13).collect();
    let key = format!("plan:{hour}");
    let short = RunnerOptions::leasing(29);
    let round = app.service.run_work(&short).await.unwrap();
    assert_eq!(round.finished + round.failed, 0, "nothing started");
    assert_eq!(
        state(&app, &key).await.as_deref(),
        Some("queued"),
        "given back"
    );
    let round = app.service.run_work(&RunnerOptions::new()).await.unwrap();
    assert_eq!(round.finished, 1);
    assert_eq!(state(&app, &key).await.as_deref(), Some("done"));
}

/// A job that runs past its lease keeps it: its runner renews the lease while the job runs
/// (here a reminder stuck in a frozen relay), so a second runner, looking after the lease the
/// claim gave has run out, finds nothing to take over, and the reminder is sent once.
async fn a_running_job_keeps_its_lease_however_long_it_takes(db: TestDb) {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let clock = Arc::new(FixedClock::new(at(START)));
    let (c, m) = (clock.clone(), mail(&sink));
    let app = TestApp::spawn_configured(db, move |cfg| {
        cfg.clock = c;
        cfg.verification.mail = Some(m);
    })
    .await;
    let org = app.org("Leases").await;
    let admin = app.member(org, "lead@leases.test", Role::OrgAdmin).await;
    app.member(org, "dee@leases.test", Role::Viewer).await;
    let task = app
        .create(
            "tasks",
            &admin,
            json!({ "title": "Renew the certificate", "assignee": "dee@leases.test",
                    "dueDate": date(3) }),
        )
        .await;
    let key = format!(
        "reminder:{org}:{}:{}:3d:dee@leases.test",
        task["id"].as_str().unwrap(),
        date(3)
    );
    let mut first = RunnerOptions::leasing(60);
    first.renew_every = Duration::from_millis(20);
    // The hour's plan, then the organization's, queue the reminder.
    for _ in 0..3 {
        if state(&app, &key).await.is_some() {
            break;
        }
        app.service.run_work(&first).await.unwrap();
    }
    assert_eq!(state(&app, &key).await.as_deref(), Some("queued"));

    sink.pause();
    let service = app.service.clone();
    let runner = first.clone();
    let running = tokio::spawn(async move { service.run_work(&runner).await });
    let lease_until = async || {
        let job = app.service.runner_job_state(&key).await.unwrap().unwrap();
        (job.state == "running")
            .then_some(job.lease_until)
            .flatten()
    };
    eventually("the reminder claimed", async || {
        lease_until().await.is_some()
    })
    .await;
    // Claimed at START with a lease to START + 60 s: a renewal beyond that shows the reminder
    // has started, not only been claimed (a jump past the round's last start, START + 30 s,
    // before it started would give it back).
    clock.set(at(START).plus_seconds(10));
    eventually("the reminder running", async || {
        lease_until()
            .await
            .is_some_and(|until| until > at(START).plus_seconds(60))
    })
    .await;
    // Two minutes on: the lease the claim gave has run out, the renewed one has not.
    let now = at(START).plus_seconds(120);
    clock.set(now);
    eventually("the lease renewed", async || {
        lease_until().await.is_some_and(|until| until > now)
    })
    .await;
    let second = RunnerOptions::leasing(60);
    let round = app.service.run_work(&second).await.unwrap();
    assert_eq!(round.finished + round.failed, 0, "nothing to take over");

    sink.resume();
    let round = running.await.unwrap().unwrap();
    assert_eq!(round.finished, 1);
    let job = app.service.runner_job_state(&key).await.unwrap().unwrap();
    assert_eq!((job.state.as_str(), job.attempts), ("done", 1));
    assert_eq!(
        subjects_to(&sink, "dee@leases.test"),
        ["Task due in 3 days: Renew the certificate"]
    );
}
