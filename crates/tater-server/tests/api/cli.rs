//! The real `tater` binary: admin commands print only what scripts need, and `serve` starts,
//! serves what the CLI created and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use sha2::{Digest, Sha256};
use tater_testkit::{Engine, TestDb, both_engines};

both_engines!(admin_commands_then_serve);

fn tater(db: &TestDb, args: &[&str], password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tater"));
    cmd.args(args)
        .env_remove("TATER_PASSWORD")
        .env("TATER_LOG", "warn");
    match db.engine {
        Engine::Sqlite => cmd
            .env("TATER_DATA_DIR", db.data_dir())
            .env_remove("TATER_DATABASE_URL"),
        Engine::Postgres => cmd
            .env("TATER_DATABASE_URL", &db.url)
            .env("TATER_DATA_DIR", db.data_dir()),
    };
    if let Some(p) = password {
        cmd.env("TATER_PASSWORD", p);
    }
    cmd.output().expect("run tater")
}

fn stdout_line(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(
        text.lines().count(),
        1,
        "exactly one line on stdout: {text:?}"
    );
    text.trim().to_owned()
}

async fn admin_commands_then_serve(db: TestDb) {
    let _data = tempfile::tempdir().unwrap();
    let org = stdout_line(&tater(
        &db,
        &["admin", "org", "create", "--name", "Acme Defense"],
        None,
    ));
    assert!(org.parse::<tater_domain::OrgId>().is_ok(), "org id: {org}");
    let other = stdout_line(&tater(
        &db,
        &["admin", "org", "create", "--name", "Beta Corp"],
        None,
    ));
    let dup = tater(
        &db,
        &["admin", "org", "create", "--name", "acme defense"],
        None,
    );
    assert!(
        !dup.status.success() && dup.stdout.is_empty(),
        "duplicate name refused"
    );

    let user = stdout_line(&tater(
        &db,
        &[
            "admin",
            "user",
            "create",
            "--org",
            &org,
            "--email",
            "Isso@Example.com",
            "--role",
            "orgadmin",
        ],
        Some("a long enough password"),
    ));
    // Again for another org (by name): the same user, a new membership.
    let again = tater(
        &db,
        &[
            "admin",
            "user",
            "create",
            "--org",
            "Beta Corp",
            "--email",
            "isso@example.com",
            "--role",
            "viewer",
        ],
        None,
    );
    assert_eq!(stdout_line(&again), user);
    assert!(String::from_utf8_lossy(&again.stderr).contains("membership"));

    let bad_role = tater(
        &db,
        &[
            "admin",
            "user",
            "create",
            "--org",
            &org,
            "--email",
            "x@example.com",
            "--role",
            "god",
        ],
        None,
    );
    assert_eq!(bad_role.status.code(), Some(2), "usage error");
    let no_org = tater(
        &db,
        &[
            "admin",
            "user",
            "create",
            "--org",
            "Nope Inc",
            "--email",
            "x@example.com",
            "--role",
            "viewer",
        ],
        None,
    );
    assert_eq!(no_org.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_org.stderr).contains("not found"));
    let short = tater(
        &db,
        &[
            "admin",
            "user",
            "create",
            "--org",
            &org,
            "--email",
            "y@example.com",
            "--role",
            "viewer",
        ],
        Some("short"),
    );
    assert!(!short.status.success(), "weak password refused");

    let bound = stdout_line(&tater(
        &db,
        &[
            "admin",
            "api-key",
            "create",
            "--user",
            "isso@example.com",
            "--org",
            &org,
        ],
        None,
    ));
    assert!(tater_service::is_well_formed_api_key(&bound), "{bound}");
    let unbound = stdout_line(&tater(
        &db,
        &["admin", "api-key", "create", "--user", "isso@example.com"],
        None,
    ));
    assert!(tater_service::is_well_formed_api_key(&unbound));
    assert_ne!(bound, unbound);
    let releases = publish_windows_release(&db);

    // Serve the same storage and use what the CLI made.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tater"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("TATER_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    match db.engine {
        Engine::Sqlite => cmd
            .env("TATER_DATA_DIR", db.data_dir())
            .env_remove("TATER_DATABASE_URL"),
        Engine::Postgres => cmd
            .env("TATER_DATABASE_URL", &db.url)
            .env("TATER_DATA_DIR", _data.path()),
    };
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .strip_prefix("Tater is running at ")
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    let me: Value = client
        .get(format!("{base}/api/me"))
        .header("x-api-key", &bound)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email"], "isso@example.com");
    assert_eq!(me["memberships"].as_array().unwrap().len(), 2);
    let login = client
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({ "email": "isso@example.com", "password": "a long enough password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let res = client
        .get(format!("{base}/api/poam"))
        .header("x-api-key", &unbound)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "unbound key, two orgs, no header");
    let res = client
        .get(format!("{base}/api/poam"))
        .header("x-api-key", &unbound)
        .header("x-organization-id", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    windows_release_is_served(&client, &base, &releases).await;

    // The CLI's changes are in the audit log, attributed to the named system actor.
    let log: Value = client
        .get(format!("{base}/api/audit-log?limit=500"))
        .header("x-api-key", &bound)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = log["items"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["entityType"].as_str().unwrap())
        .collect();
    for kind in ["organization", "user", "membership", "api-key"] {
        assert!(kinds.contains(&kind), "{kind} audited: {kinds:?}");
    }
    // (the starter data labels a new organization gets are the setup's, on its behalf).
    assert!(entries.iter().all(|e| e["via"] == "api"
        && (e["userId"] == "system:admin-cli"
            || (e["userId"] == "system:org-setup" && e["entityType"] == "data-label"))));
    // The OS account, with the user id the environment cannot change.
    let uid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap());
    for e in entries {
        let upn = e["upn"].as_str().unwrap();
        assert!(
            upn.starts_with("os-user:") && upn.ends_with(&format!("uid={uid}")),
            "{upn}"
        );
    }

    // SIGTERM: a clean exit.
    crate::process::terminate(&mut child);
}

