//! SPEC L2 and the tamper-evident trail: signatures reproduced by `openssl`, hashes by Python,
//! exports checked offline by `tater audit verify`, and tampering — in an export file or in
//! the database — detected and located.

use std::process::{Command, Stdio};

use std::io::Write;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tater_domain::{OrgId, Role};
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    signatures_and_hashes_are_reproduced_by_ordinary_tools,
    exports_verify_offline_and_file_tampering_is_located,
    database_tampering_is_located,
    rotated_keys_still_verify,
    periodic_checkpoints_pin_the_head,
    the_full_exports_audit_log_verifies_offline
);

const KEY: &str = "audit-key-for-tests-0123456789abcdef";
const OLD_KEY: &str = "an-older-audit-key-0123456789abcdef";

/// A server that signs with `key` and checkpoints every 5 entries.
async fn signed_app(db: TestDb, key: &str, previous: &[&str]) -> TestApp {
    let keys = tater_audit::AuditKeys::new(Some(key), previous).unwrap();
    TestApp::spawn_configured(db, |c| {
        c.audit = tater_store::AuditSettings {
            keys,
            checkpoint_every: 5,
        };
    })
    .await
}

/// An organization with an Auditor key and `n` entries beyond the member setup, with
/// awkward text (pipes, quotes, newlines, non-ASCII) in what is signed and hashed.
async fn org_with_entries(app: &TestApp, name: &str, n: usize) -> (OrgId, Key) {
    let org = app.org(name).await;
    let admin = app
        .member(org, &format!("admin@{name}.test"), Role::Admin)
        .await;
    let auditor = app
        .member(org, &format!("auditor@{name}.test"), Role::Auditor)
        .await;
    let head = audit_len(app, &auditor).await;
    for i in head..n {
        app.create(
            "risks",
            &admin,
            json!({ "title": format!("Risk {i} | pipe \\ \"quoted\" — ünïcödé"), "description": "two\nlines" }),
        )
        .await;
    }
    (org, auditor)
}

async fn audit_len(app: &TestApp, key: &Key) -> usize {
    let (status, v) = app.get("/api/audit-log?limit=1", key).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["items"][0]["seq"].as_u64().unwrap_or(0) as usize
}

async fn all_entries(app: &TestApp, key: &Key) -> Vec<Value> {
    let (status, v) = app.get("/api/audit-log?limit=500", key).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let mut items = v["items"].as_array().unwrap().clone();
    items.reverse();
    items
}

fn openssl_hmac(key: &str, payload: &str) -> String {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", key])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl is installed (Debian package openssl)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    // "SHA2-256(stdin)= <hex>" (the label varies between OpenSSL versions).
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim().rsplit(' ').next().unwrap().to_owned()
}

