//! The deployment files (issue 19 §5): the systemd unit as systemd itself reads it, secrets
//! handed over as credentials rather than environment variables, the health probe the
//! container image runs, and the PostgreSQL role the compose file creates. The container
//! build itself runs in `scripts/test-deploy` where a container engine is available.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::process::{ServerProcess, org_with_keys_in};

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn tater(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tater"));
    cmd.args(args).env_remove("CREDENTIALS_DIRECTORY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run tater")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `systemd-analyze` is Debian's systemd package; says "skipped" where it is missing.
fn systemd_analyze() -> Option<&'static str> {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: systemd-analyze is not installed (Debian package systemd)");
    }
    found.then_some("systemd-analyze")
}

/// The unit as shipped, but starting this build's binary (systemd checks that it exists).
fn unit_for_this_build(dir: &Path) -> PathBuf {
    let unit = std::fs::read_to_string(repo_file("deploy/systemd/tater.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/tater serve"),
        "{unit}"
    );
    let unit = unit.replace("/usr/local/bin/tater", env!("CARGO_BIN_EXE_tater"));
    let path = dir.join("tater.service");
    std::fs::write(&path, unit).unwrap();
    path
}

/// systemd reads the unit without a single complaint (an unknown or misspelt key is only a
/// warning to systemd, so the test fails on any output), and rates its sandbox as exposed at
/// most 2.0 out of 10 — "OK" in `systemd-analyze security`.
#[test]
fn the_systemd_unit_is_valid_and_hardened() {
    let Some(analyze) = systemd_analyze() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_this_build(dir.path());
    let verify = Command::new(analyze)
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let said = format!("{}{}", text(&verify.stdout), text(&verify.stderr));
    assert!(verify.status.success() && said.trim().is_empty(), "{said}");

    let security = Command::new(analyze)
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let report = text(&security.stdout);
    let exposure: f64 = report
        .lines()
        .find_map(|l| l.split("Overall exposure level for tater.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}{}", text(&security.stderr)));
    eprintln!("systemd-analyze security: exposure {exposure} of 10");
    assert!(exposure <= 2.0, "exposure {exposure}:\n{report}");
    for hardening in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "StateDirectory=tater",
        "LoadCredential=master-key:",
    ] {
        let text = std::fs::read_to_string(&unit).unwrap();
        assert!(text.contains(hardening), "the unit sets {hardening}");
    }
}

fn credentials(dir: &Path, key: &str) -> PathBuf {
    let creds = dir.join("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("master-key"), format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::write(creds.join("jwt-secret"), format!("{}\n", "cd".repeat(32))).unwrap();
    std::fs::write(creds.join("audit-signing-key"), format!("{key}\n")).unwrap();
    creds
}

/// As under systemd: the secrets come from `$CREDENTIALS_DIRECTORY`, so the server generates
/// none into its data directory; the admin CLI signs its audit entries with the same key;
/// `tater health` answers for the running server and fails once it is gone.
#[tokio::test]
async fn the_server_takes_its_secrets_from_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = "k".repeat(40);
    let creds = credentials(dir.path(), &key);
    let creds_env = [("CREDENTIALS_DIRECTORY", creds.to_str().unwrap())];
    let (_, keys) = org_with_keys_in(
        &data,
        "Credentialed",
        &[("a@cred.test", "admin")],
        &creds_env,
    );
    let api_key = &keys[0];
    let server = ServerProcess::start(&data, &creds_env);

    for generated in ["master-key", "jwt-secret"] {
        assert!(
            !data.join(generated).exists(),
            "{generated} came from the credentials, not the data directory"
        );
    }
    let log: Value = reqwest::Client::new()
        .get(format!("{}/api/audit-log?limit=50", server.base))
        .header("x-api-key", api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = log["items"].as_array().expect("entries");
    let key_id = tater_audit::SigningKey::new(&key).unwrap().id().to_owned();
    assert!(entries.len() >= 3, "{log}");
    for e in entries {
        assert_eq!(
            e["keyId"],
            key_id.as_str(),
            "signed with the credential: {e}"
        );
    }

    let listen = server.addr.to_string();
    let healthy = tater(&["health"], &[("TATER_LISTEN", &listen)]);
    assert!(healthy.status.success(), "{}", text(&healthy.stderr));
    assert_eq!(text(&healthy.stdout).trim(), "ok");
    drop(server);
    let gone = tater(&["health"], &[("TATER_LISTEN", &listen)]);
    assert!(!gone.status.success());
    assert!(
        text(&gone.stderr).contains("/healthz does not answer"),
        "{}",
        text(&gone.stderr)
    );
}

/// A credential that is there but empty stops the server with its path, rather than starting
/// it with a secret nobody chose.
#[test]
fn an_empty_credential_stops_the_server_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let creds = credentials(dir.path(), &"k".repeat(40));
    std::fs::write(creds.join("master-key"), "\n").unwrap();
    let data = dir.path().join("data");
    let out = tater(
        &["serve", "--listen", "127.0.0.1:0"],
        &[
            ("CREDENTIALS_DIRECTORY", creds.to_str().unwrap()),
            ("TATER_DATA_DIR", data.to_str().unwrap()),
        ],
    );
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(said.contains("credentials/master-key is empty"), "{said}");
    assert!(!data.join("master-key").exists());
}