/// What `publish_windows_release` published: the executable's and the installer's bytes.
struct WindowsRelease {
    exe: Vec<u8>,
    msi: Vec<u8>,
}

/// Issue 17: the Windows executable and its MSI go out through `tater admin agent publish`
/// (`--kind msi`); an installer for another OS, or a file that is no MSI, is refused.
fn publish_windows_release(db: &TestDb) -> WindowsRelease {
    let dir = tempfile::tempdir().unwrap();
    let release = WindowsRelease {
        exe: b"MZ this stands for tater-agent.exe".to_vec(),
        // An MSI is an OLE compound document: its magic, then anything.
        msi: [
            &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1][..],
            b" this stands for the MSI",
        ]
        .concat(),
    };
    let publish = |name: &str, bytes: &[u8], os: &str, kind: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let file = file.display().to_string();
        let mut args = vec!["admin", "agent", "publish", "--file", &file];
        args.extend_from_slice(&["--version", "2.0.0", "--os", os, "--kind", kind]);
        tater(db, &args, None)
    };
    let exe = stdout_line(&publish("a.exe", &release.exe, "windows", "exe"));
    assert_eq!(exe, hex::encode(Sha256::digest(&release.exe)));
    let msi = stdout_line(&publish("a.msi", &release.msi, "windows", "msi"));
    assert_eq!(msi, hex::encode(Sha256::digest(&release.msi)));
    let linux_msi = publish("b.msi", &release.msi, "linux", "msi");
    assert!(!linux_msi.status.success());
    assert!(String::from_utf8_lossy(&linux_msi.stderr).contains("Windows installer"));
    let not_msi = publish("c.msi", &release.exe, "windows", "msi");
    assert!(!not_msi.status.success());
    assert!(String::from_utf8_lossy(&not_msi.stderr).contains("is not an MSI"));
    let bad_kind = publish("d.zip", &release.exe, "windows", "zip");
    assert_eq!(bad_kind.status.code(), Some(2), "usage error");
    release
}