/// The chain hash of each entry, computed by Python's json and hashlib from the API's JSON.
fn python_hashes(entries: &[Value]) -> Vec<String> {
    let script = r#"
import hashlib, json, sys
FIELDS = ["action", "changes", "entityId", "entityType", "id", "oid", "seq", "tenantId",
          "timestamp", "upn", "userId", "via"]
for line in sys.stdin:
    e = json.loads(line)
    canonical = json.dumps({k: e.get(k) for k in FIELDS}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    print(hashlib.sha256((e["prevHash"] + canonical).encode("utf-8")).hexdigest())
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is installed");
    let input: String = entries.iter().map(|e| format!("{e}\n")).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

async fn signatures_and_hashes_are_reproduced_by_ordinary_tools(db: TestDb) {
    let app = signed_app(db, KEY, &[]).await;
    let (_, auditor) = org_with_entries(&app, "tools", 12).await;
    let entries = all_entries(&app, &auditor).await;
    assert_eq!(entries.len(), 12);
    let key_id = tater_audit::SigningKey::new(KEY).unwrap().id().to_owned();
    let hashes = python_hashes(&entries);
    let mut prev = "0".repeat(64);
    for (e, py_hash) in entries.iter().zip(&hashes) {
        let field = |k: &str| e[k].as_str().unwrap().to_owned();
        let payload = [
            "id",
            "tenantId",
            "action",
            "entityType",
            "entityId",
            "userId",
            "timestamp",
        ]
        .map(field)
        .join("|");
        assert_eq!(e["signature"], openssl_hmac(KEY, &payload), "{payload}");
        assert_eq!(e["keyId"], key_id);
        assert_eq!(
            e["prevHash"], prev,
            "entry {} links to the one before",
            e["seq"]
        );
        assert_eq!(&e["hash"], py_hash, "entry {}", e["seq"]);
        prev = field("hash");
    }
    let (status, report) = app.get("/api/audit-log/verify", &auditor).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["entriesChecked"], 12);
    assert_eq!(
        report["checkpoints"], 2,
        "inline checkpoints at entries 5 and 10: {report}"
    );
    assert_eq!(report["signaturesChecked"], true);
}

/// `tater audit verify` on `text`; returns the exit code and the JSON report.
fn verify_file(text: &str, keys: &[&str]) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl");
    std::fs::write(&path, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tater"));
    cmd.args(["audit", "verify", "--json", "--file"]).arg(&path);
    cmd.env_remove("AUDIT_VERIFY_KEYS");
    for k in keys {
        cmd.args(["--key", k]);
    }
    let out = cmd.output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("JSON report: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), report)
}

async fn export_text(app: &TestApp, key: &Key, query: &str) -> String {
    let res = app
        .req(
            reqwest::Method::GET,
            &format!("/api/audit-log/export{query}"),
            key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn join(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn position(lines: &[Value], seq: i64) -> usize {
    lines.iter().position(|l| l["seq"] == seq).unwrap()
}

/// Asserts the verifier failed, first at `seq`, with a finding of `kind`.
fn assert_located(case: &str, (code, report): (i32, Value), kind: &str, seq: Option<i64>) {
    assert_eq!(code, 1, "{case}: exit code: {report}");
    assert_eq!(report["ok"], false, "{case}");
    assert_eq!(report["firstBadSeq"], json!(seq), "{case}: {report}");
    let kinds: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&kind),
        "{case}: expected {kind} in {kinds:?}: {report}"
    );
}

async fn exports_verify_offline_and_file_tampering_is_located(db: TestDb) {
    let app = signed_app(db, KEY, &[]).await;
    let (_, auditor) = org_with_entries(&app, "files", 12).await;
    let text = export_text(&app, &auditor, "").await;
    let good = lines(&text);
    assert_eq!(good[0]["export"]["filtered"], false);
    assert_eq!(good.iter().filter(|l| l.get("seq").is_some()).count(), 12);
    let checkpoint_seqs: Vec<&Value> = good
        .iter()
        .filter_map(|l| l.get("checkpoint"))
        .map(|c| &c["seq"])
        .collect();
    assert_eq!(checkpoint_seqs, [&json!(5), &json!(10)]);
    assert_eq!(good.last().unwrap()["end"]["entries"], 12);

    let (code, report) = verify_file(&text, &[KEY]);
    assert_eq!((code, &report["ok"]), (0, &json!(true)), "{report}");
    assert_eq!(report["entriesChecked"], 12);
    let (code, report) = verify_file(&text, &[]);
    assert_eq!(
        code, 0,
        "without a key the chain is still checked: {report}"
    );
    assert_eq!(report["signaturesChecked"], false);
    assert_located(
        "wrong key",
        verify_file(&text, &[OLD_KEY]),
        "unknownKey",
        Some(1),
    );

    let mut edited = good.clone();
    let i = position(&edited, 3);
    edited[i]["entityId"] = json!("someone-else");
    assert_located(
        "edit a field",
        verify_file(&join(&edited), &[KEY]),
        "altered",
        Some(3),
    );
    let mut edited = good.clone();
    let i = position(&edited, 9);
    edited[i]["timestamp"] = json!("2020-01-01T00:00:00.000Z");
    edited[i]["hash"] = json!(tater_audit::chain_hash(
        edited[i]["prevHash"].as_str().unwrap(),
        &tater_audit::canonical_of(&edited[i])
    ));
    assert_located(
        "edit and rehash",
        verify_file(&join(&edited), &[KEY]),
        "badSignature",
        Some(9),
    );

    let mut deleted = good.clone();
    deleted.remove(position(&deleted, 4));
    assert_located(
        "delete an entry",
        verify_file(&join(&deleted), &[KEY]),
        "chainBreak",
        Some(4),
    );

    let mut swapped = good.clone();
    let (a, b) = (position(&swapped, 6), position(&swapped, 7));
    swapped.swap(a, b);
    assert_located(
        "swap two",
        verify_file(&join(&swapped), &[KEY]),
        "chainBreak",
        Some(6),
    );

    let mut forged = good.clone();
    let at = position(&forged, 8);
    let mut fake = forged[at].clone();
    fake["id"] = json!(uuid::Uuid::new_v4().to_string());
    fake["seq"] = json!(9);
    fake["prevHash"] = forged[at]["hash"].clone();
    fake["hash"] = json!(tater_audit::chain_hash(
        fake["prevHash"].as_str().unwrap(),
        &tater_audit::canonical_of(&fake)
    ));
    forged.insert(at + 1, fake);
    assert_located(
        "insert a forged entry",
        verify_file(&join(&forged), &[KEY]),
        "badSignature",
        Some(9),
    );

    let cut = position(&good, 7) + 1;
    let truncated = &good[..cut];
    assert_located(
        "cut the tail",
        verify_file(&join(truncated), &[KEY]),
        "truncated",
        Some(8),
    );
    let mut kept_end = good[..cut].to_vec();
    kept_end.push(good.last().unwrap().clone());
    assert_located(
        "cut the tail, keep the end line",
        verify_file(&join(&kept_end), &[KEY]),
        "truncated",
        Some(8),
    );

    // A filtered export verifies each entry but says the links were not checked.
    let filtered = export_text(&app, &auditor, "?entityType=risk").await;
    let (code, report) = verify_file(&filtered, &[KEY]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["chainChecked"], false);
    assert!(
        lines(&filtered)
            .iter()
            .all(|l| l.get("checkpoint").is_none())
    );

    // CSV: a header and one row per entry, with the seal columns.
    let csv = export_text(&app, &auditor, "?format=csv").await;
    let mut reader = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(headers.iter().next_back(), Some("signature"));
    assert_eq!(reader.records().count(), 12);
}

async fn server_report(app: &TestApp, key: &Key) -> (i32, Value) {
    let (status, report) = app.get("/api/audit-log/verify", key).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    (if report["ok"] == true { 0 } else { 1 }, report)
}

async fn database_tampering_is_located(db: TestDb) {
    let raw = db.owner();
    let app = signed_app(db, KEY, &[]).await;
    let mut orgs = Vec::new();
    for name in ["edit", "delete", "swap", "forge", "truncate"] {
        let (org, auditor) = org_with_entries(&app, name, 12).await;
        let (code, report) = server_report(&app, &auditor).await;
        assert_eq!(code, 0, "{name} before tampering: {report}");
        orgs.push((org, auditor));
    }
    let [
        (edit, edit_key),
        (delete, delete_key),
        (swap, swap_key),
        (forge, forge_key),
        (cut, cut_key),
    ] = orgs.try_into().unwrap_or_else(|_| unreachable!());

    let cases = [
        (
            "edit",
            &edit_key,
            format!("UPDATE audit_log SET user_id = 'x' WHERE tenant_id = '{edit}' AND seq = 3"),
            "altered",
            3,
        ),
        (
            "delete",
            &delete_key,
            format!("DELETE FROM audit_log WHERE tenant_id = '{delete}' AND seq = 4"),
            "chainBreak",
            4,
        ),
        (
            "swap",
            &swap_key,
            format!(
                "UPDATE audit_log SET seq = -6 WHERE tenant_id = '{swap}' AND seq = 6; \
                 UPDATE audit_log SET seq = 6 WHERE tenant_id = '{swap}' AND seq = 7; \
                 UPDATE audit_log SET seq = 7 WHERE tenant_id = '{swap}' AND seq = -6;"
            ),
            "altered",
            6,
        ),
    ];
    for (case, key, sql, kind, seq) in cases {
        raw.exec(&sql).await;
        assert_located(case, server_report(&app, key).await, kind, Some(seq));
        // The export of the tampered log shows the same to the offline verifier.
        let text = export_text(&app, key, "").await;
        assert_located(case, verify_file(&text, &[KEY]), kind, Some(seq));
    }

    // A forged entry appended with a correct chain hash but no key: its signature fails.
    let entries = all_entries(&app, &forge_key).await;
    let last = entries.last().unwrap();
    let mut fake = last.clone();
    fake["id"] = json!(uuid::Uuid::new_v4().to_string());
    fake["seq"] = json!(13);
    fake["prevHash"] = last["hash"].clone();
    let hash = tater_audit::chain_hash(
        last["hash"].as_str().unwrap(),
        &tater_audit::canonical_of(&fake),
    );
    raw.exec(&format!(
        "INSERT INTO audit_log (tenant_id, seq, id, action, entity_type, entity_id, user_id, upn, \
         oid, ts, via, changes, prev_hash, hash, key_id, signature) \
         SELECT tenant_id, 13, '{id}', action, entity_type, entity_id, user_id, upn, oid, ts, via, \
         changes, prev_hash_new, '{hash}', key_id, '{sig}' FROM (SELECT *, hash AS prev_hash_new \
         FROM audit_log WHERE tenant_id = '{forge}' AND seq = 12) AS last_entry; \
         UPDATE audit_heads SET last_seq = 13, head_hash = '{hash}' WHERE tenant_id = '{forge}';",
        id = fake["id"].as_str().unwrap(),
        sig = "ab".repeat(32),
    ))
    .await;
    assert_located(
        "forge",
        server_report(&app, &forge_key).await,
        "badSignature",
        Some(13),
    );
    let text = export_text(&app, &forge_key, "").await;
    assert_located(
        "forge, offline",
        verify_file(&text, &[KEY]),
        "badSignature",
        Some(13),
    );

    // Cut the tail past the checkpoint at entry 10, and rewrite the head to match.
    raw.exec(&format!(
        "DELETE FROM audit_log WHERE tenant_id = '{cut}' AND seq > 7; \
         UPDATE audit_heads SET last_seq = 7, head_hash = (SELECT hash FROM audit_log \
         WHERE tenant_id = '{cut}' AND seq = 7) WHERE tenant_id = '{cut}';"
    ))
    .await;
    assert_located(
        "truncate",
        server_report(&app, &cut_key).await,
        "truncated",
        Some(8),
    );
    // The export of the cut log carries the orphaned checkpoint, so the offline check sees it.
    let text = export_text(&app, &cut_key, "").await;
    assert_located(
        "truncate, offline",
        verify_file(&text, &[KEY]),
        "truncated",
        Some(8),
    );
}

async fn rotated_keys_still_verify(db: TestDb) {
    // Entries signed under the old key, then the server restarts with a new one.
    let url = db.url.clone();
    let mut app = signed_app(db, OLD_KEY, &[]).await;
    let (org, _) = org_with_entries(&app, "rotate", 6).await;
    app.stop().await;
    let keys = tater_audit::AuditKeys::new(Some(KEY), &[OLD_KEY]).unwrap();
    let mut cfg = config_for_url(&url);
    cfg.audit = tater_store::AuditSettings {
        keys,
        checkpoint_every: 5,
    };
    let app = TestApp::start(
        tater_server::App::build(cfg).await.unwrap(),
        None,
        tater_testkit::entra::FakeEntra::start().await,
    );
    let admin = app
        .member(org, "second-admin@rotate.test", Role::Admin)
        .await;
    app.create("risks", &admin, json!({ "title": "after rotation" }))
        .await;
    let auditor = app
        .member(org, "second-auditor@rotate.test", Role::Auditor)
        .await;
    let entries = all_entries(&app, &auditor).await;
    let ids: std::collections::BTreeSet<&str> = entries
        .iter()
        .map(|e| e["keyId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "both keys signed entries: {ids:?}");
    let (code, report) = server_report(&app, &auditor).await;
    assert_eq!(code, 0, "{report}");
    let text = export_text(&app, &auditor, "").await;
    assert_eq!(verify_file(&text, &[KEY, OLD_KEY]).0, 0);
    assert_located(
        "old key missing",
        verify_file(&text, &[KEY]),
        "unknownKey",
        Some(1),
    );
}

async fn periodic_checkpoints_pin_the_head(db: TestDb) {
    let app = signed_app(db, KEY, &[]).await;
    let (org, auditor) = org_with_entries(&app, "periodic", 12).await;
    // The periodic job checkpoints every head that moved: this organization's at entry 12
    // (a new organization's setup — itself, its starter data labels, two members and
    // their keys — writes 9, so risks make 10 to 12).
    assert!(app.service.checkpoint_audit_heads().await.unwrap() >= 1);
    assert_eq!(
        app.service.checkpoint_audit_heads().await.unwrap(),
        0,
        "nothing moved since"
    );
    let (_, report) = server_report(&app, &auditor).await;
    assert_eq!(
        report["checkpoints"], 3,
        "inline at 5 and 10, periodic at 12: {report}"
    );
    let text = export_text(&app, &auditor, "").await;
    let cps: Vec<Value> = lines(&text)
        .into_iter()
        .filter_map(|l| l.get("checkpoint").cloned())
        .collect();
    assert_eq!(cps.len(), 3);
    let last = &cps[2];
    assert_eq!(
        (last["seq"].as_i64(), last["tenantId"].as_str()),
        (Some(12), Some(org.to_string().as_str()))
    );
    let payload = format!(
        "checkpoint|{}|{}|{}|{}",
        last["tenantId"].as_str().unwrap(),
        last["seq"],
        last["headHash"].as_str().unwrap(),
        last["timestamp"].as_str().unwrap()
    );
    assert_eq!(
        last["signature"],
        openssl_hmac(KEY, &payload),
        "checkpoints verify with openssl too"
    );
    assert_eq!(verify_file(&text, &[KEY]).0, 0);
}

/// The audit log inside `GET /api/export`'s zip is the same signed export: `tater audit
/// verify` accepts it with the key and counts every entry.
async fn the_full_exports_audit_log_verifies_offline(db: TestDb) {
    let app = signed_app(db, KEY, &[]).await;
    let (org, auditor) = org_with_entries(&app, "zipped", 7).await;
    let boss = app.member(org, "boss@zipped.test", Role::OrgAdmin).await;
    let entries = audit_len(&app, &auditor).await;
    let res = app
        .req(reqwest::Method::GET, "/api/export", &boss)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("audit-log.jsonl").unwrap(), &mut text).unwrap();
    let (code, report) = verify_file(&text, &[KEY]);
    assert_eq!((code, &report["ok"]), (0, &json!(true)), "{report}");
    assert_eq!(report["entriesChecked"], entries);
}
