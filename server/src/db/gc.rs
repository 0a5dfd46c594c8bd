//! Queries for garbage collection: the collector's lease, untagged manifests, stale blob links and
//! upload sessions, and the mark-then-delete protocol for blobs.

use super::{now_ms, with_pool, Db, DbError};

/// A stale upload session and its parts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaleUpload {
    pub id: String,
}

impl Db {
    /// Takes (or renews) the collector lease for `holder` until `ttl_ms` from now; false if another
    /// holder has a live lease.
    pub async fn take_gc_lease(&self, holder: &str, ttl_ms: i64) -> Result<bool, DbError> {
        let now = now_ms();
        with_pool!(self, p => {
            let r = sqlx::query(
                "INSERT INTO gc_lease (id, holder, expires_at) VALUES (1, $1, $2)
                 ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE gc_lease.holder = excluded.holder OR gc_lease.expires_at < $3",
            )
            .bind(holder)
            .bind(now + ttl_ms)
            .bind(now)
            .execute(p)
            .await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// Gives the lease back.
    pub async fn release_gc_lease(&self, holder: &str) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query("DELETE FROM gc_lease WHERE id = 1 AND holder = $1").bind(holder).execute(p).await?;
            Ok(())
        })
    }

    /// Untagged manifests created before `cutoff` that no index in their repository lists and whose
    /// subject (if any) is gone: `(repository id, digest)`.
    pub async fn untagged_manifests(&self, cutoff: i64) -> Result<Vec<(i64, String)>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as(
                "SELECT m.repository_id, m.digest FROM manifests m
                 WHERE m.created_at < $1
                   AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
                   AND NOT EXISTS (SELECT 1 FROM manifest_children c JOIN manifests p ON p.id = c.manifest_id
                                   WHERE p.repository_id = m.repository_id AND c.child_digest = m.digest)
                   AND (m.subject_digest IS NULL OR NOT EXISTS (
                        SELECT 1 FROM manifests s WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest))",
            )
            .bind(cutoff)
            .fetch_all(p)
            .await?)
        })
    }

    /// Deletes a manifest found untagged, unless it gained a tag or a parent meanwhile. The
    /// manifest's row is locked first (a PUT that tags it or lists it as a child holds that lock
    /// until its commit), so the check runs on a snapshot that sees every committed reference.
    pub async fn delete_untagged_manifest(&self, repo: i64, digest: &str) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let locked = sqlx::query("UPDATE manifests SET size = size WHERE repository_id = $1 AND digest = $2")
                .bind(repo)
                .bind(digest)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if locked == 0 {
                return Ok(false);
            }
            self.pauses.pass("gc.manifest.locked").await;
            let r = sqlx::query(
                "DELETE FROM manifests WHERE repository_id = $1 AND digest = $2
                   AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = manifests.id)
                   AND NOT EXISTS (SELECT 1 FROM manifest_children c JOIN manifests p ON p.id = c.manifest_id
                                   WHERE p.repository_id = $1 AND c.child_digest = $2)",
            )
            .bind(repo)
            .bind(digest)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// Blob links older than `cutoff` that no manifest of their repository references.
    pub async fn stale_links(&self, cutoff: i64) -> Result<Vec<(i64, String)>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as(
                "SELECT rb.repository_id, rb.digest FROM repository_blobs rb
                 WHERE rb.created_at < $1 AND NOT EXISTS (
                   SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
                   WHERE m.repository_id = rb.repository_id AND mb.digest = rb.digest)",
            )
            .bind(cutoff)
            .fetch_all(p)
            .await?)
        })
    }

    /// Removes a stale link unless it was touched (by a manifest PUT) or gained a reference
    /// meanwhile. The blob's row is locked first: every transaction that references the digest
    /// (manifest PUT, mount, claim) holds that lock until it commits, so the check, a statement that
    /// starts after the lock is granted, sees every reference committed before it.
    pub async fn delete_stale_link(&self, repo: i64, digest: &str, cutoff: i64) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let locked = sqlx::query("UPDATE blobs SET size = size WHERE digest = $1")
                .bind(digest)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if locked == 0 {
                return Ok(false);
            }
            self.pauses.pass("gc.link.locked").await;
            let r = sqlx::query(
                "DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2 AND created_at < $3
                   AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
                                   WHERE m.repository_id = $1 AND mb.digest = $2)",
            )
            .bind(repo)
            .bind(digest)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// Upload sessions not written to since `cutoff`.
    pub async fn stale_uploads(&self, cutoff: i64) -> Result<Vec<StaleUpload>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, StaleUpload>("SELECT id FROM uploads WHERE updated_at < $1")
                .bind(cutoff)
                .fetch_all(p)
                .await?)
        })
    }

    /// Blobs created before `cutoff` that no repository links and no manifest references, with sizes.
    pub async fn unreferenced_blobs(&self, cutoff: i64) -> Result<Vec<(String, i64)>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as(
                "SELECT b.digest, b.size FROM blobs b WHERE b.created_at < $1
                   AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest)
                   AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = b.digest)",
            )
            .bind(cutoff)
            .fetch_all(p)
            .await?)
        })
    }

    /// First phase of removing a blob: under the blob row's lock, marks it with `mark` if it is
    /// older than `cutoff`, unmarked, and nothing links or references it. The mark is committed, so
    /// it outlives a collector that dies: a claim that finds a mark treats the object as possibly
    /// gone and writes it again.
    pub async fn mark_blob(&self, digest: &str, mark: &str, cutoff: i64) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let locked = sqlx::query(
                "UPDATE blobs SET size = size WHERE digest = $1 AND gc_mark IS NULL AND created_at < $2",
            )
            .bind(digest)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if locked == 0 {
                return Ok(false);
            }
            self.pauses.pass("gc.blob.locked").await;
            let r = sqlx::query(
                "UPDATE blobs SET gc_mark = $1 WHERE digest = $2
                   AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = $2)
                   AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = $2)",
            )
            .bind(mark)
            .bind(digest)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// Second phase: locks the row of a blob marked with `mark` and hands the lock to the caller,
    /// who deletes the object and then [`BlobRemoval::finish`]es. `None` if a claim took the blob
    /// back meanwhile (it cleared the mark). While the lock is held no claim can record the blob,
    /// and no link or reference can exist (those need a claim first).
    pub async fn begin_blob_removal(&self, digest: &str, mark: &str) -> Result<Option<BlobRemoval>, DbError> {
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let locked = sqlx::query("UPDATE blobs SET size = size WHERE digest = $1 AND gc_mark = $2")
                .bind(digest)
                .bind(mark)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if locked == 0 {
                return Ok(None);
            }
            self.pauses.pass("gc.blob.removing").await;
            Ok(Some(BlobRemoval { tx: tx.into(), digest: digest.to_owned() }))
        })
    }

    /// Removing a stored object the database does not know: records a placeholder row (so that a
    /// claim of the same digest waits until the object is gone, then sees a fresh blob and writes
    /// it again) and hands its lock to the caller. `None` if the digest is recorded after all.
    pub async fn begin_orphan_removal(&self, digest: &str, mark: &str) -> Result<Option<BlobRemoval>, DbError> {
        let now = now_ms();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO blobs (digest, size, created_at, gc_mark) VALUES ($1, 0, $2, $3)
                 ON CONFLICT (digest) DO NOTHING",
            )
            .bind(digest)
            .bind(now)
            .bind(mark)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Ok(None);
            }
            self.pauses.pass("gc.orphan.removing").await;
            Ok(Some(BlobRemoval { tx: tx.into(), digest: digest.to_owned() }))
        })
    }

    /// Blobs left marked by a collector that died: `(digest, mark)`.
    pub async fn marked_blobs(&self) -> Result<Vec<(String, String)>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as("SELECT digest, gc_mark FROM blobs WHERE gc_mark IS NOT NULL")
                .fetch_all(p)
                .await?)
        })
    }

    /// Clears a mark.
    pub async fn unmark_blob(&self, digest: &str) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query("UPDATE blobs SET gc_mark = NULL WHERE digest = $1").bind(digest).execute(p).await?;
            Ok(())
        })
    }

    /// Whether a blob row exists.
    pub async fn blob_known(&self, digest: &str) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM blobs WHERE digest = $1")
                .bind(digest)
                .fetch_one(p)
                .await?;
            Ok(n > 0)
        })
    }

    /// Records a verified blob and links it to `repo`. The blob's row is locked first (waiting for
    /// a collector that is removing it). Returns true when the row was absent or marked by a
    /// collector (whose mark this clears): the object may be gone, and the caller must make sure it
    /// exists.
    pub async fn claim_blob(&self, repo: i64, digest: &str, size: i64) -> Result<bool, DbError> {
        let now = now_ms();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let mut fresh = false;
            // The lock: an update that returns the mark; if there is no row, insert one (a
            // concurrent insert of the same digest makes this wait for it, then look again).
            let mut tries = 0;
            loop {
                let row: Option<Option<String>> =
                    sqlx::query_scalar("UPDATE blobs SET size = size WHERE digest = $1 RETURNING gc_mark")
                        .bind(digest)
                        .fetch_optional(&mut *tx)
                        .await?;
                match row {
                    Some(None) => break,
                    Some(Some(_)) => {
                        sqlx::query("UPDATE blobs SET gc_mark = NULL WHERE digest = $1")
                            .bind(digest)
                            .execute(&mut *tx)
                            .await?;
                        fresh = true;
                        break;
                    }
                    None => {
                        let inserted = sqlx::query(
                            "INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3)
                             ON CONFLICT (digest) DO NOTHING",
                        )
                        .bind(digest)
                        .bind(size)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if inserted > 0 {
                            fresh = true;
                            break;
                        }
                    }
                }
                tries += 1;
                if tries >= 100 {
                    return Err(DbError::Conflict);
                }
            }
            self.pauses.pass("claim_blob.locked").await;
            sqlx::query(
                "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = excluded.created_at",
            )
            .bind(repo)
            .bind(digest)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(fresh)
        })
    }
}

