//! Fixture roots for the agent's tests.

#![allow(dead_code)] // each test file uses part of it

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use tater_server::{App, AppConfig};
use tater_testkit::TestDb;

pub fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

/// Copies a fixture (keeping symbolic links as links) and applies its MODES; returns whether
/// owners could be set (only as root).
pub fn prepare(name: &str, into: &Path) -> bool {
    copy_tree(&fixtures().join(name), into);
    let modes = std::fs::read_to_string(into.join("MODES")).unwrap();
    std::fs::remove_file(into.join("MODES")).unwrap();
    let mut owners = true;
    for line in modes.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let path = into.join(f[0].trim_start_matches('/'));
        let mode = u32::from_str_radix(f[1], 8).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let (uid, gid) = (f[2].parse().unwrap(), f[3].parse().unwrap());
        if std::os::unix::fs::chown(&path, Some(uid), Some(gid)).is_err() {
            owners = false;
        }
    }
    owners
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &target).unwrap();
        } else if ft.is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

pub fn config(db: &TestDb, listen: SocketAddr) -> AppConfig {
    let mut c = AppConfig::for_tests(&db.url);
    c.listen = listen;
    c
}

pub struct Running {
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub async fn start(db: &TestDb, listen: SocketAddr) -> (Running, tater_service::Service) {
    let app = App::build(config(db, listen)).await.unwrap();
    let (addr, service) = (app.addr, app.service.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    (Running { addr, stop, task }, service)
}

impl Running {
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Runs the agent binary (blocking, on a worker thread so the in-process server keeps serving).
pub async fn agent(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_tater-agent"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A new organization; returns its id as text.
pub async fn org(service: &tater_service::Service, name: &str) -> String {
    let op = operator();
    service
        .admin_create_org(&op, name, None)
        .await
        .unwrap()
        .id
        .to_string()
}

/// A member of `org` with `role`, and an API key bound to `org`.
pub async fn member_key(
    service: &tater_service::Service,
    org: &str,
    email: &str,
    role: tater_domain::Role,
) -> String {
    let op = operator();
    let org_ref = tater_service::AdminOrgRef(org);
    service
        .admin_create_user(&op, org_ref, email, role, None, None)
        .await
        .unwrap();
    service
        .admin_create_api_key(
            &op,
            email,
            Some(tater_service::AdminOrgRef(org)),
            "t",
            None,
            None,
        )
        .await
        .unwrap()
        .key
}

fn operator() -> tater_service::SystemOperator {
    tater_service::SystemOperator {
        name: "test",
        detail: "agent-tests".into(),
    }
}

/// `GET url` as JSON with an API key.
pub async fn get(client: &reqwest::Client, url: String, key: &str) -> serde_json::Value {
    client
        .get(url)
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A new enrollment token (valid an hour), made by an Admin's key.
pub async fn enrollment_token(client: &reqwest::Client, base: &str, key: &str) -> String {
    let token: serde_json::Value = client
        .post(format!("{base}/api/enrollment-tokens"))
        .header("x-api-key", key)
        .json(&serde_json::json!({ "label": "agents", "expiresInHours": 1 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token["token"].as_str().unwrap().to_owned()
}

pub mod regf;

/// One line of a Windows fixture's REGISTRY file.
pub struct RegistryLine {
    /// `SYSTEM` or `SOFTWARE`: the hive file.
    pub hive: String,
    /// The key inside the hive.
    pub key: String,
    pub name: String,
    pub data: regf::Data,
}

/// Reads a Windows fixture's REGISTRY file (`key | value | type | data`, `#` comments).
pub fn registry_lines(name: &str) -> Vec<RegistryLine> {
    let text = std::fs::read_to_string(fixtures().join(name).join("REGISTRY")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, '|').map(str::trim).collect();
            let (hive, key) = f[0].split_once('\\').unwrap();
            let data = match f[2] {
                "dword" => regf::Data::Dword(f[3].parse().unwrap()),
                "string" => regf::Data::String(f.get(3).copied().unwrap_or("").to_owned()),
                other => panic!("unknown type {other} in {l}"),
            };
            RegistryLine {
                hive: hive.to_owned(),
                key: key.to_owned(),
                name: f[1].to_owned(),
                data,
            }
        })
        .collect()
}

/// Writes a Windows fixture's hives under `into/Windows/System32/config`, and reads every
/// value back with hivex's `hivexget` (an independent reader) when it is installed; returns
/// whether it was.
pub fn prepare_windows(name: &str, into: &Path) -> bool {
    let lines = registry_lines(name);
    let config = into.join("Windows/System32/config");
    std::fs::create_dir_all(&config).unwrap();
    for hive in ["SYSTEM", "SOFTWARE"] {
        let mut root = regf::Node::default();
        for l in lines.iter().filter(|l| l.hive == hive) {
            root.key(&l.key).set(&l.name, l.data.clone());
        }
        std::fs::write(config.join(hive), regf::hive(&root)).unwrap();
    }
    if Command::new("hivexget").arg("--help").output().is_err() {
        eprintln!(
            "hivexget (Debian's libhivex-bin) is not installed: the fixture hives were not read back independently"
        );
        return false;
    }
    for l in &lines {
        let out = Command::new("hivexget")
            .arg(config.join(&l.hive))
            .arg(&l.key)
            .arg(&l.name)
            .output()
            .unwrap();
        let got = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let want = match &l.data {
            regf::Data::Dword(d) => d.to_string(),
            regf::Data::String(s) => s.clone(),
            regf::Data::MultiString(v) => v.join("\n"),
        };
        assert!(
            out.status.success() && got == want,
            "hivexget {}\\{} {}: {got:?} (expected {want:?}): {}",
            l.hive,
            l.key,
            l.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    true
}
