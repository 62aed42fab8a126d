//! What a hostile client can do to the server's memory, measured on the real `tater` binary
//! as a child process (`VmRSS`/`VmHWM` from `/proc/<pid>/status`). Figures are printed so the
//! run's log carries them.

use std::time::Duration;

use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::process::{ServerProcess, SlowReader, mib, org_with_keys, tater_cli};
use crate::support::*;

const RELEASE_BYTES: usize = 64 * 1024 * 1024;

/// Incompressible bytes (xorshift), so no layer can make the release smaller than it is.
fn release_bytes(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Waits until the server's resident size stops growing (the kernel takes a moment to fill
/// every socket buffer), at most `limit`.
async fn settle(server: &ServerProcess, limit: Duration) {
    let start = std::time::Instant::now();
    let mut last = server.rss();
    while start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = server.rss();
        if now <= last {
            return;
        }
        last = now;
    }
}

/// Waits until a reader that left has given its slot back: a new reader gets 200.
async fn slot_comes_back(addr: std::net::SocketAddr, path: &str, headers: &[(&str, &str)]) {
    let start = std::time::Instant::now();
    loop {
        let r = SlowReader::open(addr, path, headers, 100).await;
        if r.status() == 200 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the slot never came back: {}",
            r.head
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Finding 1: a hundred slow readers of a 64 MiB release cost one copy of it, not a hundred.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_readers_of_an_agent_release_share_one_copy() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("tater-agent");
    let content = release_bytes(RELEASE_BYTES);
    std::fs::write(&file, &content).unwrap();
    let sha = hex::encode(Sha256::digest(&content));
    drop(content);
    tater_cli(
        data.path(),
        &[
            "admin",
            "agent",
            "publish",
            "--file",
            file.to_str().unwrap(),
            "--version",
            "9.9.9",
            "--os",
            "linux",
            "--arch",
            "x86_64",
        ],
        &[],
    );
    let server = ServerProcess::start(
        data.path(),
        &[
            ("TATER_DOWNLOAD_CONCURRENCY", "1000"),
            ("TATER_RATE_LIMIT_GENERAL", "0"),
            ("TATER_RATE_LIMIT_AUTH", "0"),
        ],
    );
    let path = "/api/agent/download/9.9.9/linux/x86_64";
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let version = client
        .get(format!("{}/api/agent/version", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(version.status(), StatusCode::OK);
    let before = server.rss();

    let mut readers = Vec::new();
    for _ in 0..100 {
        let r = SlowReader::open(server.addr, path, &[], 100).await;
        assert_eq!(r.status(), 200, "{}", r.head);
        readers.push(r);
    }
    settle(&server, Duration::from_secs(10)).await;
    let during = server.rss();
    let peak = server.hwm();
    let growth = peak.saturating_sub(before);
    eprintln!(
        "agent download, 100 slow readers of a {:.0} MiB release: VmRSS {:.1} MiB before, {:.1} MiB with the readers connected, VmHWM {:.1} MiB; growth {:.1} MiB = {:.2}× the release",
        mib(RELEASE_BYTES as u64),
        mib(before),
        mib(during),
        mib(peak),
        mib(growth),
        growth as f64 / RELEASE_BYTES as f64
    );
    assert!(
        growth < 2 * RELEASE_BYTES as u64,
        "resident growth {:.1} MiB is not under twice the release",
        mib(growth)
    );

    // A reader that reads to the end gets exactly the published bytes.
    let whole = client
        .get(format!("{}{path}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(
        whole.headers()["content-length"],
        RELEASE_BYTES.to_string().as_str()
    );
    let body = whole.bytes().await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&body)), sha);

    // When the readers go away, so does the buffer.
    drop(readers);
    let start = std::time::Instant::now();
    while server.rss() > before + RELEASE_BYTES as u64 / 2
        && start.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "agent download: VmRSS {:.1} MiB after the readers left",
        mib(server.rss())
    );
}

