use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the store is shutting down")]
    Closed,
    #[error("data in the database is not what the desk expects: {0}")]
    Corrupt(String),
    /// The media directory beside the database refused a read or write (disk full, permissions).
    #[error("media storage: {0}")]
    Io(String),
}

impl StoreError {
    /// The input itself was refused by the database (PostgreSQL's class 22, "data exception": a NUL
    /// in text, a number out of range…): the caller's mistake, answered 4xx, never "database
    /// unavailable" (Meta would retry such a webhook for a week).
    pub fn is_data_error(&self) -> bool {
        match self {
            StoreError::Postgres(sqlx::Error::Database(db)) => db.code().is_some_and(|c| c.starts_with("22")),
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => e.code == rusqlite::ErrorCode::TooBig,
            _ => false,
        }
    }

    /// Errors worth retrying the whole transaction for: a concurrent transaction won a race
    /// (unique or foreign-key violation from a concurrent insert), a deadlock, a serialization failure,
    /// or a busy SQLite database.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Postgres(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("23505" | "23503" | "40001" | "40P01"))
            }
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            }
            _ => false,
        }
    }
}
