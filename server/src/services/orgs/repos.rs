//! Repository settings: who may see, create, change and delete a repository, by the access levels of
//! `Accounts::access`. A repository the caller may not read is `NotFound`, exactly like a missing one.

use rreg_oci::RepoName;

use super::{acts_as_admin, Orgs, Visibility};
use crate::auth::{Access, Principal};
use crate::db::{Readable, RepoRow};
use crate::services::ServiceError;

/// Longest repository description accepted, in bytes.
const MAX_DESCRIPTION: usize = 4000;

/// A repository's settings.
#[derive(Debug, Clone)]
pub struct Repo {
    pub name: String,
    pub namespace: String,
    pub visibility: Visibility,
    pub description: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The caller's access, when it was computed (single repositories, not listings).
    pub access: Option<Access>,
}

impl Repo {
    fn from_row(r: RepoRow, access: Option<Access>) -> Repo {
        let namespace = r.name.split('/').next().unwrap_or(&r.name).to_owned();
        Repo {
            namespace,
            name: r.name,
            visibility: Visibility::from_flag(r.is_public),
            description: r.description,
            created_at: r.created_at,
            access,
        }
    }
}

/// Changes to a repository's settings; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct RepoUpdate {
    pub visibility: Option<Visibility>,
    pub description: Option<String>,
}

fn check_description(d: &str) -> Result<(), ServiceError> {
    if d.len() > MAX_DESCRIPTION {
        return Err(ServiceError::BadRequest(format!(
            "description longer than {MAX_DESCRIPTION} bytes"
        )));
    }
    Ok(())
}

fn repo_not_found(name: &RepoName) -> ServiceError {
    ServiceError::NotFound(format!("repository {:?} not found", name.as_str()))
}

impl Orgs<'_> {
    /// The check of every operation on an existing repository: `who` (None = anonymous) must hold
    /// `need`. Without read access the answer is `NotFound`, whether or not it exists.
    pub async fn repo(&self, who: Option<&Principal>, name: &RepoName, need: Access) -> Result<Repo, ServiceError> {
        let access = self.accounts.access(who, name.as_str()).await?;
        if access < Access::Read {
            return Err(repo_not_found(name));
        }
        let Some(row) = self.db().repository(name.as_str()).await? else {
            return Err(repo_not_found(name));
        };
        if access < need {
            return Err(ServiceError::Denied(format!(
                "{} access to {:?} is needed",
                need.as_str(),
                name.as_str()
            )));
        }
        Ok(Repo::from_row(row, Some(access)))
    }

    /// The check of creating a repository: `who` must be able to push to it.
    pub async fn may_create_repo(&self, who: &Principal, name: &RepoName) -> Result<(), ServiceError> {
        if self.accounts.access(Some(who), name.as_str()).await? >= Access::Write {
            Ok(())
        } else {
            Err(ServiceError::Denied(format!(
                "you may not create repositories in namespace {:?}",
                name.namespace()
            )))
        }
    }

    /// Creates an empty repository; without a visibility it takes its namespace's default.
    pub async fn create_repo(
        &self,
        name: &RepoName,
        visibility: Option<Visibility>,
        description: &str,
    ) -> Result<Repo, ServiceError> {
        check_description(description)?;
        let row = self
            .db()
            .create_repository(
                name.as_str(),
                name.namespace(),
                visibility.map(Visibility::is_public),
                description,
            )
            .await
            .map_err(|e| match e {
                crate::db::DbError::Conflict => {
                    ServiceError::Conflict(format!("repository {:?} exists", name.as_str()))
                }
                other => other.into(),
            })?;
        Ok(Repo::from_row(row, Some(Access::Admin)))
    }

    /// The repositories `who` may read after `last`, optionally in one namespace and containing `q`.
    pub async fn list_repos(
        &self,
        who: Option<&Principal>,
        namespace: Option<&str>,
        q: Option<&str>,
        last: &str,
        limit: i64,
    ) -> Result<Vec<Repo>, ServiceError> {
        let readable = match who {
            _ if !self.accounts.enabled() => Readable::All,
            Some(p) if acts_as_admin(p) => Readable::All,
            Some(p) => Readable::User(p.id, &p.name),
            None => Readable::Public,
        };
        let rows = self
            .db()
            .search_repositories(readable, namespace, q, last, limit)
            .await?;
        Ok(rows.into_iter().map(|r| Repo::from_row(r, None)).collect())
    }

    /// Changes a repository's visibility or description; returns the new settings.
    pub async fn update_repo(&self, repo: &Repo, update: &RepoUpdate) -> Result<Repo, ServiceError> {
        if let Some(d) = &update.description {
            check_description(d)?;
        }
        self.db()
            .update_repository(
                &repo.name,
                update.visibility.map(Visibility::is_public),
                update.description.as_deref(),
            )
            .await?;
        let mut out = repo.clone();
        if let Some(v) = update.visibility {
            out.visibility = v;
        }
        if let Some(d) = &update.description {
            out.description = d.clone();
        }
        Ok(out)
    }

    /// Deletes a repository with its manifests, tags and blob links (blob bytes stay until garbage
    /// collection).
    pub async fn delete_repo(&self, repo: &Repo) -> Result<(), ServiceError> {
        self.db().delete_repository(&repo.name).await?;
        Ok(())
    }
}
