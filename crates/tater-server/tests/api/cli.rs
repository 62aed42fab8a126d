//! The real `tater` binary: admin commands print only what scripts need, and `serve` starts,
//! serves what the CLI created and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
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
    assert!(
        entries
            .iter()
            .all(|e| e["userId"] == "system:admin-cli" && e["via"] == "api")
    );
    assert!(
        entries
            .iter()
            .all(|e| e["upn"].as_str().unwrap().starts_with("os-user:"))
    );

    // SIGTERM: a clean exit.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(code) = child.try_wait().unwrap() {
            assert!(code.success(), "exit status after SIGTERM: {code}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "server did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
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