/// Finding 1, the cap: with the default of 4 downloads per client address, a fifth slow
/// reader gets 429 with Retry-After; a slot comes back when a reader leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_per_address_are_capped() {
    let app = TestApp::spawn(tater_testkit::TestDb::sqlite()).await;
    assert_eq!(tater_server::app::DEFAULT_DOWNLOAD_CONCURRENCY, 4);
    app.service
        .admin_publish_agent_release(
            &operator(),
            &tater_store::ReleaseKey::exe("1.0.0", "linux", "x86_64"),
            &release_bytes(8 * 1024 * 1024),
            None,
        )
        .await
        .unwrap();
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let path = "/api/agent/download/1.0.0/linux/x86_64";
    let mut held = Vec::new();
    for _ in 0..4 {
        let r = SlowReader::open(addr, path, &[], 100).await;
        assert_eq!(r.status(), 200, "{}", r.head);
        held.push(r);
    }
    for _ in 0..3 {
        let over = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(over.headers()["retry-after"], "30");
        let (s, p) = json_of(over).await;
        assert_eq!(
            (s, p["error"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("TOO_MANY_CONCURRENT"))
        );
    }
    // Another route from the same address is not affected.
    let (s, _) = json_of(
        app.client
            .get(app.url("/api/agent/version"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    drop(held.pop());
    slot_comes_back(addr, path, &[]).await;
}

/// A configuration document of `kib` KiB.
fn big_doc(n: usize, kib: usize) -> serde_json::Value {
    let body: String = std::iter::repeat_n("lorem ipsum dolor sit amet, ", kib * 1024 / 28 + 1)
        .collect::<String>()
        .chars()
        .take(kib * 1024)
        .collect();
    serde_json::json!({ "title": format!("Hardening guide {n}"), "body": body, "tags": ["big"] })
}

/// Finding 6: forty slow readers of a JSON export of 256 KiB documents hold one bounded page
/// each, not a page of 500 records each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_readers_of_an_export_hold_one_bounded_page_each() {
    const DOCS: usize = 200;
    let data = tempfile::tempdir().unwrap();
    let (_, keys) = org_with_keys(
        data.path(),
        "Big Docs",
        &[("admin@big.test", "admin"), ("viewer@big.test", "viewer")],
    );
    let server = ServerProcess::start(
        data.path(),
        &[
            ("TATER_EXPORT_CONCURRENCY", "1000"),
            ("TATER_RATE_LIMIT_GENERAL", "0"),
            ("TATER_RATE_LIMIT_WRITE", "0"),
        ],
    );
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for n in 0..DOCS {
        let res = client
            .post(format!("{}/api/config-docs", server.base))
            .header("x-api-key", &keys[0])
            .json(&big_doc(n, 256))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let before = server.rss();
    let path = "/api/config-docs/export?format=json";
    let mut readers = Vec::new();
    for _ in 0..40 {
        let r = SlowReader::open(server.addr, path, &[("x-api-key", &keys[1])], 100).await;
        assert_eq!(r.status(), 200, "{}", r.head);
        readers.push(r);
    }
    settle(&server, Duration::from_secs(10)).await;
    let peak = server.hwm();
    let growth = peak.saturating_sub(before);
    eprintln!(
        "config-docs JSON export, {DOCS} documents of 256 KiB ({:.0} MiB), 40 slow readers: VmRSS {:.1} MiB before, VmHWM {:.1} MiB; growth {:.1} MiB",
        mib((DOCS * 256 * 1024) as u64),
        mib(before),
        mib(peak),
        mib(growth)
    );
    assert!(
        growth < 256 * 1024 * 1024,
        "resident growth {:.1} MiB is not under 256 MiB",
        mib(growth)
    );
    // A list asking for 500 of them gets a page that fits the byte budget, and a cursor.
    let list: serde_json::Value = client
        .get(format!("{}/api/config-docs?limit=500", server.base))
        .header("x-api-key", &keys[1])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let n = list["items"].as_array().unwrap().len();
    assert!(
        (1..=4).contains(&n),
        "{n} documents of 256 KiB in a 1 MiB page"
    );
    assert!(list["nextCursor"].is_string());
    drop(readers);
}

/// Finding 6, the cap: with the default of 4 exports per organization, a fifth gets 429 with
/// Retry-After while another organization exports freely; a slot comes back when a reader
/// leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_per_organization_are_capped() {
    let app = TestApp::spawn(tater_testkit::TestDb::sqlite()).await;
    assert_eq!(tater_server::app::DEFAULT_EXPORT_CONCURRENCY, 4);
    let org = app.org("Busy").await;
    let other = app.org("Calm").await;
    let viewer = app
        .member(org, "viewer@busy.test", tater_domain::Role::Viewer)
        .await;
    let second = app
        .member(org, "second@busy.test", tater_domain::Role::Viewer)
        .await;
    let admin = app
        .member(org, "admin@busy.test", tater_domain::Role::Admin)
        .await;
    let calm = app
        .member(other, "viewer@calm.test", tater_domain::Role::Viewer)
        .await;
    // Far more than the sockets' buffers hold, so the readers' exports stay in flight.
    for n in 0..120 {
        app.create("config-docs", &admin, big_doc(n, 256)).await;
    }
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let path = "/api/config-docs/export?format=json";
    let mut held = Vec::new();
    for who in [&viewer, &viewer] {
        let r = SlowReader::open(addr, path, &[(who.header, &who.value)], 100).await;
        assert_eq!(r.status(), 200, "{}", r.head);
        held.push(r);
    }
    // One person holds at most half the organization's slots.
    let res = app
        .req(reqwest::Method::GET, path, &viewer)
        .send()
        .await
        .unwrap();
    let (s, p) = json_of(res).await;
    assert_eq!(
        (s, p["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("TOO_MANY_CONCURRENT")),
        "{p}"
    );
    for who in [&second, &second] {
        let r = SlowReader::open(addr, path, &[(who.header, &who.value)], 100).await;
        assert_eq!(r.status(), 200, "{}", r.head);
        held.push(r);
    }
    // The organization's four are taken: anyone else of it waits.
    for over in [
        path,
        "/api/endpoints/export?format=csv",
        "/api/audit-log/export",
    ] {
        let res = app
            .req(reqwest::Method::GET, over, &admin)
            .send()
            .await
            .unwrap();
        let retry = res.headers().get("retry-after").cloned();
        let (s, p) = json_of(res).await;
        assert_eq!(
            (s, p["error"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("TOO_MANY_CONCURRENT")),
            "{over}: {p}"
        );
        assert_eq!(retry.unwrap(), "10");
    }
    // Lists are not exports; another organization is not affected.
    assert_eq!(
        app.get("/api/config-docs?limit=1", &viewer).await.0,
        StatusCode::OK
    );
    let res = app
        .req(reqwest::Method::GET, path, &calm)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    drop(held.pop());
    slot_comes_back(addr, path, &[(second.header, &second.value)]).await;
}

/// Issue 15: an evidence file streams through to the file store. A 48 MiB upload costs the
/// server about what a 2 MiB one does (a part of the upload in memory, never the file), and
/// the file comes back byte for byte.
///
/// The server's peak moves by a few MiB from one upload to the next whatever their sizes
/// (0–6.4 MiB measured for 2, 3, 20 and 48 MiB; the first upload of a process is the
/// dearest), so a first upload warms it up and the large file is large enough for a copy
/// of it to stand far above that noise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_evidence_upload_streams_through() {
    const WARM_UP: usize = 3 * 1024 * 1024;
    const SMALL: usize = 2 * 1024 * 1024;
    const LARGE: usize = 48 * 1024 * 1024;
    let data = tempfile::tempdir().unwrap();
    let (_, keys) = org_with_keys(data.path(), "Big Files", &[("admin@files.test", "admin")]);
    let key = &keys[0];
    let server = ServerProcess::start(
        data.path(),
        &[
            ("TATER_RATE_LIMIT_GENERAL", "0"),
            ("TATER_RATE_LIMIT_WRITE", "0"),
            // The default (50 MiB) leaves the large file little room; set, not inherited.
            ("TATER_EVIDENCE_MAX_BYTES", "67108864"),
        ],
    );
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let evidence: serde_json::Value = client
        .post(format!("{}/api/evidence", server.base))
        .header("x-api-key", key)
        .json(&serde_json::json!({ "title": "Full disk image hash report" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let files = format!(
        "{}/api/evidence/{}/files",
        server.base,
        evidence["id"].as_str().unwrap()
    );
    let mut growth = Vec::new();
    let mut last = None;
    let uploads = [
        ("warm-up.bin", WARM_UP),
        ("small.bin", SMALL),
        ("large.bin", LARGE),
    ];
    for (name, len) in uploads {
        let content = release_bytes(len);
        let sha = hex::encode(Sha256::digest(&content));
        settle(&server, Duration::from_secs(5)).await;
        let before = server.hwm();
        let res = client
            .post(format!("{files}?name={name}"))
            .header("x-api-key", key)
            .header("content-type", "application/octet-stream")
            .body(content)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let made: serde_json::Value = res.json().await.unwrap();
        assert_eq!(made["sha256"], sha.as_str());
        growth.push(server.hwm().saturating_sub(before));
        last = Some((made["id"].as_str().unwrap().to_owned(), sha));
    }
    eprintln!(
        "evidence upload: VmHWM growth {:.1} MiB for the {:.0} MiB warm-up, {:.1} MiB for {:.0} MiB, {:.1} MiB for {:.0} MiB; the larger file cost {:.2}× its size",
        mib(growth[0]),
        mib(WARM_UP as u64),
        mib(growth[1]),
        mib(SMALL as u64),
        mib(growth[2]),
        mib(LARGE as u64),
        growth[2] as f64 / LARGE as f64
    );
    assert!(
        growth[2] < (LARGE as u64) / 4,
        "a {:.0} MiB upload grew the server by {:.1} MiB",
        mib(LARGE as u64),
        mib(growth[2])
    );
    let (id, sha) = last.unwrap();
    let back = client
        .get(format!("{files}/{id}"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), StatusCode::OK);
    let bytes = back.bytes().await.unwrap();
    assert_eq!(bytes.len(), LARGE);
    assert_eq!(hex::encode(Sha256::digest(&bytes)), sha);
}
