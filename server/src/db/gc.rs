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

    /// Deletes a manifest found untagged, unless it gained a tag or a parent meanwhile.
    pub async fn delete_untagged_manifest(&self, repo: i64, digest: &str) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let r = sqlx::query(
                "DELETE FROM manifests WHERE repository_id = $1 AND digest = $2
                   AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = manifests.id)
                   AND NOT EXISTS (SELECT 1 FROM manifest_children c JOIN manifests p ON p.id = c.manifest_id
                                   WHERE p.repository_id = $1 AND c.child_digest = $2)",
            )
            .bind(repo)
            .bind(digest)
            .execute(p)
            .await?;
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

    /// Removes a stale link unless it was touched (by a manifest PUT) or gained a reference meanwhile.
    pub async fn delete_stale_link(&self, repo: i64, digest: &str, cutoff: i64) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let r = sqlx::query(
                "DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2 AND created_at < $3
                   AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
                                   WHERE m.repository_id = $1 AND mb.digest = $2)",
            )
            .bind(repo)
            .bind(digest)
            .bind(cutoff)
            .execute(p)
            .await?;
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

    /// Marks an unreferenced blob for collection; false if it is referenced or marked already.
    pub async fn mark_blob(&self, digest: &str, mark: &str) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let r = sqlx::query(
                "UPDATE blobs SET gc_mark = $1 WHERE digest = $2 AND gc_mark IS NULL
                   AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = $2)
                   AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = $2)",
            )
            .bind(mark)
            .bind(digest)
            .execute(p)
            .await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// Deletes a marked blob row if it still carries `mark` and nothing references it.
    pub async fn delete_marked_blob(&self, digest: &str, mark: &str) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let r = sqlx::query(
                "DELETE FROM blobs WHERE digest = $1 AND gc_mark = $2
                   AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = $1)
                   AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = $1)",
            )
            .bind(digest)
            .bind(mark)
            .execute(p)
            .await?;
            Ok(r.rows_affected() > 0)
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

    /// Records a verified blob and links it to `repo`. Returns true when the blob row was absent or
    /// marked by the collector (whose mark this clears): the caller must then make sure the object
    /// exists.
    pub async fn claim_blob(&self, repo: i64, digest: &str, size: i64) -> Result<bool, DbError> {
        let now = now_ms();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING",
            )
            .bind(digest)
            .bind(size)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            let unmarked = sqlx::query("UPDATE blobs SET gc_mark = NULL WHERE digest = $1 AND gc_mark IS NOT NULL")
                .bind(digest)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
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
            Ok(inserted || unmarked)
        })
    }
}
