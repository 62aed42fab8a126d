//! SPEC L6: hostile destinations are refused with a reason that names the problem, names are
//! vetted through a resolver (here a local one the test controls), every resolved address
//! counts, redirects are not followed, and each delivery vets again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tater_egress::{Allowlist, Egress, EgressConfig, EgressError};
use tater_testkit::dns::FakeDns;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn egress(dns: &FakeDns, allow_http: bool, allow: &[&str]) -> Egress {
    Egress::new(EgressConfig {
        allow_http,
        allow: Allowlist::new(allow.iter().map(|n| n.parse().unwrap()).collect()),
        nameserver: Some(dns.addr),
        ..EgressConfig::default()
    })
    .unwrap()
}

async fn hostile_dns() -> FakeDns {
    let dns = FakeDns::start().await;
    dns.set("loopback.test", &["127.0.0.1"]);
    dns.set("private.test", &["10.0.0.5"]);
    dns.set("metadata.test", &["169.254.169.254"]);
    dns.set("mixed.test", &["8.8.8.8", "127.0.0.1"]);
    dns.set("v6loop.test", &["::1"]);
    dns.set("mapped.test", &["::ffff:10.0.0.1"]);
    dns.set("cgnat.test", &["100.64.1.1"]);
    dns.set("public.test", &["8.8.8.8"]);
    dns.set("v4only.test", &[]);
    dns
}

/// (destination, words the refusal must contain).
const HOSTILE_URLS: &[(&str, &str)] = &[
    ("https://127.0.0.1/", "loopback"),
    ("https://127.0.0.2:8443/hook", "loopback"),
    ("https://0.0.0.0/", "this network"),
    ("https://169.254.169.254/latest/meta-data/", "metadata"),
    ("https://169.254.170.2/v2/credentials", "link-local"),
    ("https://192.0.0.192/", "Oracle Cloud metadata"),
    ("https://10.0.0.1/", "private"),
    ("https://172.16.5.4/", "private"),
    ("https://192.168.1.1/", "private"),
    ("https://100.64.0.1/", "CGNAT"),
    ("https://198.18.0.1/", "benchmarking"),
    ("https://224.0.0.1/", "multicast"),
    ("https://255.255.255.255/", "broadcast"),
    ("https://[::1]/", "loopback"),
    ("https://[::]/", "unspecified"),
    (
        "https://[::ffff:127.0.0.1]/",
        "IPv4-in-IPv6 form of 127.0.0.1",
    ),
    ("https://[::ffff:7f00:1]/", "IPv4-in-IPv6 form of 127.0.0.1"),
    ("https://[::ffff:169.254.169.254]/", "metadata"),
    ("https://[::127.0.0.1]/", "IPv4-in-IPv6 form of 127.0.0.1"),
    ("https://[64:ff9b::a9fe:a9fe]/", "NAT64"),
    ("https://[2002:7f00:1::]/", "6to4"),
    ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo"),
    ("https://[fd00:ec2::254]/", "unique local"),
    ("https://[fe80::1]/", "link-local"),
    ("https://[ff02::1]/", "multicast"),
    ("http://2130706433/", "non-standard form"),
    ("http://0x7f.1/", "non-standard form"),
    ("http://017700000001/", "non-standard form"),
    ("http://0x7f000001/", "non-standard form"),
    ("http://0177.0.0.1/", "non-standard form"),
    ("http://127.1/", "non-standard form"),
    ("https://user:pass@example.com/", "user info"),
    ("https://example.com@127.0.0.1/", "user info"),
    ("https://localhost/", "local host"),
    ("https://tenant.localhost/", "local host"),
    (
        "https://metadata.google.internal/computeMetadata/v1/",
        "metadata service",
    ),
    (
        "https://loopback.test/",
        "loopback.test resolves to 127.0.0.1",
    ),
    ("https://private.test/", "private.test resolves to 10.0.0.5"),
    ("https://metadata.test/", "link-local"),
    ("https://mixed.test/", "mixed.test resolves to 127.0.0.1"),
    ("https://v6loop.test/", "loopback"),
    ("https://mapped.test/", "10.0.0.1"),
    ("https://cgnat.test/", "CGNAT"),
    (
        "https://nxdomain.test/",
        "nxdomain.test does not resolve: there is no such name",
    ),
    (
        "https://v4only.test/",
        "v4only.test does not resolve: the name has no address",
    ),
    ("ftp://example.com/", "scheme ftp"),
    ("file:///etc/passwd", "scheme file"),
    ("gopher://127.0.0.1:6379/_INFO", "scheme gopher"),
    ("https://exa mple.com/", "spaces"),
];

