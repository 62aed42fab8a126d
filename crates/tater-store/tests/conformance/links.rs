use serde_json::json;
use tater_domain::module::{LinkEnd, RecordLink};
use tater_domain::modules::{POAM, RISKS, TASKS};
use tater_domain::{AuditAction, Timestamp};
use tater_store::{Mode, StoreError};
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    links_are_listed_from_both_ends_once_per_pair_and_go_with_either_record,
    links_stay_in_their_organization,
);

fn end(r: &tater_domain::module::Record, module: &str) -> LinkEnd {
    LinkEnd::record(module, r.meta.id)
}

fn link(from: &LinkEnd, to: &LinkEnd, n: i64) -> RecordLink {
    RecordLink::new(
        from.clone(),
        to.clone(),
        "user-1".into(),
        Timestamp::from_millis(NOW + n),
    )
}

async fn links_are_listed_from_both_ends_once_per_pair_and_go_with_either_record(db: TestDb) {
    let store = open(&db).await;
    let (_, scope) = new_org(&*store, "Acme").await;
    let risk = insert(
        &*store,
        &scope,
        &RISKS,
        json!({"title": "R", "likelihood": 3, "impact": 3}),
        NOW,
    )
    .await;
    let poam = insert(
        &*store,
        &scope,
        &POAM,
        json!({"title": "P", "weaknessDescription": "W"}),
        NOW,
    )
    .await;
    let task = insert(&*store, &scope, &TASKS, json!({"title": "T"}), NOW).await;
    let (r, p, t) = (end(&risk, "risks"), end(&poam, "poam"), end(&task, "tasks"));
    let control = LinkEnd::Control("ac-2".into());
    let made = [link(&r, &p, 0), link(&t, &r, 1), link(&r, &control, 2)];
    let audit = || audit_for(&scope, AuditAction::Create, &RISKS, risk.meta.id);
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    for l in &made {
        tx.insert_link(l, &audit()).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    let again = tx.insert_link(&link(&p, &r, 3), &audit()).await;
    assert!(
        matches!(again, Err(StoreError::Conflict(_))),
        "the same pair from the other end is the same link: {again:?}"
    );
    drop(tx);
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    let again = tx.insert_link(&link(&r, &control, 4), &audit()).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    drop(tx);

    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    let from_risk = tx.list_links(&r, 10).await.unwrap();
    let newest_first: Vec<RecordLink> = made.iter().rev().cloned().collect();
    assert_eq!(from_risk, newest_first);
    let seen: Vec<&LinkEnd> = from_risk.iter().filter_map(|l| l.seen_from(&r)).collect();
    assert_eq!(seen, vec![&control, &t, &p]);
    assert_eq!(tx.list_links(&p, 10).await.unwrap(), vec![made[0].clone()]);
    assert_eq!(
        tx.list_links(&control, 10).await.unwrap(),
        vec![made[2].clone()]
    );
    assert_eq!(tx.list_links(&r, 2).await.unwrap().len(), 2);
    assert_eq!(
        tx.control_links_of("risks", 10).await.unwrap(),
        vec![(risk.meta.id, "ac-2".to_owned())]
    );
    assert!(tx.control_links_of("poam", 10).await.unwrap().is_empty());
    let mut by_id = made.to_vec();
    by_id.sort_by_key(|l| l.id.to_string());
    let first = tx.page_all_links(None, 2).await.unwrap();
    assert_eq!(first, by_id[..2]);
    let rest = tx.page_all_links(Some(first[1].id), 2).await.unwrap();
    assert_eq!(rest, by_id[2..]);
    assert_eq!(
        tx.get_link(made[1].id).await.unwrap(),
        Some(made[1].clone())
    );
    drop(tx);

    // Removing a link, then deleting a record: its links go, the others stay.
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    tx.delete_link(made[1].id, &audit()).await.unwrap();
    assert!(matches!(
        tx.delete_link(made[1].id, &audit()).await,
        Err(StoreError::NotFound)
    ));
    tx.delete_record(
        "poam",
        poam.meta.id,
        1,
        &audit_for(&scope, AuditAction::Delete, &POAM, poam.meta.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    assert_eq!(tx.list_links(&r, 10).await.unwrap(), vec![made[2].clone()]);
    assert!(tx.list_links(&t, 10).await.unwrap().is_empty());
    drop(tx);
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    tx.delete_record(
        "risks",
        risk.meta.id,
        1,
        &audit_for(&scope, AuditAction::Delete, &RISKS, risk.meta.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    assert!(
        tx.list_links(&control, 10).await.unwrap().is_empty(),
        "a control's links go with their record"
    );
}

async fn links_stay_in_their_organization(db: TestDb) {
    let store = open(&db).await;
    let (_, scope) = new_org(&*store, "Acme").await;
    let (_, other) = new_org(&*store, "Other").await;
    let risk = insert(
        &*store,
        &scope,
        &RISKS,
        json!({"title": "R", "likelihood": 3, "impact": 3}),
        NOW,
    )
    .await;
    let task = insert(&*store, &scope, &TASKS, json!({"title": "T"}), NOW).await;
    let theirs = insert(&*store, &other, &TASKS, json!({"title": "X"}), NOW).await;
    let (r, t) = (end(&risk, "risks"), end(&task, "tasks"));
    let made = link(&r, &t, 0);
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    let audit = audit_for(&scope, AuditAction::Create, &RISKS, risk.meta.id);
    tx.insert_link(&made, &audit).await.unwrap();
    let control = LinkEnd::Control("ac-2".into());
    let to_control = link(&r, &control, 2);
    let again = audit_for(&scope, AuditAction::Create, &RISKS, risk.meta.id);
    tx.insert_link(&to_control, &again).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.tenant(&other.permit(Mode::Write)).await.unwrap();
    let audit = audit_for(&other, AuditAction::Create, &TASKS, theirs.meta.id);
    assert!(tx.list_links(&r, 10).await.unwrap().is_empty());
    assert!(tx.list_links(&control, 10).await.unwrap().is_empty());
    assert!(tx.control_links_of("risks", 10).await.unwrap().is_empty());
    assert!(tx.page_all_links(None, 10).await.unwrap().is_empty());
    assert_eq!(tx.get_link(made.id).await.unwrap(), None);
    assert!(matches!(
        tx.delete_link(made.id, &audit).await,
        Err(StoreError::NotFound)
    ));
    let across = link(&end(&theirs, "tasks"), &r, 1);
    assert!(
        tx.insert_link(&across, &audit).await.is_err(),
        "a link cannot reach another organization's record"
    );
    drop(tx);
    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    assert_eq!(tx.list_links(&r, 10).await.unwrap(), vec![to_control, made]);
}
