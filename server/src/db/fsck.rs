//! Queries for `rreg-server fsck`: everything the database says is stored, to hold against the
//! object store, and the few repairs that are safe.

use super::{now_ms, with_pool, Db, DbError};

/// A blob row as fsck sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FsckBlob {
    pub digest: String,
    pub size: i64,
    pub gc_mark: Option<String>,
    pub created_at: i64,
    /// Manifests (in any repository) that reference it.
    pub manifests: i64,
}

/// One recorded part of an upload session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FsckPart {
    pub upload_id: String,
    pub part_id: String,
    pub size: i64,
    pub updated_at: i64,
}

/// An upload session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FsckUpload {
    pub id: String,
    pub size: i64,
    pub updated_at: i64,
    /// The sum of its parts' sizes.
    pub parts_size: i64,
}

impl Db {
    /// Every blob row with the number of manifests referencing it.
    pub async fn fsck_blobs(&self) -> Result<Vec<FsckBlob>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, FsckBlob>(
                "SELECT b.digest, b.size, b.gc_mark, b.created_at,
                        (SELECT COUNT(*) FROM manifest_blobs mb WHERE mb.digest = b.digest) AS manifests
                 FROM blobs b ORDER BY b.digest",
            )
            .fetch_all(p)
            .await?)
        })
    }

    /// `repository@manifest` for each manifest referencing blob `digest` (at most `limit`).
    pub async fn fsck_manifests_using(&self, digest: &str, limit: i64) -> Result<Vec<String>, DbError> {
        with_pool!(self, p => {
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT r.name, m.digest FROM manifest_blobs mb
                 JOIN manifests m ON m.id = mb.manifest_id JOIN repositories r ON r.id = m.repository_id
                 WHERE mb.digest = $1 ORDER BY r.name, m.digest LIMIT $2",
            )
            .bind(digest)
            .bind(limit)
            .fetch_all(p)
            .await?;
            Ok(rows.into_iter().map(|(r, m)| format!("{r}@{m}")).collect())
        })
    }

    /// Every upload session with the total size of its recorded parts.
    pub async fn fsck_uploads(&self) -> Result<Vec<FsckUpload>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, FsckUpload>(
                "SELECT u.id, u.size, u.updated_at,
                        CAST(COALESCE((SELECT SUM(up.size) FROM upload_parts up WHERE up.upload_id = u.id), 0) AS BIGINT) AS parts_size
                 FROM uploads u ORDER BY u.id",
            )
            .fetch_all(p)
            .await?)
        })
    }

    /// Every recorded upload part.
    pub async fn fsck_upload_parts(&self) -> Result<Vec<FsckPart>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, FsckPart>(
                "SELECT up.upload_id, up.part_id, up.size, u.updated_at FROM upload_parts up
                 JOIN uploads u ON u.id = up.upload_id ORDER BY up.upload_id, up.start_offset",
            )
            .fetch_all(p)
            .await?)
        })
    }

    /// Removes the row (and repository links) of blob `digest` whose object is gone, unless a
    /// manifest references it; false if it was kept.
    pub async fn fsck_forget_blob(&self, digest: &str) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            // The first statement writes, so SQLite takes the write lock before any read.
            sqlx::query(
                "DELETE FROM repository_blobs WHERE digest = $1
                   AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = $1)",
            )
            .bind(digest)
            .execute(&mut *tx)
            .await?;
            let r = sqlx::query(
                "DELETE FROM blobs WHERE digest = $1
                   AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = $1)
                   AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = $1)",
            )
            .bind(digest)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// Whether upload session `id` exists.
    pub async fn fsck_upload_exists(&self, id: &str) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE id = $1")
                .bind(id)
                .fetch_one(p)
                .await?;
            Ok(n > 0)
        })
    }

    /// Whether a collector holds a lease that has not expired.
    pub async fn gc_lease_live(&self) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM gc_lease WHERE expires_at >= $1")
                .bind(now_ms())
                .fetch_one(p)
                .await?;
            Ok(n > 0)
        })
    }
}
