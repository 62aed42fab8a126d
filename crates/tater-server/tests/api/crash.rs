//! Crash safety (issue 20 §1): the real `tater` binary takes writes through the API — risks,
//! scan reports from an enrolled agent, member invitations, SIEM destinations — and is killed
//! with SIGKILL at random moments, `TATER_CRASH_ROUNDS` times (5 in CI; 20 is the documented
//! long run). After the last restart:
//! * every acknowledged (2xx) write is there, with its audit entry;
//! * nothing is half there: every record has its create entry and every create entry its
//!   record, and a scan whose answer was lost is found (or not) exactly as its retry says;
//! * the audit chain verifies, signatures included;
//! * the SIEM webhook has received every entry since the destination was made at least once,
//!   and exactly once after de-duplication by `X-TATER-Delivery`.
//!
//! Kill moments come from a seeded generator: the seed is printed, and `TATER_CRASH_SEED`
//! replays a run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tater_testkit::{Engine, TestDb, both_engines};

use crate::process::{ServerProcess, org_with_keys_in};
use crate::siem::Receiver;
use crate::support::{new_id, report};

both_engines!(acknowledged_writes_survive_kill_nine);

const SIGNING_KEY: &str = "crash-test-audit-signing-key-0123456789";
const ADMIN: &str = "admin@crash.test";

/// What one write attempt came to.
#[derive(Debug, Clone)]
enum Outcome {
    /// Answered 2xx, with the id the server gave.
    Acked(String),
    /// Answered with an error status: nothing may have changed.
    Refused(u16),
    /// No answer (the server died under it): either fully done or not at all.
    Lost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Risk,
    Scan,
    Invitation,
    Destination,
}

#[derive(Debug, Clone)]
struct Attempt {
    kind: Kind,
    /// What the client chose: the risk title, the agent's scan id, the email, the name.
    key: String,
    outcome: Outcome,
}

/// A small seeded generator (xorshift64*), so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// The server and CLI environment: the engine's database, a signing key, loopback webhooks
/// allowed, limits off (the writers are one client on purpose).
fn environment(db: &TestDb) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("AUDIT_SIGNING_KEY", SIGNING_KEY.to_owned()),
        ("TATER_EGRESS_ALLOW", "127.0.0.0/8".to_owned()),
        ("TATER_EGRESS_ALLOW_HTTP", "true".to_owned()),
        ("TATER_RATE_LIMIT_WRITE", "0".to_owned()),
        ("TATER_RATE_LIMIT_GENERAL", "0".to_owned()),
        ("TATER_RATE_LIMIT_SETTINGS", "0".to_owned()),
        ("TATER_RATE_LIMIT_AUTH", "0".to_owned()),
        // The killed process's delivery lease runs out this long after each kill.
        ("TATER_SIEM_LEASE_SECS", "30".to_owned()),
    ];
    if db.engine == Engine::Postgres {
        env.push(("TATER_DATABASE_URL", db.url.clone()));
    }
    env
}

pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
}

