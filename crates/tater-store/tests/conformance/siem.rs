//! SIEM destinations, their outbox and the delivery worker's leases, on both engines: every
//! audited write queues for every enabled destination, a lease keeps a second worker off
//! until it is given back or runs out, failures wait for their retry time, dead letters are
//! kept and replayed, and another tenant sees none of it.

use serde_json::json;
use tater_domain::{AuditAction, Destination, DestinationId, DestinationKind, OrgId, Timestamp};
use tater_store::{Mode, OrgSettings, Store};
use tater_testkit::{TestDb, both_engines};

use crate::endpoints::draft;
use crate::support::*;

both_engines!(
    destinations_queue_every_audited_write_for_their_tenant,
    leases_retries_and_dead_letters,
    a_terminated_organizations_entries_wait,
    destinations_change_while_the_tenant_writes
);

const LEASE_MS: i64 = 60_000;

fn destination(org: OrgId, name: &str) -> Destination {
    Destination {
        id: DestinationId::generate(),
        org,
        name: name.to_owned(),
        kind: DestinationKind::Syslog,
        config: json!({ "host": "siem.example", "port": 6514, "transport": "tls" }),
        secret_enc: None,
        enabled: true,
        version: 1,
        created_at: Timestamp::from_millis(NOW),
        updated_at: Timestamp::from_millis(NOW),
    }
}

