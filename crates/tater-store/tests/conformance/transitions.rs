use serde_json::json;
use tater_domain::module::{RecordComment, RecordTransition};
use tater_domain::modules::TASKS;
use tater_domain::{AuditAction, CommentId, Timestamp, TransitionId};
use tater_store::Mode;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    transitions_are_kept_per_record_newest_first_and_go_with_it,
    comments_are_kept_per_record_newest_first_and_go_with_it,
);

fn moved(record: &tater_domain::module::Record, n: i64, snapshot: bool) -> RecordTransition {
    RecordTransition {
        id: TransitionId::generate(),
        record_id: record.meta.id,
        from: format!("s{n}"),
        to: format!("s{}", n + 1),
        actor: "user-1".into(),
        at: Timestamp::from_millis(NOW + n),
        comment: (n % 2 == 0).then(|| format!("comment {n}")),
        decision: snapshot,
        snapshot: snapshot.then(|| record.data.clone()),
    }
}

async fn transitions_are_kept_per_record_newest_first_and_go_with_it(db: TestDb) {
    let store = open(&db).await;
    let (_, scope) = new_org(&*store, "Acme").await;
    let (_, other) = new_org(&*store, "Other").await;
    let task = insert(&*store, &scope, &TASKS, json!({"title": "T"}), NOW).await;
    let sibling = insert(&*store, &scope, &TASKS, json!({"title": "U"}), NOW).await;
    let made: Vec<RecordTransition> = (0..3).map(|n| moved(&task, n, n == 1)).collect();
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    for t in &made {
        tx.insert_transition("tasks", t).await.unwrap();
    }
    tx.insert_transition("tasks", &moved(&sibling, 7, false))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    let listed = tx
        .list_transitions("tasks", task.meta.id, 10)
        .await
        .unwrap();
    let expected: Vec<RecordTransition> = made
        .iter()
        .rev()
        .map(|t| RecordTransition {
            snapshot: None,
            ..t.clone()
        })
        .collect();
    assert_eq!(listed, expected, "newest first, without snapshots");
    assert_eq!(
        tx.list_transitions("tasks", task.meta.id, 2)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        tx.list_transitions("poam", task.meta.id, 10)
            .await
            .unwrap()
            .is_empty(),
        "another module's id space"
    );
    let one = tx
        .get_transition("tasks", task.meta.id, made[1].id)
        .await
        .unwrap();
    assert_eq!(
        one.as_ref(),
        Some(&made[1]),
        "read alone, with its snapshot"
    );
    assert_eq!(
        tx.get_transition("tasks", sibling.meta.id, made[1].id)
            .await
            .unwrap(),
        None,
        "only under its own record"
    );
    // The full export's read: every move of the organization, by id, snapshots included.
    let all = tx.page_all_transitions(None, 3).await.unwrap();
    let more = tx.page_all_transitions(Some(all[2].1.id), 3).await.unwrap();
    assert_eq!((all.len(), more.len()), (3, 1));
    let read: Vec<&RecordTransition> = all.iter().chain(&more).map(|(_, t)| t).collect();
    assert!(
        read.windows(2)
            .all(|w| w[0].id.to_string() < w[1].id.to_string())
    );
    assert!(all.iter().chain(&more).all(|(m, _)| m == "tasks"));
    assert!(read.contains(&&made[1]), "with the decision's snapshot");
    drop(tx);

    let mut tx = store.tenant(&other.permit(Mode::Read)).await.unwrap();
    assert!(
        tx.list_transitions("tasks", task.meta.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(tx.page_all_transitions(None, 10).await.unwrap().is_empty());
    assert_eq!(
        tx.get_transition("tasks", task.meta.id, made[0].id)
            .await
            .unwrap(),
        None,
        "another organization sees none of them"
    );
    drop(tx);

    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    tx.delete_record(
        "tasks",
        task.meta.id,
        1,
        &audit_for(&scope, AuditAction::Delete, &TASKS, task.meta.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    assert!(
        tx.list_transitions("tasks", task.meta.id, 10)
            .await
            .unwrap()
            .is_empty(),
        "deleting the record deleted its history"
    );
    assert_eq!(
        tx.list_transitions("tasks", sibling.meta.id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn comments_are_kept_per_record_newest_first_and_go_with_it(db: TestDb) {
    let store = open(&db).await;
    let (_, scope) = new_org(&*store, "Acme").await;
    let (_, other) = new_org(&*store, "Other").await;
    let task = insert(&*store, &scope, &TASKS, json!({"title": "T"}), NOW).await;
    let said: Vec<RecordComment> = (0..3)
        .map(|n| RecordComment {
            id: CommentId::generate(),
            record_id: task.meta.id,
            author: "user-1".into(),
            at: Timestamp::from_millis(NOW + n),
            body: format!("**note** {n}"),
        })
        .collect();
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    for c in &said {
        let audit = audit_for(&scope, AuditAction::Create, &TASKS, task.meta.id);
        tx.insert_comment("tasks", c, &audit).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    let listed = tx.list_comments("tasks", task.meta.id, 10).await.unwrap();
    let newest_first: Vec<RecordComment> = said.iter().rev().cloned().collect();
    assert_eq!(listed, newest_first);
    let mut by_id: Vec<(String, RecordComment)> = said
        .iter()
        .map(|c| ("tasks".to_owned(), c.clone()))
        .collect();
    by_id.sort_by_key(|(_, c)| c.id.to_string());
    let first = tx.page_all_comments(None, 2).await.unwrap();
    assert_eq!(first, by_id[..2]);
    let rest = tx.page_all_comments(Some(first[1].1.id), 2).await.unwrap();
    assert_eq!(rest, by_id[2..]);
    assert_eq!(
        tx.list_comments("tasks", task.meta.id, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    drop(tx);
    let mut tx = store.tenant(&other.permit(Mode::Read)).await.unwrap();
    assert!(
        tx.list_comments("tasks", task.meta.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(tx.page_all_comments(None, 10).await.unwrap().is_empty());
    drop(tx);
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    tx.delete_record(
        "tasks",
        task.meta.id,
        1,
        &audit_for(&scope, AuditAction::Delete, &TASKS, task.meta.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    assert!(
        tx.list_comments("tasks", task.meta.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
