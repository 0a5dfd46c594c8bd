//! `rreg-server fsck`: holds the database against the object store both ways and reports every
//! disagreement as one finding — blob rows whose object is missing or has another size (or, with
//! `verify`, another digest), objects no row records, manifests that reference a missing blob,
//! upload sessions that lost a part, parts and half-written files no session owns, and blobs a
//! collector moved aside without finishing. Anything younger than the grace period is in flight,
//! not wrong, and is left out. With `repair`, what is safe is fixed: rows of missing blobs go only
//! when no manifest references them, orphans are deleted, trash is restored or purged, broken
//! sessions are dropped. Bytes a manifest needs are never invented: such findings stay reported.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use rreg_oci::{Digest, Hasher};

use super::{Registry, ServiceError};
use crate::db::now_ms;

/// What a check does.
#[derive(Debug, Clone)]
pub struct FsckOptions {
    /// Fix what is safe to fix (takes the collector's lease meanwhile).
    pub repair: bool,
    /// Re-hash every blob (reads all stored bytes).
    pub verify: bool,
    /// Objects, parts and files younger than this are in flight and not reported.
    pub grace: Duration,
}

/// One disagreement between the database and storage.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    /// What kind: `missing-blob`, `broken-manifest`, `size-mismatch`, `digest-mismatch`,
    /// `orphan-object`, `broken-upload`, `orphan-part`, `staged-file`, `trash`, `stale-mark`.
    pub kind: &'static str,
    /// The blob, manifest, session or file concerned.
    pub subject: String,
    /// What is wrong.
    pub detail: String,
    /// What `--repair` did or would do, or why it cannot.
    pub action: String,
    /// Whether it was repaired.
    pub repaired: bool,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {} ({})", self.kind, self.subject, self.detail, self.action)
    }
}

/// What a check found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FsckReport {
    pub findings: Vec<Finding>,
    pub blobs: u64,
    pub objects: u64,
    pub uploads: u64,
    /// A collector was running, so its marks and trash were not judged.
    pub collector_running: bool,
}

impl FsckReport {
    /// Findings not repaired.
    pub fn unrepaired(&self) -> usize {
        self.findings.iter().filter(|f| !f.repaired).count()
    }
}

impl std::fmt::Display for FsckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let repaired = self.findings.len() - self.unrepaired();
        write!(
            f,
            "{} blob rows, {} blob objects, {} upload sessions checked: {} problems",
            self.blobs,
            self.objects,
            self.uploads,
            self.findings.len()
        )?;
        if repaired > 0 {
            write!(f, ", {repaired} repaired")?;
        }
        if self.collector_running {
            write!(f, " (a collector is running: its marks and trash were left alone)")?;
        }
        Ok(())
    }
}

/// How a finding's repair went.
enum Fix {
    /// Fixed, saying how.
    Done(String),
    /// Safe, and would be done with `--repair`.
    Would(String),
    /// Not safe to fix automatically.
    Manual(String),
}

impl Registry {
    /// Checks (and with `opts.repair`, repairs) the registry's storage against its database.
    #[tracing::instrument(skip(self))]
    pub async fn fsck(&self, opts: &FsckOptions) -> Result<FsckReport, ServiceError> {
        let mut report = FsckReport::default();
        let holder = format!("fsck-{}", uuid::Uuid::new_v4().simple());
        if opts.repair {
            if !self.db.take_gc_lease(&holder, 60 * 60 * 1000).await? {
                return Err(ServiceError::Conflict(
                    "a garbage collection is running; repair when it is done".into(),
                ));
            }
        } else {
            report.collector_running = self.db.gc_lease_live().await?;
        }
        let result = self.check(opts, &mut report).await;
        if opts.repair {
            let _ = self.db.release_gc_lease(&holder).await;
        }
        result.map(|()| report)
    }

    async fn check(&self, opts: &FsckOptions, report: &mut FsckReport) -> Result<(), ServiceError> {
        let cutoff = now_ms() - opts.grace.as_millis().min(i64::MAX as u128) as i64;
        let mut add = |kind: &'static str, subject: String, detail: String, fix: Fix| {
            let (action, repaired) = match fix {
                Fix::Done(a) => (format!("repaired: {a}"), true),
                Fix::Would(a) => (format!("--repair would {a}"), false),
                Fix::Manual(a) => (format!("not repairable: {a}"), false),
            };
            report.findings.push(Finding {
                kind,
                subject,
                detail,
                action,
                repaired,
            });
        };

