//! Online garbage collection. One collector at a time (a lease in the database) removes, all older
//! than a grace period: untagged manifests (when the policy says so), blob links no manifest of
//! their repository uses, abandoned upload sessions, then blobs nothing links or references, and
//! stored objects the database does not know. Every decision that something is unreferenced is
//! taken under the lock of the row it is about (the blob's, or the manifest's) that pushes take
//! before they reference it, so a push in progress never loses what it is about to reference
//! (docs/architecture.md, "Pushes beside the collector").

use std::time::Duration;

use rreg_oci::Digest;

use super::{Registry, ServiceError};
use crate::db::now_ms;

/// What a collection does.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Only report.
    pub dry_run: bool,
    /// Leave anything younger than this alone.
    pub grace: Duration,
    /// Also delete untagged manifests (not listed by an index, not referring to a live subject).
    pub delete_untagged: bool,
    /// Upload sessions idle this long are abandoned.
    pub upload_expiry: Duration,
}

/// What a collection found (and, unless dry-run, removed).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GcReport {
    pub manifests: u64,
    pub links: u64,
    pub uploads: u64,
    pub blobs: u64,
    pub bytes: u64,
    pub orphan_objects: u64,
    pub restored: u64,
    pub skipped_busy: bool,
}

impl std::fmt::Display for GcReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.skipped_busy {
            return write!(f, "another collector is running; nothing done");
        }
        write!(
            f,
            "{} untagged manifests, {} blob links, {} upload sessions, {} blobs ({} bytes), {} orphan objects",
            self.manifests, self.links, self.uploads, self.blobs, self.bytes, self.orphan_objects
        )
    }
}

fn ms(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

impl Registry {
    /// Runs one collection.
    #[tracing::instrument(skip(self))]
    pub async fn collect_garbage(&self, opts: &GcOptions) -> Result<GcReport, ServiceError> {
        let holder = uuid::Uuid::new_v4().simple().to_string();
        let mut report = GcReport::default();
        if !self.db.take_gc_lease(&holder, 10 * 60 * 1000).await? {
            report.skipped_busy = true;
            return Ok(report);
        }
        let result = self.collect(opts, &holder, &mut report).await;
        let _ = self.db.release_gc_lease(&holder).await;
        result.map(|()| report)
    }

    async fn collect(&self, opts: &GcOptions, mark: &str, report: &mut GcReport) -> Result<(), ServiceError> {
        let cutoff = now_ms() - ms(opts.grace);
        // Blobs moved aside by a collector of an earlier version (which renamed objects into
        // `trash/`): put back every one the database still records, drop the others. Marks left by
        // a collector that died between its two phases are cleared (this one holds the lease, so no
        // other collector is between them).
        if !opts.dry_run {
            for (d, old_mark) in self.storage.list_trash().await? {
                if self.db.blob_known(&d.to_string()).await? {
                    self.storage.restore_blob(&d, &old_mark).await?;
                    report.restored += 1;
                } else {
                    self.storage.purge_trash(&d, &old_mark).await?;
                }
            }
            for (digest, _) in self.db.marked_blobs().await? {
                self.db.unmark_blob(&digest).await?;
            }
        }
        if opts.delete_untagged {
            // Deleting an index can orphan its children: repeat until nothing more goes.
            loop {
                let found = self.db.untagged_manifests(cutoff).await?;
                let mut deleted = 0;
                for (repo, digest) in &found {
                    if opts.dry_run || self.db.delete_untagged_manifest(*repo, digest).await? {
                        deleted += 1;
                    }
                }
                report.manifests += deleted;
                if opts.dry_run || deleted == 0 {
                    break;
                }
            }
        }
        for (repo, digest) in self.db.stale_links(cutoff).await? {
            if opts.dry_run || self.db.delete_stale_link(repo, &digest, cutoff).await? {
                report.links += 1;
            }
        }
        let upload_cutoff = now_ms() - ms(opts.upload_expiry.max(opts.grace));
        for u in self.db.stale_uploads(upload_cutoff).await? {
            if !opts.dry_run {
                let parts: Vec<String> = self
                    .db
                    .upload_parts(&u.id)
                    .await?
                    .into_iter()
                    .map(|p| p.part_id)
                    .collect();
                self.db.delete_upload(&u.id).await?;
                self.storage.delete_parts(&u.id, &parts).await?;
                self.storage.forget_upload(&u.id);
            }
            report.uploads += 1;
        }
        // Part objects no session owns (a crash between ending a session and deleting its parts, or
        // between storing a chunk and recording it), once as old as an abandoned session.
        for (upload, part, modified) in self.storage.list_upload_parts().await? {
            if modified >= upload_cutoff || self.db.upload_parts(&upload).await?.iter().any(|p| p.part_id == part) {
                continue;
            }
            if !opts.dry_run {
                self.storage.delete_parts(&upload, std::slice::from_ref(&part)).await?;
                self.storage.forget_upload(&upload);
            }
            report.orphan_objects += 1;
        }
        // (A dry run counts only blobs unreferenced already, not those the steps above would free.)
        // Two phases per blob (docs/architecture.md, "Pushes beside the collector"): a committed mark
        // under the row's lock once nothing references it, then, under the lock again and only if
        // the mark is still there, the object and the row go. A claim waits for the lock, clears a
        // mark it finds, and writes the object again if it is gone.
        for (digest, size) in self.db.unreferenced_blobs(cutoff).await? {
            let Ok(d) = Digest::parse(&digest) else { continue };
            if opts.dry_run {
                report.blobs += 1;
                report.bytes += size.max(0) as u64;
                continue;
            }
            if !self.db.mark_blob(&digest, mark, cutoff).await? {
                continue;
            }
            let Some(removal) = self.db.begin_blob_removal(&digest, mark).await? else {
                continue;
            };
            self.storage.delete_blob(&d).await?;
            removal.finish().await?;
            report.blobs += 1;
            report.bytes += size.max(0) as u64;
        }
        // Objects without a row (a crash between writing and recording), once old enough. A
        // placeholder row holds off a claim of the same digest until the object is gone.
        for (d, modified) in self.storage.list_blobs().await? {
            if modified >= cutoff || self.db.blob_known(&d.to_string()).await? {
                continue;
            }
            if !opts.dry_run {
                let Some(removal) = self.db.begin_orphan_removal(&d.to_string(), mark).await? else {
                    continue;
                };
                self.storage.delete_blob(&d).await?;
                removal.finish().await?;
            }
            report.orphan_objects += 1;
        }
        tracing::info!(dry_run = opts.dry_run, %report, "garbage collection done");
        Ok(())
    }
}
