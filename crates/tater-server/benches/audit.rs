//! The audit trail and SIEM forwarding, measured.
//!
//! 1. Sealing: signed + chained entries per second (canonical form, SHA-256 chain link, HMAC
//!    signature) against a raw HMAC-SHA256 of the same payloads, in the same run.
//! 2. The write path: records created per second through the service with and without a
//!    signing key (same database engine, same run), and on SQLite against a bare insert of
//!    the same record row and audit entry in one transaction (the ceiling).
//! 3. Delivery: entries per second drained to a loopback webhook receiver and to a loopback
//!    syslog TCP receiver, after a queue built up while they were down.
//!
//! Run: `cargo bench -p tater-server --bench audit` (with `TATER_TEST_POSTGRES_URL` for the
//! PostgreSQL legs). Verification has its own bench beside the reader:
//! `cargo bench -p tater-audit --bench verify`. `TATER_BENCH_SEAL`, `TATER_BENCH_WRITES`,
//! `TATER_BENCH_DELIVER` scale it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark, not a service

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tater_audit::{AuditKeys, GENESIS_HASH, seal, signature_payload};
use tater_domain::{
    Actor, AuditAction, AuditDraft, AuditEntry, AuditId, AuditSeal, Channel, OrgId, Timestamp,
};
use tater_server::{App, AppConfig};
use tater_service::{Service, SystemOperator};
use tater_testkit::{Engine, TestDb};
use tokio::io::AsyncReadExt;

const KEY: &str = "benchmark-audit-signing-key-0123456789";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn entry(org: OrgId, seq: i64) -> AuditEntry {
    AuditEntry {
        seq,
        tenant_id: org,
        draft: AuditDraft {
            id: AuditId::generate(),
            action: AuditAction::Update,
            entity_type: "poam".into(),
            entity_id: uuid::Uuid::new_v4().to_string(),
            user_id: uuid::Uuid::new_v4().to_string(),
            upn: Some("isso@acme.example".into()),
            oid: None,
            timestamp: Timestamp::from_millis(1_764_450_000_000 + seq),
            via: Channel::Web,
            changes: json!({
                "status": { "before": "Open", "after": "In Progress" },
                "title": { "before": "Patch the VPN concentrator", "after": "Patch the VPN concentrator (CVE-2026-1234)" },
            }),
        },
        seal: AuditSeal::default(),
    }
}

fn bench_seal(n: usize) {
    let keys = AuditKeys::new(Some(KEY), &[]).unwrap();
    let org = OrgId::generate();
    let entries: Vec<AuditEntry> = (1..=n as i64).map(|s| entry(org, s)).collect();
    let payloads: Vec<String> = entries.iter().map(signature_payload).collect();

    let started = Instant::now();
    let mut acc = 0u8;
    for p in &payloads {
        let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        mac.update(p.as_bytes());
        acc ^= mac.finalize().into_bytes()[0];
    }
    let raw = started.elapsed();

    let started = Instant::now();
    let mut prev = GENESIS_HASH.to_owned();
    for e in &entries {
        let s = seal(e, &prev, &keys);
        prev = s.hash;
    }
    let sealed = started.elapsed();
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!("## Sealing ({n} entries, one thread)");
    println!("| | entries/s | × raw HMAC |");
    println!("|---|---|---|");
    println!(
        "| raw HMAC-SHA256 of the L2 payload | {:.0} | 1.000 |",
        rate(raw)
    );
    println!(
        "| signed + chained (canonical JSON, SHA-256 link, HMAC) | {:.0} | {:.3} |",
        rate(sealed),
        rate(sealed) / rate(raw)
    );
    println!("(checksum {acc}, last hash {})\n", &prev[..8]);
}

fn config(
    db: &TestDb,
    audit: tater_store::AuditSettings,
    siem: Option<tater_server::app::SiemConfig>,
) -> AppConfig {
    {
        let mut c = AppConfig::for_tests(&db.url);
        c.audit = audit;
        c.siem = siem;
        c
    }
}

async fn org(service: &Service, name: &str) -> Actor {
    let op = SystemOperator {
        name: "bench",
        detail: "bench".into(),
    };
    let org = service.admin_create_org(&op, name, None).await.unwrap().id;
    Actor::system("bench", "bench", org, Channel::Api)
}

async fn create_risks(service: &Service, actor: &Actor, n: usize) -> Duration {
    let started = Instant::now();
    for i in 0..n {
        service
            .create_record(
                actor,
                &tater_domain::modules::RISKS,
                &json!({ "title": format!("Risk {i}") }),
            )
            .await
            .unwrap();
    }
    started.elapsed()
}

