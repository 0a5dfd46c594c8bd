//! The build cache: one small JSON file per step under `build/cache/<key>`, the key chaining the
//! parent's key with the step's expanded instruction, the build arguments it sees and the content
//! hash of its sources. A layer step's entry names its layer; it counts only while the layer blob
//! is still in the store (an `rmi` may have collected it).

use std::path::PathBuf;

use rreg_oci::digest::{Algorithm, Hasher};
use serde::{Deserialize, Serialize};

use super::layer::Layer;
use crate::store::{write_atomic, Store};

/// What a cached step produced.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Entry {
    /// The layer, for RUN/COPY/ADD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<Layer>,
}

/// The cache of one store.
pub struct Cache {
    dir: PathBuf,
    store: Store,
}

/// The key of a step: `sha256(parent \n step)`, hex.
pub fn chain(parent: &str, step: &str) -> String {
    let mut h = Hasher::new(Algorithm::Sha256);
    h.update(parent.as_bytes());
    h.update(b"\n");
    h.update(step.as_bytes());
    h.finish().hex().to_owned()
}

impl Cache {
    /// The cache in `store`.
    pub fn open(store: &Store) -> anyhow::Result<Cache> {
        let dir = store.root().join("build").join("cache");
        std::fs::create_dir_all(&dir)?;
        Ok(Cache {
            dir,
            store: store.clone(),
        })
    }

    /// The entry for `key`, if present and its layer is still held.
    pub fn get(&self, key: &str) -> Option<Entry> {
        let bytes = std::fs::read(self.dir.join(key)).ok()?;
        let e: Entry = serde_json::from_slice(&bytes).ok()?;
        match &e.layer {
            Some(l) if !self.store.has_blob(&l.digest, Some(l.size)) => None,
            _ => Some(e),
        }
    }

    /// Records `entry` under `key`.
    pub fn put(&self, key: &str, entry: &Entry) -> anyhow::Result<()> {
        write_atomic(&self.dir.join(key), &serde_json::to_vec(entry)?)
    }
}
