use tater_domain::{
    ApiKey, ApiKeyId, AuditAction, AuditDraft, Email, Membership, PageView, Role, Timestamp, User,
    UserId, WebSession,
};
use tater_store::{Mode, StoreError};
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    identity_round_trip,
    unique_names_and_emails,
    web_sessions_round_trip_and_end
);

fn user(email: &str) -> User {
    let t = Timestamp::from_millis(NOW);
    User {
        id: UserId::generate(),
        email: Email::parse(email).unwrap(),
        display_name: Some("Ann".into()),
        password_hash: Some("$argon2id$stub".into()),
        entra_oid: None,
        tokens_valid_after: t,
        created_at: t,
        updated_at: t,
    }
}

async fn identity_round_trip(db: TestDb) {
    let store = open(&db).await;
    let (a, _) = new_org(&*store, "A").await;
    let (b, _) = new_org(&*store, "B").await;
    let u = user("ann@example.com");
    let t = Timestamp::from_millis(NOW);
    let audit = |org| AuditDraft::new(&system(org), AuditAction::Create, "user", u.id, t);
    let mut tx = store.identity(Mode::Write).await.unwrap();
    tx.insert_user(&u, &[(a, audit(a)), (b, audit(b))])
        .await
        .unwrap();
    for (org, role) in [(a, Role::Admin), (b, Role::Viewer)] {
        let m = Membership {
            org,
            user: u.id,
            role,
            created_at: t,
            updated_at: t,
        };
        tx.put_membership(
            &m,
            &AuditDraft::new(&system(org), AuditAction::Create, "membership", u.id, t),
        )
        .await
        .unwrap();
    }
    let key = ApiKey {
        id: ApiKeyId::generate(),
        user: u.id,
        org: Some(a),
        key_hash: "ab".repeat(32),
        prefix: "tater_1234".into(),
        name: "ci".into(),
        role: Some(Role::Viewer),
        created_at: t,
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
        verified_at: None,
        verified_until: None,
    };
    tx.insert_api_key(
        &key,
        &[(
            a,
            AuditDraft::new(&system(a), AuditAction::Create, "api-key", key.id, t),
        )],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.identity(Mode::Write).await.unwrap();
    let found = tx
        .user_by_email(&Email::parse("ANN@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, u);
    let ms = tx.memberships_of(u.id).await.unwrap();
    assert_eq!(ms.len(), 2);
    assert!(ms.iter().any(|m| m.org == a && m.role == Role::Admin));
    assert_eq!(
        tx.api_key_by_hash(&"ab".repeat(32)).await.unwrap().unwrap(),
        key
    );
    let (k, ku, kms) = tx
        .api_key_identity(&"ab".repeat(32))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((k, ku), (key.clone(), u.clone()));
    assert_eq!(kms, ms, "the joined lookup sees the same memberships");
    assert!(
        tx.api_key_identity(&"cd".repeat(32))
            .await
            .unwrap()
            .is_none()
    );
    let (iu, ims) = tx.user_identity(u.id).await.unwrap().unwrap();
    assert_eq!((iu, ims), (u.clone(), ms.clone()));
    let loner = user("loner@example.com");
    tx.insert_user(&loner, &[]).await.unwrap();
    assert_eq!(tx.user_identity(loner.id).await.unwrap().unwrap().1, vec![]);
    assert!(
        tx.user_identity(UserId::generate())
            .await
            .unwrap()
            .is_none()
    );
    tx.touch_api_key(key.id, Timestamp::from_millis(NOW + 5))
        .await
        .unwrap();
    assert_eq!(
        tx.api_key(key.id).await.unwrap().unwrap().last_used_at,
        Some(Timestamp::from_millis(NOW + 5))
    );
    let mut changed = u.clone();
    changed.tokens_valid_after = Timestamp::from_millis(NOW + 9);
    tx.update_user(&changed, &[]).await.unwrap();
    assert_eq!(tx.user(u.id).await.unwrap().unwrap(), changed);
    let orgs = tx.orgs().await.unwrap();
    assert_eq!(
        orgs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        ["A", "B"]
    );
    assert_eq!(tx.org_by_name("a").await.unwrap().unwrap().id, a);
    tx.commit().await.unwrap();
}

async fn unique_names_and_emails(db: TestDb) {
    let store = open(&db).await;
    let (a, _) = new_org(&*store, "Acme").await;
    let org = tater_domain::Org {
        id: tater_domain::OrgId::generate(),
        name: "ACME".into(),
        entra_tenant_id: None,
        created_at: Timestamp::from_millis(NOW),
        updated_at: Timestamp::from_millis(NOW),
        termination: None,
    };
    let mut tx = store.identity(Mode::Write).await.unwrap();
    let dup = tx
        .insert_org(
            &org,
            &AuditDraft::new(
                &system(org.id),
                AuditAction::Create,
                "organization",
                org.id,
                org.created_at,
            ),
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    drop(tx);
    let mut tx = store.identity(Mode::Write).await.unwrap();
    tx.insert_user(&user("x@example.com"), &[]).await.unwrap();
    let again = tx.insert_user(&user("x@example.com"), &[]).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let _ = a;
}

async fn web_sessions_round_trip_and_end(db: TestDb) {
    let store = open(&db).await;
    let (a, _) = new_org(&*store, "A").await;
    let ann = user("ann@sessions.test");
    let bob = user("bob@sessions.test");
    let t = Timestamp::from_millis(NOW);
    let mut tx = store.identity(Mode::Write).await.unwrap();
    for u in [&ann, &bob] {
        let audit = AuditDraft::new(&system(a), AuditAction::Create, "user", u.id, t);
        tx.insert_user(u, &[(a, audit)]).await.unwrap();
    }
    let session = |user: UserId, hash: &str, expires: i64| WebSession {
        id_hash: hash.into(),
        user,
        org: None,
        bound_org: None,
        csrf_token: format!("csrf-{hash}"),
        created_at: t,
        last_seen_at: t,
        expires_at: Timestamp::from_millis(NOW + expires),
    };
    let one = session(ann.id, "h1", 1_000);
    tx.insert_web_session(&one).await.unwrap();
    tx.insert_web_session(&session(ann.id, "h2", 5_000))
        .await
        .unwrap();
    // Bob's session was started through Entra ID: bound to its organization.
    let bound = WebSession {
        org: Some(a),
        bound_org: Some(a),
        ..session(bob.id, "h3", 5_000)
    };
    tx.insert_web_session(&bound).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.identity(Mode::Write).await.unwrap();
    assert_eq!(tx.web_session("h1").await.unwrap(), Some(one.clone()));
    assert_eq!(tx.web_session("nope").await.unwrap(), None);
    assert_eq!(tx.web_session("h3").await.unwrap(), Some(bound));
    let later = Timestamp::from_millis(NOW + 10);
    tx.touch_web_session("h1", later).await.unwrap();
    tx.set_web_session_org("h1", a).await.unwrap();
    let got = tx.web_session("h1").await.unwrap().unwrap();
    assert_eq!((got.last_seen_at, got.org), (later, Some(a)));
    // Past its absolute end a session is forgotten by the sweep; the others stay.
    let swept = tx
        .delete_expired_web_sessions(Timestamp::from_millis(NOW + 1_000))
        .await
        .unwrap();
    assert_eq!(swept, 1);
    assert_eq!(tx.web_session("h1").await.unwrap(), None);
    // Sign out everywhere ends every session of the person and no one else's.
    assert_eq!(tx.delete_web_sessions_of(ann.id).await.unwrap(), 1);
    assert_eq!(tx.web_session("h2").await.unwrap(), None);
    tx.delete_web_session("h3").await.unwrap();
    assert_eq!(tx.web_session("h3").await.unwrap(), None);

    // Page views: counted per organization and page since a time, swept at their expiry.
    let view = |path: &str, at: i64, ttl: i64| PageView {
        org: a,
        path: path.into(),
        viewed_at: Timestamp::from_millis(NOW + at),
        expires_at: Timestamp::from_millis(NOW + at + ttl),
    };
    for v in [
        view("/app", 0, 100),
        view("/app", 10, 5_000),
        view("/app/poam", 20, 5_000),
    ] {
        tx.record_page_view(&v).await.unwrap();
    }
    let counts = tx.page_view_counts(t).await.unwrap();
    assert_eq!(
        counts,
        [(a, "/app".to_owned(), 2), (a, "/app/poam".to_owned(), 1)]
    );
    let later = tx
        .page_view_counts(Timestamp::from_millis(NOW + 5))
        .await
        .unwrap();
    assert_eq!(
        later,
        [(a, "/app".to_owned(), 1), (a, "/app/poam".to_owned(), 1)]
    );
    let swept = tx
        .delete_expired_page_views(Timestamp::from_millis(NOW + 100))
        .await
        .unwrap();
    assert_eq!(swept, 1);
    assert_eq!(tx.page_view_counts(t).await.unwrap().len(), 2);
    tx.commit().await.unwrap();
}
