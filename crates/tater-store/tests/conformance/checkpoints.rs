//! Audit checkpoints on both engines: inline every N entries of a tenant, and the periodic
//! checkpoint of every head that moved since its last one (a named cross-tenant job).

use serde_json::json;
use tater_domain::Timestamp;
use tater_domain::modules::RISKS;
use tater_store::{AuditQuery, AuditSettings, Mode, Store};
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(checkpoints_inline_and_of_moved_heads);

/// The sequence numbers of the tenant's checkpoints, each checked against the entry it seals.
async fn checkpoint_seqs(store: &dyn Store, scope: &Scope) -> Vec<i64> {
    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    let entries = tx
        .list_audit(&AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut seqs = Vec::new();
    for cp in tx.audit_checkpoints(0, i64::MAX).await.unwrap() {
        let sealed = entries.iter().find(|e| e.seq == cp.seq).unwrap();
        assert_eq!(cp.head_hash, sealed.seal.hash, "checkpoint {}", cp.seq);
        assert_eq!(cp.tenant_id, scope.org());
        seqs.push(cp.seq);
    }
    seqs
}

async fn checkpoint_heads(store: &dyn Store) -> u64 {
    let mut itx = store.identity(Mode::Write).await.unwrap();
    let n = itx
        .checkpoint_audit_heads(Timestamp::from_millis(NOW + 60_000))
        .await
        .unwrap();
    itx.commit().await.unwrap();
    n
}

async fn checkpoints_inline_and_of_moved_heads(db: TestDb) {
    let settings = AuditSettings {
        keys: tater_store::tater_audit::AuditKeys::none(),
        checkpoint_every: 3,
    };
    let store = tater_store::open_with(&db.url, settings).await.unwrap();
    let (_, sa) = new_org(&*store, "A").await;
    let (_, sb) = new_org(&*store, "B").await;
    // A: its creation (seq 1) and four records (2..=5); every third entry is checkpointed.
    for i in 0..4 {
        insert(
            &*store,
            &sa,
            &RISKS,
            json!({ "title": format!("r{i}") }),
            NOW,
        )
        .await;
    }
    assert_eq!(checkpoint_seqs(&*store, &sa).await, [3]);
    assert!(checkpoint_seqs(&*store, &sb).await.is_empty());

    // The periodic job checkpoints both heads that have none (A at 5, B at 1), then nothing.
    assert_eq!(checkpoint_heads(&*store).await, 2);
    assert_eq!(checkpoint_seqs(&*store, &sa).await, [3, 5]);
    assert_eq!(checkpoint_seqs(&*store, &sb).await, [1]);
    assert_eq!(checkpoint_heads(&*store).await, 0, "no head moved");

    // A sixth entry is checkpointed inline; the job then has nothing to add.
    insert(&*store, &sa, &RISKS, json!({ "title": "r4" }), NOW).await;
    assert_eq!(checkpoint_seqs(&*store, &sa).await, [3, 5, 6]);
    assert_eq!(checkpoint_heads(&*store).await, 0);
    let mut tx = store.tenant(&sa.permit(Mode::Read)).await.unwrap();
    assert_eq!(tx.audit_head().await.unwrap().0, 6);
}
