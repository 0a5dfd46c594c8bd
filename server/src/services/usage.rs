//! Storage usage of repositories and namespaces, restricted to what the caller may read.

use rreg_oci::RepoName;

use super::{Accounts, ServiceError};
use crate::auth::{Access, Principal};

/// One repository's usage.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RepoUsage {
    pub name: String,
    /// Distinct blobs and manifests the repository references.
    pub total_bytes: i64,
    /// Of those, bytes no other repository references (freed if it were deleted).
    pub exclusive_bytes: i64,
}

/// A namespace's usage: its readable repositories, their sum, and the deduplicated total.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NamespaceUsage {
    pub namespace: String,
    pub repositories: Vec<RepoUsage>,
    /// Sum of the repositories' totals (shared blobs counted in each).
    pub total_bytes: i64,
    /// Each blob counted once.
    pub deduplicated_bytes: i64,
}

impl Accounts {
    /// Usage of repository `name`; unknown and unreadable ones are `NotFound` alike.
    pub async fn repository_usage(&self, who: Option<&Principal>, name: &RepoName) -> Result<RepoUsage, ServiceError> {
        if self.access(who, name.as_str()).await? < Access::Read || self.db.repository(name.as_str()).await?.is_none() {
            return Err(ServiceError::NotFound(format!(
                "repository {:?} not found",
                name.as_str()
            )));
        }
        let (total_bytes, exclusive_bytes) = self.db.repository_usage(name.as_str()).await?;
        Ok(RepoUsage {
            name: name.as_str().to_owned(),
            total_bytes,
            exclusive_bytes,
        })
    }

    /// Usage of the repositories of `namespace` the caller may read.
    pub async fn namespace_usage(
        &self,
        who: Option<&Principal>,
        namespace: &str,
    ) -> Result<NamespaceUsage, ServiceError> {
        let mut repositories = Vec::new();
        let mut names = Vec::new();
        for name in self.db.namespace_repositories(namespace).await? {
            if self.access(who, &name).await? < Access::Read {
                continue;
            }
            let (total_bytes, exclusive_bytes) = self.db.repository_usage(&name).await?;
            names.push(name.clone());
            repositories.push(RepoUsage {
                name,
                total_bytes,
                exclusive_bytes,
            });
        }
        let deduplicated_bytes = self.db.deduplicated_usage(&names).await?;
        Ok(NamespaceUsage {
            namespace: namespace.to_owned(),
            total_bytes: repositories.iter().map(|r| r.total_bytes).sum(),
            repositories,
            deduplicated_bytes,
        })
    }
}
