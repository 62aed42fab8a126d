//! Invitations: one pending per address and organization, closed once, visible to the
//! organization that made them and, by address, to the invitee — never to another tenant.

use tater_domain::{
    AuditAction, AuditDraft, Email, Invitation, InvitationId, InvitationStatus, Role, Timestamp,
    UserId,
};
use tater_store::{Mode, StoreError};
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(invitations_are_pending_until_decided);

fn invitation(org: tater_domain::OrgId, email: &str) -> Invitation {
    Invitation {
        id: InvitationId::generate(),
        org,
        email: Email::parse(email).unwrap(),
        role: Role::Auditor,
        status: InvitationStatus::Pending,
        invited_by: "system:conformance".into(),
        invited_by_email: "boss@example.com".into(),
        created_at: Timestamp::from_millis(NOW),
        expires_at: Timestamp::from_millis(NOW + 1000),
        decided_at: None,
        user: None,
    }
}

fn draft(org: tater_domain::OrgId, action: AuditAction, id: InvitationId) -> AuditDraft {
    AuditDraft::new(
        &system(org),
        action,
        "invitation",
        id,
        Timestamp::from_millis(NOW),
    )
}

async fn invitations_are_pending_until_decided(db: TestDb) {
    let store = open(&db).await;
    let (a, sa) = new_org(&*store, "A").await;
    let (b, sb) = new_org(&*store, "B").await;
    let to_ann = invitation(a, "ann@example.com");
    let from_b = invitation(b, "ann@example.com");
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    tx.insert_invitation(&to_ann, &draft(a, AuditAction::Create, to_ann.id))
        .await
        .unwrap();
    // One pending invitation per address in an organization.
    let twice = tx
        .insert_invitation(
            &invitation(a, "ann@example.com"),
            &draft(a, AuditAction::Create, to_ann.id),
        )
        .await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
    drop(tx);
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    tx.insert_invitation(&to_ann, &draft(a, AuditAction::Create, to_ann.id))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.tenant(&sb.permit(Mode::Write)).await.unwrap();
    tx.insert_invitation(&from_b, &draft(b, AuditAction::Create, from_b.id))
        .await
        .unwrap();
    // B sees its own invitation only.
    assert_eq!(tx.invitations(10).await.unwrap(), vec![from_b.clone()]);
    assert!(tx.invitation(to_ann.id).await.unwrap().is_none());
    let r = tx
        .close_invitation(
            to_ann.id,
            InvitationStatus::Revoked,
            Timestamp::from_millis(NOW),
            &draft(b, AuditAction::Update, to_ann.id),
        )
        .await;
    assert!(
        matches!(r, Err(StoreError::NotFound)),
        "B cannot revoke A's"
    );
    tx.commit().await.unwrap();

    // The invitee sees both, by address.
    let mut itx = store.identity(Mode::Write).await.unwrap();
    let mine = itx
        .invitations_for(&Email::parse("ANN@example.com").unwrap())
        .await
        .unwrap();
    let mut orgs: Vec<String> = mine.iter().map(|(_, name)| name.clone()).collect();
    orgs.sort();
    assert_eq!(orgs, vec!["A", "B"]);
    assert!(
        itx.invitations_for(&Email::parse("bob@example.com").unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    let found = itx.invitation_by_id(to_ann.id).await.unwrap().unwrap();
    assert_eq!(found, to_ann);
    let ann = UserId::generate();
    itx.decide_invitation(
        &found,
        InvitationStatus::Accepted,
        Timestamp::from_millis(NOW + 5),
        Some(ann),
        &draft(a, AuditAction::Update, to_ann.id),
    )
    .await
    .unwrap();
    // Decided once.
    let again = itx
        .decide_invitation(
            &found,
            InvitationStatus::Declined,
            Timestamp::from_millis(NOW + 6),
            None,
            &draft(a, AuditAction::Update, to_ann.id),
        )
        .await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
    itx.commit().await.unwrap();

    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    let stored = tx.invitation(to_ann.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.user, stored.decided_at),
        (
            InvitationStatus::Accepted,
            Some(ann),
            Some(Timestamp::from_millis(NOW + 5))
        )
    );
    assert!(
        tx.pending_invitation(&to_ann.email)
            .await
            .unwrap()
            .is_none(),
        "accepted is no longer pending"
    );
    // A new invitation of the same address is possible once the old one is closed.
    tx.insert_invitation(
        &invitation(a, "ann@example.com"),
        &draft(a, AuditAction::Create, to_ann.id),
    )
    .await
    .unwrap();
    let entries = tx
        .list_audit(&tater_store::AuditQuery {
            entity_type: Some("invitation".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 3, "created, accepted, created again");
    tx.commit().await.unwrap();
}