impl Client {
    pub(crate) fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        Self {
            http,
            base: base.to_owned(),
        }
    }

    /// `key` empty: no credential. `None` when no answer came (connection refused or reset: the server is gone).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<&Value>,
    ) -> Option<(StatusCode, Value)> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if !key.is_empty() {
            req = req.header("x-api-key", key);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.ok()?;
        let status = res.status();
        let bytes = res.bytes().await.ok()?;
        Some((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    pub(crate) async fn ok(&self, path: &str, key: &str) -> Value {
        let (s, v) = self
            .call(Method::GET, path, key, None)
            .await
            .unwrap_or_else(|| panic!("GET {path}: no answer"));
        assert_eq!(s, StatusCode::OK, "GET {path}: {v}");
        v
    }

    pub(crate) async fn post(&self, path: &str, key: &str, body: &Value) -> Value {
        let (s, v) = self
            .call(Method::POST, path, key, Some(body))
            .await
            .unwrap_or_else(|| panic!("POST {path}: no answer"));
        assert!(s.is_success(), "POST {path}: {s} {v}");
        v
    }

    /// An endpoint agent enrolled as `hostname` with a token `admin` makes: its API key.
    pub(crate) async fn enroll_agent(&self, admin: &str, hostname: &str) -> String {
        let token = json!({ "label": hostname, "singleUse": false });
        let token = self.post("/api/enrollment-tokens", admin, &token).await;
        let enroll = json!({
            "token": token["token"], "hostname": hostname, "os": "linux",
            "osVersion": "Debian 12", "arch": "x86_64", "agentVersion": "0.1.0",
        });
        let enrolled = self.post("/api/agent/enroll", "", &enroll).await;
        enrolled["apiKey"].as_str().expect("agent key").to_owned()
    }
}

/// One writer: the same kind of write again and again until the server stops answering.
async fn writer(client: Arc<Client>, kind: Kind, key: String, log: Arc<Mutex<Vec<Attempt>>>) {
    for n in 0.. {
        // A scan id is the agent's own UUID; the other names only need to be unique.
        let name = match kind {
            Kind::Scan => new_id(),
            _ => format!("{kind:?}-{}-{n}", new_id()),
        };
        let (path, body) = match kind {
            Kind::Risk => ("/api/risks", json!({ "title": name })),
            Kind::Scan => (
                "/api/agent/scans",
                report(
                    &name,
                    "2026-12-01T09:00:00Z",
                    &[("linux.time.sync", "Pass")],
                ),
            ),
            Kind::Invitation => (
                "/api/members",
                json!({ "email": format!("{}@crash.test", name.to_lowercase()), "role": "viewer" }),
            ),
            Kind::Destination => (
                "/api/siem-destinations",
                // Disabled: a destination queues nothing, so hundreds of them do not multiply
                // the outbox (the one under test is enabled).
                json!({ "type": "webhook", "name": name, "url": "http://127.0.0.1:9/hook", "secret": "whsec-crash-0123456789", "enabled": false }),
            ),
        };
        let outcome = match client.call(Method::POST, path, &key, Some(&body)).await {
            Some((s, v)) if s.is_success() => {
                let id = v["id"].as_str();
                Outcome::Acked(
                    id.unwrap_or_else(|| panic!("{path}: no id in {v}"))
                        .to_owned(),
                )
            }
            Some((s, _)) => Outcome::Refused(s.as_u16()),
            None => Outcome::Lost,
        };
        let stop = matches!(outcome, Outcome::Lost);
        let key_text = match kind {
            Kind::Invitation => body["email"].as_str().unwrap_or_default().to_owned(),
            _ => name,
        };
        log.lock().expect("log").push(Attempt {
            kind,
            key: key_text,
            outcome,
        });
        if stop {
            return;
        }
        // The list shows at most 500 invitations: pace them so even the long run stays under.
        if kind == Kind::Invitation {
            tokio::time::sleep(Duration::from_millis(80)).await;
        }
    }
}

/// Every entry of the organization, from the JSON Lines export.
pub(crate) async fn audit_entries(client: &Client, key: &str) -> Vec<Value> {
    let res = client
        .http
        .get(format!("{}/api/audit-log/export", client.base))
        .header("x-api-key", key)
        .send()
        .await
        .expect("export");
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.expect("export body");
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["seq"].is_i64())
        .collect()
}

/// The ids of the `entity` records whose create entry is among `entries`.
pub(crate) fn created_ids(entries: &[Value], entity: &str) -> BTreeSet<String> {
    entries
        .iter()
        .filter(|e| e["entityType"] == entity && e["action"] == "create")
        .filter_map(|e| e["entityId"].as_str().map(str::to_owned))
        .collect()
}

/// All pages of a list.
pub(crate) async fn all_items(client: &Client, path: &str, key: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=200&cursor={c}"),
            None => format!("{path}{sep}limit=200"),
        };
        let page = client.ok(&url, key).await;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["nextCursor"].as_str() {
            Some(c) if !c.is_empty() => cursor = Some(c.to_owned()),
            _ => return items,
        }
    }
}

/// The records there and the records whose create entry is in the log are the same.
pub(crate) fn same(present: &BTreeSet<String>, logged: &BTreeSet<String>, what: &str) {
    let unlogged: Vec<_> = present.difference(logged).collect();
    let ghosts: Vec<_> = logged.difference(present).collect();
    assert!(
        unlogged.is_empty() && ghosts.is_empty(),
        "{what}: {} without a create entry {unlogged:?}; {} entries without the record {ghosts:?}",
        unlogged.len(),
        ghosts.len()
    );
}

fn start(data: &Path, env: &[(&str, String)]) -> ServerProcess {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ServerProcess::start(data, &env)
}