/// The compose file's PostgreSQL set-up script, run against the test server: it makes an
/// ordinary role (no superuser, no BYPASSRLS) owning its database, and Tater migrates and
/// serves as that role.
#[tokio::test]
async fn the_compose_database_role_is_ordinary_and_serves() {
    let Ok(admin_url) = std::env::var(tater_testkit::POSTGRES_ENV) else {
        eprintln!(
            "skipped: PostgreSQL leg ({} is not set)",
            tater_testkit::POSTGRES_ENV
        );
        return;
    };
    let admin = url::Url::parse(&admin_url).unwrap();
    let host = admin.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = admin.port().unwrap_or(5432).to_string();
    let psql = |sql: &str| {
        let out = Command::new("psql")
            .args(["-h", &host, "-p", &port, "-U", "postgres", "-d", "postgres"])
            .args(["-v", "ON_ERROR_STOP=1", "-Atc", sql])
            .output()
            .expect("psql is installed");
        assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let reset = || {
        psql("DROP DATABASE IF EXISTS tater WITH (FORCE)");
        psql("DROP ROLE IF EXISTS tater");
    };
    reset();
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("tater-db-password");
    std::fs::write(&password, "compose-test-password\n").unwrap();
    let init = Command::new("sh")
        .arg(repo_file("deploy/compose/postgres-init.sh"))
        .env("TATER_DB_PASSWORD_FILE", &password)
        .env("PGHOST", &host)
        .env("PGPORT", &port)
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", text(&init.stderr));
    let role =
        psql("SELECT rolsuper, rolbypassrls, rolcreatedb FROM pg_roles WHERE rolname = 'tater'");
    assert_eq!(role.trim(), "f|f|f");
    let owner = psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'tater'");
    assert_eq!(owner.trim(), "tater");

    let url = format!("postgres://tater:compose-test-password@{host}:{port}/tater");
    let log = dir.path().join("server.log");
    let server = ServerProcess::start_logging_to(
        &dir.path().join("data"),
        &[("TATER_DATABASE_URL", &url)],
        &log,
    );
    let listen = server.addr.to_string();
    let healthy = tater(&["health"], &[("TATER_LISTEN", &listen)]);
    assert!(healthy.status.success(), "{}", text(&healthy.stderr));
    // Stopped, not killed: the server writes its log lines from a queue.
    server.stop();
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        !said.to_lowercase().contains("superuser") && !said.contains("BYPASSRLS"),
        "no row-level-security warning: {said}"
    );
    reset();
}
