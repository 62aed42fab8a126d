//! The architecture's invariants, checked on the source tree so they cannot quietly erode.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under `crates/*/src` (production code, not tests or benches).
fn sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![workspace().join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(workspace())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if path.is_dir() {
                if !rel.ends_with("/tests")
                    && !rel.ends_with("/benches")
                    && !rel.ends_with("/target")
                {
                    stack.push(path);
                }
            } else if rel.ends_with(".rs") && rel.contains("/src/") {
                out.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out
}

/// Production code only: `#[cfg(test)]` modules are cut off.
fn production(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

/// Production code without its doc comments (whose examples are doc-tests, not production).
fn production_code(text: &str) -> String {
    production(text)
        .lines()
        .filter(|l| !l.trim_start().starts_with("///"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn users_of(needle: &str) -> Vec<String> {
    let mut files: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| production_code(text).contains(needle))
        .map(|(path, _)| path)
        .collect();
    files.sort();
    files
}

#[test]
fn the_domain_crate_does_no_io() {
    let manifest =
        std::fs::read_to_string(workspace().join("crates/tater-domain/Cargo.toml")).unwrap();
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    for banned in [
        "axum", "sqlx", "hyper", "tokio", "reqwest", "askama", "tower",
    ] {
        assert!(
            !deps.lines().any(|l| l.trim_start().starts_with(banned)),
            "tater-domain depends on {banned}"
        );
    }
}

#[test]
fn only_authentication_creates_request_actors() {
    assert_eq!(
        users_of("Actor::authenticated("),
        vec!["crates/tater-service/src/auth.rs"]
    );
    assert_eq!(
        users_of("Actor::system("),
        vec![
            "crates/tater-server/src/demo.rs",
            "crates/tater-service/src/admin.rs",
            "crates/tater-service/src/jobs.rs"
        ],
        "system actors only for named operator actions"
    );
}

#[test]
fn no_production_code_makes_a_system_permit() {
    // Tenant transactions open from the permits `authorize` gives actors; the system
    // constructor is for operator tooling, tests and future named cross-tenant jobs, each of
    // which must be added here on purpose.
    let users: Vec<String> = users_of("Permit::system(");
    assert!(users.is_empty(), "{users:?}");
    // Nor does any crate above the store name a tenant scope: scopes travel inside permits.
    assert_eq!(
        users_of("TenantScope"),
        [
            "crates/tater-domain/src/lib.rs",
            "crates/tater-domain/src/policy.rs",
            "crates/tater-domain/src/scope.rs",
            "crates/tater-store/src/engine.rs",
            "crates/tater-store/src/lib.rs",
        ]
    );
}

#[test]
fn no_sql_outside_the_store() {
    for (path, text) in sources() {
        if path.starts_with("crates/tater-store/") {
            continue;
        }
        for keyword in ["SELECT ", "INSERT INTO", "UPDATE records", "DELETE FROM"] {
            assert!(
                !production(&text).contains(keyword),
                "{path} contains SQL ({keyword})"
            );
        }
    }
}

#[test]
fn only_the_clock_reads_the_time() {
    // The server reads time through one injected clock; the endpoint agent is a program of
    // its own and reads the machine's time in one place too (its reports carry it).
    let readers = users_of("now_utc()");
    assert_eq!(
        readers,
        vec![
            "crates/tater-agent/src/report.rs",
            "crates/tater-service/src/clock.rs"
        ]
    );
}
