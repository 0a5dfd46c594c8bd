//! Queries for repositories, blobs, manifests, tags, referrers and upload sessions.

use super::{now_ms, with_pool, Db, DbError, ManifestRow, NewManifest, ReferrerRow, UploadPartRow, UploadRow};

/// Digests bound in one statement (well under SQLite's and PostgreSQL's limits on parameters).
const BATCH: usize = 500;

/// `$from, $from+1, …`: `n` placeholders.
fn marks(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

impl Db {
    /// The id of repository `name`, if it exists.
    pub async fn repository_id(&self, name: &str) -> Result<Option<i64>, DbError> {
        with_pool!(self, p => {
            let id: Option<i64> = sqlx::query_scalar("SELECT id FROM repositories WHERE name = $1")
                .bind(name)
                .fetch_optional(p)
                .await?;
            Ok(id)
        })
    }

    /// The id of repository `name`, creating it if needed.
    pub async fn ensure_repository(&self, name: &str) -> Result<i64, DbError> {
        if let Some(id) = self.repository_id(name).await? {
            return Ok(id);
        }
        with_pool!(self, p => {
            let namespace = name.split('/').next().unwrap_or(name);
            sqlx::query(
                "INSERT INTO repositories (name, namespace, is_public, created_at) VALUES ($1, $2,
                   COALESCE((SELECT default_public FROM users WHERE name = $2),
                            (SELECT default_public FROM organizations WHERE name = $2), 0), $3)
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(namespace)
            .bind(now_ms())
                .execute(p)
                .await?;
            let id: i64 = sqlx::query_scalar("SELECT id FROM repositories WHERE name = $1")
                .bind(name)
                .fetch_one(p)
                .await?;
            Ok(id)
        })
    }

    /// Size of `digest` if it is linked to repository `repo`.
    pub async fn linked_blob_size(&self, repo: i64, digest: &str) -> Result<Option<i64>, DbError> {
        with_pool!(self, p => {
            let size: Option<i64> = sqlx::query_scalar(
                "SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
                 WHERE rb.repository_id = $1 AND rb.digest = $2",
            )
            .bind(repo)
            .bind(digest)
            .fetch_optional(p)
            .await?;
            Ok(size)
        })
    }

    /// Size of `digest` if the store holds it (in any repository).
    pub async fn blob_size(&self, digest: &str) -> Result<Option<i64>, DbError> {
        with_pool!(self, p => {
            let size: Option<i64> = sqlx::query_scalar("SELECT size FROM blobs WHERE digest = $1")
                .bind(digest)
                .fetch_optional(p)
                .await?;
            Ok(size)
        })
    }

    /// Links a blob already linked to repository `from` to repository `to`; false if `from` lacks it.
    /// On PostgreSQL the blob's row is share-locked first, as a manifest PUT does (see
    /// [`Db::put_manifest`]), so a collector removing the source link is ordered before or after.
    pub async fn mount_blob(&self, from: i64, to: i64, digest: &str) -> Result<bool, DbError> {
        let share_lock = self.share_lock_clause();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            if !share_lock.is_empty() {
                sqlx::query(&format!("SELECT digest FROM blobs WHERE digest = $1{share_lock}"))
                    .bind(digest)
                    .fetch_all(&mut *tx)
                    .await?;
            }
            let done = sqlx::query(
                "INSERT INTO repository_blobs (repository_id, digest, created_at)
                 SELECT $1, digest, $2 FROM repository_blobs WHERE repository_id = $3 AND digest = $4
                 ON CONFLICT (repository_id, digest) DO NOTHING",
            )
            .bind(to)
            .bind(now_ms())
            .bind(from)
            .bind(digest)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            if done.rows_affected() > 0 {
                return Ok(true);
            }
            Ok(self.linked_blob_size(to, digest).await?.is_some() && self.linked_blob_size(from, digest).await?.is_some())
        })
    }

    /// ` FOR SHARE` on PostgreSQL; empty on SQLite, where a writing transaction holds the database's
    /// one write lock and so excludes the collector already.
    fn share_lock_clause(&self) -> &'static str {
        match self.pool {
            super::Pool::Sqlite(_) => "",
            super::Pool::Postgres(_) => " FOR SHARE",
        }
    }

    /// Removes the link between `repo` and `digest`; false if there was none.
    pub async fn unlink_blob(&self, repo: i64, digest: &str) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let r = sqlx::query("DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2")
                .bind(repo)
                .bind(digest)
                .execute(p)
                .await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// Stores a manifest (idempotently) with its references, and points `tag` at it if given.
    /// In the same transaction every referenced blob must be linked to `repo` and every child
    /// manifest must exist in `repo`; otherwise nothing is stored and the first missing digest is
    /// returned.
    ///
    /// Against the garbage collector (docs/architecture.md, "Pushes beside the collector"): before
    /// it checks anything, the transaction locks what it is about to reference, in one order —
    /// the rows of the referenced blobs (share locks, by digest; on SQLite the first statement
    /// takes the database's write lock instead), then the manifest's own row (the upsert), then
    /// the child manifests' rows (share locks, by digest). The collector takes the same row's lock
    /// before it decides anything is unreferenced, so one of the two sees the other's commit.
    pub async fn put_manifest(&self, repo: i64, m: &NewManifest, tag: Option<&str>) -> Result<Option<String>, DbError> {
        let now = now_ms();
        let share_lock = self.share_lock_clause();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            // The first statement writes, so SQLite takes the write lock before any read.
            sqlx::query("UPDATE repositories SET created_at = created_at WHERE id = $1")
                .bind(repo)
                .execute(&mut *tx)
                .await?;
            // `m.blobs` is sorted, so the share locks are taken in digest order batch after batch.
            if !share_lock.is_empty() {
                for batch in m.blobs.chunks(BATCH) {
                    let sql = format!(
                        "SELECT digest FROM blobs WHERE digest IN ({}) ORDER BY digest{share_lock}",
                        marks(1, batch.len())
                    );
                    let mut q = sqlx::query(&sql);
                    for d in batch {
                        q = q.bind(d);
                    }
                    q.fetch_all(&mut *tx).await?;
                }
            }
            // Touch every blob link the manifest uses, which proves it exists (and keeps it young
            // for the grace period): one statement per batch rather than one per blob.
            for batch in m.blobs.chunks(BATCH) {
                let sql = format!(
                    "UPDATE repository_blobs SET created_at = $1 WHERE repository_id = $2 AND digest IN ({})",
                    marks(3, batch.len())
                );
                let mut q = sqlx::query(&sql).bind(now).bind(repo);
                for d in batch {
                    q = q.bind(d);
                }
                if (q.execute(&mut *tx).await?.rows_affected() as usize) < batch.len() {
                    let sql = format!(
                        "SELECT digest FROM repository_blobs WHERE repository_id = $1 AND digest IN ({})",
                        marks(2, batch.len())
                    );
                    let mut q = sqlx::query_scalar::<_, String>(&sql).bind(repo);
                    for d in batch {
                        q = q.bind(d);
                    }
                    let linked = q.fetch_all(&mut *tx).await?;
                    let missing = batch.iter().find(|d| !linked.contains(d)).or(batch.first());
                    return Ok(missing.cloned());
                }
            }
            // The manifest's own row, locked by the upsert even when it exists already (a collector
            // deleting it as untagged then waits for this tag, or has deleted it and this re-inserts).
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, subject_digest,
                     annotations, size, content, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (repository_id, digest) DO UPDATE SET size = manifests.size RETURNING id",
            )
            .bind(repo)
            .bind(&m.digest)
            .bind(&m.media_type)
            .bind(&m.artifact_type)
            .bind(&m.subject_digest)
            .bind(&m.annotations)
            .bind(m.content.len() as i64)
            .bind(&m.content)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            // Children in digest order (`m.children` is sorted), share-locked on PostgreSQL.
            for d in &m.children {
                let found: Option<i64> = sqlx::query_scalar(&format!(
                    "SELECT id FROM manifests WHERE repository_id = $1 AND digest = $2{share_lock}"
                ))
                .bind(repo)
                .bind(d)
                .fetch_optional(&mut *tx)
                .await?;
                if found.is_none() {
                    return Ok(Some(d.clone()));
                }
            }
            for batch in m.blobs.chunks(BATCH) {
                let values: Vec<String> = (0..batch.len()).map(|i| format!("($1, ${})", i + 2)).collect();
                let sql = format!(
                    "INSERT INTO manifest_blobs (manifest_id, digest) VALUES {} ON CONFLICT DO NOTHING",
                    values.join(", ")
                );
                let mut q = sqlx::query(&sql).bind(id);
                for d in batch {
                    q = q.bind(d);
                }
                q.execute(&mut *tx).await?;
            }
            for d in &m.children {
                sqlx::query("INSERT INTO manifest_children (manifest_id, child_digest) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(id)
                    .bind(d)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(tag) = tag {
                sqlx::query(
                    "INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id,
                     updated_at = excluded.updated_at",
                )
                .bind(repo)
                .bind(tag)
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            self.pauses.pass("put_manifest.before_commit").await;
            tx.commit().await?;
            Ok(None)
        })
    }

    /// The manifest tagged `tag` in `repo`.
    pub async fn manifest_by_tag(&self, repo: i64, tag: &str) -> Result<Option<ManifestRow>, DbError> {
        with_pool!(self, p => {
            let row = sqlx::query_as::<_, ManifestRow>(
                "SELECT m.id, m.digest, m.media_type, m.size, m.content FROM tags t
                 JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = $1 AND t.name = $2",
            )
            .bind(repo)
            .bind(tag)
            .fetch_optional(p)
            .await?;
            Ok(row)
        })
    }

    /// The manifest `digest` in `repo`.
    pub async fn manifest_by_digest(&self, repo: i64, digest: &str) -> Result<Option<ManifestRow>, DbError> {
        with_pool!(self, p => {
            let row = sqlx::query_as::<_, ManifestRow>(
                "SELECT id, digest, media_type, size, content FROM manifests WHERE repository_id = $1 AND digest = $2",
            )
            .bind(repo)
            .bind(digest)
            .fetch_optional(p)
            .await?;
            Ok(row)
        })
    }

    /// Deletes manifest `digest` (and the tags pointing at it); false if absent.
    pub async fn delete_manifest(&self, repo: i64, digest: &str) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let r = sqlx::query("DELETE FROM manifests WHERE repository_id = $1 AND digest = $2")
                .bind(repo)
                .bind(digest)
                .execute(p)
                .await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// Deletes tag `tag`; false if absent.
    pub async fn delete_tag(&self, repo: i64, tag: &str) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let r = sqlx::query("DELETE FROM tags WHERE repository_id = $1 AND name = $2")
                .bind(repo)
                .bind(tag)
                .execute(p)
                .await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// Up to `limit` tag names of `repo` after `last`, in lexical order. The names come back as one
    /// aggregated string (tags cannot hold a newline), which is several times faster than a row
    /// per tag for large repositories.
    pub async fn list_tags(&self, repo: i64, last: &str, limit: i64) -> Result<Vec<String>, DbError> {
        let joined: Option<String> = match &self.pool {
            super::Pool::Sqlite(p) => {
                sqlx::query_scalar(
                    "SELECT group_concat(name, char(10) ORDER BY name) FROM
                       (SELECT name FROM tags WHERE repository_id = $1 AND name > $2 ORDER BY name LIMIT $3)",
                )
                .bind(repo)
                .bind(last)
                .bind(limit)
                .fetch_one(p)
                .await?
            }
            super::Pool::Postgres(p) => {
                sqlx::query_scalar(
                    "SELECT string_agg(name, E'\\n' ORDER BY name) FROM
                       (SELECT name FROM tags WHERE repository_id = $1 AND name > $2 ORDER BY name LIMIT $3) t",
                )
                .bind(repo)
                .bind(last)
                .bind(limit)
                .fetch_one(p)
                .await?
            }
        };
        Ok(joined
            .map(|j| j.split('\n').map(str::to_owned).collect())
            .unwrap_or_default())
    }

    /// Up to `limit` repository names after `last`, in lexical order.
    pub async fn list_repositories(&self, last: &str, limit: i64) -> Result<Vec<String>, DbError> {
        with_pool!(self, p => {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM repositories r WHERE name > $1
                 AND (EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)
                      OR EXISTS (SELECT 1 FROM repository_blobs b WHERE b.repository_id = r.id))
                 ORDER BY name LIMIT $2",
            )
            .bind(last)
            .bind(limit)
            .fetch_all(p)
            .await?;
            Ok(rows)
        })
    }

    /// Manifests in `repo` whose subject is `subject`.
    pub async fn referrers(&self, repo: i64, subject: &str) -> Result<Vec<ReferrerRow>, DbError> {
        with_pool!(self, p => {
            let rows = sqlx::query_as::<_, ReferrerRow>(
                "SELECT digest, media_type, size, artifact_type, annotations FROM manifests
                 WHERE repository_id = $1 AND subject_digest = $2 ORDER BY digest",
            )
            .bind(repo)
            .bind(subject)
            .fetch_all(p)
            .await?;
            Ok(rows)
        })
    }

    /// Opens an upload session.
    pub async fn create_upload(&self, id: &str, repo: i64) -> Result<(), DbError> {
        let now = now_ms();
        with_pool!(self, p => {
            sqlx::query("INSERT INTO uploads (id, repository_id, size, created_at, updated_at) VALUES ($1, $2, 0, $3, $3)")
                .bind(id)
                .bind(repo)
                .bind(now)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    /// The upload session `id` of repository `repo`.
    pub async fn upload(&self, repo: i64, id: &str) -> Result<Option<UploadRow>, DbError> {
        with_pool!(self, p => {
            let row = sqlx::query_as::<_, UploadRow>(
                "SELECT id, repository_id, size FROM uploads WHERE id = $1 AND repository_id = $2",
            )
            .bind(id)
            .bind(repo)
            .fetch_optional(p)
            .await?;
            Ok(row)
        })
    }

    /// The parts of upload `id` in offset order.
    pub async fn upload_parts(&self, id: &str) -> Result<Vec<UploadPartRow>, DbError> {
        with_pool!(self, p => {
            let rows = sqlx::query_as::<_, UploadPartRow>(
                "SELECT start_offset, size, part_id FROM upload_parts WHERE upload_id = $1 ORDER BY start_offset",
            )
            .bind(id)
            .fetch_all(p)
            .await?;
            Ok(rows)
        })
    }

    /// Appends a stored part at offset `start`; `Conflict` if the session moved on meanwhile.
    pub async fn append_upload_part(&self, id: &str, start: i64, size: i64, part_id: &str) -> Result<(), DbError> {
        let now = now_ms();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let r = sqlx::query("UPDATE uploads SET size = $1, updated_at = $2 WHERE id = $3 AND size = $4")
                .bind(start + size)
                .bind(now)
                .bind(id)
                .bind(start)
                .execute(&mut *tx)
                .await?;
            if r.rows_affected() != 1 {
                return Err(DbError::Conflict);
            }
            sqlx::query("INSERT INTO upload_parts (upload_id, start_offset, size, part_id) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(start)
                .bind(size)
                .bind(part_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Ends an upload session; false if it was already gone.
    pub async fn delete_upload(&self, id: &str) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let r = sqlx::query("DELETE FROM uploads WHERE id = $1").bind(id).execute(p).await?;
            Ok(r.rows_affected() > 0)
        })
    }
}
