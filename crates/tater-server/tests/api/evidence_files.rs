//! Files attached to evidence: uploaded as a stream (own size limit, configured types),
//! kept by SHA-256 and checked again on the way out, served as a sandboxed attachment, changed
//! only while the record is a draft, audited, and gone with their record.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    a_file_streams_in_and_out_checked_and_sandboxed,
    files_change_only_while_the_record_is_a_draft_and_go_with_it,
    a_file_downloads_from_the_evidence_page_as_from_the_api,
    a_file_uploads_from_the_evidence_page_with_the_sessions_token,
);

/// A page that would run script if a browser rendered it in Tater's origin.
pub const HOSTILE_HTML: &str = "<!doctype html><title>scan report</title>\
    <script>document.title = 'pwned'; fetch('/api/me');</script><p>42 findings</p>";

pub async fn upload(
    app: &TestApp,
    key: &Key,
    evidence: &str,
    name: &str,
    media_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let res = app
        .req(
            Method::POST,
            &format!("/api/evidence/{evidence}/files?name={name}"),
            key,
        )
        .header("content-type", media_type)
        .body(body)
        .send()
        .await
        .unwrap();
    json_of(res).await
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn a_file_streams_in_and_out_checked_and_sandboxed(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Files").await;
    let admin = app.member(org, "admin@files.test", Role::Admin).await;
    let viewer = app.member(org, "viewer@files.test", Role::Viewer).await;
    let evidence = app.create("evidence", &admin, sample("evidence", 1)).await;
    let id = evidence["id"].as_str().unwrap();

    let html = HOSTILE_HTML.as_bytes().to_vec();
    let (status, made) = upload(
        &app,
        &admin,
        id,
        "scan%20report.html",
        "text/html; charset=utf-8",
        html.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["name"], "scan report.html");
    assert_eq!(made["mediaType"], "text/html");
    assert_eq!(made["bytes"], html.len());
    assert_eq!(made["sha256"], sha256(&html));
    let file = made["id"].as_str().unwrap();

    let (_, listed) = app.get(&format!("/api/evidence/{id}/files"), &viewer).await;
    assert_eq!(listed["items"][0]["id"], file);

    // Out again as an attachment no browser renders in Tater's origin.
    let res = app
        .req(
            Method::GET,
            &format!("/api/evidence/{id}/files/{file}"),
            &viewer,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"scan report.html\"")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "sandbox; default-src 'none'");
    assert_eq!(h["content-type"], "text/html");
    let digest = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        Sha256::digest(&html),
    );
    assert_eq!(h["repr-digest"], format!("sha-256=:{digest}:").as_str());
    assert_eq!(res.bytes().await.unwrap().to_vec(), html);

    // Refusals: the role, the size, the type, the name; nothing is kept for any of them.
    let before = app.audit_entries(org).await.len();
    let (status, _) = upload(&app, &viewer, id, "a.txt", "text/plain", b"x".to_vec()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let big = vec![b'a'; 4 * 1024 * 1024 + 1];
    let (status, p) = upload(&app, &admin, id, "big.txt", "text/plain", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{p}");
    assert_eq!(p["error"], "FILE_TOO_LARGE");
    let (status, p) = upload(
        &app,
        &admin,
        id,
        "tool.exe",
        "application/x-msdownload",
        b"MZ".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{p}");
    assert_eq!(p["error"], "UNSUPPORTED_FILE_TYPE");
    for bad in ["", "..", "%0Aevil.txt"] {
        let (status, p) = upload(&app, &admin, id, bad, "text/plain", b"x".to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {p}");
        assert_eq!(p["errors"][0]["field"], "name");
    }
    let (_, listed) = app.get(&format!("/api/evidence/{id}/files"), &viewer).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.audit_entries(org).await.len(), before);

    // A directory in the name is dropped, never followed.
    let (status, made) = upload(
        &app,
        &admin,
        id,
        "..%2F..%2Fetc%2Fpasswd",
        "text/plain",
        b"root".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["name"], "passwd");

    // Another organization sees nothing and cannot attach.
    let other = app.org("Other").await;
    let theirs = app.member(other, "them@other.test", Role::OrgAdmin).await;
    for path in [
        format!("/api/evidence/{id}/files"),
        format!("/api/evidence/{id}/files/{file}"),
    ] {
        assert_eq!(
            app.status(Method::GET, &path, &theirs).await,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let (status, _) = upload(&app, &theirs, id, "x.txt", "text/plain", b"x".to_vec()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The upload is audited with its hash.
    let entries = app.audit_entries(org).await;
    let recorded = entries
        .iter()
        .find(|e| e["entityType"] == "evidence-file" && e["entityId"] == file)
        .unwrap();
    assert_eq!(recorded["action"], "create");
    assert_eq!(recorded["changes"]["sha256"]["after"], sha256(&html));
}

async fn files_change_only_while_the_record_is_a_draft_and_go_with_it(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Files").await;
    let admin = app.person(org, "admin@files.test", Role::Admin).await;
    let first = app.create("evidence", &admin, sample("evidence", 1)).await;
    let second = app.create("evidence", &admin, sample("evidence", 2)).await;
    let (a, b) = (
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );
    let pdf = b"%PDF-1.7 the same minutes, twice".to_vec();
    let (_, one) = upload(
        &app,
        &admin,
        a,
        "minutes.pdf",
        "application/pdf",
        pdf.clone(),
    )
    .await;
    let (_, two) = upload(
        &app,
        &admin,
        b,
        "minutes.pdf",
        "application/pdf",
        pdf.clone(),
    )
    .await;
    assert_eq!(one["sha256"], two["sha256"]);

    // Accepted evidence is decided: its files stay as they were.
    let moved = app
        .send(
            Method::POST,
            &format!("/api/evidence/{a}/transitions"),
            &admin,
            &json!({ "to": "accepted" }),
        )
        .await;
    assert_eq!(moved.0, StatusCode::OK, "{}", moved.1);
    let (status, p) = upload(&app, &admin, a, "late.txt", "text/plain", b"x".to_vec()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    assert_eq!(p["error"], "RECORD_DECIDED");
    let one_path = format!("/api/evidence/{a}/files/{}", one["id"].as_str().unwrap());
    let (status, p) = app
        .send(Method::DELETE, &one_path, &admin, &json!(null))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");

    // Removing one attachment keeps the bytes the other still holds.
    let two_path = format!("/api/evidence/{b}/files/{}", two["id"].as_str().unwrap());
    let (status, _) = app
        .send(Method::DELETE, &two_path, &admin, &json!(null))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.status(Method::GET, &two_path, &admin).await,
        StatusCode::NOT_FOUND
    );
    let res = app
        .req(Method::GET, &one_path, &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().to_vec(), pdf);

    // Deleting the record takes its files, and says so.
    let (status, _) = app
        .send(
            Method::DELETE,
            &format!("/api/evidence/{a}"),
            &admin,
            &json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let entries = app.audit_entries(org).await;
    let deleted = entries
        .iter()
        .find(|e| e["action"] == "delete" && e["entityId"] == a)
        .unwrap();
    assert_eq!(deleted["changes"]["_filesRemoved"], 1);
    assert_eq!(
        app.status(Method::GET, &one_path, &admin).await,
        StatusCode::NOT_FOUND
    );
}

/// moto's S3 server on a free port, or `None` (with the reason) when moto is not installed.
struct S3Emulator {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for S3Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn s3_emulator() -> Option<S3Emulator> {
    let installed = std::process::Command::new("python3")
        .args(["-c", "import moto.server"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("skipped: the S3 leg needs moto's S3 server (pip install 'moto[server]')");
        return None;
    }
    let port = tater_testkit::listen::free_port();
    let child = std::process::Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start moto");
    // Owned at once, so it is killed and reaped however the test ends.
    let mut emulator = S3Emulator {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    // Ready when *this* emulator holds the port (another test's could answer a connect), and
    // then answers HTTP.
    tater_testkit::listen::wait_until_bound(
        &mut emulator.child,
        port,
        tater_testkit::listen::Proto::Tcp,
        "moto",
        std::time::Duration::from_secs(20),
        String::new,
    );
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..100 {
        if client.get(&emulator.endpoint).send().await.is_ok() {
            return Some(emulator);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("moto did not start on {}", emulator.endpoint);
}

/// The same round trip with the bytes in S3-compatible storage (moto's S3 emulator, an
/// independent implementation of the wire protocol): a file over one part (6 MiB) goes up in
/// parts, comes back checked, is stored once under the organization's prefix, and is removed
/// from the bucket when its last attachment goes.
#[tokio::test]
async fn files_round_trip_through_s3_compatible_storage() {
    let Some(s3) = s3_emulator().await else {
        return;
    };
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let made = client
        .put(format!("{}/tater-evidence", s3.endpoint))
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "{}", made.status());
    let options = [
        ("aws_endpoint", s3.endpoint.as_str()),
        ("aws_allow_http", "true"),
        ("aws_access_key_id", "test"),
        ("aws_secret_access_key", "test"),
        ("aws_region", "us-east-1"),
    ];
    let store = tater_blobs::BlobStore::open_with("s3://tater-evidence/files", &options).unwrap();
    let app = TestApp::spawn_configured(TestDb::sqlite(), |c| {
        c.files = tater_service::files_config(Some(store), 16 * 1024 * 1024, None);
    })
    .await;
    let org = app.org("S3").await;
    let admin = app.member(org, "admin@s3.test", Role::Admin).await;
    let evidence = app.create("evidence", &admin, sample("evidence", 1)).await;
    let id = evidence["id"].as_str().unwrap();
    let content: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let (status, made) = upload(
        &app,
        &admin,
        id,
        "image.bin",
        "application/octet-stream",
        content.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let sha = sha256(&content);
    assert_eq!(made["sha256"], sha.as_str());

    let listing = client
        .get(format!("{}/tater-evidence?list-type=2", s3.endpoint))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listing.contains(&format!("<Key>files/{org}/{sha}</Key>")),
        "{listing}"
    );

    let file = made["id"].as_str().unwrap();
    let path = format!("/api/evidence/{id}/files/{file}");
    let res = app.req(Method::GET, &path, &admin).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(sha256(&res.bytes().await.unwrap()), sha);

    let (status, _) = app.send(Method::DELETE, &path, &admin, &json!(null)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let listing = client
        .get(format!("{}/tater-evidence?list-type=2", s3.endpoint))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listing.contains(&sha), "{listing}");
}

/// An uploaded HTML file with script, opened in Chromium the way a person clicks its link:
/// the browser saves it as a download and runs none of it (its script would fetch `/api/me`
/// with the person's credential and retitle the page).
#[tokio::test]
async fn an_uploaded_html_file_downloads_and_never_runs_in_chromium() {
    if !crate::browser::browser_available().await {
        return;
    }
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let org = app.org("Browser").await;
    let admin = app.member(org, "admin@browser.test", Role::Admin).await;
    assert_eq!(admin.header, "x-api-key");
    let evidence = app.create("evidence", &admin, sample("evidence", 1)).await;
    let id = evidence["id"].as_str().unwrap();
    let html = HOSTILE_HTML.as_bytes().to_vec();
    let (status, made) = upload(&app, &admin, id, "report.html", "text/html", html.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let url = app.url(&format!(
        "/api/evidence/{id}/files/{}",
        made["id"].as_str().unwrap()
    ));
    let expected = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(expected.path(), &html).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api/python/file_download.py"
    );
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .arg(&url)
        .arg(&admin.value)
        .arg(expected.path())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["downloaded"], true, "{seen}");
    assert_eq!(seen["suggestedName"], "report.html");
    assert_eq!(seen["sameBytes"], true);
    assert_ne!(seen["title"], "pwned", "{seen}");
    let requests = seen["requests"].as_array().unwrap();
    assert!(
        requests
            .iter()
            .all(|r| !r.as_str().unwrap().ends_with("/api/me")),
        "the file's script ran: {seen}"
    );
}

/// Bytes changed in the store behind the application's back never reach a client whole: the
/// download is checked as it is read and its last chunk waits for the check.
#[tokio::test]
async fn a_file_altered_in_the_store_is_never_received_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = tater_blobs::BlobStore::directory(dir.path()).unwrap();
    let app = TestApp::spawn_configured(TestDb::sqlite(), |c| {
        c.files = tater_service::files_config(Some(store), 4 * 1024 * 1024, None);
    })
    .await;
    let org = app.org("Tamper").await;
    let admin = app.member(org, "admin@tamper.test", Role::Admin).await;
    let evidence = app.create("evidence", &admin, sample("evidence", 1)).await;
    let id = evidence["id"].as_str().unwrap();
    let original: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let (status, made) = upload(
        &app,
        &admin,
        id,
        "log.bin",
        "application/octet-stream",
        original.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let stored = dir
        .path()
        .join(org.to_string())
        .join(made["sha256"].as_str().unwrap());
    let mut altered = original.clone();
    altered[150_000] ^= 0xff;
    std::fs::write(&stored, &altered).unwrap();

    let path = format!("/api/evidence/{id}/files/{}", made["id"].as_str().unwrap());
    let res = app.req(Method::GET, &path, &admin).send().await.unwrap();
    let received = res.bytes().await;
    match received {
        Err(_) => {}
        Ok(bytes) => assert!(
            bytes.len() < altered.len(),
            "an altered file came through whole ({} bytes)",
            bytes.len()
        ),
    }
    // Put right, it downloads again.
    std::fs::write(&stored, &original).unwrap();
    let res = app.req(Method::GET, &path, &admin).send().await.unwrap();
    assert_eq!(res.bytes().await.unwrap().to_vec(), original);
}

/// The web application offers an evidence record's files from its page — listed, each a
/// download through the REST route (the same checks and sandbox), as the signed-in person.
async fn a_file_downloads_from_the_evidence_page_as_from_the_api(db: TestDb) {
    use crate::web::{page, sign_in};
    let app = TestApp::spawn(db).await;
    let org = app.org("Paged files").await;
    let admin = app.person(org, "admin@pagedfiles.test", Role::Admin).await;
    app.person(org, "viewer@pagedfiles.test", Role::Viewer)
        .await;
    let evidence = app.create("evidence", &admin, sample("evidence", 1)).await;
    let id = evidence["id"].as_str().unwrap();
    let html = HOSTILE_HTML.as_bytes().to_vec();
    let (status, made) = upload(&app, &admin, id, "report.html", "text/html", html.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let file = made["id"].as_str().unwrap();

    let secret = sign_in(&app, "viewer@pagedfiles.test").await;
    let record = page(&app, Some(&secret), &format!("/app/evidence/{id}")).await;
    let listing = format!("/app/actions/list_evidence_files?id={id}");
    assert!(record.body.contains(&listing), "{}", record.body);
    let listed = page(&app, Some(&secret), &listing).await;
    assert_eq!(listed.status, StatusCode::OK);
    let link = format!("/app/actions/get_evidence_file?id={id}&amp;fileId={file}&amp;_download=1");
    assert!(listed.body.contains(&link), "{}", listed.body);
    assert!(
        !listed.body.contains("delete_evidence_file"),
        "a Viewer is offered no removal"
    );

    let got = page(&app, Some(&secret), &link.replace("&amp;", "&")).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(got.body.as_bytes(), html.as_slice());
    assert!(
        got.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(
        got.headers["content-security-policy"],
        "sandbox; default-src 'none'"
    );

    // A link from another site makes nothing in this person's name.
    let res = no_redirects_client()
        .get(app.url(&link.replace("&amp;", "&")))
        .header("cookie", crate::web::cookie_header(&secret))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Another organization's member gets nothing of it.
    let other = app.org("Elsewhere files").await;
    app.person(other, "outsider@elsewhere-files.test", Role::OrgAdmin)
        .await;
    let outsider = sign_in(&app, "outsider@elsewhere-files.test").await;
    let refused = page(&app, Some(&outsider), &link.replace("&amp;", "&")).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
}

fn no_redirects_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) const BOUNDARY: &str = "tater-test-boundary-7d1f";

/// A `multipart/form-data` body of `(name, file name, bytes)` parts, in order.
pub(crate) fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend(format!("--{BOUNDARY}\r\n").as_bytes());
        match file {
            Some(f) => body.extend(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: text/plain\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend(*bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub(crate) async fn post_upload(
    app: &TestApp,
    secret: &str,
    evidence: &str,
    body: Vec<u8>,
) -> StatusCode {
    no_redirects_client()
        .post(app.url(&format!("/app/evidence/{evidence}/files")))
        .header("cookie", crate::web::cookie_header(secret))
        .header("sec-fetch-site", "same-origin")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

async fn a_file_uploads_from_the_evidence_page_with_the_sessions_token(db: TestDb) {
    use crate::web::{csrf_of, page, sign_in};
    let app = TestApp::spawn(db).await;
    let org = app.org("Uploads").await;
    let admin = app.person(org, "admin@uploads.test", Role::Admin).await;
    app.person(org, "viewer@uploads.test", Role::Viewer).await;
    let evidence = app.create("evidence", &admin, sample("evidence", 1)).await;
    let id = evidence["id"].as_str().unwrap();
    let files = |key| {
        let path = format!("/api/evidence/{id}/files");
        let app = &app;
        async move {
            app.get(&path, key).await.1["items"]
                .as_array()
                .unwrap()
                .len()
        }
    };

    let secret = sign_in(&app, "admin@uploads.test").await;
    let shown = page(&app, Some(&secret), &format!("/app/evidence/{id}")).await;
    let action = format!("action=\"/app/evidence/{id}/files\" enctype=\"multipart/form-data\"");
    assert!(shown.body.contains(&action), "{}", shown.body);
    let csrf = csrf_of(&shown.body);
    let minutes = b"Access review minutes, Q3: 42 accounts reviewed, 3 removed.";

    // Without the session's token first, nothing is stored.
    let no_token = multipart(&[("file", Some("minutes.txt"), minutes)]);
    assert_eq!(
        post_upload(&app, &secret, id, no_token).await,
        StatusCode::FORBIDDEN
    );
    let wrong = multipart(&[
        ("_csrf", None, b"forged"),
        ("file", Some("minutes.txt"), minutes),
    ]);
    assert_eq!(
        post_upload(&app, &secret, id, wrong).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(files(&admin).await, 0);

    // Bytes that never reach a part are not kept: past 256 KiB the upload is refused.
    let endless = vec![b'A'; 2 * 1024 * 1024];
    assert_eq!(
        post_upload(&app, &secret, id, endless).await,
        StatusCode::FORBIDDEN
    );
    let mut padded =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n").into_bytes();
    padded.extend(b"X-Pad: ");
    padded.extend(vec![b'A'; 2 * 1024 * 1024]);
    assert_eq!(
        post_upload(&app, &secret, id, padded).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(files(&admin).await, 0);

    let good = multipart(&[
        ("_csrf", None, csrf.as_bytes()),
        ("file", Some("minutes.txt"), minutes),
    ]);
    assert_eq!(
        post_upload(&app, &secret, id, good).await,
        StatusCode::SEE_OTHER
    );
    let (_, listed) = app.get(&format!("/api/evidence/{id}/files"), &admin).await;
    assert_eq!(listed["items"][0]["name"], "minutes.txt", "{listed}");
    assert_eq!(listed["items"][0]["sha256"], sha256(minutes));
    let entries = app.audit_entries(org).await;
    let uploaded = entries
        .iter()
        .find(|e| e["entityType"] == "evidence-file")
        .unwrap();
    assert_eq!(uploaded["via"], "web");

    // A Viewer is offered no form, and a post of theirs stores nothing.
    let viewer = sign_in(&app, "viewer@uploads.test").await;
    let shown = page(&app, Some(&viewer), &format!("/app/evidence/{id}")).await;
    assert!(!shown.body.contains("multipart/form-data"));
    let token = csrf_of(&shown.body);
    let theirs = multipart(&[
        ("_csrf", None, token.as_bytes()),
        ("file", Some("more.txt"), minutes),
    ]);
    assert_eq!(
        post_upload(&app, &viewer, id, theirs).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(files(&admin).await, 1);
}