/// Stores destination `d` in a transaction of its own.
async fn add_destination(store: &dyn Store, scope: &Scope, d: &Destination) {
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    tx.insert_destination(
        d,
        &draft(scope.org(), AuditAction::Create, "siem-destination", d.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// A destination of `scope`'s organization, then `writes` audited changes after it.
async fn with_destination(store: &dyn Store, scope: &Scope, writes: usize) -> Destination {
    let org = scope.org();
    let d = destination(org, "soc");
    add_destination(store, scope, &d).await;
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    for i in 0..writes {
        tx.put_settings(
            &OrgSettings {
                remote_execution: i % 2 == 0,
                ..Default::default()
            },
            Timestamp::from_millis(NOW),
            &draft(org, AuditAction::Update, "settings", org),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    d
}

async fn pending_of(store: &dyn Store, scope: &Scope) -> i64 {
    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    let all = tx.destinations().await.unwrap();
    all.first().map_or(0, |(_, state)| state.pending)
}

async fn destinations_queue_every_audited_write_for_their_tenant(db: TestDb) {
    let store = open(&db).await;
    let (_, sa) = new_org(&*store, "A").await;
    let (_, sb) = new_org(&*store, "B").await;
    let d = with_destination(&*store, &sa, 3).await;
    // Its own creation and the three changes after it.
    assert_eq!(pending_of(&*store, &sa).await, 4);
    let mut other = store.tenant(&sb.permit(Mode::Read)).await.unwrap();
    assert!(other.destinations().await.unwrap().is_empty());
    assert!(
        other.destination(d.id).await.unwrap().is_none(),
        "not across tenants"
    );
    drop(other);

    // The worker sees the entries in sequence order.
    let mut w = store.delivery().await.unwrap();
    let entries = w.pending(sa.org(), d.id, 10).await.unwrap();
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs.len(), 4);
    assert!(seqs.windows(2).all(|p| p[0] < p[1]), "{seqs:?}");
    assert!(w.pending(sb.org(), d.id, 10).await.unwrap().is_empty());
    drop(w);

    // A disabled destination queues nothing more; deleting it drops its queue.
    let mut off = d.clone();
    off.enabled = false;
    off.version = 2;
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    tx.update_destination(
        &off,
        1,
        &draft(sa.org(), AuditAction::Update, "siem-destination", d.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        pending_of(&*store, &sa).await,
        4,
        "nothing queued while disabled"
    );
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    tx.delete_destination(
        d.id,
        &draft(sa.org(), AuditAction::Delete, "siem-destination", d.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut w = store.delivery().await.unwrap();
    assert!(w.pending(sa.org(), d.id, 10).await.unwrap().is_empty());
}

async fn leases_retries_and_dead_letters(db: TestDb) {
    let store = open(&db).await;
    let (_, sa) = new_org(&*store, "A").await;
    let d = with_destination(&*store, &sa, 2).await;
    let at = |ms: i64| Timestamp::from_millis(NOW + ms);

    // One worker leases the destination; a second one finds nothing to do.
    let mut w = store.delivery().await.unwrap();
    let due = w.claim_due("w1", at(0), LEASE_MS, 8).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].org, due[0].id, due[0].attempts),
        (sa.org(), d.id, 0)
    );
    let mut w = store.delivery().await.unwrap();
    assert!(
        w.claim_due("w2", at(1), LEASE_MS, 8)
            .await
            .unwrap()
            .is_empty()
    );
    drop(w);

    // The first entry fails: nothing is due until its retry time, even once released.
    let mut w = store.delivery().await.unwrap();
    let first = w.pending(sa.org(), d.id, 10).await.unwrap()[0].seq;
    w.failed(
        sa.org(),
        d.id,
        first,
        "connection refused",
        at(2),
        at(1_000),
    )
    .await
    .unwrap();
    w.release(sa.org(), d.id, "w1").await.unwrap();
    w.commit().await.unwrap();
    let mut w = store.delivery().await.unwrap();
    assert!(
        w.claim_due("w2", at(500), LEASE_MS, 8)
            .await
            .unwrap()
            .is_empty()
    );
    let due = w.claim_due("w2", at(1_001), LEASE_MS, 8).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].attempts, 1, "the failure counts");
    let mut tx = store.tenant(&sa.permit(Mode::Read)).await.unwrap();
    let (_, state) = tx.destination(d.id).await.unwrap().unwrap();
    assert_eq!(state.last_error.as_deref(), Some("connection refused"));
    assert!(state.failing_since.is_some());
    drop(tx);

    // Delivered through the first entry: one fewer pending, failing cleared.
    let mut w = store.delivery().await.unwrap();
    w.delivered(sa.org(), d.id, first, 1, at(1_002))
        .await
        .unwrap();
    // The next one is refused for good: a dead letter, out of the queue.
    let second = w.pending(sa.org(), d.id, 10).await.unwrap()[0].seq;
    w.dead(sa.org(), d.id, second, "400 bad event", at(1_003))
        .await
        .unwrap();
    // Still w2's: nobody else may take it before it is given back.
    assert!(
        w.claim_due("w3", at(1_004), LEASE_MS, 8)
            .await
            .unwrap()
            .is_empty()
    );
    w.release(sa.org(), d.id, "w2").await.unwrap();
    w.commit().await.unwrap();
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    let (_, state) = tx.destination(d.id).await.unwrap().unwrap();
    assert_eq!(state.pending, 1);
    assert_eq!(state.dead_letters, 1);
    assert_eq!(state.delivered, 1);
    assert!(
        state.failing_since.is_none(),
        "a success ends the failing run"
    );
    let dead = tx.dead_letters(d.id, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].seq, second);
    let replayed = tx
        .replay_dead_letters(
            d.id,
            &draft(sa.org(), AuditAction::Update, "siem-destination", d.id),
        )
        .await
        .unwrap();
    assert_eq!(replayed, 1);
    tx.commit().await.unwrap();
    // The replay is queued again (and, being audited, queues its own entry too).
    let mut w = store.delivery().await.unwrap();
    let again: Vec<i64> = w
        .pending(sa.org(), d.id, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(again.first(), Some(&second), "{again:?}");
    drop(w);

    // A lease that is never given back runs out; release_all gives back every one at once.
    let mut w = store.delivery().await.unwrap();
    assert_eq!(
        w.claim_due("w3", at(2_000), LEASE_MS, 8)
            .await
            .unwrap()
            .len(),
        1
    );
    w.commit().await.unwrap();
    let mut w = store.delivery().await.unwrap();
    assert!(
        w.claim_due("w4", at(2_000 + LEASE_MS - 1), LEASE_MS, 8)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        w.claim_due("w4", at(2_001 + LEASE_MS), LEASE_MS, 8)
            .await
            .unwrap()
            .len(),
        1
    );
    w.commit().await.unwrap();
    let mut w = store.delivery().await.unwrap();
    assert_eq!(w.release_all("w4").await.unwrap(), 1);
    assert_eq!(w.release_all("w4").await.unwrap(), 0);
    w.commit().await.unwrap();
    let mut w = store.delivery().await.unwrap();
    assert_eq!(
        w.claim_due("w5", at(2_002 + LEASE_MS), LEASE_MS, 8)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// A terminated organization's destinations are not leased (its entries wait in the outbox);
/// cancelling the termination delivers them.
async fn a_terminated_organizations_entries_wait(db: TestDb) {
    let store = open(&db).await;
    let (_, sa) = new_org(&*store, "A").await;
    let d = with_destination(&*store, &sa, 2).await;
    let at = Timestamp::from_millis(NOW);
    let terminate = |on: bool| {
        let store = &store;
        let org = sa.org();
        async move {
            let mut tx = store.identity(Mode::Write).await.unwrap();
            let when = on.then(|| (at, Timestamp::from_millis(NOW + 86_400_000)));
            tx.set_org_termination(
                org,
                when,
                &draft(org, AuditAction::Update, "organization", org),
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
    };
    terminate(true).await;
    let mut w = store.delivery().await.unwrap();
    assert!(w.claim_due("w1", at, LEASE_MS, 8).await.unwrap().is_empty());
    w.commit().await.unwrap();
    terminate(false).await;
    let mut w = store.delivery().await.unwrap();
    let due = w.claim_due("w1", at, LEASE_MS, 8).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(due.iter().map(|d| d.id).collect::<Vec<_>>(), [d.id]);
}

/// Destinations renamed and deleted while the organization's audited writes go on (each of
/// which queues for every enabled destination through the outbox): every change lands. A
/// destination change that locked its row before the audit head deadlocked with a writer
/// that held the head and queued for that destination (PostgreSQL).
async fn destinations_change_while_the_tenant_writes(db: TestDb) {
    let store = open(&db).await;
    let (org, scope) = new_org(&*store, "A").await;
    let mut ds = Vec::new();
    for i in 0..4 {
        let d = destination(org, &format!("soc-{i}"));
        add_destination(&*store, &scope, &d).await;
        ds.push(d);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..6 {
        let store = store.clone();
        tasks.spawn(async move {
            for i in 0..8 {
                let t = crate::endpoints::token(org, &format!("{w:x}{i:x}"), false);
                crate::endpoints::add_token(&*store, &scope, &t).await;
            }
        });
    }
    let store2 = store.clone();
    tasks.spawn(async move {
        for d in ds {
            // A new name (a unique column) and then the row gone: the strongest row locks.
            let renamed = Destination {
                name: format!("{} (old)", d.name),
                version: d.version + 1,
                ..d.clone()
            };
            let audit = draft(org, AuditAction::Update, "siem-destination", d.id);
            let mut tx = store2.tenant(&scope.permit(Mode::Write)).await.unwrap();
            tx.update_destination(&renamed, d.version, &audit)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let audit = draft(org, AuditAction::Delete, "siem-destination", d.id);
            let mut tx = store2.tenant(&scope.permit(Mode::Write)).await.unwrap();
            tx.delete_destination(d.id, &audit).await.unwrap();
            tx.commit().await.unwrap();
        }
    });
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    assert_eq!(tx.enrollment_tokens().await.unwrap().len(), 48);
    assert!(tx.destinations().await.unwrap().is_empty());
}