/// The ceiling of an audited write on SQLite: the same record row and audit entry the service
/// stored last (same bytes, fresh keys) inserted with plain SQL into the same tables, one
/// transaction each, with the store's connection settings (WAL, `synchronous = NORMAL`,
/// `BEGIN IMMEDIATE`). Entries per second.
async fn bare_sqlite_writes(db: &TestDb, n: usize) -> f64 {
    use sqlx::Row;
    let options: sqlx::sqlite::SqliteConnectOptions = std::str::FromStr::from_str(&db.url).unwrap();
    let options = options
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30));
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let record = sqlx::query(
        "SELECT tenant_id, module, data, created_by FROM records WHERE module = $1 \
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(tater_domain::modules::RISKS.name)
    .fetch_one(&pool)
    .await
    .unwrap();
    let entry = sqlx::query(
        "SELECT seq, entity_type, user_id, via, changes, prev_hash, hash, key_id, signature, size_bytes \
         FROM audit_log WHERE entity_type = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(tater_domain::modules::RISKS.entity_type)
    .fetch_one(&pool)
    .await
    .unwrap();
    let tenant: String = record.get("tenant_id");
    let last_seq: i64 = entry.get("seq");
    let started = Instant::now();
    for i in 0..n {
        let id = uuid::Uuid::new_v4().to_string();
        let now = i64::try_from(i).unwrap() + 1_800_000_000_000;
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        sqlx::query(
            "INSERT INTO records (tenant_id, module, id, data, version, created_at, updated_at, created_by, updated_by) \
             VALUES ($1, $2, $3, $4, 1, $5, $5, $6, $6)",
        )
        .bind(&tenant)
        .bind(record.get::<String, _>("module"))
        .bind(&id)
        .bind(record.get::<String, _>("data"))
        .bind(now)
        .bind(record.get::<String, _>("created_by"))
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO audit_log (tenant_id, seq, id, action, entity_type, entity_id, user_id, ts, via, \
             changes, prev_hash, hash, key_id, signature, size_bytes) \
             VALUES ($1, $2, $3, 'create', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&tenant)
        .bind(last_seq + 1 + i64::try_from(i).unwrap())
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(entry.get::<String, _>("entity_type"))
        .bind(&id)
        .bind(entry.get::<String, _>("user_id"))
        .bind(now)
        .bind(entry.get::<String, _>("via"))
        .bind(entry.get::<String, _>("changes"))
        .bind(entry.get::<String, _>("prev_hash"))
        .bind(entry.get::<String, _>("hash"))
        .bind(entry.get::<Option<String>, _>("key_id"))
        .bind(entry.get::<Option<String>, _>("signature"))
        .bind(entry.get::<i64, _>("size_bytes"))
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

async fn bench_writes(engine: Engine, n: usize) {
    let mut rates = Vec::new();
    let mut bare = None;
    for signed in [false, true] {
        let Some(db) = test_db(engine).await else {
            return;
        };
        let audit = tater_store::AuditSettings {
            keys: if signed {
                AuditKeys::new(Some(KEY), &[]).unwrap()
            } else {
                AuditKeys::none()
            },
            checkpoint_every: 1000,
        };
        let app = App::build(config(&db, audit, None)).await.unwrap();
        let actor = org(&app.service, "writes").await;
        create_risks(&app.service, &actor, 50).await; // warm-up
        let took = create_risks(&app.service, &actor, n).await;
        rates.push(n as f64 / took.as_secs_f64());
        if signed && engine == Engine::Sqlite {
            bare = Some(bare_sqlite_writes(&db, n).await);
        }
    }
    let bare_cells = bare.map_or_else(
        || "– | –".to_owned(),
        |b| format!("{b:.0} | {:.3}", rates[1] / b),
    );
    println!(
        "| {engine:?} | {:.0} | {:.0} | {:.3} | {bare_cells} |",
        rates[0],
        rates[1],
        rates[1] / rates[0]
    );
}

async fn test_db(engine: Engine) -> Option<TestDb> {
    match engine {
        Engine::Sqlite => Some(TestDb::sqlite()),
        Engine::Postgres => TestDb::postgres().await,
    }
}

/// A webhook receiver that counts accepted requests.
async fn webhook_receiver(listener: tokio::net::TcpListener, count: Arc<AtomicUsize>) {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let count = count.clone();
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let _ = axum::serve(listener, app).await;
}

/// A syslog TCP receiver that counts octet-counted frames.
async fn syslog_receiver(listener: tokio::net::TcpListener, count: Arc<AtomicUsize>) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let count = count.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = stream.read_to_end(&mut buf).await;
            let mut rest = &buf[..];
            while let Some(sp) = rest.iter().position(|b| *b == b' ') {
                let Ok(len) = std::str::from_utf8(&rest[..sp])
                    .unwrap_or("x")
                    .parse::<usize>()
                else {
                    break;
                };
                if rest.len() < sp + 1 + len {
                    break;
                }
                count.fetch_add(1, Ordering::SeqCst);
                rest = &rest[sp + 1 + len..];
            }
        });
    }
}

