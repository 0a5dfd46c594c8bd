//! Teams of an organization: their members (who must belong to the organization) and the access
//! they grant on one repository of the organization or on all of them. Callers pass an `Org` that
//! went through `Orgs::org`, so the check has been made.

use rreg_oci::RepoName;

use super::{not_found, Org, OrgRole, Orgs};
use crate::auth::Access;
use crate::db::DbError;
use crate::services::accounts::valid_account_name;
use crate::services::ServiceError;

/// Longest team description accepted, in bytes.
const MAX_DESCRIPTION: usize = 1000;

/// A team.
#[derive(Debug, Clone)]
pub struct Team {
    pub id: i64,
    pub name: String,
    pub description: String,
}

/// What a team permission applies to: every repository of the organization, or one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamScope {
    /// Every repository of the organization (stored as `''`).
    Org,
    /// One repository, inside the organization's namespace.
    Repo(RepoName),
}

impl TeamScope {
    /// Parses `""` (the whole organization) or a full repository name inside organization `org`.
    pub fn parse(org: &str, s: &str) -> Result<TeamScope, ServiceError> {
        if s.is_empty() {
            return Ok(TeamScope::Org);
        }
        let name = RepoName::parse(s).map_err(|e| ServiceError::BadRequest(e.to_string()))?;
        if name.namespace() != org {
            return Err(ServiceError::BadRequest(format!(
                "repository {s:?} is not in organization {org:?}"
            )));
        }
        Ok(TeamScope::Repo(name))
    }

    /// `""` or the repository name, as stored.
    pub fn as_str(&self) -> &str {
        match self {
            TeamScope::Org => "",
            TeamScope::Repo(r) => r.as_str(),
        }
    }
}

impl Orgs<'_> {
    /// The teams of an organization.
    pub async fn teams(&self, org: &Org) -> Result<Vec<Team>, ServiceError> {
        Ok(self
            .db()
            .list_teams(org.id)
            .await?
            .into_iter()
            .map(|t| Team {
                id: t.id,
                name: t.name,
                description: t.description,
            })
            .collect())
    }

    /// The team `name` of an organization.
    pub async fn team(&self, org: &Org, name: &str) -> Result<Team, ServiceError> {
        if !valid_account_name(name) {
            return Err(not_found("team", name));
        }
        let t = self
            .db()
            .team_by_name(org.id, name)
            .await?
            .ok_or_else(|| not_found("team", name))?;
        Ok(Team {
            id: t.id,
            name: t.name,
            description: t.description,
        })
    }

    /// Creates a team; `Conflict` if the organization has one of that name.
    pub async fn create_team(&self, org: &Org, name: &str, description: &str) -> Result<Team, ServiceError> {
        if !valid_account_name(name) {
            return Err(ServiceError::BadRequest(format!(
                "invalid team name {name:?}: 2-64 lowercase letters, digits and . _ - separators"
            )));
        }
        if description.len() > MAX_DESCRIPTION {
            return Err(ServiceError::BadRequest(format!(
                "description longer than {MAX_DESCRIPTION} bytes"
            )));
        }
        match self.db().create_team(org.id, name, description).await {
            Ok(id) => Ok(Team {
                id,
                name: name.to_owned(),
                description: description.to_owned(),
            }),
            Err(DbError::Conflict) => Err(ServiceError::Conflict(format!(
                "organization {:?} already has a team {name:?}",
                org.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a team with its memberships and permissions.
    pub async fn delete_team(&self, team: &Team) -> Result<(), ServiceError> {
        self.db().delete_team(team.id).await?;
        Ok(())
    }

    /// The members of a team, by name.
    pub async fn team_members(&self, team: &Team) -> Result<Vec<String>, ServiceError> {
        Ok(self.db().list_team_members(team.id).await?)
    }

    /// Adds `user`, who must be a member of the organization, to a team. Unknown users are
    /// `NotFound`; users outside the organization are a `BadRequest`.
    pub async fn add_team_member(&self, org: &Org, team: &Team, user: &str) -> Result<(), ServiceError> {
        let u = self.user_id(user).await?;
        let role = OrgRole::from_db(self.db().org_role(org.id, u).await?.as_deref());
        if role < OrgRole::Member {
            return Err(ServiceError::BadRequest(format!(
                "{user:?} is not a member of organization {:?}; add them to it first",
                org.name
            )));
        }
        self.db().add_team_member(team.id, u).await?;
        Ok(())
    }

    /// Removes `user` from a team; `NotFound` if they are not in it.
    pub async fn remove_team_member(&self, team: &Team, user: &str) -> Result<(), ServiceError> {
        let u = self.user_id(user).await?;
        if self.db().remove_team_member(team.id, u).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!(
                "{user:?} is not in team {:?}",
                team.name
            )))
        }
    }

    /// A team's permissions: what they apply to (`""` = the organization) and the level.
    pub async fn team_permissions(&self, team: &Team) -> Result<Vec<(String, Access)>, ServiceError> {
        Ok(self
            .db()
            .list_team_permissions(team.id)
            .await?
            .into_iter()
            .filter_map(|p| Access::parse(&p.permission).map(|a| (p.repository, a)))
            .collect())
    }

    /// Sets a team's permission on `scope` (replacing any it had there).
    pub async fn set_team_permission(&self, team: &Team, scope: &TeamScope, level: Access) -> Result<(), ServiceError> {
        if level == Access::None {
            return Err(ServiceError::BadRequest(
                "permission must be read, write or admin".into(),
            ));
        }
        self.db()
            .set_team_permission(team.id, scope.as_str(), level.as_str())
            .await?;
        Ok(())
    }

    /// Removes a team's permission on `scope`; `NotFound` if it had none there.
    pub async fn remove_team_permission(&self, team: &Team, scope: &TeamScope) -> Result<(), ServiceError> {
        if self.db().remove_team_permission(team.id, scope.as_str()).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!(
                "team {:?} has no permission on {:?}",
                team.name,
                scope.as_str()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_stay_inside_the_organization() {
        assert_eq!(TeamScope::parse("acme", "").expect("org"), TeamScope::Org);
        assert_eq!(TeamScope::parse("acme", "acme/app").expect("repo").as_str(), "acme/app");
        assert!(TeamScope::parse("acme", "other/app").is_err());
        assert!(TeamScope::parse("acme", "acme/App").is_err());
        assert!(TeamScope::parse("acme", "acmex/app").is_err());
    }
}