async fn acknowledged_writes_survive_kill_nine(db: TestDb) {
    let rounds: usize = std::env::var("TATER_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let seed: u64 = std::env::var("TATER_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()) << 20 | 0x9e37);
    eprintln!("kill -9 suite: {rounds} rounds, seed {seed} (TATER_CRASH_SEED replays it)");
    let mut rng = Rng(seed | 1);
    let pg_data = tempfile::tempdir().expect("data dir");
    let data = match db.engine {
        Engine::Sqlite => db.data_dir(),
        Engine::Postgres => pg_data.path().to_path_buf(),
    };
    let env = environment(&db);
    let cli_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_org, keys) = org_with_keys_in(&data, "Crash Co", &[(ADMIN, "orgadmin")], &cli_env);
    let admin = keys[0].clone();
    let receiver = Receiver::start(0).await;

    // Before the first crash: the destination under test, and an enrolled agent.
    let server = start(&data, &env);
    let client = Client::new(&server.base);
    let body = json!({ "type": "webhook", "name": "SOC", "url": receiver.url(), "secret": crate::siem::SECRET });
    let destination = client.post("/api/siem-destinations", &admin, &body).await;
    let agent = client.enroll_agent(&admin, "crash-01").await;
    drop(server);

    let log: Arc<Mutex<Vec<Attempt>>> = Arc::default();
    for round in 0..rounds {
        let server = start(&data, &env);
        let client = Arc::new(Client::new(&server.base));
        let writers: Vec<_> = [
            (Kind::Risk, &admin),
            (Kind::Scan, &agent),
            (Kind::Invitation, &admin),
            (Kind::Destination, &admin),
        ]
        .into_iter()
        .map(|(kind, key)| tokio::spawn(writer(client.clone(), kind, key.clone(), log.clone())))
        .collect();
        // Somewhere between 50 ms and 1.5 s into the writing.
        let wait = Duration::from_millis(50 + rng.below(1450));
        tokio::time::sleep(wait).await;
        drop(server); // SIGKILL, then reaped
        for w in writers {
            w.await.expect("writer");
        }
        eprintln!("round {round}: killed after {wait:?}");
    }

    let server = start(&data, &env);
    let client = Client::new(&server.base);
    let attempts = log.lock().expect("log").clone();

    // Scans logged before any retry.
    let scans_before: BTreeSet<String> = audit_entries(&client, &admin)
        .await
        .iter()
        .filter(|e| e["entityType"] == "scan" && e["action"] == "create")
        .filter_map(|e| e["entityId"].as_str().map(str::to_owned))
        .collect();
    // A lost scan is retried, as the agent's spool does: the answer says whether it was kept.
    let mut retried_scans = BTreeMap::new();
    for a in attempts.iter().filter(|a| a.kind == Kind::Scan) {
        if matches!(a.outcome, Outcome::Lost) {
            let body = report(
                &a.key,
                "2026-12-01T09:00:00Z",
                &[("linux.time.sync", "Pass")],
            );
            let (s, v) = client
                .call(Method::POST, "/api/agent/scans", &agent, Some(&body))
                .await
                .expect("retry answered");
            assert!(s.is_success(), "retry: {s} {v}");
            retried_scans.insert(a.key.clone(), (s, v["id"].as_str().map(str::to_owned)));
        }
    }

    let entries = audit_entries(&client, &admin).await;
    let created = |entity: &str| created_ids(&entries, entity);

    // Risks: the list and the create entries name the same records; every ack is among them.
    let risks: BTreeMap<String, String> = all_items(&client, "/api/risks", &admin)
        .await
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or_default().to_owned(),
                r["title"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    same(&risks.keys().cloned().collect(), &created("risk"), "risks");
    // Destinations (the one under test included).
    let destinations: BTreeSet<String> = client.ok("/api/siem-destinations", &admin).await["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|d| d["id"].as_str().map(str::to_owned))
        .collect();
    same(
        &destinations,
        &created("siem-destination"),
        "SIEM destinations",
    );
    // Invitations: every pending one has its create entry, and the reverse.
    let invitations = client.ok("/api/members/invitations", &admin).await;
    let invited: BTreeMap<String, String> = invitations["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|m| m["status"] == "pending")
        .map(|m| {
            (
                m["email"].as_str().unwrap_or_default().to_owned(),
                m["id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    same(
        &invited.values().cloned().collect(),
        &created("invitation"),
        "invitations",
    );
    // Scans: every create entry's scan is there; a lost one's retry agrees with the log.
    let scans = created("scan");
    for id in &scans {
        client.ok(&format!("/api/scans/{id}"), &admin).await;
    }

    let mut tally: BTreeMap<(Kind, &str), usize> = BTreeMap::new();
    for a in &attempts {
        let label = match &a.outcome {
            Outcome::Acked(_) => "acknowledged",
            Outcome::Refused(_) => "refused",
            Outcome::Lost => "lost",
        };
        *tally.entry((a.kind, label)).or_default() += 1;
        match (&a.outcome, a.kind) {
            (Outcome::Acked(id), Kind::Risk) => {
                assert_eq!(
                    risks.get(id),
                    Some(&a.key),
                    "acknowledged risk {id} missing"
                )
            }
            (Outcome::Acked(id), Kind::Destination) => {
                assert!(
                    destinations.contains(id),
                    "acknowledged destination {id} missing"
                )
            }
            (Outcome::Acked(id), Kind::Invitation) => {
                assert_eq!(
                    invited.get(&a.key),
                    Some(id),
                    "acknowledged invitation missing"
                )
            }
            (Outcome::Acked(id), Kind::Scan) => {
                assert!(scans.contains(id), "acknowledged scan {id} has no entry")
            }
            (Outcome::Refused(code), _) => panic!("{:?} {} refused with {code}", a.kind, a.key),
            (Outcome::Lost, Kind::Scan) => {
                let (status, id) = &retried_scans[&a.key];
                let id = id.clone().expect("the retry names the scan");
                // 201: stored only now, so the crash left neither scan nor entry; otherwise it
                // had been kept, and its entry was in the log before the retry.
                if *status == StatusCode::CREATED {
                    assert!(!scans_before.contains(&id), "a scan entry without its scan");
                } else {
                    assert!(scans_before.contains(&id), "a kept scan without its entry");
                }
                assert!(scans.contains(&id));
            }
            (Outcome::Lost, Kind::Risk) => assert!(
                risks.values().filter(|t| **t == a.key).count() <= 1,
                "a lost risk stored twice"
            ),
            (Outcome::Lost, _) => {}
        }
    }
    eprintln!("kill -9 suite ({:?}): {tally:?}", db.engine);
    let acked = attempts
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Acked(_)))
        .count();
    assert!(
        acked > 0,
        "no write was acknowledged: the rounds proved nothing"
    );

    // The chain, signatures and checkpoints.
    let verified = client.ok("/api/audit-log/verify", &admin).await;
    assert_eq!(verified["ok"], true, "{verified}");

    // SIEM: every entry from the destination's own creation on, once per delivery id.
    let destination_id = destination["id"].as_str().expect("destination id");
    let first = entries
        .iter()
        .find(|e| e["entityType"] == "siem-destination" && e["entityId"] == destination_id)
        .and_then(|e| e["seq"].as_i64())
        .expect("the destination's entry");
    // Entries written by the retries and reads above are included: wait for the newest.
    let entries = audit_entries(&client, &admin).await;
    let wanted: BTreeSet<i64> = entries
        .iter()
        .filter_map(|e| e["seq"].as_i64())
        .filter(|s| *s > first)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    let received = loop {
        let got: Vec<(String, i64)> = receiver
            .got
            .lock()
            .expect("receiver")
            .iter()
            .map(|(h, b)| crate::siem::delivery_of(h, b))
            .collect();
        let seqs: BTreeSet<i64> = got.iter().map(|(_, s)| *s).collect();
        if wanted.is_subset(&seqs) || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut by_delivery: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for (delivery, seq) in &received {
        by_delivery.entry(delivery).or_default().insert(*seq);
    }
    let delivered: BTreeSet<i64> = received.iter().map(|(_, s)| *s).collect();
    let missing: Vec<_> = wanted.difference(&delivered).collect();
    assert!(missing.is_empty(), "entries never delivered: {missing:?}");
    assert!(
        by_delivery.values().all(|s| s.len() == 1),
        "one delivery id carried two entries"
    );
    let per_entry: BTreeMap<i64, usize> =
        by_delivery
            .values()
            .flatten()
            .fold(BTreeMap::new(), |mut m, s| {
                *m.entry(*s).or_default() += 1;
                m
            });
    assert!(
        per_entry.values().all(|n| *n == 1),
        "an entry delivered under two delivery ids: {:?}",
        per_entry
            .iter()
            .filter(|(_, n)| **n > 1)
            .collect::<Vec<_>>()
    );
    eprintln!(
        "kill -9 suite ({:?}): {} entries, {} webhook requests, {} after de-duplication",
        db.engine,
        entries.len(),
        received.len(),
        by_delivery.len()
    );
    receiver.stop();
}
