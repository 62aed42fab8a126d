use tater_domain::{
    ApiKey, ApiKeyId, AuditAction, AuditDraft, Email, Membership, Role, Timestamp, User, UserId,
};
use tater_store::{Mode, StoreError};
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    members_are_managed_within_their_tenant,
    api_keys_are_listed_and_revoked_per_tenant,
    entra_lookups
);

fn user(email: &str) -> User {
    let t = Timestamp::from_millis(NOW);
    User {
        id: UserId::generate(),
        email: Email::parse(email).unwrap(),
        display_name: None,
        password_hash: None,
        entra_oid: None,
        tokens_valid_after: t,
        created_at: t,
        updated_at: t,
    }
}

fn draft(
    org: tater_domain::OrgId,
    action: AuditAction,
    kind: &str,
    id: impl ToString,
) -> AuditDraft {
    AuditDraft::new(&system(org), action, kind, id, Timestamp::from_millis(NOW))
}

fn membership(u: &User, role: Role) -> Membership {
    let t = Timestamp::from_millis(NOW);
    // `org` is ignored by add_member: the transaction's tenant is used.
    Membership {
        org: tater_domain::OrgId::generate(),
        user: u.id,
        role,
        created_at: t,
        updated_at: t,
    }
}

async fn members_are_managed_within_their_tenant(db: TestDb) {
    let store = open(&db).await;
    let (a, sa) = new_org(&*store, "A").await;
    let (b, sb) = new_org(&*store, "B").await;
    let ann = user("ann@example.com");
    let bob = user("bob@example.com");
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    tx.insert_user(&ann, &draft(a, AuditAction::Create, "user", ann.id))
        .await
        .unwrap();
    tx.insert_user(&bob, &draft(a, AuditAction::Create, "user", bob.id))
        .await
        .unwrap();
    tx.add_member(
        &membership(&ann, Role::OrgAdmin),
        &draft(a, AuditAction::Create, "membership", ann.id),
    )
    .await
    .unwrap();
    tx.add_member(
        &membership(&bob, Role::Viewer),
        &draft(a, AuditAction::Create, "membership", bob.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // Adding an existing member is a conflict (in its own transaction: on PostgreSQL a failed
    // statement ends the transaction).
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    let again = tx
        .add_member(
            &membership(&bob, Role::Admin),
            &draft(a, AuditAction::Create, "membership", bob.id),
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    drop(tx);

    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    assert_eq!(
        tx.count_members_with(&[Role::OrgAdmin, Role::SuperAdmin])
            .await
            .unwrap(),
        1
    );
    tx.set_member_role(
        bob.id,
        Role::OrgAdmin,
        Timestamp::from_millis(NOW + 1),
        &draft(a, AuditAction::Update, "membership", bob.id),
    )
    .await
    .unwrap();
    assert_eq!(tx.count_members_with(&[Role::OrgAdmin]).await.unwrap(), 2);
    let (m, u) = tx.member(bob.id).await.unwrap().unwrap();
    assert_eq!(
        (m.org, m.role, u.email.as_str()),
        (a, Role::OrgAdmin, "bob@example.com")
    );
    tx.commit().await.unwrap();

    // Tenant B sees none of it and cannot change it.
    let mut tx = store.tenant(&sb.permit(Mode::Write)).await.unwrap();
    assert!(tx.member(bob.id).await.unwrap().is_none());
    assert!(tx.members().await.unwrap().is_empty());
    let upd = tx
        .set_member_role(
            bob.id,
            Role::Viewer,
            Timestamp::from_millis(NOW),
            &draft(b, AuditAction::Update, "membership", bob.id),
        )
        .await;
    assert!(matches!(upd, Err(StoreError::NotFound)));
    let del = tx
        .remove_member(bob.id, &draft(b, AuditAction::Delete, "membership", bob.id))
        .await;
    assert!(matches!(del, Err(StoreError::NotFound)));
    assert_eq!(tx.count_members_with(&[Role::OrgAdmin]).await.unwrap(), 0);
    drop(tx);

    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    tx.remove_member(bob.id, &draft(a, AuditAction::Delete, "membership", bob.id))
        .await
        .unwrap();
    assert!(tx.member(bob.id).await.unwrap().is_none());
    assert_eq!(tx.members().await.unwrap().len(), 1);
    tx.commit().await.unwrap();
}

fn key(owner: &User, hash: &str) -> ApiKey {
    ApiKey {
        id: ApiKeyId::generate(),
        user: owner.id,
        org: None,
        key_hash: hash.repeat(64 / hash.len()),
        prefix: "tater_abcd".into(),
        name: "k".into(),
        role: None,
        created_at: Timestamp::from_millis(NOW),
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
        verified_at: None,
        verified_until: None,
    }
}

async fn api_keys_are_listed_and_revoked_per_tenant(db: TestDb) {
    let store = open(&db).await;
    let (a, sa) = new_org(&*store, "A").await;
    let (b, sb) = new_org(&*store, "B").await;
    let ann = user("ann@example.com");
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    tx.insert_user(&ann, &draft(a, AuditAction::Create, "user", ann.id))
        .await
        .unwrap();
    tx.add_member(
        &membership(&ann, Role::Admin),
        &draft(a, AuditAction::Create, "membership", ann.id),
    )
    .await
    .unwrap();
    // Claims to be bound to B: the tenant transaction binds it to A regardless.
    let mut bound = key(&ann, "a1");
    bound.org = Some(b);
    tx.insert_api_key(&bound, &draft(a, AuditAction::Create, "api-key", bound.id))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // An unbound key of Ann's (made by the operator) acts in A too, but it is Ann's own
    // across all her organizations: A's list and revocation cover bound keys only.
    let unbound = key(&ann, "b2");
    let mut itx = store.identity(Mode::Write).await.unwrap();
    itx.insert_api_key(&unbound, &[]).await.unwrap();
    itx.commit().await.unwrap();

    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    let keys = tx.api_keys().await.unwrap();
    let ids: Vec<ApiKeyId> = keys.iter().map(|(k, _)| k.id).collect();
    assert_eq!(ids, vec![bound.id]);
    assert!(keys.iter().all(|(k, u)| u.id == ann.id && k.org == Some(a)));
    let (here, owner_role) = tx.api_key_here(bound.id).await.unwrap().unwrap();
    assert_eq!((here.id, owner_role), (bound.id, Some(Role::Admin)));
    assert!(tx.api_key_here(unbound.id).await.unwrap().is_none());
    let r = tx
        .revoke_api_key(
            unbound.id,
            Timestamp::from_millis(NOW),
            &draft(a, AuditAction::Delete, "api-key", unbound.id),
        )
        .await;
    assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
    drop(tx);

    let mut tx = store.tenant(&sb.permit(Mode::Write)).await.unwrap();
    assert!(
        tx.api_keys().await.unwrap().is_empty(),
        "B sees no key of A's members"
    );
    let r = tx
        .revoke_api_key(
            bound.id,
            Timestamp::from_millis(NOW),
            &draft(b, AuditAction::Delete, "api-key", bound.id),
        )
        .await;
    assert!(
        matches!(r, Err(StoreError::NotFound)),
        "B cannot revoke A's key"
    );
    drop(tx);

    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    tx.revoke_api_key(
        bound.id,
        Timestamp::from_millis(NOW + 5),
        &draft(a, AuditAction::Delete, "api-key", bound.id),
    )
    .await
    .unwrap();
    let twice = tx
        .revoke_api_key(
            bound.id,
            Timestamp::from_millis(NOW + 6),
            &draft(a, AuditAction::Delete, "api-key", bound.id),
        )
        .await;
    assert!(matches!(twice, Err(StoreError::NotFound)));
    tx.commit().await.unwrap();
    let mut itx = store.identity(Mode::Read).await.unwrap();
    assert_eq!(
        itx.api_key(bound.id).await.unwrap().unwrap().revoked_at,
        Some(Timestamp::from_millis(NOW + 5))
    );
}

async fn entra_lookups(db: TestDb) {
    let store = open(&db).await;
    let org = tater_domain::Org {
        id: tater_domain::OrgId::generate(),
        name: "Entra Org".into(),
        entra_tenant_id: Some("72f988bf-86f1-41af-91ab-2d7cd011db47".into()),
        created_at: Timestamp::from_millis(NOW),
        updated_at: Timestamp::from_millis(NOW),
        termination: None,
    };
    let mut tx = store.identity(Mode::Write).await.unwrap();
    tx.insert_org(
        &org,
        &draft(org.id, AuditAction::Create, "organization", org.id),
    )
    .await
    .unwrap();
    let mut u = user("ent@example.com");
    u.entra_oid = Some("00000000-0000-0000-0000-0000000000aa".into());
    tx.insert_user(&u, &[]).await.unwrap();
    assert_eq!(
        tx.org_by_entra_tenant("72f988bf-86f1-41af-91ab-2d7cd011db47")
            .await
            .unwrap()
            .unwrap()
            .id,
        org.id
    );
    assert!(tx.org_by_entra_tenant("other").await.unwrap().is_none());
    assert_eq!(
        tx.users_by_entra_oid("00000000-0000-0000-0000-0000000000aa")
            .await
            .unwrap(),
        vec![u.clone()]
    );
    assert!(tx.users_by_entra_oid("nope").await.unwrap().is_empty());
    // Not a member yet: no identity; once a member, one query finds org, user and memberships.
    let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let oid = "00000000-0000-0000-0000-0000000000aa";
    assert!(tx.entra_identity(tid, oid).await.unwrap().is_none());
    let m = Membership {
        org: org.id,
        user: u.id,
        role: Role::Viewer,
        created_at: Timestamp::from_millis(NOW),
        updated_at: Timestamp::from_millis(NOW),
    };
    tx.put_membership(&m, &draft(org.id, AuditAction::Create, "membership", u.id))
        .await
        .unwrap();
    let (found_org, found_user, ms) = tx.entra_identity(tid, oid).await.unwrap().unwrap();
    assert_eq!((found_org, found_user.id, ms), (org.id, u.id, vec![m]));
    assert!(
        tx.entra_identity("00000000-0000-0000-0000-000000000000", oid)
            .await
            .unwrap()
            .is_none(),
        "other tenant"
    );
    assert!(
        tx.entra_identity(tid, "someone-else")
            .await
            .unwrap()
            .is_none(),
        "other oid"
    );
}
