//! SPEC L4/L5 against a real receiver: rsyslog on loopback gets every entry over TCP (RFC 6587
//! octet counting), TLS (RFC 5425, trusting the destination's own CA) and UDP (RFC 5426); what
//! it parsed has the RFC 5424 fields we sent and a CEF line whose fields survive hostile text.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::{Role, Timestamp};
use tater_siem::{Event, cef};
use tater_testkit::rsyslog::{Received, Rsyslog};
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(syslog_reaches_rsyslog_over_tcp_tls_and_udp);

async fn syslog_reaches_rsyslog_over_tcp_tls_and_udp(db: TestDb) {
    let Some(rsyslog) = Rsyslog::start() else {
        return;
    };
    let app = TestApp::spawn(db).await;
    let org = app.org("syslog").await;
    let boss = app.member(org, "boss@syslog.test", Role::OrgAdmin).await;
    let admin = app.member(org, "admin@syslog.test", Role::Admin).await;
    for (name, port, transport, extra) in [
        ("tater-tcp", rsyslog.tcp_port, "tcp", json!({})),
        (
            "tater-tls",
            rsyslog.tls_port,
            "tls",
            json!({ "caCert": rsyslog.ca_pem }),
        ),
        ("tater-udp", rsyslog.udp_port, "udp", json!({})),
    ] {
        let mut body = json!({
            "type": "syslog", "name": name, "host": "127.0.0.1", "port": port,
            "transport": transport, "appName": name, "facility": 13,
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, d) = app
            .send(Method::POST, "/api/siem-destinations", &boss, &body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{d}");
        let (status, test) = app
            .send(
                Method::POST,
                &format!("/api/siem-destinations/{}/test", d["id"].as_str().unwrap()),
                &boss,
                &json!({}),
            )
            .await;
        assert_eq!(
            (status, &test["delivered"]),
            (StatusCode::OK, &json!(true)),
            "{name}: {test}"
        );
    }
    let title = "Evil | title \\ with = signs cs1=forged ünïcödé";
    let risk = app
        .create(
            "risks",
            &admin,
            json!({ "title": title, "description": "line one\nline two" }),
        )
        .await;
    let (_, log) = app
        .get(
            &format!("/api/audit-log?entityId={}", risk["id"].as_str().unwrap()),
            &boss,
        )
        .await;
    let entry = log["items"][0].clone();
    let entry_id = entry["id"].as_str().unwrap().to_owned();

    let deadline = Instant::now() + Duration::from_secs(20);
    let mine = |r: &Received| r.structured_data.contains(&entry_id);
    while rsyslog.received().iter().filter(|r| mine(r)).count() < 3 {
        assert!(
            Instant::now() < deadline,
            "rsyslog got: {:?}\nerrors: {}",
            rsyslog.received(),
            rsyslog.errors()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let event = Event {
        json: entry.clone(),
        timestamp_ms: Timestamp::parse(entry["timestamp"].as_str().unwrap())
            .unwrap()
            .millis(),
    };
    let expected_cef = cef::line(&event.view());
    let mut apps: Vec<String> = Vec::new();
    for r in rsyslog.received().into_iter().filter(mine) {
        // facility 13 (log audit) × 8 + severity 5 (notice) for a routine record change.
        assert_eq!(r.pri, "109", "{r:?}");
        assert_eq!(r.version, "1");
        assert_eq!(r.hostname, "tater-test");
        assert_eq!(r.procid, std::process::id().to_string());
        assert_eq!(r.msgid, "AUDIT");
        assert!(
            r.timestamp
                .starts_with(&entry["timestamp"].as_str().unwrap()[..19]),
            "{r:?}"
        );
        assert_eq!(
            r.structured_data,
            format!(
                "[tater@32473 tenantId=\"{org}\" entryId=\"{entry_id}\" seq=\"{}\"]",
                entry["seq"]
            ),
        );
        let msg = r.msg.trim_start_matches('\u{feff}');
        assert_eq!(
            msg, expected_cef,
            "the CEF line arrives intact over {}",
            r.app_name
        );
        assert!(msg.starts_with("CEF:0|TATER|Tater|"));
        assert!(msg.contains(&format!("externalId={entry_id} ")));
        assert!(msg.contains(&format!("cs1Label=tenantId cs1={org} ")));
        assert!(msg.contains("suser=admin@syslog.test "));
        assert!(
            msg.contains("Evil | title \\\\ with \\= signs cs1\\=forged"),
            "{msg}"
        );
        apps.push(r.app_name.clone());
    }
    apps.sort();
    assert_eq!(apps, ["tater-tcp", "tater-tls", "tater-udp"]);
    let _: Value = entry;
}
