//! Agent releases are stored in chunks; a republished build replaces every chunk.

use tater_domain::Timestamp;
use tater_store::{AgentRelease, Mode, RELEASE_CHUNK_BYTES, ReleaseKey};
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(releases_are_stored_in_chunks);

fn release(version: &str, content: &[u8]) -> AgentRelease {
    AgentRelease {
        key: ReleaseKey::exe(version, "linux", "x86_64"),
        sha256: format!("{:064x}", content.len()),
        size: content.len() as i64,
        signature: None,
        published_at: Timestamp::from_millis(NOW),
    }
}

async fn read_all(store: &dyn tater_store::Store, version: &str) -> Vec<u8> {
    let mut tx = store.identity(Mode::Read).await.unwrap();
    let mut out = Vec::new();
    let mut seq = 0;
    while let Some(chunk) = tx
        .release_chunk(&ReleaseKey::exe(version, "linux", "x86_64"), seq)
        .await
        .unwrap()
    {
        assert!(chunk.len() <= RELEASE_CHUNK_BYTES, "chunk {seq} too large");
        out.extend(chunk);
        seq += 1;
    }
    out
}

async fn releases_are_stored_in_chunks(db: TestDb) {
    let store = open(&db).await;
    // Two full chunks and a part, with every byte value, so nothing is lost at the seams.
    let big: Vec<u8> = (0..2 * RELEASE_CHUNK_BYTES + 12_345)
        .map(|i| (i * 7 + i / 256) as u8)
        .collect();
    let mut tx = store.identity(Mode::Write).await.unwrap();
    tx.publish_release(&release("1.0.0", &big), &big)
        .await
        .unwrap();
    tx.publish_release(&release("1.0.1", b"small"), b"small")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(read_all(&*store, "1.0.0").await, big);
    assert_eq!(read_all(&*store, "1.0.1").await, b"small");
    let mut tx = store.identity(Mode::Read).await.unwrap();
    let one = tx
        .release(&ReleaseKey::exe("1.0.0", "linux", "x86_64"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one, release("1.0.0", &big));
    assert!(
        tx.release(&ReleaseKey::exe("1.0.0", "windows", "x86_64"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(tx.releases().await.unwrap().len(), 2);
    drop(tx);

    // Republishing a version replaces its bytes whole: no chunk of the old build survives.
    let mut tx = store.identity(Mode::Write).await.unwrap();
    tx.publish_release(&release("1.0.0", b"rebuilt"), b"rebuilt")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(read_all(&*store, "1.0.0").await, b"rebuilt");

    // The Windows installer of a version is a release of its own, beside the executable:
    // publishing one replaces nothing of the other.
    let exe = ReleaseKey::exe("1.0.0", "windows", "x86_64");
    let msi = ReleaseKey {
        kind: "msi".into(),
        ..exe.clone()
    };
    let mut tx = store.identity(Mode::Write).await.unwrap();
    for (key, bytes) in [(&exe, &b"the exe"[..]), (&msi, &b"the msi"[..])] {
        let r = AgentRelease {
            key: key.clone(),
            ..release("1.0.0", bytes)
        };
        tx.publish_release(&r, bytes).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = store.identity(Mode::Read).await.unwrap();
    assert_eq!(
        tx.release_chunk(&exe, 0).await.unwrap().unwrap(),
        b"the exe"
    );
    assert_eq!(
        tx.release_chunk(&msi, 0).await.unwrap().unwrap(),
        b"the msi"
    );
    assert_eq!(tx.release(&msi).await.unwrap().unwrap().key, msi);
    assert_eq!(tx.releases().await.unwrap().len(), 4);
}
