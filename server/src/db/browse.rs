//! Queries of the browsing API: repository statistics, tag pages with what they point at, who
//! pushed a tag, pull counters, per-manifest summaries and per-layer file lists.

use super::{now_ms, with_pool, Db, DbError};

/// Statistics of one repository.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RepoStatsRow {
    pub name: String,
    pub pull_count: i64,
    pub last_pulled_at: Option<i64>,
    pub last_pushed_at: Option<i64>,
    pub tag_count: i64,
    pub size: i64,
}

/// A tag with its manifest and, once computed, the manifest's summary.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TagRow {
    pub name: String,
    pub updated_at: i64,
    pub pushed_by: String,
    pub last_pulled_at: Option<i64>,
    pub manifest_id: i64,
    pub digest: String,
    pub media_type: String,
    pub size: Option<i64>,
    pub platforms: Option<String>,
}

/// A stored layer file list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LayerFilesRow {
    pub digest: String,
    pub file_count: i64,
    pub size: i64,
    pub diff_size: i64,
    pub files: Vec<u8>,
    pub error: Option<String>,
}

/// The sizes of a stored layer file list, without the list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LayerSizeRow {
    pub digest: String,
    pub file_count: i64,
    pub size: i64,
    pub diff_size: i64,
    pub error: Option<String>,
}

/// How a page of tags is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagOrder {
    /// By name, ascending; the cursor is the last name.
    Name,
    /// Most recently pushed first, then by name; the cursor is (time, name).
    LastPushed,
}

const TAG_COLUMNS: &str = "t.name, t.updated_at, t.pushed_by, t.last_pulled_at, m.id AS manifest_id, m.digest,
     m.media_type, s.size, s.platforms
     FROM tags t JOIN manifests m ON m.id = t.manifest_id
     LEFT JOIN manifest_summaries s ON s.manifest_id = m.id";

