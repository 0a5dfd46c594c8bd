//! Storage usage of repositories and namespaces, restricted to what the caller may read.

use rreg_oci::RepoName;

use super::{Accounts, ServiceError};
use crate::auth::{Access, Principal};

pub use rreg_oci::api::{NamespaceUsage, RepoUsage};

impl Accounts {
    /// The repositories of `namespace` the caller may read.
    async fn readable_in(&self, who: Option<&Principal>, namespace: &str) -> Result<Vec<String>, ServiceError> {
        let mut names = Vec::new();
        for name in self.db.namespace_repositories(namespace).await? {
            if self.access(who, &name).await? >= Access::Read {
                names.push(name);
            }
        }
        Ok(names)
    }

    /// Which other repositories "exclusive" is measured against: all of them for an administrator
    /// (`None`); for anyone else only the namespace's repositories they may read, so the figure
    /// never tells that some content exists where they cannot look (pushing a guessed layer and
    /// watching one's own exclusive bytes fall would otherwise be an existence oracle).
    async fn sharing_scope(
        &self,
        who: Option<&Principal>,
        namespace: &str,
    ) -> Result<Option<Vec<String>>, ServiceError> {
        if !self.settings.enabled || who.is_some_and(crate::services::orgs::acts_as_admin) {
            return Ok(None);
        }
        Ok(Some(self.readable_in(who, namespace).await?))
    }

    /// Usage of repository `name`; unknown and unreadable ones are `NotFound` alike.
    pub async fn repository_usage(&self, who: Option<&Principal>, name: &RepoName) -> Result<RepoUsage, ServiceError> {
        if self.access(who, name.as_str()).await? < Access::Read || self.db.repository(name.as_str()).await?.is_none() {
            return Err(ServiceError::NotFound(format!(
                "repository {:?} not found",
                name.as_str()
            )));
        }
        let among = self.sharing_scope(who, name.namespace()).await?;
        let (total_bytes, exclusive_bytes) = self.db.repository_usage(name.as_str(), among.as_deref()).await?;
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
        let among = self.sharing_scope(who, namespace).await?;
        let names = self.readable_in(who, namespace).await?;
        for name in names.iter().cloned() {
            let (total_bytes, exclusive_bytes) = self.db.repository_usage(&name, among.as_deref()).await?;
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