        // 1. What a collector left: blobs moved aside, rows still marked. (While one runs, that is
        //    its work in progress.) Done first, so blobs restored here count as present below.
        if !report.collector_running {
            for (d, mark) in self.storage.list_trash().await? {
                let known = self.db.blob_known(&d.to_string()).await?;
                let fix = match (known, opts.repair) {
                    (true, true) => {
                        self.storage.restore_blob(&d, &mark).await?;
                        Fix::Done("put back in place".into())
                    }
                    (true, false) => Fix::Would("put it back in place".into()),
                    (false, true) => {
                        self.storage.purge_trash(&d, &mark).await?;
                        Fix::Done("deleted".into())
                    }
                    (false, false) => Fix::Would("delete it".into()),
                };
                let detail = if known {
                    "moved aside by a collector that did not finish; its row is still recorded"
                } else {
                    "moved aside by a collector that did not finish; no row records it"
                };
                add("trash", format!("{d} (mark {mark})"), detail.into(), fix);
            }
            for (digest, mark) in self.db.marked_blobs().await? {
                let fix = if opts.repair {
                    self.db.unmark_blob(&digest).await?;
                    Fix::Done("mark cleared".into())
                } else {
                    Fix::Would("clear the mark".into())
                };
                add(
                    "stale-mark",
                    digest,
                    format!("carries the mark {mark} of a collector that is no longer running"),
                    fix,
                );
            }
        }

        // 2. Every blob row against its object.
        let rows = self.db.fsck_blobs().await?;
        report.blobs = rows.len() as u64;
        let mut known: HashSet<String> = HashSet::with_capacity(rows.len());
        for row in rows {
            known.insert(row.digest.clone());
            let Ok(d) = Digest::parse(&row.digest) else {
                add(
                    "invalid-row",
                    row.digest.clone(),
                    "the blob row's digest does not parse".into(),
                    Fix::Manual("remove the row by hand".into()),
                );
                continue;
            };
            if row.gc_mark.is_some() && report.collector_running {
                continue;
            }
            let expected = row.size.max(0) as u64;
            let problem = match self.storage.blob_size(&d).await? {
                None => Some((
                    "missing-blob",
                    format!("recorded with {expected} bytes, but its object is missing"),
                )),
                Some(actual) if actual != expected => Some((
                    "size-mismatch",
                    format!("recorded with {expected} bytes, but its object has {actual}"),
                )),
                Some(_) if opts.verify => match self.hash_blob(&d).await? {
                    Some(actual) if actual != d => Some(("digest-mismatch", format!("its object hashes to {actual}"))),
                    Some(_) => None,
                    None => Some(("missing-blob", "its object vanished while being read".into())),
                },
                Some(_) => None,
            };
            let Some((kind, detail)) = problem else { continue };
            let fix = if row.manifests > 0 {
                let users = self.db.fsck_manifests_using(&row.digest, 20).await?;
                for m in &users {
                    add(
                        "broken-manifest",
                        m.clone(),
                        format!("references blob {} ({kind})", row.digest),
                        Fix::Manual(format!("push {} again with a monolithic upload", row.digest)),
                    );
                }
                Fix::Manual(format!(
                    "referenced by {} manifests; push the blob again with a monolithic upload",
                    row.manifests
                ))
            } else if opts.repair {
                if kind != "missing-blob" {
                    self.storage.delete_blob(&d).await?;
                }
                if self.db.fsck_forget_blob(&row.digest).await? {
                    Fix::Done("row and repository links removed".into())
                } else {
                    Fix::Manual("a manifest started referencing it meanwhile".into())
                }
            } else {
                Fix::Would("remove the row and its repository links (no manifest references it)".into())
            };
            add(kind, row.digest, detail, fix);
        }

