use tater_domain::{
    AuditAction, AuditDraft, CheckStatus, Counts, Endpoint, EndpointId, EnrollmentToken,
    EnrollmentTokenId, OrgId, Scan, ScanId, ScanResult, Timestamp,
};
use tater_store::{
    AuditQuery, EndpointQuery, LatestResult, Mode, ResultFilter, ResultGroup, ResultKey,
    StoreError, TenantTx,
};
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    enrollment_and_credentials,
    scans_latest_results_and_isolation,
    posture_counts_follow_every_change,
    endpoints_sort_bytewise_and_are_counted,
    concurrent_reports_and_endpoint_changes_all_land,
    a_late_older_report_never_replaces_the_newer
);

pub(crate) fn draft(org: OrgId, action: AuditAction, kind: &str, id: impl ToString) -> AuditDraft {
    AuditDraft::new(&system(org), action, kind, id, Timestamp::from_millis(NOW))
}

pub(crate) fn token(org: OrgId, hash: &str, single_use: bool) -> EnrollmentToken {
    EnrollmentToken {
        id: EnrollmentTokenId::generate(),
        org,
        token_hash: hash.repeat(64 / hash.len()),
        prefix: "tater_enr".into(),
        label: "rollout".into(),
        single_use,
        uses: 0,
        created_at: Timestamp::from_millis(NOW),
        expires_at: Timestamp::from_millis(NOW + 3_600_000),
        revoked_at: None,
        created_by: "system:test".into(),
        hostnames: None,
    }
}

