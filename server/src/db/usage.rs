//! Queries for storage usage: what a repository's manifests reference, counted once per blob.

use super::{with_pool, Db, DbError};

impl Db {
    /// Names of the repositories of `namespace`.
    pub async fn namespace_repositories(&self, namespace: &str) -> Result<Vec<String>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_scalar("SELECT name FROM repositories WHERE namespace = $1 ORDER BY name")
                .bind(namespace)
                .fetch_all(p)
                .await?)
        })
    }

    /// For repository `name`: bytes of the distinct blobs and manifests it references, and of those
    /// the bytes no other repository references (what deleting it would free) — or, with `among`,
    /// no other repository of that list references.
    pub async fn repository_usage(&self, name: &str, among: Option<&[String]>) -> Result<(i64, i64), DbError> {
        let others = match among {
            None => String::new(),
            Some([]) => " AND 1 = 0".to_owned(),
            Some(list) => format!(
                " AND r.name IN ({})",
                (2..list.len() + 2)
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let sql = format!(
            "WITH mine AS (
                     SELECT DISTINCT mb.digest FROM manifest_blobs mb
                     JOIN manifests m ON m.id = mb.manifest_id
                     JOIN repositories r ON r.id = m.repository_id WHERE r.name = $1)
                 SELECT
                   CAST(COALESCE((SELECT SUM(b.size) FROM blobs b JOIN mine ON mine.digest = b.digest), 0)
                        + COALESCE((SELECT SUM(m.size) FROM manifests m JOIN repositories r ON r.id = m.repository_id
                                    WHERE r.name = $1), 0) AS BIGINT),
                   CAST(COALESCE((SELECT SUM(b.size) FROM blobs b JOIN mine ON mine.digest = b.digest
                        WHERE NOT EXISTS (SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
                                          JOIN repositories r ON r.id = m.repository_id
                                          WHERE mb.digest = b.digest AND r.name <> $1{others})), 0) AS BIGINT)"
        );
        with_pool!(self, p => {
            let mut q = sqlx::query_as::<_, (Option<i64>, Option<i64>)>(&sql).bind(name);
            for n in among.unwrap_or(&[]) {
                q = q.bind(n);
            }
            let row = q.fetch_one(p).await?;
            Ok((row.0.unwrap_or(0), row.1.unwrap_or(0)))
        })
    }

    /// Bytes of the distinct blobs the given repositories reference together (each blob once), plus
    /// their manifests.
    pub async fn deduplicated_usage(&self, names: &[String]) -> Result<i64, DbError> {
        if names.is_empty() {
            return Ok(0);
        }
        // One statement per call; the names are bound, never spliced.
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let list = placeholders.join(", ");
        let sql = format!(
            "SELECT CAST(COALESCE((SELECT SUM(b.size) FROM blobs b WHERE b.digest IN (
               SELECT mb.digest FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
               JOIN repositories r ON r.id = m.repository_id WHERE r.name IN ({list}))), 0)
             + COALESCE((SELECT SUM(m.size) FROM manifests m JOIN repositories r ON r.id = m.repository_id
                         WHERE r.name IN ({list})), 0) AS BIGINT)"
        );
        with_pool!(self, p => {
            let mut q = sqlx::query_scalar::<_, i64>(&sql);
            for n in names {
                q = q.bind(n);
            }
            Ok(q.fetch_one(p).await?)
        })
    }
}
