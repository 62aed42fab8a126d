//! Policies' published versions and acknowledgements: numbered per policy, one
//! acknowledgement per member and version, scoped to their organization, gone with their
//! policy.

use serde_json::json;
use tater_domain::modules::POLICIES;
use tater_domain::{
    AuditAction, AuditDraft, PolicyAcknowledgement, PolicyVersion, RecordId, Timestamp,
    TransitionId, UserId,
};
use tater_store::{Mode, StoreError};
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(versions_and_acknowledgements_are_kept_per_policy_and_organization);

fn version(policy: RecordId, n: u32, body: &str) -> PolicyVersion {
    PolicyVersion {
        policy,
        version: n,
        title: "Access control".into(),
        category: Some("Access Control".into()),
        owner: None,
        body: body.into(),
        effective_date: time::macros::date!(2026 - 12 - 01),
        approved_by: "approver".into(),
        approved_at: Timestamp::from_millis(NOW + i64::from(n)),
        transition: TransitionId::generate(),
        sha256: "ab".repeat(32),
        retired_at: None,
    }
}

async fn versions_and_acknowledgements_are_kept_per_policy_and_organization(db: TestDb) {
    let store = open(&db).await;
    let (org, scope) = new_org(&*store, "Policies").await;
    let (_, other) = new_org(&*store, "Other").await;
    let policy = insert(
        &*store,
        &scope,
        &POLICIES,
        json!({ "title": "AC", "effectiveDate": "2026-12-01" }),
        NOW,
    )
    .await;
    let id = policy.meta.id;

    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    tx.insert_policy_version(&version(id, 1, "first"))
        .await
        .unwrap();
    tx.insert_policy_version(&version(id, 2, "second"))
        .await
        .unwrap();
    let again = tx.insert_policy_version(&version(id, 2, "again")).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    drop(tx);
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    tx.insert_policy_version(&version(id, 1, "first"))
        .await
        .unwrap();
    tx.insert_policy_version(&version(id, 2, "second"))
        .await
        .unwrap();
    let user = UserId::generate();
    let ack = PolicyAcknowledgement {
        policy: id,
        version: 2,
        user,
        email: "staff@policies.test".into(),
        at: Timestamp::from_millis(NOW),
    };
    let entry = AuditDraft::new(
        &system(org),
        AuditAction::Create,
        "policy-acknowledgement",
        id,
        ack.at,
    );
    assert!(
        tx.insert_policy_acknowledgement(&ack, &entry)
            .await
            .unwrap()
    );
    assert!(
        !tx.insert_policy_acknowledgement(&ack, &entry)
            .await
            .unwrap(),
        "once per member and version"
    );
    tx.commit().await.unwrap();

    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    let listed = tx.policy_versions(id, 10).await.unwrap();
    let numbers: Vec<u32> = listed.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [2, 1], "newest first");
    assert!(
        listed.iter().all(|v| v.body.is_empty()),
        "lists carry no text"
    );
    let one = tx.policy_version(id, 1).await.unwrap().unwrap();
    assert_eq!(one.body, "first");
    assert_eq!(one.effective_date, time::macros::date!(2026 - 12 - 01));
    assert_eq!(
        tx.acknowledgement_counts(id, false).await.unwrap(),
        [(2, 1)]
    );
    assert_eq!(
        tx.acknowledgement_counts(id, true).await.unwrap(),
        [],
        "the acknowledging user is no member of this organization"
    );
    assert_eq!(
        tx.policy_acknowledgements(id, 2, 10).await.unwrap(),
        std::slice::from_ref(&ack)
    );
    assert_eq!(tx.acknowledgement_of(id, 2, user).await.unwrap(), Some(ack));
    assert_eq!(tx.acknowledgement_of(id, 1, user).await.unwrap(), None);
    let open: Vec<u32> = tx
        .unacknowledged_in_force(UserId::generate(), 10)
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(open, [2], "the newest version is the one in force");
    assert!(
        tx.unacknowledged_in_force(user, 10)
            .await
            .unwrap()
            .is_empty()
    );
    drop(tx);

    // Another organization sees none of it.
    let mut tx = store.tenant(&other.permit(Mode::Read)).await.unwrap();
    assert!(tx.policy_versions(id, 10).await.unwrap().is_empty());
    assert!(tx.policy_version(id, 1).await.unwrap().is_none());
    assert!(
        tx.unacknowledged_in_force(UserId::generate(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    drop(tx);

    // Retired: nothing of it is in force.
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    let at = Timestamp::from_millis(NOW + 100);
    assert_eq!(tx.retire_policy_versions(id, at).await.unwrap(), 2);
    assert_eq!(tx.retire_policy_versions(id, at).await.unwrap(), 0);
    tx.commit().await.unwrap();
    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    assert_eq!(
        tx.policy_version(id, 2).await.unwrap().unwrap().retired_at,
        Some(at)
    );
    assert!(
        tx.unacknowledged_in_force(UserId::generate(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    drop(tx);

    // Deleting the policy takes its versions and their acknowledgements.
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    let gone = audit_for(&scope, AuditAction::Delete, &POLICIES, id);
    tx.delete_record(POLICIES.name, id, policy.meta.version, &gone)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    assert!(tx.policy_versions(id, 10).await.unwrap().is_empty());
    assert!(
        tx.acknowledgement_counts(id, false)
            .await
            .unwrap()
            .is_empty()
    );
}
