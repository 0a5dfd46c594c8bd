//! Advisory file locks (`flock`) that keep two `rreg` processes from stepping on each other: an
//! exclusive lock around every read-modify-write of `index.json`, and a shared/exclusive pair that
//! keeps garbage collection from deleting blobs a running pull or load has not yet referenced.

use std::fs::{File, OpenOptions};
use std::path::Path;

use anyhow::Context as _;
use rustix::fs::{flock, FlockOperation};

/// A held lock; released when dropped (the file is closed).
pub struct LockGuard {
    _file: File,
}

fn open(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("opening lock file {}", path.display()))
}

/// Waits for an exclusive lock on `path`.
pub fn exclusive(path: &Path) -> anyhow::Result<LockGuard> {
    let file = open(path)?;
    flock(&file, FlockOperation::LockExclusive).with_context(|| format!("locking {}", path.display()))?;
    Ok(LockGuard { _file: file })
}

/// Waits for a shared lock on `path`.
pub fn shared(path: &Path) -> anyhow::Result<LockGuard> {
    let file = open(path)?;
    flock(&file, FlockOperation::LockShared).with_context(|| format!("locking {}", path.display()))?;
    Ok(LockGuard { _file: file })
}

/// Takes an exclusive lock on `path` only if nobody holds it.
pub fn try_exclusive(path: &Path) -> anyhow::Result<Option<LockGuard>> {
    let file = open(path)?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(LockGuard { _file: file })),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(None),
        Err(e) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}
