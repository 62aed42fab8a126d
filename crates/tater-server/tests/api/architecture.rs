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
            // The restore check verifying each organization's audit chain.
            "crates/tater-server/src/backup.rs",
            "crates/tater-server/src/demo.rs",
            "crates/tater-service/src/admin.rs",
            // The Evidence Agent's drafts: `system:evidence-agent` via claude (issue 16).
            "crates/tater-service/src/evidence_agent.rs",
            "crates/tater-service/src/jobs.rs",
            "crates/tater-service/src/runner.rs"
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
            "crates/tater-store/src/engine/mod.rs",
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
    // The server reads the time through one injected clock (`tater_domain::Clock`), handed
    // to the services, the SIEM worker and sender, the rate limiter and the Entra key cache,
    // so tests move time by moving that clock. The exceptions are named: the wall clock
    // itself, request latency in logs (a monotonic duration nothing decides on), and the
    // endpoint agent, a program of its own that reads its machine's time.
    let sources_of_time = [
        "now_utc(",
        "SystemTime::now(",
        "Instant::now(",
        "OffsetDateTime::now",
        "Utc::now(",
        "Local::now(",
    ];
    let mut readers: Vec<String> = Vec::new();
    for needle in sources_of_time {
        readers.extend(users_of(needle));
    }
    // The agent is its own program; the testkit stands in for outside services in tests.
    readers.retain(|path| {
        !path.starts_with("crates/tater-agent/") && !path.starts_with("crates/tater-testkit/")
    });
    readers.sort();
    readers.dedup();
    assert_eq!(
        readers,
        vec![
            // The backup manifest's time of taking (an operator's file, not a record).
            "crates/tater-server/src/backup.rs",
            // How old the last database check behind /healthz is (tokio's monotonic clock,
            // which the probe's own tests pause and move; nothing is stored or decided on it
            // but whether to check again).
            "crates/tater-server/src/health_probe.rs",
            // Request latency for the metrics (a duration, never stored).
            "crates/tater-server/src/metrics.rs",
            "crates/tater-server/src/middleware.rs",
            "crates/tater-service/src/clock.rs",
            // How long a SQLite read statement has run in place (monotonic; it decides only
            // whether the rest runs as blocking work, never what is read or stored).
            "crates/tater-store/src/sqlite_read.rs",
        ]
    );
    // UUIDv7 ids carry the time they were made in, for ordering only: `now_v7` is the one
    // other reader, and only id generation uses it.
    for path in users_of("now_v7(") {
        assert!(
            path.ends_with("/ids.rs") || path.ends_with("/middleware.rs"),
            "{path} makes time-ordered ids"
        );
    }
}

/// Every PostgreSQL migration, in order, as one text.
fn postgres_migrations() -> String {
    let dir = workspace().join("crates/tater-store/migrations/postgres");
    let mut sql = String::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        sql.push_str(&std::fs::read_to_string(f).unwrap());
    }
    sql
}

/// The tables with a tenant_id column.
fn tenant_tables(sql: &str) -> Vec<String> {
    let mut tables = Vec::new();
    for chunk in sql.split("CREATE TABLE ").skip(1) {
        let name = chunk.split_whitespace().next().unwrap().to_owned();
        let body = chunk.split(");").next().unwrap();
        if body
            .lines()
            .any(|l| l.trim_start().starts_with("tenant_id "))
        {
            tables.push(name);
        }
    }
    tables
}

#[test]
fn every_tenant_table_has_the_row_level_second_wall() {
    let sql = postgres_migrations();
    let mut without: Vec<String> = tenant_tables(&sql)
        .into_iter()
        .filter(|t| {
            let wall = [
                format!("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;"),
                format!("ALTER TABLE {t} FORCE ROW LEVEL SECURITY;"),
                format!("CREATE POLICY tenant_isolation ON {t}\n"),
            ];
            !wall.iter().all(|w| sql.contains(w.as_str()))
        })
        .collect();
    without.sort();
    // API keys are the identity store's: a user's key, bound to one organization or none, is
    // looked up by its hash before any organization is known.
    assert_eq!(
        without,
        ["api_keys"],
        "every table holding a tenant's rows enables, forces and scopes row-level security"
    );
}

#[test]
fn tenant_id_leads_every_index_but_the_named_cross_tenant_ones() {
    let sql = postgres_migrations();
    let tenant_tables = tenant_tables(&sql);
    let mut leading_elsewhere = Vec::new();
    for line in sql
        .lines()
        .filter(|l| l.contains(" INDEX ") && l.contains(" ON "))
    {
        let name = line
            .split(" INDEX ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        let rest = line.split(" ON ").nth(1).unwrap();
        let table = rest.split_whitespace().next().unwrap();
        let first_column = rest
            .split('(')
            .nth(1)
            .unwrap()
            .split([',', ')'])
            .next()
            .unwrap();
        if tenant_tables.iter().any(|t| t == table) && first_column.trim() != "tenant_id" {
            leading_elsewhere.push(name.to_owned());
        }
    }
    leading_elsewhere.sort();
    assert_eq!(
        leading_elsewhere,
        [
            "api_keys_by_user",
            "invitations_by_email",
            "memberships_by_user",
            "runner_jobs_due",
            "siem_destinations_due"
        ],
        "ARCHITECTURE.md names these; any other index must lead with tenant_id"
    );
}
