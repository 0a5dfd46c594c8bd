//! The registry's rules, free of HTTP: routes call these with parsed names, digests and references;
//! these call `db` for metadata and `storage` for bytes, and answer with a `ServiceError` the routes map
//! to the wire.

pub mod accounts;
mod blobs;
pub mod browse;
mod compare;
mod error;
mod fsck;
mod gc;
mod manifests;
pub mod orgs;
pub mod ratelimit;
mod tags;
mod uploads;
mod usage;

use std::sync::Arc;

pub use accounts::{Accounts, IssuedToken};
pub use blobs::{BlobBody, BlobInfo, ByteRange};
pub use compare::CompareSide;
pub use error::ServiceError;
pub use fsck::{Finding, FsckOptions, FsckReport};
pub use gc::{GcOptions, GcReport};
pub use manifests::{ManifestPut, StoredManifest};
pub use tags::Page;
pub use uploads::{MountOutcome, UploadState};

use crate::db::Db;
use crate::storage::Storage;

/// Limits the registry enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest manifest accepted, in bytes.
    pub max_manifest_size: usize,
    /// Largest page of tags or repositories returned at once.
    pub max_page: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_manifest_size: 4 * 1024 * 1024,
            max_page: 10_000,
        }
    }
}

/// The registry: metadata, blobs, and the in-progress hash states of uploads.
#[derive(Clone)]
pub struct Registry {
    pub(crate) db: Db,
    pub(crate) storage: Storage,
    pub(crate) limits: Limits,
    hashes: Arc<uploads::HashCache>,
    pub(crate) browse: Arc<browse::BrowseState>,
}

impl Registry {
    /// Assembles the registry.
    pub fn new(db: Db, storage: Storage, limits: Limits) -> Registry {
        Registry {
            db,
            storage,
            limits,
            hashes: Arc::new(uploads::HashCache::default()),
            browse: Arc::new(browse::BrowseState::default()),
        }
    }

    /// The metadata database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Looks a repository up; `NameUnknown` if it does not exist.
    pub(crate) async fn repo_id(&self, name: &rreg_oci::RepoName) -> Result<i64, ServiceError> {
        self.db
            .repository_id(name.as_str())
            .await?
            .ok_or(ServiceError::NameUnknown)
    }
}
