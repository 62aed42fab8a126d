//! Where evidence files' bytes live: content-addressed by SHA-256, in a directory (the data
//! directory by default) or in S3-compatible storage, through the `object_store` crate so
//! both are one API. Bytes move in chunks both ways: an upload is spooled to a temporary file
//! while it is hashed and measured (refused as soon as it passes its limit), then written to
//! the store in parts; a download is read back as a stream. No request holds a whole file.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Bytes per part written to S3 (its smallest part but the last is 5 MiB).
const S3_PART_BYTES: usize = 5 * 1024 * 1024;
/// Bytes per part written to a directory.
const DIRECTORY_PART_BYTES: usize = 1024 * 1024;
/// Bytes per read of a spooled upload.
const READ_BYTES: usize = 64 * 1024;
/// How long an upload may send nothing before it is given up (a client trickling bytes holds
/// a connection and a temporary file, and is not waited for).
const SPOOL_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The upload passed its limit; nothing was kept.
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The client's body failed mid-way (a dropped connection).
    #[error("the upload was cut short: {0}")]
    Body(String),
    #[error("no such file")]
    NotFound,
    /// The bytes read back do not hash to what was recorded.
    #[error("the stored bytes no longer match their SHA-256 {expected}")]
    Altered { expected: String },
    #[error(transparent)]
    Store(object_store::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => BlobError::NotFound,
            other => BlobError::Store(other),
        }
    }
}

/// An upload spooled and hashed, not yet in the store.
pub struct Spooled {
    pub sha256: String,
    pub bytes: u64,
    file: tokio::fs::File,
}

/// The store of file bytes.
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// What one part of an upload holds in memory on its way to the store.
    part_bytes: usize,
    /// What it is, for logs and the status page (no credentials).
    pub describe: String,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe)
    }
}

impl BlobStore {
    /// `s3://bucket/prefix` (credentials, region and endpoint from the standard `AWS_*`
    /// variables: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`,
    /// `AWS_ALLOW_HTTP`), or a directory (`file:///var/lib/tater/files` or a plain path).
    pub fn open(location: &str) -> anyhow::Result<Self> {
        Self::open_with(location, &[])
    }

