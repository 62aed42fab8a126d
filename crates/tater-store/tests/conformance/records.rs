use serde_json::json;
use tater_domain::module::Record;
use tater_domain::module::{PageCursor, parse_list_query};
use tater_domain::modules::{POAM, RISKS};
use tater_domain::{AuditAction, Timestamp};
use tater_store::{AuditQuery, Mode, StoreError};
use tater_testkit::{TestDb, both_engines};
use time::macros::date;

use crate::support::*;

both_engines!(
    crud_writes_record_and_audit_together,
    rollback_leaves_neither_record_nor_audit,
    a_read_only_permit_writes_nothing,
    a_read_neither_waits_for_nor_sees_an_open_write,
    other_tenant_sees_and_changes_nothing,
    stale_version_is_a_conflict,
    filters_sort_and_search,
    cursor_pages_cover_everything_once,
    count_by_groups_integers,
    count_grouped_counts_each_value_under_the_filter,
    audit_sequence_and_filters,
    pages_are_bounded_by_bytes,
    votes_page_in_key_order_each_once,
);

async fn crud_writes_record_and_audit_together(db: TestDb) {
    let store = open(&db).await;
    let (_, scope) = new_org(&*store, "Acme").await;
    let rec = insert(
        &*store,
        &scope,
        &POAM,
        json!({"title": "A", "weaknessDescription": "w"}),
        NOW,
    )
    .await;

    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    let mut got = tx.get_record("poam", rec.meta.id).await.unwrap().unwrap();
    assert_eq!(got, rec);
    got.data.insert("title".into(), json!("B"));
    got.meta.version = 2;
    tx.update_record(
        "poam",
        &got,
        1,
        &audit_for(&scope, AuditAction::Update, &POAM, rec.meta.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    let now = tx.get_record("poam", rec.meta.id).await.unwrap().unwrap();
    assert_eq!(
        (now.data["title"].clone(), now.meta.version),
        (json!("B"), 2)
    );
    tx.delete_record(
        "poam",
        rec.meta.id,
        2,
        &audit_for(&scope, AuditAction::Delete, &POAM, rec.meta.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    assert!(tx.get_record("poam", rec.meta.id).await.unwrap().is_none());
    let log = tx
        .list_audit(&AuditQuery {
            entity_id: Some(rec.meta.id.to_string()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<_> = log.iter().map(|e| e.draft.action).collect();
    assert_eq!(
        actions,
        vec![
            AuditAction::Delete,
            AuditAction::Update,
            AuditAction::Create
        ]
    );
}

async fn rollback_leaves_neither_record_nor_audit(db: TestDb) {
    let store = open(&db).await;
    let (_, scope) = new_org(&*store, "Acme").await;
    let rec = record(
        &POAM,
        json!({"title": "A", "weaknessDescription": "w"}),
        NOW,
    );
    {
        let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
        tx.insert_record(
            "poam",
            &rec,
            &audit_for(&scope, AuditAction::Create, &POAM, rec.meta.id),
        )
        .await
        .unwrap();
        // dropped without commit
    }
    nothing_but_the_org(&*store, &scope, &rec).await;
}

/// A transaction opened from a read-only permit refuses a write, even one whose statement
/// the database would run, and what it tried is gone with the transaction.
async fn a_read_only_permit_writes_nothing(db: TestDb) {
    let store = open(&db).await;
    let (_, scope) = new_org(&*store, "Acme").await;
    let rec = record(
        &POAM,
        json!({"title": "A", "weaknessDescription": "w"}),
        NOW,
    );
    {
        let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
        let refused = tx
            .insert_record(
                "poam",
                &rec,
                &audit_for(&scope, AuditAction::Create, &POAM, rec.meta.id),
            )
            .await;
        assert!(matches!(refused, Err(StoreError::ReadOnly)), "{refused:?}");
        // Even a commit keeps nothing of it: it is refused, and the transaction rolls back.
        assert!(matches!(tx.commit().await, Err(StoreError::ReadOnly)));
    }
    nothing_but_the_org(&*store, &scope, &rec).await;
}

/// A write transaction holds SQLite's write lock until it ends; reads run beside it, seeing
/// what was committed before it and nothing of what it has not committed yet.
async fn a_read_neither_waits_for_nor_sees_an_open_write(db: TestDb) {
    let store = open(&db).await;
    let (_, scope) = new_org(&*store, "Acme").await;
    let kept = insert(
        &*store,
        &scope,
        &POAM,
        json!({"title": "Kept", "weaknessDescription": "w"}),
        NOW,
    )
    .await;
    let pending = record(
        &POAM,
        json!({"title": "Pending", "weaknessDescription": "w"}),
        NOW,
    );
    let mut writer = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    writer
        .insert_record(
            "poam",
            &pending,
            &audit_for(&scope, AuditAction::Create, &POAM, pending.meta.id),
        )
        .await
        .unwrap();
    let read = async {
        let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
        let seen = (
            tx.get_record("poam", kept.meta.id).await.unwrap(),
            tx.get_record("poam", pending.meta.id).await.unwrap(),
        );
        tx.commit().await.unwrap();
        seen
    };
    let (kept_seen, pending_seen) = tokio::time::timeout(std::time::Duration::from_secs(5), read)
        .await
        .expect("a read does not wait for the open write");
    assert_eq!(kept_seen, Some(kept));
    assert_eq!(pending_seen, None, "nothing uncommitted is visible");
    writer.commit().await.unwrap();
    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    assert!(
        tx.get_record("poam", pending.meta.id)
            .await
            .unwrap()
            .is_some()
    );
}

/// `rec` is not stored, and the organization's log holds only its own creation.
async fn nothing_but_the_org(store: &dyn tater_store::Store, scope: &Scope, rec: &Record) {
    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    assert!(tx.get_record("poam", rec.meta.id).await.unwrap().is_none());
    let log = tx
        .list_audit(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(log.len(), 1, "only the organization's own creation entry");
    assert_eq!(log[0].draft.entity_type, "organization");
}

async fn other_tenant_sees_and_changes_nothing(db: TestDb) {
    let store = open(&db).await;
    let (_, a) = new_org(&*store, "A").await;
    let (_, b) = new_org(&*store, "B").await;
    let rec = insert(
        &*store,
        &a,
        &POAM,
        json!({"title": "secret", "weaknessDescription": "w"}),
        NOW,
    )
    .await;

    let mut tx = store.tenant(&b.permit(Mode::Write)).await.unwrap();
    assert!(tx.get_record("poam", rec.meta.id).await.unwrap().is_none());
    let mut changed = rec.clone();
    changed.data.insert("title".into(), json!("stolen"));
    changed.meta.version = 2;
    let upd = tx
        .update_record(
            "poam",
            &changed,
            1,
            &audit_for(&b, AuditAction::Update, &POAM, rec.meta.id),
        )
        .await;
    assert!(matches!(upd, Err(StoreError::NotFound)), "{upd:?}");
    let del = tx
        .delete_record(
            "poam",
            rec.meta.id,
            1,
            &audit_for(&b, AuditAction::Delete, &POAM, rec.meta.id),
        )
        .await;
    assert!(matches!(del, Err(StoreError::NotFound)), "{del:?}");
    tx.commit().await.unwrap();

    assert!(list(&*store, &b, &POAM, &[]).await.is_empty());
    let mut tx = store.tenant(&a.permit(Mode::Read)).await.unwrap();
    assert_eq!(
        tx.get_record("poam", rec.meta.id).await.unwrap().unwrap(),
        rec
    );
    let mut tx = store.tenant(&b.permit(Mode::Read)).await.unwrap();
    let log = tx
        .list_audit(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(log.iter().all(|e| e.draft.entity_type == "organization"));
}

async fn stale_version_is_a_conflict(db: TestDb) {
    let store = open(&db).await;
    let (_, scope) = new_org(&*store, "Acme").await;
    let mut rec = insert(
        &*store,
        &scope,
        &POAM,
        json!({"title": "A", "weaknessDescription": "w"}),
        NOW,
    )
    .await;
    rec.meta.version = 2;
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    tx.update_record(
        "poam",
        &rec,
        1,
        &audit_for(&scope, AuditAction::Update, &POAM, rec.meta.id),
    )
    .await
    .unwrap();
    rec.meta.version = 3;
    let stale = tx
        .update_record(
            "poam",
            &rec,
            1,
            &audit_for(&scope, AuditAction::Update, &POAM, rec.meta.id),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
}

async fn filters_sort_and_search(db: TestDb) {
    let store = open(&db).await;
    let (_, s) = new_org(&*store, "Acme").await;
    let rows = [
        json!({"title": "Alpha", "weaknessDescription": "MFA missing", "impact": "Low", "status": "Open",
               "scheduledCompletion": "2026-01-01", "controls": ["IA-2(1)"]}),
        json!({"title": "Bravo", "weaknessDescription": "patching", "impact": "High", "status": "In Progress",
               "scheduledCompletion": "2027-01-01", "controls": ["SI-2"]}),
        json!({"title": "Charlie", "weaknessDescription": "logs", "impact": "Moderate", "status": "Completed",
               "scheduledCompletion": "2026-02-01", "completionDate": "2026-02-01", "controls": ["AU-6", "ia-2.1"]}),
        json!({"title": "Delta", "weaknessDescription": "no date", "status": "Open"}),
    ];
    for (i, r) in rows.into_iter().enumerate() {
        insert(&*store, &s, &POAM, r, NOW + i as i64).await;
    }
    let t = |p: &'static [(&'static str, &'static str)]| {
        let store = store.clone();
        async move { titles(&list(&*store, &s, &POAM, p).await) }
    };
    assert_eq!(
        t(&[("sort", "title")]).await,
        ["Alpha", "Bravo", "Charlie", "Delta"]
    );
    assert_eq!(
        t(&[]).await,
        ["Delta", "Charlie", "Bravo", "Alpha"],
        "default: newest first"
    );
    // Enums sort by declared rank (High, Moderate, Low), nulls last either way.
    assert_eq!(
        t(&[("sort", "impact")]).await,
        ["Bravo", "Charlie", "Alpha", "Delta"]
    );
    assert_eq!(
        t(&[("sort", "-impact")]).await,
        ["Alpha", "Charlie", "Bravo", "Delta"]
    );
    assert_eq!(
        t(&[("sort", "scheduledCompletion")]).await,
        ["Alpha", "Charlie", "Bravo", "Delta"]
    );
    assert_eq!(
        t(&[("status", "Open,In Progress"), ("sort", "title")]).await,
        ["Alpha", "Bravo", "Delta"]
    );
    assert_eq!(
        t(&[("controls", "IA-2(1)"), ("sort", "title")]).await,
        ["Alpha", "Charlie"]
    );
    assert_eq!(t(&[("q", "PATCH")]).await, ["Bravo"]);
    assert_eq!(
        t(&[("q", "a"), ("sort", "title")]).await,
        ["Alpha", "Bravo", "Charlie", "Delta"]
    );
    assert_eq!(
        t(&[("scheduledCompletion.lt", "2026-06-01"), ("sort", "title")]).await,
        ["Alpha", "Charlie"]
    );
    // Overdue (today 2026-11-29): open work past its date.
    assert_eq!(t(&[("overdue", "true")]).await, ["Alpha"]);
    assert_eq!(
        t(&[("overdue", "false"), ("sort", "title")]).await,
        ["Bravo", "Charlie", "Delta"]
    );
    assert_eq!(
        t(&[("createdAt.gte", "2027-01-01T00:00:00Z")]).await,
        Vec::<String>::new()
    );

    for (i, (sle, aro)) in [(1000.0, 0.5), (10.0, 2.0), (6000.0, 0.1)]
        .into_iter()
        .enumerate()
    {
        let body = json!({"title": format!("R{i}"), "sle": sle, "aro": aro, "likelihood": 1 + i, "impact": 3});
        insert(&*store, &s, &RISKS, body, NOW).await;
    }
    let r = |p: &'static [(&'static str, &'static str)]| {
        let store = store.clone();
        async move { titles(&list(&*store, &s, &RISKS, p).await) }
    };
    assert_eq!(r(&[("sort", "-ale")]).await, ["R2", "R0", "R1"]);
    assert_eq!(
        r(&[("ale.gte", "100"), ("sort", "title")]).await,
        ["R0", "R2"]
    );
    assert_eq!(
        r(&[("likelihood.gte", "2"), ("sort", "title")]).await,
        ["R1", "R2"]
    );
    assert_eq!(r(&[("likelihood", "2")]).await, ["R1"]);
}

async fn cursor_pages_cover_everything_once(db: TestDb) {
    let store = open(&db).await;
    let (_, s) = new_org(&*store, "Acme").await;
    // Same timestamps and repeated sort values force the id tie-breaker to do its job.
    for i in 0..23 {
        let impact = ["High", "Moderate", "Low"][i % 3];
        let mut body =
            json!({"title": format!("T{i:02}"), "weaknessDescription": "w", "impact": impact});
        if i % 5 == 0 {
            body["impact"] = json!(null);
        }
        insert(&*store, &s, &POAM, body, NOW + (i as i64 / 4)).await;
    }
    for sort in [
        "-createdAt",
        "createdAt",
        "impact",
        "-impact",
        "title",
        "-title",
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut params = vec![
                ("sort".to_string(), sort.to_string()),
                ("limit".into(), "4".into()),
            ];
            if let Some(c) = &cursor {
                params.push(("cursor".into(), c.clone()));
            }
            let q = parse_list_query(&POAM, &params, date!(2026 - 11 - 29), &[]).unwrap();
            let mut tx = store.tenant(&s.permit(Mode::Read)).await.unwrap();
            let mut page = tx.list_records("poam", &q).await.unwrap();
            let more = page.len() > 4;
            page.truncate(4);
            seen.extend(titles(&page));
            if !more {
                break;
            }
            let last = page.last().unwrap();
            cursor = Some(
                PageCursor {
                    value: q.sort.value_of(last),
                    id: last.meta.id,
                }
                .encode(&q.sort),
            );
        }
        let all = titles(&list(&*store, &s, &POAM, &[("sort", sort), ("limit", "500")]).await);
        assert_eq!(seen, all, "paged {sort} equals unpaged");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 23, "{sort}: every row exactly once");
    }
}

async fn count_by_groups_integers(db: TestDb) {
    let store = open(&db).await;
    let (_, s) = new_org(&*store, "Acme").await;
    for (l, i) in [(1, 1), (1, 1), (5, 3)] {
        insert(
            &*store,
            &s,
            &RISKS,
            json!({"title": "r", "likelihood": l, "impact": i}),
            NOW,
        )
        .await;
    }
    insert(&*store, &s, &RISKS, json!({"title": "unrated"}), NOW).await;
    let mut tx = store.tenant(&s.permit(Mode::Read)).await.unwrap();
    let mut groups = tx
        .count_by("risks", &["likelihood", "impact"])
        .await
        .unwrap();
    groups.sort();
    assert_eq!(
        groups,
        vec![
            (vec![None, None], 1),
            (vec![Some(1), Some(1)], 2),
            (vec![Some(5), Some(3)], 1)
        ]
    );
}

async fn count_grouped_counts_each_value_under_the_filter(db: TestDb) {
    let store = open(&db).await;
    let (_, s) = new_org(&*store, "Acme").await;
    let (_, other) = new_org(&*store, "Other").await;
    for (treatment, category) in [
        ("Mitigate", "Technical"),
        ("Mitigate", "Financial"),
        ("Accept", "Technical"),
    ] {
        let body = json!({"title": "r", "treatment": treatment, "category": category});
        insert(&*store, &s, &RISKS, body.clone(), NOW).await;
        insert(&*store, &other, &RISKS, body, NOW).await;
    }
    insert(&*store, &s, &RISKS, json!({"title": "untreated"}), NOW).await;
    let mut tx = store.tenant(&s.permit(Mode::Read)).await.unwrap();
    let all = tx
        .count_grouped("risks", "treatment", &[], 500)
        .await
        .unwrap();
    assert_eq!(
        all,
        (
            vec![
                (Some("Mitigate".to_owned()), 2),
                (Some("Accept".to_owned()), 1),
                (None, 1)
            ],
            4
        ),
        "largest first, then by value (none last); only this organization's"
    );
    let q = parse_list_query(
        &RISKS,
        &[("category".into(), "Technical".into())],
        date!(2026 - 01 - 01),
        &[],
    )
    .unwrap();
    let technical = tx
        .count_grouped("risks", "treatment", &q.filter, 1)
        .await
        .unwrap();
    assert_eq!(
        technical,
        (vec![(Some("Accept".to_owned()), 1)], 2),
        "ties by value; the total counts past the limit"
    );
    let none = tx.count_grouped("poam", "status", &[], 10).await.unwrap();
    assert_eq!(none, (vec![], 0));
}

async fn audit_sequence_and_filters(db: TestDb) {
    let store = open(&db).await;
    let (_, a) = new_org(&*store, "A").await;
    let (_, b) = new_org(&*store, "B").await;
    for i in 0..5 {
        insert(
            &*store,
            &a,
            &POAM,
            json!({"title": format!("a{i}"), "weaknessDescription": "w"}),
            NOW,
        )
        .await;
    }
    insert(&*store, &b, &RISKS, json!({"title": "b"}), NOW).await;
    let mut tx = store.tenant(&a.permit(Mode::Read)).await.unwrap();
    let all = tx
        .list_audit(&AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let seqs: Vec<i64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        vec![6, 5, 4, 3, 2, 1],
        "per-tenant, gapless, newest first"
    );
    let page = tx
        .list_audit(&AuditQuery {
            before_seq: Some(4),
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![3, 2, 1],
        "limit + 1 rows"
    );
    let poam = tx
        .list_audit(&AuditQuery {
            entity_type: Some("poam".into()),
            action: Some(AuditAction::Create),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(poam.len(), 5);
    let window = tx
        .list_audit(&AuditQuery {
            from: Some(Timestamp::from_millis(NOW)),
            to: Some(Timestamp::from_millis(NOW + 1)),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(window.len(), 6);
    let none = tx
        .list_audit(&AuditQuery {
            to: Some(Timestamp::from_millis(NOW)),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    let mut tx = store.tenant(&b.permit(Mode::Read)).await.unwrap();
    let b_log = tx
        .list_audit(&AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(b_log.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 1]);
}

/// Pages for clients stop at the row limit or the byte budget, whichever comes first, and
/// still cover every record once; the audit log pages the same way.
async fn pages_are_bounded_by_bytes(db: TestDb) {
    let store = open(&db).await;
    let (org, scope) = new_org(&*store, "Bytes").await;
    let _ = org;
    let def = &tater_domain::modules::CONFIG_DOCS;
    let big = "x".repeat(20_000);
    let mut ids = Vec::new();
    for n in 0..12 {
        let body = if n % 3 == 0 { big.as_str() } else { "small" };
        let rec = insert(
            &*store,
            &scope,
            def,
            json!({ "title": format!("doc {n:02}"), "body": body }),
            NOW + n,
        )
        .await;
        ids.push(rec.meta.id);
    }
    let params = vec![
        ("sort".to_owned(), "title".to_owned()),
        ("limit".to_owned(), "500".to_owned()),
    ];
    let mut q = tater_domain::module::parse_list_query(
        def,
        &params,
        time::macros::date!(2026 - 11 - 29),
        &[],
    )
    .unwrap();
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    loop {
        let (page, more) = tx.page_records(def.name, &q, 30_000).await.unwrap();
        assert!(!page.is_empty());
        let bytes: usize = page
            .iter()
            .map(|r| serde_json::to_vec(&r.data).unwrap().len())
            .sum();
        assert!(
            page.len() == 1 || bytes <= 30_000,
            "{} records, {bytes} bytes",
            page.len()
        );
        pages += 1;
        seen.extend(page.iter().map(|r| r.meta.id));
        if !more {
            break;
        }
        let last = page.last().unwrap();
        q.after = Some(tater_domain::module::PageCursor {
            value: q.sort.value_of(last),
            id: last.meta.id,
        });
    }
    assert_eq!(seen, ids, "every record once, in order");
    assert!(pages >= 4, "the 20 kB bodies split the pages: {pages}");
    // The row limit still applies under a large budget.
    q.after = None;
    q.limit = 5;
    let (page, more) = tx.page_records(def.name, &q, u64::MAX).await.unwrap();
    assert_eq!((page.len(), more), (5, true));
    // A limit of exactly the rows there are: all of them, and no more to come.
    q.limit = 12;
    let (page, more) = tx.page_records(def.name, &q, u64::MAX).await.unwrap();
    assert_eq!((page.len(), more), (12, false));

    // The audit log: the organization's creation and the twelve records, in one page under
    // a large budget, and one entry a page under a budget smaller than any entry.
    assert_eq!(audit_pages(&mut *tx, 1 << 20).await, [13]);
    assert_eq!(audit_pages(&mut *tx, 1).await, [1; 13]);
    let (newest, _) = tx
        .page_audit(
            &tater_store::AuditQuery {
                limit: 2,
                ..Default::default()
            },
            u64::MAX,
        )
        .await
        .unwrap();
    assert_eq!(newest.len(), 2);
    assert!(newest[0].seq > newest[1].seq, "newest first");
}

/// The full export's read of votes: pages in key order cover each vote of the organization
/// once, whatever the page size, and none of another's.
async fn votes_page_in_key_order_each_once(db: TestDb) {
    use tater_domain::modules::CHANGE_REQUESTS;
    let store = open(&db).await;
    let (_, s) = new_org(&*store, "Acme").await;
    let (_, other) = new_org(&*store, "Other").await;
    let mut cast = Vec::new();
    for scope in [&s, &other] {
        for title in ["a", "b"] {
            let change = json!({"title": title, "changeType": "Normal"});
            let rec = insert(&*store, scope, &CHANGE_REQUESTS, change, NOW).await;
            let round = tater_domain::TransitionId::generate();
            for voter in ["x@v.test", "y@v.test", "z@v.test"] {
                let vote = tater_store::RecordVote {
                    record_id: rec.meta.id,
                    round,
                    voter: voter.into(),
                    cast_by: "u".into(),
                    vote: "approve".into(),
                    comment: None,
                    at: Timestamp::from_millis(NOW),
                };
                let audit = audit_for(scope, AuditAction::Create, &CHANGE_REQUESTS, rec.meta.id);
                let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
                tx.put_vote(CHANGE_REQUESTS.name, &vote, &audit)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                if scope.org() == s.org() {
                    cast.push((rec.meta.id, voter.to_owned()));
                }
            }
        }
    }
    cast.sort();
    for limit in [1, 2, 4, 6, 10] {
        let mut seen = Vec::new();
        let mut after: Option<tater_store::VoteKey> = None;
        let mut tx = store.tenant(&s.permit(Mode::Read)).await.unwrap();
        loop {
            let page = tx.page_all_votes(after.as_ref(), limit).await.unwrap();
            assert!(page.len() <= limit as usize);
            let Some((module, last)) = page.last() else {
                break;
            };
            after = Some(tater_store::VoteKey {
                module: module.clone(),
                record_id: last.record_id,
                round: last.round,
                voter: last.voter.clone(),
            });
            seen.extend(page.iter().map(|(_, v)| (v.record_id, v.voter.clone())));
        }
        seen.sort();
        assert_eq!(seen, cast, "page size {limit}");
    }
}

/// The sizes of the pages the audit log is read in, oldest first, under `max_bytes`.
async fn audit_pages(tx: &mut dyn tater_store::TenantTx, max_bytes: u64) -> Vec<usize> {
    let mut q = tater_store::AuditQuery {
        ascending: true,
        limit: 500,
        ..Default::default()
    };
    let mut pages = Vec::new();
    loop {
        let (page, more) = tx.page_audit(&q, max_bytes).await.unwrap();
        pages.push(page.len());
        let Some(last) = page.last() else { break };
        q.after_seq = Some(last.seq);
        if !more {
            break;
        }
    }
    pages
}
