//! Listings: tags of a repository, the catalog of repositories, and referrers of a manifest.

use rreg_oci::{Descriptor, Digest, RepoName};

use super::{Registry, ServiceError};

/// One page of a listing and whether more follow.
#[derive(Debug, Clone)]
pub struct Page {
    /// The names on this page.
    pub items: Vec<String>,
    /// True when a next page exists (its `last` is the final item here).
    pub more: bool,
}

impl Page {
    /// A page from up to `want + 1` fetched items.
    fn of(mut items: Vec<String>, want: i64) -> Page {
        let more = items.len() as i64 > want;
        items.truncate(want as usize);
        Page { items, more }
    }
}

impl Registry {
    /// How many items to fetch for a page of `n`: one more than shown, to learn whether more follow.
    fn page_limit(&self, n: Option<i64>) -> i64 {
        n.unwrap_or(self.limits.max_page).clamp(0, self.limits.max_page)
    }

    /// Tags of `name` after `last`, at most `n` (or the server's page size).
    pub async fn list_tags(&self, name: &RepoName, n: Option<i64>, last: Option<&str>) -> Result<Page, ServiceError> {
        let repo = self.repo_id(name).await?;
        let want = self.page_limit(n);
        let items = if want == 0 {
            Vec::new()
        } else {
            self.db.list_tags(repo, last.unwrap_or(""), want + 1).await?
        };
        Ok(Page::of(items, want))
    }

    /// Repositories after `last`, at most `n`, of those `reader` may read: `None` = all,
    /// `Some(None)` = public ones, `Some(Some(p))` = those `p` may read.
    pub async fn catalog(
        &self,
        reader: Option<Option<&crate::auth::Principal>>,
        n: Option<i64>,
        last: Option<&str>,
    ) -> Result<Page, ServiceError> {
        let want = self.page_limit(n);
        let last = last.unwrap_or("");
        let items = match (want, reader) {
            (0, _) => Vec::new(),
            (_, None) => self.db.list_repositories(last, want + 1).await?,
            (_, Some(who)) => {
                let who = who.map(|p| (p.id, p.name.as_str()));
                self.db.list_readable_repositories(Some(who), last, want + 1).await?
            }
        };
        Ok(Page::of(items, want))
    }

    /// Descriptors of the manifests in `name` whose subject is `subject`, optionally only those of
    /// `artifact_type`. An unknown repository or subject has no referrers.
    pub async fn referrers(
        &self,
        name: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, ServiceError> {
        let Some(repo) = self.db.repository_id(name.as_str()).await? else {
            return Ok(Vec::new());
        };
        let rows = self.db.referrers(repo, &subject.to_string()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if artifact_type.is_some_and(|want| r.artifact_type.as_deref() != Some(want)) {
                continue;
            }
            let Ok(digest) = Digest::parse(&r.digest) else {
                continue;
            };
            out.push(Descriptor {
                media_type: r.media_type,
                digest,
                size: r.size,
                artifact_type: r.artifact_type,
                annotations: r.annotations.and_then(|a| serde_json::from_str(&a).ok()),
                platform: None,
                urls: None,
            });
        }
        Ok(out)
    }
}