#[tokio::test]
async fn hostile_urls_are_refused_with_the_reason() {
    let dns = hostile_dns().await;
    // http is allowed here so that the host checks themselves are what refuses.
    let e = egress(&dns, true, &[]);
    assert!(HOSTILE_URLS.len() >= 40);
    for (url, why) in HOSTILE_URLS {
        match e.vet_url(url).await {
            Err(EgressError::Refused(r)) => {
                assert!(
                    r.reason().contains(why),
                    "{url}: {:?} should mention {why:?}",
                    r.reason()
                );
                // Words for a person: not the resolver's debug output.
                for internal in ["Query", "proto error", "{"] {
                    assert!(!r.reason().contains(internal), "{url}: {:?}", r.reason());
                }
            }
            other => panic!("{url} was not refused: {other:?}"),
        }
    }
    assert!(e.vet_url("https://public.test/hook").await.is_ok());
    assert!(e.vet_url("https://8.8.8.8/hook").await.is_ok());
}

#[tokio::test]
async fn http_is_refused_unless_allowed() {
    let dns = hostile_dns().await;
    let strict = egress(&dns, false, &[]);
    let err = strict.vet_url("http://public.test/").await.unwrap_err();
    assert!(err.to_string().contains("only https"), "{err}");
}

#[tokio::test]
async fn hostile_syslog_hosts_are_refused() {
    let dns = hostile_dns().await;
    let e = egress(&dns, false, &[]);
    for (host, why) in [
        ("127.0.0.1", "loopback"),
        ("[::1]", "loopback"),
        ("localhost", "local host"),
        ("2130706433", "non-standard form"),
        ("0x7f.0x0.0x0.0x1", "non-standard form"),
        ("10.1.2.3", "private"),
        ("loopback.test", "resolves to 127.0.0.1"),
        ("metadata.google.internal", "metadata"),
    ] {
        let err = e.vet_host(host, 6514).await.unwrap_err();
        assert!(err.to_string().contains(why), "{host}: {err}");
    }
    assert!(e.vet_host("public.test", 6514).await.is_ok());
}

/// An HTTP server on `ip` answering every request with `response`; counts requests.
async fn http_server(ip: &str, response: String) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (port, hits)
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let dns = hostile_dns().await;
    let (inner_port, inner_hits) = http_server("127.0.0.2", ok()).await;
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:{inner_port}/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let (port, hits) = http_server("127.0.0.1", redirect).await;
    // The first hop is on the operator's allowlist; the redirect target is not followed.
    let e = egress(&dns, true, &["127.0.0.1/32"]);
    let reply = e
        .post(
            &format!("http://127.0.0.1:{port}/hook"),
            &[],
            b"{}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 302);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        inner_hits.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
}

fn ok() -> String {
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".into()
}

#[tokio::test]
async fn every_delivery_vets_again() {
    let dns = hostile_dns().await;
    let (port, hits) = http_server("127.0.0.1", ok()).await;
    dns.set("siem.test", &["127.0.0.1"]);
    let e = egress(&dns, true, &["127.0.0.1/32"]);
    let url = format!("http://siem.test:{port}/hook");
    let reply = e.post(&url, &[], b"{}".to_vec()).await.unwrap();
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, b"ok".as_slice())
    );
    // The name now points somewhere private: the next delivery is refused before connecting.
    dns.set("siem.test", &["10.9.9.9"]);
    let err = e.post(&url, &[], b"{}".to_vec()).await.unwrap_err();
    assert!(
        err.to_string().contains("siem.test resolves to 10.9.9.9"),
        "{err}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn responses_are_capped() {
    let dns = hostile_dns().await;
    let big = "x".repeat(200_000);
    let (port, _) = http_server(
        "127.0.0.1",
        format!("HTTP/1.1 500 Oops\r\nRetry-After: 7\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{big}", big.len()),
    )
    .await;
    let e = egress(&dns, true, &["127.0.0.1/32"]);
    let reply = e
        .post(&format!("http://127.0.0.1:{port}/"), &[], Vec::new())
        .await
        .unwrap();
    assert_eq!((reply.status, reply.retry_after), (500, Some(7)));
    assert_eq!(reply.body.len(), 64 * 1024);
}

/// A DNS server that never answers: the refusal says so in words, after the resolver's own
/// bounded wait (its timeout is the connect timeout, at most 5 s, two attempts).
#[tokio::test]
async fn a_silent_dns_server_is_named_as_such() {
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let e = Egress::new(EgressConfig {
        nameserver: Some(silent.local_addr().unwrap()),
        connect_timeout: std::time::Duration::from_millis(200),
        ..EgressConfig::default()
    })
    .unwrap();
    match e.vet_url("https://quiet.test/hook").await {
        Err(EgressError::Refused(r)) => assert_eq!(
            r.reason(),
            "quiet.test does not resolve: the DNS server did not answer in time"
        ),
        other => panic!("not refused: {other:?}"),
    }
}