async fn free_port() -> u16 {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn bench_delivery(engine: Engine, n: usize) {
    let Some(db) = test_db(engine).await else {
        return;
    };
    let siem = tater_server::app::SiemConfig {
        egress: tater_egress::EgressConfig {
            allow_http: true,
            allow: tater_egress::Allowlist::new(vec!["127.0.0.0/8".parse().unwrap()]),
            ..Default::default()
        },
        master_key: tater_siem::secret_box::SecretBox::generate_key_text(),
        failing_after_secs: 900,
        hostname: "bench".into(),
        worker: Some(tater_siem::worker::WorkerConfig {
            poll: Duration::from_millis(20),
            base_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            ..Default::default()
        }),
    };
    let app = App::build(config(
        &db,
        tater_store::AuditSettings::unsigned(),
        Some(siem),
    ))
    .await
    .unwrap();
    let service = app.service.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let (hook_port, syslog_port) = (free_port().await, free_port().await);
    let hook_org = org(&service, "webhook").await;
    service
        .create_destination(&hook_org, &json!({ "type": "webhook", "name": "w", "url": format!("http://127.0.0.1:{hook_port}/hook"), "secret": "bench-webhook-secret-0123" }))
        .await
        .unwrap();
    let syslog_org = org(&service, "syslog").await;
    service
        .create_destination(&syslog_org, &json!({ "type": "syslog", "name": "s", "host": "127.0.0.1", "port": syslog_port, "transport": "tcp" }))
        .await
        .unwrap();
    // Both receivers are down while the queues build up.
    create_risks(&service, &hook_org, n).await;
    create_risks(&service, &syslog_org, n).await;
    let expected = n + 1; // the destination's own creation, then the records
    let mut rows = Vec::new();
    for (name, port) in [
        ("webhook (HTTP POST per entry, both signatures)", hook_port),
        (
            "syslog over TCP (RFC 5424 + CEF, octet counting)",
            syslog_port,
        ),
    ] {
        let count = Arc::new(AtomicUsize::new(0));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let started = Instant::now();
        let task = if name.starts_with("webhook") {
            tokio::spawn(webhook_receiver(listener, count.clone()))
        } else {
            tokio::spawn(syslog_receiver(listener, count.clone()))
        };
        while count.load(Ordering::SeqCst) < expected {
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "{name}: {} of {expected}",
                count.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let took = started.elapsed();
        task.abort();
        rows.push(format!(
            "| {engine:?} | {name} | {expected} | {:.2} s | {:.0} |",
            took.as_secs_f64(),
            expected as f64 / took.as_secs_f64()
        ));
    }
    for r in rows {
        println!("{r}");
    }
    let _ = stop.send(());
    let _ = server.await;
}

#[tokio::main]
async fn main() {
    bench_seal(env_or("TATER_BENCH_SEAL", 200_000));

    let writes = env_or("TATER_BENCH_WRITES", 2_000);
    println!("## Records created per second through the service, one writer ({writes} each)");
    println!(
        "| engine | no signing key | AUDIT_SIGNING_KEY set | ratio | bare insert of the same row + entry | signed ÷ bare |"
    );
    println!("|---|---|---|---|---|---|");
    for engine in [Engine::Sqlite, Engine::Postgres] {
        bench_writes(engine, writes).await;
    }
    println!();

    let n = env_or("TATER_BENCH_DELIVER", 5_000);
    println!("## Delivery after an outage: draining {n} queued entries to a loopback receiver");
    println!("| engine | destination | entries | wall time | entries/s |");
    println!("|---|---|---|---|---|");
    for engine in [Engine::Sqlite, Engine::Postgres] {
        bench_delivery(engine, n).await;
    }
}
