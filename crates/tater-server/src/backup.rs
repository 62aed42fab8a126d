//! `tater admin backup` and `tater admin restore` for the embedded default (SQLite in the
//! data directory).
//!
//! A backup is one zip: `tater.db` — a consistent copy taken with `VACUUM INTO` while the
//! server keeps writing (it sees the database as of one moment) —, the evidence files under
//! `evidence-files/`, and `manifest.json`. The generated secrets (`master-key`, `jwt-secret`)
//! go beside it in `<backup>.secrets/`, owner-only, unless `--without-secrets`: without them
//! a restored server cannot decrypt the secrets it stores (SIEM webhook secrets, the AI key)
//! and every session token ends. PostgreSQL is backed up with its own tools (`pg_dump`,
//! point-in-time recovery); the command refuses with that pointer.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::json;
use zip::write::SimpleFileOptions;

use crate::config::{StorageArgs, write_private};

/// The generated secrets a backup carries beside it.
pub const SECRET_FILES: &[&str] = &["master-key", "jwt-secret", "platform-signing-key"];
const DB_ENTRY: &str = "tater.db";
const BLOBS: &str = "evidence-files";
/// The largest file one backup entry restores (a bound on what a forged archive makes us
/// write).
const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024 * 1024;

/// Where `<backup>.secrets` goes.
pub fn secrets_dir(backup: &Path) -> PathBuf {
    let mut name = backup.as_os_str().to_owned();
    name.push(".secrets");
    PathBuf::from(name)
}

/// What a backup wrote, for the operator.
#[derive(Debug)]
pub struct BackupReport {
    pub database_bytes: u64,
    pub files: usize,
    /// Secret files saved beside it (none with `--without-secrets`, or before a server
    /// first started and made them).
    pub secrets: usize,
}

/// Backs up the data directory's database and files to `to` (which must not exist).
pub async fn backup(
    storage: &StorageArgs,
    to: &Path,
    with_secrets: bool,
) -> anyhow::Result<BackupReport> {
    if storage
        .database_url
        .as_deref()
        .is_some_and(|u| u.starts_with("postgres"))
    {
        bail!(
            "this server runs on PostgreSQL: back it up with pg_dump, or with continuous \
             archiving and point-in-time recovery (README: Backups); the evidence files \
             and secrets are then copied as that section says"
        );
    }
    if to.exists() {
        bail!("{} exists; a backup never overwrites", to.display());
    }
    let url = storage.database_url()?;
    let store = tater_store::open_with(&url, tater_store::AuditSettings::unsigned())
        .await
        .context("opening the database")?;
    let work = tempfile::tempdir_in(
        to.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )?;
    let copy = work.path().join(DB_ENTRY);
    store
        .copy_into(&copy)
        .await
        .context("copying the database")?;
    store.close().await;
    let database_bytes = std::fs::metadata(&copy)?.len();
    let blobs = storage.data_dir.join(BLOBS);
    let files = files_under(&blobs)?;
    let partial = work.path().join("backup.zip");
    write_archive(&partial, &copy, &blobs, &files, database_bytes)?;
    std::fs::rename(&partial, to).with_context(|| format!("writing {}", to.display()))?;
    let secrets = if with_secrets {
        copy_secrets(&storage.data_dir, &secrets_dir(to))?
    } else {
        0
    };
    Ok(BackupReport {
        database_bytes,
        files: files.len(),
        secrets,
    })
}

/// Every file under `dir` (none if it does not exist), as paths relative to it.
fn files_under(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", d.display())),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                found.push(entry.path().strip_prefix(dir)?.to_path_buf());
            }
        }
    }
    found.sort();
    Ok(found)
}