/// Stores enrollment token `t` of `scope`'s organization, in a transaction of its own.
pub(crate) async fn add_token(store: &dyn tater_store::Store, scope: &Scope, t: &EnrollmentToken) {
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    tx.insert_enrollment_token(
        t,
        &draft(scope.org(), AuditAction::Create, "enrollment-token", t.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

pub(crate) fn endpoint(org: OrgId, hostname: &str, credential: &str) -> Endpoint {
    let t = Timestamp::from_millis(NOW);
    Endpoint {
        id: EndpointId::generate(),
        org,
        hostname: hostname.into(),
        os: "linux".into(),
        os_version: "Debian 12".into(),
        arch: "x86_64".into(),
        agent_version: "0.1.0".into(),
        tags: vec!["prod".into()],
        status: "active".into(),
        credential_hash: Some(credential.repeat(64 / credential.len())),
        credential_prefix: Some("tater_agent_ab".into()),
        enrolled_at: t,
        last_seen_at: Some(t),
        last_scan_id: None,
        reenroll_allowed_until: None,
        version: 1,
        created_at: t,
        updated_at: t,
    }
}

async fn enrollment_and_credentials(db: TestDb) {
    let store = open(&db).await;
    let (a, sa) = new_org(&*store, "A").await;
    let (_, sb) = new_org(&*store, "B").await;
    let once = token(a, "a1", true);
    let many = token(a, "b2", false);
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    tx.insert_enrollment_token(
        &once,
        &draft(a, AuditAction::Create, "enrollment-token", once.id),
    )
    .await
    .unwrap();
    tx.insert_enrollment_token(
        &many,
        &draft(a, AuditAction::Create, "enrollment-token", many.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut itx = store.identity(Mode::Write).await.unwrap();
    let found = itx
        .enrollment_token_by_hash(&once.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, once);
    let web = endpoint(a, "web-01", "c3");
    itx.enroll_endpoint(
        &found,
        &web,
        false,
        &draft(a, AuditAction::Create, "endpoint", web.id),
    )
    .await
    .unwrap();
    itx.commit().await.unwrap();

    // A single-use token enrolls once.
    let mut itx = store.identity(Mode::Write).await.unwrap();
    let again = itx
        .enroll_endpoint(
            &found,
            &endpoint(a, "web-02", "d4"),
            false,
            &draft(a, AuditAction::Create, "endpoint", "x"),
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    drop(itx);

    // Re-enrolling the same hostname replaces the credential of the same endpoint.
    let mut itx = store.identity(Mode::Write).await.unwrap();
    let existing = itx
        .endpoint_by_hostname(a, "web-01")
        .await
        .unwrap()
        .unwrap();
    // Only from the version the caller read: a stale one is refused.
    let mut stale = existing.clone();
    stale.credential_hash = Some("f6".repeat(32));
    let lost = itx
        .enroll_endpoint(
            &many,
            &stale,
            true,
            &draft(a, AuditAction::Update, "endpoint", existing.id),
        )
        .await;
    assert!(matches!(lost, Err(StoreError::NotFound)), "{lost:?}");
    drop(itx);
    let mut itx = store.identity(Mode::Write).await.unwrap();
    let mut renewed = existing.clone();
    renewed.credential_hash = Some("e5".repeat(32));
    renewed.version = existing.version + 1;
    itx.enroll_endpoint(
        &many,
        &renewed,
        true,
        &draft(a, AuditAction::Update, "endpoint", existing.id),
    )
    .await
    .unwrap();
    assert!(
        itx.endpoint_by_credential(&"c3".repeat(32))
            .await
            .unwrap()
            .is_none(),
        "old credential gone"
    );
    let by_cred = itx
        .endpoint_by_credential(&"e5".repeat(32))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((by_cred.id, by_cred.version), (existing.id, 2));
    itx.commit().await.unwrap();

    // Tenant B sees none of it.
    let mut tx = store.tenant(&sb.permit(Mode::Write)).await.unwrap();
    assert!(tx.enrollment_tokens().await.unwrap().is_empty());
    assert!(
        tx.endpoints(&EndpointQuery {
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty()
    );
    assert!(tx.endpoint(existing.id).await.unwrap().is_none());
    let revoke = tx
        .revoke_enrollment_token(
            many.id,
            Timestamp::from_millis(NOW),
            &draft(a, AuditAction::Delete, "enrollment-token", many.id),
        )
        .await;
    assert!(matches!(revoke, Err(StoreError::NotFound)));
    drop(tx);

    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    let tokens = tx.enrollment_tokens().await.unwrap();
    assert_eq!(tokens.iter().map(|t| t.uses).sum::<i64>(), 2);
    let list = tx
        .endpoints(&EndpointQuery {
            q: Some("web".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    let none = tx
        .endpoints(&EndpointQuery {
            q: Some("%".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        none.is_empty(),
        "LIKE wildcards in the search text are literal"
    );
    // Retire: the credential stops working.
    let mut retired = by_cred.clone();
    retired.status = "retired".into();
    retired.credential_hash = None;
    retired.version = 3;
    tx.update_endpoint(
        &retired,
        2,
        &draft(a, AuditAction::Update, "endpoint", retired.id),
    )
    .await
    .unwrap();
    let stale = tx
        .update_endpoint(
            &retired,
            2,
            &draft(a, AuditAction::Update, "endpoint", retired.id),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))));
    tx.commit().await.unwrap();
    let mut itx = store.identity(Mode::Read).await.unwrap();
    assert!(
        itx.endpoint_by_credential(&"e5".repeat(32))
            .await
            .unwrap()
            .is_none()
    );
}

fn results(n: usize, fail_every: usize) -> Vec<ScanResult> {
    (0..n)
        .map(|i| ScanResult {
            check_id: format!("check.{i:04}"),
            status: if i % fail_every == 0 {
                CheckStatus::Fail
            } else {
                CheckStatus::Pass
            },
            severity: if i % 2 == 0 {
                "High".into()
            } else {
                "Low".into()
            },
            // Some evidence as hard to carry as text gets: quotes, backslashes, escapes
            // spelled out, line breaks, JSON-looking text and characters beyond ASCII.
            evidence: if i % 50 == 7 {
                format!("evidence {i}: \"q\" \\ \\u0000 \n\t{{\"c\": [1]}} \u{fffd} ✓ 🔒 '; --")
            } else {
                format!("evidence {i}")
            },
        })
        .collect()
}

fn scan(org: OrgId, e: &Endpoint, finished: i64, results: &[ScanResult]) -> Scan {
    Scan {
        id: ScanId::generate(),
        org,
        endpoint: e.id,
        started_at: Timestamp::from_millis(finished - 1000),
        finished_at: Timestamp::from_millis(finished),
        received_at: Timestamp::from_millis(NOW),
        counts: Counts::of(results),
    }
}

async fn scans_latest_results_and_isolation(db: TestDb) {
    let store = open(&db).await;
    let (a, sa) = new_org(&*store, "A").await;
    let (_, sb) = new_org(&*store, "B").await;
    let tok = token(a, "f6", false);
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    tx.insert_enrollment_token(
        &tok,
        &draft(a, AuditAction::Create, "enrollment-token", tok.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (e1, e2) = (endpoint(a, "db-01", "11"), endpoint(a, "db-02", "22"));
    let mut itx = store.identity(Mode::Write).await.unwrap();
    for e in [&e1, &e2] {
        itx.enroll_endpoint(
            &tok,
            e,
            false,
            &draft(a, AuditAction::Create, "endpoint", e.id),
        )
        .await
        .unwrap();
    }
    itx.commit().await.unwrap();

    // 700 results cross the multi-row insert batch.
    let first = results(700, 7);
    let s1 = scan(a, &e1, NOW + 10_000, &first);
    let s2 = scan(a, &e2, NOW + 10_000, &results(10, 2));
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    tx.insert_scan(&s1, &first, &draft(a, AuditAction::Create, "scan", s1.id))
        .await
        .unwrap();
    tx.insert_scan(
        &s2,
        &results(10, 2),
        &draft(a, AuditAction::Create, "scan", s2.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    assert_eq!(tx.scan(s1.id).await.unwrap().unwrap(), s1);
    let mut stored = tx.scan_results(s1.id).await.unwrap();
    stored.sort_by(|x, y| x.check_id.cmp(&y.check_id));
    assert_eq!(
        stored, first,
        "every result as reported, evidence byte for byte"
    );
    let by_endpoint = tx
        .latest_result_counts(ResultGroup::Endpoint, &ResultFilter::default())
        .await
        .unwrap();
    let total = |rows: &[tater_store::ResultCount], status| {
        rows.iter()
            .filter(|r| r.status == status)
            .map(|r| r.count)
            .sum::<i64>()
    };
    assert_eq!(total(&by_endpoint, CheckStatus::Fail), 100 + 5);
    assert_eq!(total(&by_endpoint, CheckStatus::Pass), 600 + 5);
    let e1_fails = tx
        .latest_result_counts(
            ResultGroup::Check,
            &ResultFilter {
                status: Some(CheckStatus::Fail),
                endpoint: Some(e1.id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(e1_fails.iter().map(|r| r.count).sum::<i64>(), 100);
    let among = |endpoints: Vec<EndpointId>| ResultFilter {
        status: Some(CheckStatus::Fail),
        endpoints: Some(endpoints),
        ..Default::default()
    };
    let e2_fails = tx
        .latest_result_counts(ResultGroup::Endpoint, &among(vec![e2.id]))
        .await
        .unwrap();
    assert!(e2_fails.iter().all(|r| r.endpoint == Some(e2.id)));
    assert_eq!(e2_fails.iter().map(|r| r.count).sum::<i64>(), 5);
    assert!(
        tx.latest_result_counts(ResultGroup::Endpoint, &among(Vec::new()))
            .await
            .unwrap()
            .is_empty(),
        "an empty endpoint list matches nothing"
    );
    let tallies = tx.latest_tallies(&[e1.id]).await.unwrap();
    assert!(tallies.iter().all(|r| r.endpoint == Some(e1.id)));
    assert_eq!(tallies.iter().map(|r| r.count).sum::<i64>(), 700);
    assert!(tx.latest_tallies(&[]).await.unwrap().is_empty());
    let some = tx
        .latest_result_counts(
            ResultGroup::Check,
            &ResultFilter {
                checks: Some(vec!["check.0000".into(), "check.0001".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        some.iter().map(|r| r.count).sum::<i64>(),
        4,
        "two checks on two endpoints"
    );
    let failing = tx
        .latest_results_of(&["check.0000".into()], CheckStatus::Fail, 10)
        .await
        .unwrap();
    assert_eq!(failing.len(), 2);
    assert!(
        failing
            .iter()
            .any(|(e, r)| *e == e1.id && r.evidence == "evidence 0")
    );

    // Keyset pages of latest results: every row once, ordered by hostname, endpoint, check.
    let rows = all_latest_results(&mut *tx).await;
    assert_eq!(rows.len(), 710);
    let keys: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.hostname.clone(), r.result.check_id.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "ordered, no row twice");
    assert!(
        rows.iter()
            .all(|r| (r.endpoint == e1.id) == (r.scan == s1.id))
    );
    let e1_fail_rows = tx
        .latest_results_page(
            &ResultFilter {
                status: Some(CheckStatus::Fail),
                endpoint: Some(e1.id),
                ..Default::default()
            },
            None,
            500,
            1 << 20,
        )
        .await
        .unwrap()
        .0;
    assert_eq!(e1_fail_rows.len(), 100);
    // A byte budget cuts a page early, and says more follow.
    let (small, more) = tx
        .latest_results_page(&ResultFilter::default(), None, 500, 2_000)
        .await
        .unwrap();
    assert!(
        more && !small.is_empty() && small.len() < 10,
        "{}",
        small.len()
    );
    // The same pages in a read transaction (on SQLite, one statement a page, read in place).
    let mut read = store.tenant(&sa.permit(Mode::Read)).await.unwrap();
    let read_rows = all_latest_results(&mut *read).await;
    assert_eq!(read_rows, rows);
    let (read_small, more) = read
        .latest_results_page(&ResultFilter::default(), None, 500, 2_000)
        .await
        .unwrap();
    assert_eq!((read_small, more), (small, true), "the same byte cut");
    drop(read);
    // An event that changed no row still lands in the audit log.
    let export = draft(a, AuditAction::Create, "data-export", "export-1");
    tx.record_event(&export).await.unwrap();
    let log = tx.list_audit(&AuditQuery::default()).await.unwrap();
    assert!(log.iter().any(|e| e.draft.entity_type == "data-export"));

    // A newer scan replaces the latest; a late retry of an older one does not.
    let newer = results(700, 700);
    let s3 = scan(a, &e1, NOW + 20_000, &newer);
    tx.insert_scan(&s3, &newer, &draft(a, AuditAction::Create, "scan", s3.id))
        .await
        .unwrap();
    let older = results(700, 1);
    let s0 = scan(a, &e1, NOW + 5_000, &older);
    tx.insert_scan(&s0, &older, &draft(a, AuditAction::Create, "scan", s0.id))
        .await
        .unwrap();
    let e1_now = tx.endpoint(e1.id).await.unwrap().unwrap();
    assert_eq!(e1_now.last_scan_id, Some(s3.id));
    let fails = tx
        .latest_result_counts(
            ResultGroup::Check,
            &ResultFilter {
                status: Some(CheckStatus::Fail),
                endpoint: Some(e1.id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(fails.iter().map(|r| r.count).sum::<i64>(), 1);
    let history = tx.scans(None, None, 100).await.unwrap();
    let order: Vec<ScanId> = history.iter().map(|s| s.id).collect();
    assert_eq!(
        order,
        vec![s0.id, s1.id, s2.id, s3.id],
        "oldest first, ties by id"
    );
    let window = tx
        .scans(
            Some(Timestamp::from_millis(NOW + 10_000)),
            Some(Timestamp::from_millis(NOW + 20_000)),
            100,
        )
        .await
        .unwrap();
    assert_eq!(window.len(), 2);
    tx.commit().await.unwrap();

    // Tenant B sees no scan of A's.
    let mut tx = store.tenant(&sb.permit(Mode::Read)).await.unwrap();
    assert!(tx.scan(s1.id).await.unwrap().is_none());
    assert!(tx.scan_results(s1.id).await.unwrap().is_empty());
    assert!(
        tx.latest_result_counts(ResultGroup::Check, &ResultFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(tx.scans(None, None, 100).await.unwrap().is_empty());
    assert!(
        tx.latest_results_page(&ResultFilter::default(), None, 100, 1 << 20)
            .await
            .unwrap()
            .0
            .is_empty()
    );
    drop(tx);

    // Deleting an endpoint deletes its scans and results.
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    tx.delete_endpoint(e1.id, &draft(a, AuditAction::Delete, "endpoint", e1.id))
        .await
        .unwrap();
    assert!(tx.scan(s1.id).await.unwrap().is_none());
    assert!(tx.scan_results(s3.id).await.unwrap().is_empty());
    assert_eq!(tx.scans(None, None, 100).await.unwrap().len(), 1);
    tx.commit().await.unwrap();
}

/// The posture counts kept at write time equal a recount of the latest results, and the
/// endpoints' tallies add up to the same.
async fn check(tx: &mut dyn tater_store::TenantTx, when: &str) {
    use std::collections::BTreeMap;
    let key = |r: &tater_store::ResultCount| {
        (
            r.check_id.clone().unwrap_or_default(),
            r.status,
            r.severity.clone(),
        )
    };
    let kept: BTreeMap<_, i64> = tx
        .posture_counts()
        .await
        .unwrap()
        .iter()
        .map(|r| (key(r), r.count))
        .collect();
    let recount: BTreeMap<_, i64> = tx
        .latest_result_counts(ResultGroup::Check, &ResultFilter::default())
        .await
        .unwrap()
        .iter()
        .map(|r| (key(r), r.count))
        .collect();
    assert_eq!(kept, recount, "{when}");
    let every: Vec<EndpointId> = tx
        .endpoints(&EndpointQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    let by_endpoint: i64 = tx
        .latest_tallies(&every)
        .await
        .unwrap()
        .iter()
        .map(|r| r.count)
        .sum();
    assert_eq!(
        by_endpoint,
        recount.values().sum::<i64>(),
        "{when}: tallies"
    );
}

/// The counts kept at write time always equal a recount of the latest results.
async fn posture_counts_follow_every_change(db: TestDb) {
    let store = open(&db).await;
    let (a, sa) = new_org(&*store, "A").await;
    let tok = token(a, "ab", false);
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    tx.insert_enrollment_token(
        &tok,
        &draft(a, AuditAction::Create, "enrollment-token", tok.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (e1, e2) = (endpoint(a, "p-01", "31"), endpoint(a, "p-02", "32"));
    let mut itx = store.identity(Mode::Write).await.unwrap();
    for e in [&e1, &e2] {
        itx.enroll_endpoint(
            &tok,
            e,
            false,
            &draft(a, AuditAction::Create, "endpoint", e.id),
        )
        .await
        .unwrap();
    }
    itx.commit().await.unwrap();

    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    let (r1, r2, r3) = (results(50, 3), results(50, 5), results(50, 2));
    let s1 = scan(a, &e1, NOW + 1_000, &r1);
    tx.insert_scan(&s1, &r1, &draft(a, AuditAction::Create, "scan", s1.id))
        .await
        .unwrap();
    check(&mut *tx, "first scan").await;
    let s2 = scan(a, &e2, NOW + 1_000, &r2);
    tx.insert_scan(&s2, &r2, &draft(a, AuditAction::Create, "scan", s2.id))
        .await
        .unwrap();
    check(&mut *tx, "second endpoint").await;
    let s3 = scan(a, &e1, NOW + 2_000, &r3);
    tx.insert_scan(&s3, &r3, &draft(a, AuditAction::Create, "scan", s3.id))
        .await
        .unwrap();
    check(&mut *tx, "newer scan replaces").await;
    let old = scan(a, &e1, NOW + 500, &r2);
    tx.insert_scan(&old, &r2, &draft(a, AuditAction::Create, "scan", old.id))
        .await
        .unwrap();
    check(&mut *tx, "older retry changes nothing").await;
    let mut retired = tx.endpoint(e2.id).await.unwrap().unwrap();
    retired.status = "retired".into();
    retired.version += 1;
    tx.update_endpoint(
        &retired,
        retired.version - 1,
        &draft(a, AuditAction::Update, "endpoint", e2.id),
    )
    .await
    .unwrap();
    check(&mut *tx, "retired endpoint leaves posture").await;
    let totals = tx
        .endpoint_totals(Timestamp::from_millis(NOW))
        .await
        .unwrap();
    assert_eq!(
        (totals.active, totals.reporting, totals.stale),
        (1, 1, 0),
        "the retired endpoint is not counted: {totals:?}"
    );
    tx.commit().await.unwrap();

    // Enrolment never brings a retired endpoint back.
    let mut itx = store.identity(Mode::Write).await.unwrap();
    let back = itx.endpoint_by_hostname(a, "p-02").await.unwrap().unwrap();
    let refused = itx
        .enroll_endpoint(
            &tok,
            &Endpoint {
                credential_hash: Some("77".repeat(32)),
                version: back.version + 1,
                ..back
            },
            true,
            &draft(a, AuditAction::Update, "endpoint", e2.id),
        )
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    drop(itx);
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    check(&mut *tx, "a retired endpoint stays out of posture").await;
    tx.delete_endpoint(e1.id, &draft(a, AuditAction::Delete, "endpoint", e1.id))
        .await
        .unwrap();
    check(&mut *tx, "deleted endpoint leaves posture").await;
    tx.commit().await.unwrap();
}

/// Hostname order (and the cursor after a hostname) is by bytes on both engines, whatever
/// PostgreSQL's locale says (a locale would put "ab" before "a-c"); the totals count active
/// endpoints of this organization only.
async fn endpoints_sort_bytewise_and_are_counted(db: TestDb) {
    let store = open(&db).await;
    let (_, sa) = new_org(&*store, "A").await;
    let (_, sb) = new_org(&*store, "B").await;
    for (scope, hash, names) in [
        (&sa, "cd", vec!["ab", "a-c", "a.d"]),
        (&sb, "ef", vec!["zz"]),
    ] {
        for (i, name) in names.into_iter().enumerate() {
            let secret = format!("{hash}{i}");
            let mut e = endpoint(scope.org(), name, &secret);
            // Enrolment is the first sighting.
            e.enrolled_at = Timestamp::from_millis(NOW + 1000 * i as i64);
            crate::jobs::enroll(&*store, scope, &e, &secret).await;
        }
    }
    let mut tx = store.tenant(&sa.permit(Mode::Read)).await.unwrap();
    let page = |after: Option<&str>| EndpointQuery {
        after_hostname: after.map(str::to_owned),
        limit: 10,
        ..Default::default()
    };
    let names = |rows: Vec<Endpoint>| rows.into_iter().map(|e| e.hostname).collect::<Vec<_>>();
    assert_eq!(
        names(tx.endpoints(&page(None)).await.unwrap()),
        ["a-c", "a.d", "ab"]
    );
    assert_eq!(
        names(tx.endpoints(&page(Some("a-c"))).await.unwrap()),
        ["a.d", "ab"]
    );
    // "ab" was last seen at NOW, "a-c" at NOW + 1 s, "a.d" at NOW + 2 s.
    let totals = tx
        .endpoint_totals(Timestamp::from_millis(NOW + 2000))
        .await
        .unwrap();
    assert_eq!(
        (totals.active, totals.reporting, totals.stale),
        (3, 0, 2),
        "{totals:?}"
    );
}

/// Reports from many endpoints of one organization, endpoints retired and brought back,
/// re-enrolled and deleted, all at once: every change lands (none is lost to a deadlock
/// between the endpoint rows, the shared posture counters and the audit head), the counts
/// equal a recount, and the audit chain has one entry per change without a gap.
async fn concurrent_reports_and_endpoint_changes_all_land(db: TestDb) {
    const ENDPOINTS: usize = 12;
    const ROUNDS: usize = 4;
    let store = open(&db).await;
    let (a, sa) = new_org(&*store, "A").await;
    let mut endpoints = Vec::new();
    for i in 0..ENDPOINTS {
        let secret = format!("c{i:x}");
        let e = endpoint(a, &format!("load-{i:02}"), &secret);
        crate::jobs::enroll(&*store, &sa, &e, &secret).await;
        endpoints.push(e);
    }
    let mut tasks = tokio::task::JoinSet::new();
    // Reporters: every endpoint reports a few times, the results (and so the counters
    // they move) changing each round. The last endpoint is deleted while it reports.
    for (i, e) in endpoints.iter().cloned().enumerate() {
        let store = store.clone();
        tasks.spawn(async move {
            let mut landed = 0;
            for round in 0..ROUNDS {
                let r = results(60, 2 + (i + round) % 4);
                let s = scan(a, &e, NOW + 1_000 * (round as i64 + 1), &r);
                let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
                match tx
                    .insert_scan(&s, &r, &draft(a, AuditAction::Create, "scan", s.id))
                    .await
                {
                    Ok(()) => {
                        tx.commit().await.unwrap();
                        landed += 1;
                    }
                    Err(StoreError::NotFound) if i == ENDPOINTS - 1 => break,
                    Err(err) => panic!("report {round} of {}: {err:?}", e.hostname),
                }
            }
            landed
        });
    }
    // Retire and bring back the even endpoints. Reports do not change an endpoint's
    // version, so nothing here may conflict.
    let toggled: Vec<Endpoint> = endpoints.iter().step_by(2).cloned().collect();
    let store2 = store.clone();
    tasks.spawn(async move {
        let mut changes = 0;
        for round in 0..ROUNDS {
            for e in &toggled {
                let mut tx = store2.tenant(&sa.permit(Mode::Write)).await.unwrap();
                let mut now = tx.endpoint(e.id).await.unwrap().unwrap();
                now.status = if round % 2 == 0 { "retired" } else { "active" }.into();
                now.version += 1;
                let audit = draft(a, AuditAction::Update, "endpoint", e.id);
                tx.update_endpoint(&now, now.version - 1, &audit)
                    .await
                    .unwrap_or_else(|err| panic!("status of {}: {err:?}", e.hostname));
                tx.commit().await.unwrap();
                changes += 1;
            }
        }
        changes
    });
    // Re-enrol odd endpoints (new credentials) while they report; not the last one,
    // which is deleted.
    let reenrolled: Vec<Endpoint> = endpoints
        .iter()
        .skip(1)
        .step_by(2)
        .take(ENDPOINTS / 2 - 1)
        .cloned()
        .collect();
    let store3 = store.clone();
    tasks.spawn(async move {
        let tok = token(a, "9e", false);
        add_token(&*store3, &sa, &tok).await;
        for (k, e) in reenrolled.iter().enumerate() {
            let mut itx = store3.identity(Mode::Write).await.unwrap();
            let now = itx
                .endpoint_by_hostname(a, &e.hostname)
                .await
                .unwrap()
                .unwrap();
            let next = Endpoint {
                credential_hash: Some(format!("{:02x}", 0xa0 + k).repeat(32)),
                version: now.version + 1,
                ..now
            };
            let audit = draft(a, AuditAction::Update, "endpoint", e.id);
            itx.enroll_endpoint(&tok, &next, true, &audit)
                .await
                .unwrap_or_else(|err| panic!("re-enrolment of {}: {err:?}", e.hostname));
            itx.commit().await.unwrap();
        }
        1 + reenrolled.len()
    });
    // Delete the last endpoint while it reports.
    let doomed = endpoints[ENDPOINTS - 1].id;
    let store4 = store.clone();
    tasks.spawn(async move {
        tokio::task::yield_now().await;
        let mut tx = store4.tenant(&sa.permit(Mode::Write)).await.unwrap();
        tx.delete_endpoint(doomed, &draft(a, AuditAction::Delete, "endpoint", doomed))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        1
    });
    let mut changes = 0;
    while let Some(done) = tasks.join_next().await {
        changes += done.unwrap();
    }

    let mut tx = store.tenant(&sa.permit(Mode::Read)).await.unwrap();
    check(&mut *tx, "after the concurrent changes").await;
    let log = tx
        .list_audit(&AuditQuery {
            ascending: true,
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    // The organization's creation, the enrolments (a token and an endpoint each), then
    // one entry per change that landed.
    assert_eq!(
        log.len(),
        1 + 2 * ENDPOINTS + changes,
        "one entry per change"
    );
    for (i, pair) in log.windows(2).enumerate() {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "no gap after entry {i}");
        assert_eq!(
            pair[1].seal.prev_hash, pair[0].seal.hash,
            "chain at entry {i}"
        );
    }
}

/// A report that waited for another report of the same endpoint sees the scan that one made
/// latest: an older scan arriving while a newer one is being stored never replaces it (on
/// PostgreSQL a locking read that waited re-reads only the locked row, so the latest scan's
/// time must be read after the lock, not joined to it).
async fn a_late_older_report_never_replaces_the_newer(db: TestDb) {
    let store = open(&db).await;
    let (a, sa) = new_org(&*store, "A").await;
    let e = endpoint(a, "race-01", "e1");
    crate::jobs::enroll(&*store, &sa, &e, "e1").await;
    let (rn, ro) = (results(20, 2), results(20, 3));
    let newer = scan(a, &e, NOW + 2_000, &rn);
    let older = scan(a, &e, NOW + 1_000, &ro);
    let mut first = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    first
        .insert_scan(
            &newer,
            &rn,
            &draft(a, AuditAction::Create, "scan", newer.id),
        )
        .await
        .unwrap();
    // The older report starts while the newer one holds the endpoint (on SQLite it waits
    // to begin); the pause only lets it reach the lock before the newer one commits.
    let store2 = store.clone();
    let late = tokio::spawn(async move {
        let mut tx = store2.tenant(&sa.permit(Mode::Write)).await.unwrap();
        tx.insert_scan(
            &older,
            &ro,
            &draft(a, AuditAction::Create, "scan", older.id),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    first.commit().await.unwrap();
    late.await.unwrap();
    let mut tx = store.tenant(&sa.permit(Mode::Read)).await.unwrap();
    let now = tx.endpoint(e.id).await.unwrap().unwrap();
    assert_eq!(
        now.last_scan_id,
        Some(newer.id),
        "the newer scan stays latest"
    );
    check(&mut *tx, "after a late older report").await;
}

/// Every latest result, read in keyset pages of 100.
async fn all_latest_results(tx: &mut dyn TenantTx) -> Vec<LatestResult> {
    let mut after: Option<ResultKey> = None;
    let mut rows = Vec::new();
    loop {
        let (page, more) = tx
            .latest_results_page(&ResultFilter::default(), after.as_ref(), 100, 1 << 20)
            .await
            .unwrap();
        assert!(page.len() <= 100);
        after = page.last().map(|r| ResultKey {
            hostname: r.hostname.clone(),
            endpoint: r.endpoint,
            check_id: r.result.check_id.clone(),
        });
        rows.extend(page);
        if !more {
            break;
        }
    }
    rows
}