/// Both artifacts in the version document, each downloadable under its own kind with its
/// own digest and file name; an unknown kind is a clear 400.
async fn windows_release_is_served(client: &reqwest::Client, base: &str, r: &WindowsRelease) {
    let fetch = |path: &str| client.get(format!("{base}{path}")).send();
    let doc: Value = fetch("/api/agent/version")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["version"], "2.0.0");
    let artifacts = doc["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 2, "{doc}");
    for (kind, bytes, file, url) in [
        (
            "exe",
            &r.exe,
            "tater-agent-2.0.0-windows-x86_64.exe",
            "/api/agent/download/2.0.0/windows/x86_64",
        ),
        (
            "msi",
            &r.msi,
            "tater-agent-2.0.0-x86_64.msi",
            "/api/agent/download/2.0.0/windows/x86_64?kind=msi",
        ),
    ] {
        let a = artifacts.iter().find(|a| a["kind"] == kind).unwrap();
        assert_eq!(
            (a["os"].as_str(), a["arch"].as_str()),
            (Some("windows"), Some("x86_64"))
        );
        assert_eq!(a["sha256"], hex::encode(Sha256::digest(bytes)));
        assert_eq!(
            (a["size"].as_u64(), a["url"].as_str()),
            (Some(bytes.len() as u64), Some(url))
        );
        let res = fetch(url).await.unwrap();
        assert_eq!(res.status(), 200);
        let disposition = format!("attachment; filename=\"{file}\"");
        assert_eq!(res.headers()["content-disposition"], disposition.as_str());
        assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
    for (path, status) in [
        ("/api/agent/download/2.0.0/windows/x86_64?kind=zip", 400),
        ("/api/agent/download/2.0.0/linux/x86_64?kind=msi", 404),
    ] {
        assert_eq!(fetch(path).await.unwrap().status(), status, "{path}");
    }
}

/// SPEC G4: `tater sbom` prints a CycloneDX 1.5 SBOM that Python's jsonschema accepts
/// against the official schema.
#[test]
fn the_server_sbom_is_valid_cyclonedx() {
    let out = Command::new(env!("CARGO_BIN_EXE_tater"))
        .arg("sbom")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (valid, errors) = tater_testkit::sbom::validate_cyclonedx(&out.stdout);
    assert!(valid, "{errors}");
    let bom: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(bom["metadata"]["component"]["name"], "tater-server");
    let names: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"sqlx") && names.contains(&"axum") && names.contains(&"tater-audit"));
}

/// Boolean environment variables take the usual spellings (`1/0`, `true/false`, `yes/no`,
/// `on/off`, any case); anything else stops the server with a message naming the variable.
#[test]
fn boolean_environment_variables_take_the_usual_spellings() {
    for (value, seeded) in [
        ("1", true),
        ("yes", true),
        ("On", true),
        ("TRUE", true),
        ("0", false),
        ("off", false),
        ("no", false),
        ("false", false),
    ] {
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tater"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("TATER_DATA_DIR", data.path())
            .env_remove("TATER_DATABASE_URL")
            .env("TATER_LOG", "warn")
            .env("TATER_DEMO", value)
            .env("TATER_EGRESS_ALLOW_HTTP", value)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(
            first.starts_with("Tater is running at "),
            "TATER_DEMO={value}: {first:?}"
        );
        // The demo login follows at once when the demo is on; after a kill, nothing follows.
        let second = if seeded {
            lines.next().and_then(Result::ok).unwrap_or_default()
        } else {
            child.kill().unwrap();
            lines.map_while(Result::ok).collect::<Vec<_>>().join("\n")
        };
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            second.starts_with("Demo login: "),
            seeded,
            "TATER_DEMO={value}: {second:?}"
        );
    }
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tater"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("TATER_DATA_DIR", data.path())
        .env_remove("TATER_DATABASE_URL")
        .env("TATER_DEMO", "maybe")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("maybe") && stderr.contains("--demo"),
        "{stderr}"
    );
}