fn write_archive(
    to: &Path,
    db: &Path,
    blobs: &Path,
    files: &[PathBuf],
    database_bytes: u64,
) -> anyhow::Result<()> {
    // The archive holds everything the organizations keep: owner-only, like the data
    // directory.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut zip = zip::ZipWriter::new(options.open(to)?);
    let options = SimpleFileOptions::default().large_file(true);
    zip.start_file(DB_ENTRY, options)?;
    std::io::copy(&mut File::open(db)?, &mut zip)?;
    for rel in files {
        let name = format!("{BLOBS}/{}", rel.to_string_lossy().replace('\\', "/"));
        zip.start_file(name, options)?;
        std::io::copy(&mut File::open(blobs.join(rel))?, &mut zip)?;
    }
    let manifest = json!({
        "format": 1,
        "taterVersion": env!("CARGO_PKG_VERSION"),
        "takenAt": tater_domain::Timestamp::from_datetime(time::OffsetDateTime::now_utc()).to_string(),
        "database": { "entry": DB_ENTRY, "bytes": database_bytes },
        "evidenceFiles": files.len(),
    });
    zip.start_file("manifest.json", SimpleFileOptions::default())?;
    zip.write_all(serde_json::to_string_pretty(&manifest)?.as_bytes())?;
    zip.finish()?.sync_all()?;
    Ok(())
}

/// Copies the generated secrets that exist; how many.
fn copy_secrets(data_dir: &Path, to: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir(to).with_context(|| format!("creating {}", to.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700))?;
    }
    let mut copied = 0;
    for name in SECRET_FILES {
        match std::fs::read_to_string(data_dir.join(name)) {
            Ok(text) => {
                write_private(&to.join(name), &text)?;
                copied += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {name}")),
        }
    }
    Ok(copied)
}

/// Restores a backup into the data directory, which must hold no database yet (or
/// `force`); the caller opens it and checks it with [`verify_restored`].
pub async fn restore(
    storage: &StorageArgs,
    from: &Path,
    secrets: Option<&Path>,
    force: bool,
) -> anyhow::Result<()> {
    if storage.database_url.is_some() {
        bail!("restore writes the data directory's SQLite database; unset --database-url");
    }
    let dir = storage.ensure_data_dir()?.to_path_buf();
    let db = dir.join(DB_ENTRY);
    if db.exists() && !force {
        bail!(
            "{} exists; restore with --force to replace it",
            db.display()
        );
    }
    let mut zip = zip::ZipArchive::new(
        File::open(from).with_context(|| format!("opening {}", from.display()))?,
    )?;
    if zip.by_name(DB_ENTRY).is_err() {
        bail!("{} is not a Tater backup (no {DB_ENTRY})", from.display());
    }
    // Every name checked before anything is replaced: a bad archive leaves the data
    // directory as it was.
    for i in 0..zip.len() {
        let entry = zip.by_index(i)?;
        if entry.enclosed_name().is_none() {
            bail!(
                "the backup names a path outside the data directory: {:?}",
                entry.name()
            );
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("{DB_ENTRY}{suffix}")));
    }
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        let Some(rel) = entry.enclosed_name() else {
            bail!(
                "the backup names a path outside the data directory: {:?}",
                entry.name()
            );
        };
        let keep = rel == Path::new(DB_ENTRY) || rel.starts_with(BLOBS);
        if !keep || entry.is_dir() {
            continue;
        }
        let target = dir.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = create_private(&target)?;
        let copied = std::io::copy(&mut (&mut entry).take(MAX_ENTRY_BYTES), &mut out)?;
        if copied == MAX_ENTRY_BYTES {
            bail!("{} is larger than a backup entry may be", rel.display());
        }
    }
    if let Some(secrets) = secrets {
        for name in SECRET_FILES {
            if let Ok(text) = std::fs::read_to_string(secrets.join(name)) {
                write_private(&dir.join(name), &text)?;
            }
        }
    }
    Ok(())
}

/// A new file (replacing any) that only its owner can read, as the backup's were.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Verifies every organization's audit chain in the restored database (opened and migrated
/// by the caller); how many verified, or the first that does not.
pub async fn verify_restored(service: &tater_service::Service) -> anyhow::Result<usize> {
    let orgs = {
        let mut tx = service.store().identity(tater_store::Mode::Read).await?;
        tx.orgs().await?
    };
    for org in &orgs {
        let actor = tater_domain::Actor::system(
            "backup",
            "restore check",
            org.id,
            tater_domain::Channel::Api,
        );
        let report = service.verify_audit(&actor).await?;
        if !report.ok {
            bail!(
                "the audit chain of {} ({}) does not verify: {}",
                org.name,
                org.id,
                crate::audit_cli::describe(&report)
            );
        }
    }
    Ok(orgs.len())
}