/// A transaction of either backend.
enum AnyTx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl From<sqlx::Transaction<'static, sqlx::Sqlite>> for AnyTx {
    fn from(tx: sqlx::Transaction<'static, sqlx::Sqlite>) -> Self {
        AnyTx::Sqlite(tx)
    }
}

impl From<sqlx::Transaction<'static, sqlx::Postgres>> for AnyTx {
    fn from(tx: sqlx::Transaction<'static, sqlx::Postgres>) -> Self {
        AnyTx::Postgres(tx)
    }
}

/// The lock on a blob row that the collector holds while it deletes the object. Dropping it
/// without [`finish`](BlobRemoval::finish) rolls back: the row (and its mark) stay.
pub struct BlobRemoval {
    tx: AnyTx,
    digest: String,
}

impl BlobRemoval {
    /// Deletes the row, once the object is gone, and releases the lock.
    pub async fn finish(self) -> Result<(), DbError> {
        let sql = "DELETE FROM blobs WHERE digest = $1";
        match self.tx {
            AnyTx::Sqlite(mut tx) => {
                sqlx::query(sql).bind(&self.digest).execute(&mut *tx).await?;
                tx.commit().await?;
            }
            AnyTx::Postgres(mut tx) => {
                sqlx::query(sql).bind(&self.digest).execute(&mut *tx).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }
}
