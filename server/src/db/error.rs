//! Database errors.

/// What can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// A concurrent change won; the caller may retry or report a conflict.
    #[error("conflicting concurrent change")]
    Conflict,
    /// The URL names a backend this build does not support.
    #[error("unsupported database URL scheme {0:?}")]
    UnsupportedUrl(String),
    /// A driver error.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// A migration failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}
