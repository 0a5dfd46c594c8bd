//! The one error type services return; routes map each variant to an OCI error code.

use crate::db::DbError;
use crate::storage::StorageError;

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("repository not known")]
    NameUnknown,
    #[error("blob unknown")]
    BlobUnknown,
    #[error("upload session unknown")]
    UploadUnknown,
    #[error("upload invalid: {0}")]
    UploadInvalid(String),
    #[error("digest invalid: {0}")]
    DigestInvalid(String),
    #[error("size invalid: {0}")]
    SizeInvalid(String),
    #[error("range not satisfiable")]
    RangeInvalid { size: u64 },
    #[error("upload offset mismatch: expected {expected}")]
    UploadOutOfOrder { expected: u64, id: String },
    #[error("manifest unknown")]
    ManifestUnknown,
    #[error("manifest invalid: {0}")]
    ManifestInvalid(String),
    #[error("manifest too large: {size} > {limit} bytes")]
    ManifestTooLarge { size: usize, limit: usize },
    #[error("manifest references unknown {0}")]
    ManifestBlobUnknown(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("manifest not acceptable: stored as {0}")]
    NotAcceptable(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("denied: {0}")]
    Denied(String),
    #[error("too many login attempts; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("internal: {0}")]
    Internal(String),
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("storage: {0}")]
    Storage(StorageError),
}

impl From<StorageError> for ServiceError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Body(b) => ServiceError::UploadInvalid(format!("request body failed: {b}")),
            other => ServiceError::Storage(other),
        }
    }
}
