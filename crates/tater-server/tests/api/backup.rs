//! `tater admin backup` / `restore` on the embedded default: a backup taken while a client
//! keeps writing restores to a database whose audit chains verify and which holds every
//! write acknowledged before the backup began (and none that was never acknowledged).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::StatusCode;
use tater_domain::Role;
use tater_server::backup::{SECRET_FILES, backup, restore, secrets_dir, verify_restored};
use tater_server::config::StorageArgs;
use tater_testkit::TestDb;

use crate::support::*;

fn storage(dir: &std::path::Path) -> StorageArgs {
    StorageArgs {
        data_dir: dir.to_path_buf(),
        database_url: None,
    }
}

#[tokio::test]
async fn a_backup_under_write_load_restores_what_was_acknowledged() {
    let db = TestDb::sqlite();
    let data_dir = PathBuf::from(db.url.trim_start_matches("sqlite://"))
        .parent()
        .unwrap()
        .to_path_buf();
    // Secrets and an evidence file as a server's data directory holds them.
    for name in SECRET_FILES {
        std::fs::write(data_dir.join(name), format!("{name} value")).unwrap();
    }
    let blob = data_dir.join("evidence-files/ab/abcdef");
    std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
    std::fs::write(&blob, b"evidence bytes").unwrap();
    let app = Arc::new(TestApp::spawn(db).await);
    let org = app.org("Backed Up").await;
    let admin = app.member(org, "admin@backup.test", Role::Admin).await;

    // A client writing risks one after another, counting what the server acknowledged.
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (app, admin, acked, stop) = (app.clone(), admin.clone(), acked.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let body = serde_json::json!({ "title": format!("Risk {n}") });
                let (status, _) = app
                    .send(reqwest::Method::POST, "/api/risks", &admin, &body)
                    .await;
                assert_eq!(status, StatusCode::CREATED);
                acked.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    while acked.load(Ordering::SeqCst) < 20 {
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("tater-backup.zip");
    let before = acked.load(Ordering::SeqCst);
    let report = backup(&storage(&data_dir), &file, true).await.unwrap();
    let after = acked.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    assert_eq!((report.files, report.secrets), (1, SECRET_FILES.len()));
    assert!(report.database_bytes > 0);
    let again = backup(&storage(&data_dir), &file, true).await;
    assert!(again.unwrap_err().to_string().contains("never overwrites"));
    #[cfg(unix)]
    for name in SECRET_FILES {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(secrets_dir(&file).join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }

    // Restored elsewhere: the chain verifies, the acknowledged writes are there.
    let target = tempfile::tempdir().unwrap();
    let secrets = secrets_dir(&file);
    restore(&storage(target.path()), &file, Some(&secrets), false)
        .await
        .unwrap();
    let refused = restore(&storage(target.path()), &file, Some(&secrets), false).await;
    assert!(refused.unwrap_err().to_string().contains("--force"));
    assert_eq!(
        std::fs::read(target.path().join("evidence-files/ab/abcdef")).unwrap(),
        b"evidence bytes"
    );
    assert_eq!(
        std::fs::read_to_string(target.path().join("master-key")).unwrap(),
        "master-key value"
    );
    let url = format!("sqlite://{}", target.path().join("tater.db").display());
    let restored = TestApp::start(
        tater_server::App::build(config_for_url(&url))
            .await
            .unwrap(),
        None,
        tater_testkit::entra::FakeEntra::start().await,
    );
    assert_eq!(verify_restored(&restored.service).await.unwrap(), 1);
    let (status, risks) = restored.get("/api/risks?limit=500", &admin).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the member's key works on the restored server"
    );
    let kept = risks["items"].as_array().unwrap().len();
    eprintln!(
        "backup under load: acknowledged before {before}, by its end {after}; restored {kept}"
    );
    assert!(
        (before..=after).contains(&kept),
        "acknowledged before the backup: {before}; by its end: {after}; restored: {kept}"
    );
}

#[tokio::test]
async fn postgresql_is_pointed_at_its_own_tools() {
    let dir = tempfile::tempdir().unwrap();
    let args = StorageArgs {
        data_dir: dir.path().to_path_buf(),
        database_url: Some("postgres://postgres@127.0.0.1:5432/test".into()),
    };
    let refused = backup(&args, &dir.path().join("b.zip"), true)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("pg_dump"), "{refused}");
    assert!(
        refused.to_string().contains("point-in-time recovery"),
        "{refused}"
    );
}
