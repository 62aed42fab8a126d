//! Evidence files' rows and the claims that keep removing unused bytes from racing an upload
//! of the same content.

use serde_json::json;
use tater_domain::modules::EVIDENCE;
use tater_domain::{AuditAction, AuditDraft, EvidenceFile, FileId, Timestamp};
use tater_store::Mode;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(bytes_are_released_only_when_nothing_holds_or_is_uploading_them);

const SHA: &str = "5e5c0ffee5e5c0ffee5e5c0ffee5e5c0ffee5e5c0ffee5e5c0ffee5e5c0ffee0";

/// Whether a removal may delete the bytes at `now` (the claim is rolled back either way).
async fn releasable(store: &dyn tater_store::Store, scope: &Scope, now: i64) -> bool {
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    tx.claim_unused_blob(SHA, Timestamp::from_millis(now))
        .await
        .unwrap()
}

async fn bytes_are_released_only_when_nothing_holds_or_is_uploading_them(db: TestDb) {
    let store = open(&db).await;
    let (org, scope) = new_org(&*store, "Files").await;
    let (_, other) = new_org(&*store, "Other").await;
    assert!(releasable(&*store, &scope, NOW).await, "nothing holds them");

    // An upload under way holds them until it ends, or until its claim runs out.
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    tx.begin_blob_upload(SHA, Timestamp::from_millis(NOW + 1_000))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(
        !releasable(&*store, &scope, NOW).await,
        "an upload is under way"
    );
    assert!(
        releasable(&*store, &scope, NOW + 2_000).await,
        "its claim ran out"
    );
    assert!(
        releasable(&*store, &other, NOW).await,
        "another organization's upload"
    );

    // The upload ends with its attachment recorded: the attachment holds them.
    let evidence = insert(
        &*store,
        &scope,
        &EVIDENCE,
        json!({ "title": "Minutes" }),
        NOW,
    )
    .await;
    let file = EvidenceFile {
        id: FileId::generate(),
        evidence: evidence.meta.id,
        name: "minutes.pdf".into(),
        media_type: "application/pdf".into(),
        bytes: 10,
        sha256: SHA.into(),
        uploaded_by: "user-1".into(),
        uploaded_at: Timestamp::from_millis(NOW),
    };
    let audit = AuditDraft::new(
        &system(org),
        AuditAction::Create,
        "evidence-file",
        file.id,
        file.uploaded_at,
    );
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    tx.insert_evidence_file(&file, &audit).await.unwrap();
    tx.end_blob_upload(SHA).await.unwrap();
    tx.commit().await.unwrap();
    assert!(
        !releasable(&*store, &scope, NOW).await,
        "an attachment holds them"
    );
    assert!(!releasable(&*store, &scope, NOW + 10_000).await);
    assert!(
        releasable(&*store, &other, NOW).await,
        "not another organization's"
    );

    // Removed: nothing holds them any more, and a claim that releases them ends their row.
    let audit = AuditDraft::new(
        &system(org),
        AuditAction::Delete,
        "evidence-file",
        file.id,
        file.uploaded_at,
    );
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    tx.delete_evidence_file(file.id, &audit).await.unwrap();
    assert!(
        tx.claim_unused_blob(SHA, Timestamp::from_millis(NOW))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert!(releasable(&*store, &scope, NOW).await);
}