impl Db {
    /// Statistics of the named repositories (those that exist).
    pub async fn repository_stats(&self, names: &[String]) -> Result<Vec<RepoStatsRow>, DbError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT r.name, r.pull_count, r.last_pulled_at,
               (SELECT t.updated_at FROM tags t WHERE t.repository_id = r.id
                  ORDER BY t.updated_at DESC LIMIT 1) AS last_pushed_at,
               (SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id) AS tag_count,
               (SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM blobs b WHERE b.digest IN
                  (SELECT mb.digest FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
                   WHERE m.repository_id = r.id)) AS size
             FROM repositories r WHERE r.name IN ({})",
            marks.join(", ")
        );
        with_pool!(self, p => {
            let mut q = sqlx::query_as::<_, RepoStatsRow>(&sql);
            for n in names {
                q = q.bind(n);
            }
            Ok(q.fetch_all(p).await?)
        })
    }

    /// Up to `limit` tags of `repo` after the cursor, in `order`. For `Name` the cursor is
    /// `("", last_name)`; for `LastPushed` it is `(time, name)`, `None` for the first page.
    pub async fn tags_page(
        &self,
        repo: i64,
        order: TagOrder,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<TagRow>, DbError> {
        with_pool!(self, p => {
            let rows = match (order, after) {
                (TagOrder::Name, after) => {
                    let sql = format!("SELECT {TAG_COLUMNS} WHERE t.repository_id = $1 AND t.name > $2 ORDER BY t.name LIMIT $3");
                    sqlx::query_as::<_, TagRow>(&sql)
                        .bind(repo)
                        .bind(after.map_or("", |a| a.1))
                        .bind(limit)
                        .fetch_all(p)
                        .await?
                }
                (TagOrder::LastPushed, None) => {
                    let sql = format!("SELECT {TAG_COLUMNS} WHERE t.repository_id = $1
                                       ORDER BY t.updated_at DESC, t.name LIMIT $2");
                    sqlx::query_as::<_, TagRow>(&sql).bind(repo).bind(limit).fetch_all(p).await?
                }
                (TagOrder::LastPushed, Some((time, name))) => {
                    let sql = format!("SELECT {TAG_COLUMNS} WHERE t.repository_id = $1
                                         AND (t.updated_at < $2 OR (t.updated_at = $2 AND t.name > $3))
                                       ORDER BY t.updated_at DESC, t.name LIMIT $4");
                    sqlx::query_as::<_, TagRow>(&sql)
                        .bind(repo)
                        .bind(time)
                        .bind(name)
                        .bind(limit)
                        .fetch_all(p)
                        .await?
                }
            };
            Ok(rows)
        })
    }

    /// One tag of `repo`.
    pub async fn tag_row(&self, repo: i64, tag: &str) -> Result<Option<TagRow>, DbError> {
        let sql = format!("SELECT {TAG_COLUMNS} WHERE t.repository_id = $1 AND t.name = $2");
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, TagRow>(&sql).bind(repo).bind(tag).fetch_optional(p).await?)
        })
    }

    /// The bytes of the distinct blobs of manifest `id` of `repo` and of its child manifests.
    pub async fn manifest_blob_bytes(&self, repo: i64, id: i64) -> Result<i64, DbError> {
        with_pool!(self, p => {
            let n: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM blobs b WHERE b.digest IN (
                   SELECT mb.digest FROM manifest_blobs mb WHERE mb.manifest_id = $1
                   UNION
                   SELECT mb.digest FROM manifest_children mc
                     JOIN manifests c ON c.repository_id = $2 AND c.digest = mc.child_digest
                     JOIN manifest_blobs mb ON mb.manifest_id = c.id
                   WHERE mc.manifest_id = $1)",
            )
            .bind(id)
            .bind(repo)
            .fetch_one(p)
            .await?;
            Ok(n)
        })
    }

    /// Keeps a manifest's summary (first writer wins).
    pub async fn put_manifest_summary(&self, id: i64, size: i64, platforms: &str) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO manifest_summaries (manifest_id, size, platforms) VALUES ($1, $2, $3)
                 ON CONFLICT (manifest_id) DO NOTHING",
            )
            .bind(id)
            .bind(size)
            .bind(platforms)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    /// Records who pushed `tag` of repository `repo_name`, if it still points at `digest`.
    pub async fn set_tag_pusher(&self, repo_name: &str, tag: &str, digest: &str, who: &str) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query(
                "UPDATE tags SET pushed_by = $1
                 WHERE repository_id = (SELECT id FROM repositories WHERE name = $2) AND name = $3
                   AND manifest_id = (SELECT m.id FROM manifests m
                                      WHERE m.repository_id = tags.repository_id AND m.digest = $4)",
            )
            .bind(who)
            .bind(repo_name)
            .bind(tag)
            .bind(digest)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    /// Adds pulls seen since the last flush: `by_digest` GETs of manifest `manifest_id` by digest
    /// (counted unless it is a child of an index of the repository: its index was the pull) and
    /// GETs by each tag in `tags`.
    pub async fn record_pulls(
        &self,
        repo: i64,
        manifest_id: i64,
        digest: &str,
        by_digest: u64,
        tags: &[(String, u64)],
        at: i64,
    ) -> Result<(), DbError> {
        with_pool!(self, p => {
            let mut count: i64 = tags.iter().map(|(_, n)| *n as i64).sum();
            if by_digest > 0 {
                let child: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM manifest_children mc JOIN manifests m ON m.id = mc.manifest_id
                     WHERE m.repository_id = $1 AND mc.child_digest = $2",
                )
                .bind(repo)
                .bind(digest)
                .fetch_one(p)
                .await?;
                if child == 0 {
                    count += by_digest as i64;
                    sqlx::query("UPDATE tags SET last_pulled_at = $1 WHERE manifest_id = $2")
                        .bind(at)
                        .bind(manifest_id)
                        .execute(p)
                        .await?;
                }
            }
            for (tag, _) in tags {
                sqlx::query("UPDATE tags SET last_pulled_at = $1 WHERE repository_id = $2 AND name = $3")
                    .bind(at)
                    .bind(repo)
                    .bind(tag)
                    .execute(p)
                    .await?;
            }
            if count > 0 {
                sqlx::query(
                    "UPDATE repositories SET pull_count = pull_count + $1, last_pulled_at = $2 WHERE id = $3",
                )
                .bind(count)
                .bind(at)
                .bind(repo)
                .execute(p)
                .await?;
            }
            Ok(())
        })
    }

    /// A manifest of `repo` that references blob `digest`.
    pub async fn manifest_referencing(&self, repo: i64, digest: &str) -> Result<Option<super::ManifestRow>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, super::ManifestRow>(
                "SELECT m.id, m.digest, m.media_type, m.size, m.content FROM manifest_blobs mb
                 JOIN manifests m ON m.id = mb.manifest_id WHERE m.repository_id = $1 AND mb.digest = $2
                 ORDER BY m.id LIMIT 1",
            )
            .bind(repo)
            .bind(digest)
            .fetch_optional(p)
            .await?)
        })
    }

    /// The stored file list of layer `digest`.
    pub async fn layer_files(&self, digest: &str) -> Result<Option<LayerFilesRow>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, LayerFilesRow>(
                "SELECT digest, file_count, size, diff_size, files, error FROM layer_files WHERE digest = $1",
            )
            .bind(digest)
            .fetch_optional(p)
            .await?)
        })
    }

    /// The sizes of the stored file lists among `digests`.
    pub async fn layer_sizes(&self, digests: &[String]) -> Result<Vec<LayerSizeRow>, DbError> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=digests.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT digest, file_count, size, diff_size, error FROM layer_files WHERE digest IN ({})",
            marks.join(", ")
        );
        with_pool!(self, p => {
            let mut q = sqlx::query_as::<_, LayerSizeRow>(&sql);
            for d in digests {
                q = q.bind(d);
            }
            Ok(q.fetch_all(p).await?)
        })
    }

    /// Keeps a layer's file list (first writer wins).
    pub async fn put_layer_files(
        &self,
        digest: &str,
        file_count: i64,
        size: i64,
        diff_size: i64,
        files: &[u8],
        error: Option<&str>,
    ) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO layer_files (digest, file_count, size, diff_size, files, error, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (digest) DO NOTHING",
            )
            .bind(digest)
            .bind(file_count)
            .bind(size)
            .bind(diff_size)
            .bind(files)
            .bind(error)
            .bind(now_ms())
            .execute(p)
            .await?;
            Ok(())
        })
    }
}