    /// As [`BlobStore::open`], with S3 settings given here taking precedence over the
    /// environment's (`("aws_endpoint", "http://127.0.0.1:9000")`, …: `object_store`'s
    /// configuration keys).
    pub fn open_with(location: &str, s3_options: &[(&str, &str)]) -> anyhow::Result<Self> {
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            anyhow::ensure!(
                !bucket.is_empty(),
                "{location}: name a bucket (s3://bucket/prefix)"
            );
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            for (key, value) in s3_options {
                builder = builder.with_config(key.parse()?, *value);
            }
            let s3 = builder.build()?;
            let prefix = prefix.trim_matches('/');
            let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(PrefixStore::new(s3, prefix))
            };
            return Ok(Self {
                store,
                part_bytes: S3_PART_BYTES,
                describe: format!("s3://{bucket}/{prefix}"),
            });
        }
        let dir = match location.strip_prefix("file://") {
            Some(path) => std::path::PathBuf::from(path),
            None => std::path::PathBuf::from(location),
        };
        Self::directory(&dir)
    }

    /// Files under `dir` (created if missing).
    pub fn directory(dir: &std::path::Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        // A directory left empty by a deletion goes too (an organization's, once its last
        // file is deleted): nothing of it stays behind, not even its id as a name.
        let store = LocalFileSystem::new_with_prefix(dir)?.with_automatic_cleanup(true);
        Ok(Self {
            store: Arc::new(store),
            part_bytes: DIRECTORY_PART_BYTES,
            describe: format!("directory {}", dir.display()),
        })
    }

    /// Reads `body` into a temporary file, hashing and counting it; refused with
    /// [`BlobError::TooLarge`] the moment it passes `limit` bytes.
    pub async fn spool<S, E>(body: S, limit: u64) -> Result<Spooled, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let mut file = tokio::fs::File::from_std(tempfile::tempfile()?);
        let mut hasher = Sha256::new();
        let mut bytes: u64 = 0;
        let mut body = std::pin::pin!(body);
        loop {
            let next = tokio::time::timeout(SPOOL_IDLE, body.next())
                .await
                .map_err(|_| {
                    BlobError::Body(format!("nothing arrived for {}s", SPOOL_IDLE.as_secs()))
                })?;
            let Some(chunk) = next else {
                break;
            };
            let chunk = chunk.map_err(|e| BlobError::Body(e.to_string()))?;
            bytes += chunk.len() as u64;
            if bytes > limit {
                return Err(BlobError::TooLarge { limit });
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        file.rewind().await?;
        Ok(Spooled {
            sha256: hex::encode(hasher.finalize()),
            bytes,
            file,
        })
    }

    /// Keeps the spooled bytes under `key`, unless they are there already (the same content
    /// is stored once).
    pub async fn keep(&self, key: &str, mut spooled: Spooled) -> Result<(), BlobError> {
        let path = StorePath::from(key);
        match self.store.head(&path).await {
            Ok(meta) if meta.size == spooled.bytes => return Ok(()),
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let upload = self.store.put_multipart(&path).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_bytes);
        let mut buf = vec![0u8; READ_BYTES];
        let written: Result<(), BlobError> = async {
            loop {
                let n = spooled.file.read(&mut buf).await?;
                if n == 0 {
                    return Ok(());
                }
                // One part in flight at a time: memory stays a part or two, whatever the size.
                writer.wait_for_capacity(1).await?;
                writer.write(&buf[..n]);
            }
        }
        .await;
        if let Err(e) = written {
            // S3 keeps an unfinished upload's parts (and bills them) until it is aborted.
            let _ = writer.abort().await;
            return Err(e);
        }
        writer.finish().await?;
        Ok(())
    }

    /// The bytes under `key`, in chunks.
    pub async fn read(
        &self,
        key: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        let got = self.store.get(&StorePath::from(key)).await?;
        Ok(got.into_stream().map_err(BlobError::from).boxed())
    }

    /// The bytes under `key`, read once and hashed on the way: the last chunk is held back
    /// until the whole has hashed to `sha256`, so a file changed in the store ends in
    /// [`BlobError::Altered`] and is never received whole.
    pub async fn read_verified(
        &self,
        key: &str,
        sha256: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        struct Reading {
            inner: BoxStream<'static, Result<Bytes, BlobError>>,
            hasher: Sha256,
            held: Option<Bytes>,
            expected: String,
            done: bool,
        }
        let start = Reading {
            inner: self.read(key).await?,
            hasher: Sha256::new(),
            held: None,
            expected: sha256.to_owned(),
            done: false,
        };
        let stream = futures::stream::unfold(start, |mut r| async move {
            if r.done {
                return None;
            }
            loop {
                match r.inner.next().await {
                    Some(Ok(chunk)) => {
                        r.hasher.update(&chunk);
                        if let Some(previous) = r.held.replace(chunk) {
                            return Some((Ok(previous), r));
                        }
                    }
                    Some(Err(e)) => {
                        r.done = true;
                        return Some((Err(e), r));
                    }
                    None => {
                        r.done = true;
                        let got = hex::encode(std::mem::take(&mut r.hasher).finalize());
                        if got != r.expected {
                            let expected = r.expected.clone();
                            return Some((Err(BlobError::Altered { expected }), r));
                        }
                        return r.held.take().map(|last| (Ok(last), r));
                    }
                }
            }
        });
        Ok(stream.boxed())
    }

    /// The SHA-256 of the bytes under `key`, read through once.
    pub async fn digest(&self, key: &str) -> Result<String, BlobError> {
        let mut stream = self.read(key).await?;
        let mut hasher = Sha256::new();
        while let Some(chunk) = stream.next().await {
            hasher.update(&chunk?);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// Removes the bytes under `key` (nothing to remove is not an error).
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&StorePath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        futures::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))))
    }

    #[tokio::test]
    async fn files_are_kept_once_read_back_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(&format!("file://{}", dir.path().display())).unwrap();
        let spooled = BlobStore::spool(chunks(&[b"hello ", b"world"]), 100)
            .await
            .unwrap();
        assert_eq!(spooled.bytes, 11);
        let sha = spooled.sha256.clone();
        assert_eq!(sha, hex::encode(Sha256::digest(b"hello world")));
        let key = format!("org/{sha}");
        store.keep(&key, spooled).await.unwrap();
        let again = BlobStore::spool(chunks(&[b"hello world"]), 100)
            .await
            .unwrap();
        store.keep(&key, again).await.unwrap();
        assert_eq!(store.digest(&key).await.unwrap(), sha);
        let read: Vec<Bytes> = store.read(&key).await.unwrap().try_collect().await.unwrap();
        assert_eq!(read.concat(), b"hello world");
        store.delete(&key).await.unwrap();
        assert!(matches!(store.read(&key).await, Err(BlobError::NotFound)));
        store.delete(&key).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn an_upload_that_goes_silent_is_given_up() {
        let silent = chunks(&[b"a start"]).chain(futures::stream::pending());
        let got = BlobStore::spool(silent, 100).await;
        assert!(matches!(got, Err(BlobError::Body(why)) if why.contains("60s")));
    }

    #[tokio::test]
    async fn bytes_changed_in_the_store_never_come_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::directory(dir.path()).unwrap();
        let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let spooled = BlobStore::spool(
            futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(content.clone()))]),
            1 << 20,
        )
        .await
        .unwrap();
        let sha = spooled.sha256.clone();
        store.keep("o/x", spooled).await.unwrap();
        let whole: Vec<Bytes> = store
            .read_verified("o/x", &sha)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(whole.concat(), content);
        let wrong = "0".repeat(64);
        let mut read = store.read_verified("o/x", &wrong).await.unwrap();
        let mut got = 0;
        let mut failed = false;
        while let Some(chunk) = read.next().await {
            match chunk {
                Ok(b) => got += b.len(),
                Err(BlobError::Altered { .. }) => failed = true,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(
            failed && got < content.len(),
            "{got} bytes, failed: {failed}"
        );
    }

    #[tokio::test]
    async fn an_upload_past_its_limit_is_refused() {
        let got = BlobStore::spool(chunks(&[b"12345", b"67890"]), 8).await;
        assert!(matches!(got, Err(BlobError::TooLarge { limit: 8 })));
    }
}