        // 3. Every blob object against the rows.
        let objects = self.storage.list_blobs().await?;
        report.objects = objects.len() as u64;
        for (d, modified) in objects {
            let digest = d.to_string();
            if known.contains(&digest) || modified >= cutoff {
                continue;
            }
            // Recorded since the rows were read?
            if self.db.blob_known(&digest).await? {
                continue;
            }
            let fix = if opts.repair {
                self.storage.delete_blob(&d).await?;
                Fix::Done("deleted".into())
            } else {
                Fix::Would("delete it".into())
            };
            add(
                "orphan-object",
                digest,
                "stored, but no row records it (a write interrupted before it was recorded)".into(),
                fix,
            );
        }

        // 4. Upload sessions against their parts, and parts no session owns.
        let uploads = self.db.fsck_uploads().await?;
        report.uploads = uploads.len() as u64;
        let parts = self.db.fsck_upload_parts().await?;
        let mut broken: Vec<(String, String)> = Vec::new();
        for u in &uploads {
            if u.size != u.parts_size {
                broken.push((
                    u.id.clone(),
                    format!("records {} bytes but its parts hold {}", u.size, u.parts_size),
                ));
            }
        }
        let mut owned: HashSet<(String, String)> = HashSet::with_capacity(parts.len());
        for p in &parts {
            owned.insert((p.upload_id.clone(), p.part_id.clone()));
            let problem = match self.storage.part_size(&p.upload_id, &p.part_id).await? {
                None => format!("part {} ({} bytes) is missing", p.part_id, p.size),
                Some(n) if n != p.size.max(0) as u64 => {
                    format!("part {} is recorded with {} bytes but holds {n}", p.part_id, p.size)
                }
                Some(_) => continue,
            };
            if !broken.iter().any(|(id, _)| id == &p.upload_id) {
                broken.push((p.upload_id.clone(), problem));
            }
        }
        for (id, detail) in broken {
            // Finished or cancelled since the rows were read?
            if !self.db.fsck_upload_exists(&id).await? {
                continue;
            }
            let still: Vec<String> = self
                .db
                .upload_parts(&id)
                .await?
                .into_iter()
                .map(|p| p.part_id)
                .collect();
            let fix = if opts.repair {
                self.db.delete_upload(&id).await?;
                self.storage.delete_parts(&id, &still).await?;
                self.storage.forget_upload(&id);
                Fix::Done("session dropped; its client starts the upload over".into())
            } else {
                Fix::Would("drop the session (its client starts the upload over)".into())
            };
            add("broken-upload", id, detail, fix);
        }
        for (upload, part, modified) in self.storage.list_upload_parts().await? {
            if modified >= cutoff || owned.contains(&(upload.clone(), part.clone())) {
                continue;
            }
            // Recorded since the rows were read?
            if self.db.upload_parts(&upload).await?.iter().any(|p| p.part_id == part) {
                continue;
            }
            let fix = if opts.repair {
                self.storage.delete_parts(&upload, std::slice::from_ref(&part)).await?;
                if !self.db.fsck_upload_exists(&upload).await? {
                    self.storage.forget_upload(&upload);
                }
                Fix::Done("deleted".into())
            } else {
                Fix::Would("delete it".into())
            };
            add(
                "orphan-part",
                format!("{upload}/{part}"),
                "stored, but no upload session records it (a chunk interrupted before it was recorded)".into(),
                fix,
            );
        }

        // 5. Half-written files of the local store.
        for (path, modified) in self.storage.list_staged()? {
            if modified >= cutoff {
                continue;
            }
            let fix = if opts.repair {
                self.storage.delete_staged(&path)?;
                Fix::Done("deleted".into())
            } else {
                Fix::Would("delete it".into())
            };
            add(
                "staged-file",
                path,
                "a half-written file left by an interrupted write".into(),
                fix,
            );
        }
        Ok(())
    }

    /// The digest of blob `d`'s stored bytes (same algorithm), or `None` if it is gone.
    async fn hash_blob(&self, d: &Digest) -> Result<Option<Digest>, ServiceError> {
        let mut stream = match self.storage.get_blob(d, None).await {
            Ok(s) => s,
            Err(crate::storage::StorageError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut h = Hasher::new(d.algorithm());
        while let Some(chunk) = stream.next().await {
            h.update(&chunk?);
        }
        Ok(Some(h.finish()))
    }
}
