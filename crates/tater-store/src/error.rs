use thiserror::Error;

/// What can go wrong in the store. Database details stay in the `Database` variant, which the
/// server logs and answers as an opaque 500.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A version check failed or a unique value is taken; the string says which.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("configuration: {0}")]
    Config(String),
    /// A stored row could not be read back (corrupt or from an incompatible version).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
    /// A write in a transaction opened from a read-only permit: a defect in the caller.
    #[error("a write in a read-only transaction")]
    ReadOnly,
    /// The organization has been terminated: its data is open to nothing but its final export.
    #[error("the organization has been terminated")]
    OrgTerminated,
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.code().as_deref() == Some(crate::ORG_TERMINATED_SQLSTATE)
        {
            return StoreError::OrgTerminated;
        }
        // SQLite's read path refused a write (its connections are `query_only`).
        if let sqlx::Error::Database(db) = &e
            && db
                .try_downcast_ref::<crate::sqlite_read::ReadError>()
                .is_some_and(crate::sqlite_read::ReadError::is_refused_write)
        {
            return StoreError::ReadOnly;
        }
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            let what = db.constraint().unwrap_or("a unique value").to_owned();
            return StoreError::Conflict(what);
        }
        StoreError::Database(e)
    }
}
