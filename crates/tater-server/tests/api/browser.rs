//! The web application in a real browser: Debian's Chromium driven by Playwright for Python
//! (`python/browser.py`), against the real server. Without Playwright or Chromium the test
//! says "skipped" (`.ci/run` installs both).
//!
//! `TATER_WRITE_SCREENSHOTS=1` keeps the screenshots under `docs/screenshots/` (the README's).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_domain::Role;
use tater_service::SystemClock;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(a_person_signs_in_works_and_signs_out_in_chromium);

/// Whether Playwright and Debian's Chromium are here.
pub(crate) async fn browser_available() -> bool {
    let playwright = tokio::process::Command::new("python3")
        .args(["-c", "import playwright"])
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    let chromium = std::path::Path::new("/usr/bin/chromium").exists();
    if !(playwright && chromium) {
        eprintln!(
            "skipped: the browser tests need Playwright for Python (pip install playwright) and \
             Debian's chromium (apt install chromium)"
        );
    }
    playwright && chromium
}

/// Runs `python/browser.py` against the app as `email`; its observations.
async fn drive(app: &TestApp, email: &str, shots: &std::path::Path, theirs: &str) -> Value {
    run_browser_script(app, "browser.py", email, shots, &[theirs]).await
}

/// Runs the Playwright script `python/{script}` against the app as `email` (with its
/// password), saving screenshots to `shots`; the JSON object of observations it prints.
pub(crate) async fn run_browser_script(
    app: &TestApp,
    script: &str,
    email: &str,
    shots: &std::path::Path,
    more: &[&str],
) -> Value {
    let path = format!("{}/tests/api/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::process::Command::new("python3")
        .arg(path)
        .arg(app.url(""))
        .arg(email)
        .arg(TEST_PASSWORD)
        .arg(shots)
        .args(more)
        .output()
        .await
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the browser script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

pub(crate) fn screenshot_dir() -> (std::path::PathBuf, Option<tempfile::TempDir>) {
    if std::env::var_os("TATER_WRITE_SCREENSHOTS").is_some() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        (dir, None)
    } else {
        let tmp = tempfile::tempdir().unwrap();
        (tmp.path().to_owned(), Some(tmp))
    }
}

/// Two endpoints' scans (each twice, for a trend line) and rated risks: a score of 45.5 (as in
/// `compliance.rs`).
async fn seed_posture(app: &TestApp, admin: &Key) {
    let t = token(app, admin, false).await;
    let scans = [
        (
            "web-01",
            vec![
                ("linux.ssh.root-login", "Fail"),
                ("linux.accounts.uid0", "Pass"),
                ("linux.auditd.active", "Pass"),
                ("linux.time.sync", "Skip"),
            ],
        ),
        (
            "db-01",
            vec![
                ("linux.ssh.root-login", "Pass"),
                ("linux.accounts.empty-passwords", "Fail"),
                ("linux.firewall.active", "Manual Review"),
                ("linux.sysctl.aslr", "Error"),
            ],
        ),
    ];
    for (host, results) in scans {
        let (s, enrolled) = enroll(app, &t, host).await;
        assert_eq!(s, StatusCode::CREATED, "{enrolled}");
        let key = Key::api(enrolled["apiKey"].as_str().unwrap().to_owned());
        for finished in ["2026-11-28T09:00:00Z", "2026-11-29T09:00:00Z"] {
            let scan = report(&new_id(), finished, &results);
            let (s, stored) = app
                .send(Method::POST, "/api/agent/scans", &key, &scan)
                .await;
            assert_eq!(s, StatusCode::CREATED, "{stored}");
        }
    }
    for n in 0..2 {
        app.create("risks", admin, sample("risks", n)).await;
    }
}

async fn a_person_signs_in_works_and_signs_out_in_chromium(db: TestDb) {
    if !browser_available().await {
        return;
    }
    let app = TestApp::spawn_with_entra_sign_in(db, std::sync::Arc::new(SystemClock)).await;
    let (tenant, tid) = app.entra_org("Tenant Org").await;
    let (_, oid) = app
        .entra_member(tenant, &tid, "eve@browser.test", Role::Auditor)
        .await;
    app.entra.desk.sign_in_as(&tid, &oid, "eve@browser.test");
    let home = app.org("Home Org").await;
    let other = app.org("Other Org").await;
    let boss = app.person(other, "boss@browser.test", Role::OrgAdmin).await;
    let ann = app.person(home, "ann@browser.test", Role::OrgAdmin).await;
    app.join(&boss, &ann, "ann@browser.test", other, "viewer")
        .await;
    let profile =
        json!({ "name": "Home System", "abbreviation": "HS", "confidentiality": "moderate" });
    // (Her key acts in the home organization; she belongs to two.)
    let ann_home = app.api_key_of("ann@browser.test", Some(home)).await;
    let (s, _) = app
        .send(Method::PUT, "/api/system-profile", &ann_home, &profile)
        .await;
    assert_eq!(s, StatusCode::OK);
    let theirs = app.create("poam", &boss, sample("poam", 1)).await;
    let theirs = theirs["id"].as_str().unwrap();
    let admin = app.member(home, "admin@browser.test", Role::Admin).await;
    seed_posture(&app, &admin).await;
    // What the JSON API says the dashboard must show.
    let (_, posture) = app.get("/api/posture", &admin).await;
    let failing: Vec<Value> = posture["failing"]
        .as_array()
        .unwrap()
        .iter()
        .take(10)
        .map(|f| f["severity"].clone())
        .collect();
    assert!(!failing.is_empty());

    let (shots, _keep) = screenshot_dir();
    let seen = drive(&app, "ann@browser.test", &shots, theirs).await;
    let sign_in = app.url(tater_web::SIGN_IN_PATH);
    assert_eq!(seen["unsignedLandsOn"], sign_in.as_str(), "{seen}");
    assert_eq!(seen["wrongPassword"]["url"], sign_in.as_str());
    assert!(
        seen["wrongPassword"]["message"]
            .as_str()
            .unwrap()
            .contains("do not match")
    );
    assert_eq!(seen["signedInOn"], app.url("/app").as_str(), "{seen}");
    assert_eq!(seen["title"], "Dashboard · Tater");
    // The dashboard shows the organization's own numbers.
    assert_eq!(seen["score"], "45.5", "{seen}");
    assert_eq!(seen["failing"], json!(failing));
    assert_eq!(seen["heatCell"], "2", "likelihood 3, impact 4");
    // The browser kept the session cookie as set: secure, out of script's reach.
    assert_eq!(
        seen["cookies"],
        json!([{ "name": "__Host-tater_session", "secure": true, "httpOnly": true,
                 "sameSite": "Lax", "path": "/" }])
    );
    assert_eq!(seen["scriptSeesCookie"], "");
    assert_eq!(seen["postWithoutToken"], 403);
    assert!(
        seen["expectedRefusals"].to_string().contains("403"),
        "{seen}"
    );
    // The POA&M item made from its form, found by filter, downloaded, and in the log.
    let created = &seen["created"];
    assert_eq!(created["title"], "Rotate the VPN certificates", "{seen}");
    assert_eq!(created["milestones"], 2);
    let id = created["url"].as_str().unwrap().rsplit('/').next().unwrap();
    let (_, stored) = app.get(&format!("/api/poam/{id}"), &admin).await;
    assert_eq!(stored["controls"], json!(["sc-12", "ia-5"]));
    assert_eq!(stored["milestones"][1]["status"], "In Progress");
    assert_eq!(seen["filtered"], json!(["Rotate the VPN certificates"]));
    let filtered_url = seen["filteredUrl"].as_str().unwrap();
    assert!(
        filtered_url.contains("impact=High") && filtered_url.contains("q=VPN"),
        "live filtering keeps the filters in the address: {filtered_url}"
    );
    let csv_href = seen["csvHref"].as_str().unwrap();
    assert!(
        csv_href.contains("impact=High") && csv_href.contains("q=VPN"),
        "the download links follow the live filter: {csv_href}"
    );
    let csv = seen["csv"].as_str().unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains("Rotate the VPN certificates"));
    assert!(seen["csvName"].as_str().unwrap().ends_with(".csv"));
    assert!(
        seen["controlsFound"]
            .as_array()
            .unwrap()
            .contains(&json!("SC-12")),
        "{seen}"
    );
    assert_eq!(seen["overlayStatus"], "partial");
    // The profile saved from the SSP page keeps what the form was not asked to change.
    assert_eq!(seen["profileShown"], "Home System");
    assert_eq!(seen["profileSaved"], 1, "{seen}");
    let (_, saved) = app.get("/api/system-profile", &ann_home).await;
    assert_eq!(
        (
            &saved["name"],
            &saved["abbreviation"],
            &saved["confidentiality"],
            &saved["version"]
        ),
        (
            &json!("Home System (renamed in the browser)"),
            &json!("HS"),
            &json!("moderate"),
            &json!(2)
        )
    );
    let (_, control) = app.get("/api/controls/sc-12", &admin).await;
    assert_eq!(control["implementationStatus"], "partial");
    let activity = seen["activity"].to_string();
    assert!(
        activity.contains("poam") && activity.contains("control-overlay"),
        "{activity}"
    );
    assert!(!activity.contains("\tapi\t"), "{activity}");
    assert!(
        seen["verdict"]
            .as_str()
            .unwrap()
            .contains("The log verifies")
    );
    // The page-view beacon: sent while browsing, never after the opt-out or with DNT.
    assert!(seen["beacons"].as_u64().unwrap() >= 5, "{seen}");
    assert_eq!(seen["beaconsAfterOptOut"], 0);
    assert!(seen["dntSignedIn"].as_str().unwrap().ends_with("/app/poam"));
    assert_eq!(seen["beaconsWithDnt"], 0);
    assert_eq!(seen["organizations"], json!(["Home Org", "Other Org"]));
    assert_eq!(seen["switchedTo"], "Other Org");
    assert_eq!(seen["roleThere"], "viewer");
    // As a Viewer: no form that changes anything, no Edit, Delete or New on any page; the
    // forged delete with the session's own token answers 403 and deletes nothing.
    for (path, writes) in seen["viewerWriteControls"].as_object().unwrap() {
        assert_eq!(writes, 0, "{path} offers a Viewer a change");
    }
    assert_eq!(seen["viewerWriteControls"].as_object().unwrap().len(), 6);
    assert_eq!(seen["viewerForgedPost"], 403, "{seen}");
    let (s, still) = app.get(&format!("/api/poam/{theirs}"), &boss).await;
    assert_eq!((s, &still["title"]), (StatusCode::OK, &json!("POAM 1")));
    assert_eq!(seen["signedOutOn"], sign_in.as_str());
    assert_eq!(seen["afterSignOut"], sign_in.as_str());
    // No session: the sign-in page's form token is all the browser holds.
    assert_eq!(
        seen["cookiesAfterSignOut"],
        json!([tater_web::SIGN_IN_COOKIE]),
        "{seen}"
    );
    // Signed in through the Entra ID stand-in, in her tenant's organization; the flow's
    // cookie is gone, the session's kept.
    assert_eq!(seen["entra"]["url"], app.url("/app").as_str(), "{seen}");
    assert_eq!(seen["entra"]["org"], "Tenant Org");
    assert_eq!(
        seen["entra"]["cookies"],
        json!([tater_web::SESSION_COOKIE]),
        "{seen}"
    );
    // Not one console error, CSP violation or script error on any page visited.
    assert_eq!(seen["console"], json!([]), "{seen}");
    assert_eq!(seen["csp"], json!([]), "{seen}");
    // axe-core finds nothing serious or critical on any page visited.
    assert_eq!(
        seen["accessibility"],
        json!({}),
        "{}",
        seen["accessibility"]
    );
    assert!(seen["visited"].as_array().unwrap().len() >= 4);
    assert!(shots.join("dashboard.png").exists());
}
