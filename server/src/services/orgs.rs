//! Who may manage what, and the management itself: organizations and their members here; teams,
//! repository settings, users and personal access tokens in the submodules. Every operation takes an
//! authenticated `Principal` and parsed values, and answers a `ServiceError`; no HTTP types.
//!
//! The checks come first and return the thing checked (`Org`, `Repo`), so an operation cannot be
//! reached without one: `Orgs::org(who, name, OrgRole::Owner)`, `Orgs::repo(who, name, Access::Admin)`,
//! `require_admin(who)`. What a caller may not even see answers `NotFound`, exactly like what does
//! not exist; what they may see but not change answers `Denied`.

mod repos;
mod teams;
mod users;

pub use repos::{Repo, RepoUpdate};
pub use teams::{Team, TeamScope};
pub use users::{check_password, AuditEntry, TokenInfo, UserInfo};

use super::{Accounts, ServiceError};
use crate::auth::{Access, Principal};
use crate::db::{Db, DbError, OrgListRow};
use crate::services::accounts::valid_account_name;

/// What a principal is to an organization, ordered: each includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OrgRole {
    /// Not a member: the organization is not visible.
    None,
    /// A member: sees the organization and its teams.
    Member,
    /// An owner: manages the organization, its members, teams and repositories.
    Owner,
}

impl OrgRole {
    /// Parses `owner` or `member` (the roles a member can be given).
    pub fn parse(s: &str) -> Option<OrgRole> {
        match s {
            "owner" => Some(OrgRole::Owner),
            "member" => Some(OrgRole::Member),
            _ => None,
        }
    }

    /// `owner`, `member` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::None => "none",
            OrgRole::Member => "member",
            OrgRole::Owner => "owner",
        }
    }

    fn from_db(role: Option<&str>) -> OrgRole {
        match role {
            Some("owner") => OrgRole::Owner,
            Some(_) => OrgRole::Member,
            None => OrgRole::None,
        }
    }
}

/// Whether a repository (or a namespace's new repositories) can be pulled by anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Private,
}

impl Visibility {
    /// Parses `public` or `private`.
    pub fn parse(s: &str) -> Option<Visibility> {
        match s {
            "public" => Some(Visibility::Public),
            "private" => Some(Visibility::Private),
            _ => None,
        }
    }

    /// From a stored 0/1 flag.
    pub fn from_flag(public: i64) -> Visibility {
        if public != 0 {
            Visibility::Public
        } else {
            Visibility::Private
        }
    }

    /// `public` or `private`.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }

    /// Whether it is public.
    pub fn is_public(self) -> bool {
        self == Visibility::Public
    }
}

/// An organization as seen by a caller who passed the check.
#[derive(Debug, Clone)]
pub struct Org {
    pub id: i64,
    pub name: String,
    /// Visibility of new repositories.
    pub default_visibility: Visibility,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The caller's own role (administrators who are not members see `None`).
    pub role: OrgRole,
}

impl From<OrgListRow> for Org {
    fn from(r: OrgListRow) -> Org {
        Org {
            id: r.id,
            name: r.name,
            default_visibility: Visibility::from_flag(r.default_public),
            created_at: r.created_at,
            role: OrgRole::from_db(r.role.as_deref()),
        }
    }
}

/// A member of an organization.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub role: OrgRole,
}

/// Whether `who` acts with administrator rights: an administrator, not through a personal access
/// token capped below `repo:admin`.
pub fn acts_as_admin(who: &Principal) -> bool {
    who.is_admin && full_account(who)
}

/// Whether `who` may change accounts, organizations and teams: a password or session login, or a
/// personal access token with `repo:admin`. A leaked read-only token must not change a password.
fn full_account(who: &Principal) -> bool {
    who.cap.is_none_or(|c| c >= Access::Admin)
}

/// The check of administrator-only operations.
pub fn require_admin(who: &Principal) -> Result<(), ServiceError> {
    if acts_as_admin(who) {
        Ok(())
    } else {
        Err(ServiceError::Denied("only administrators may do this".into()))
    }
}

fn require_full_account(who: &Principal) -> Result<(), ServiceError> {
    if full_account(who) {
        Ok(())
    } else {
        Err(ServiceError::Denied(
            "this personal access token's scope does not allow account management".into(),
        ))
    }
}

/// `NotFound` for a named thing.
pub(crate) fn not_found(what: &str, name: &str) -> ServiceError {
    ServiceError::NotFound(format!("{what} {name:?} not found"))
}

/// The management rules, over the accounts database.
pub struct Orgs<'a> {
    accounts: &'a Accounts,
}

impl<'a> Orgs<'a> {
    /// The management rules of `accounts`.
    pub fn new(accounts: &'a Accounts) -> Orgs<'a> {
        Orgs { accounts }
    }

    fn db(&self) -> &'a Db {
        &self.accounts.db
    }

    /// The check of every organization operation: `who` must hold at least `need` in `org`.
    /// Administrators count as owners. Non-members get `NotFound`, as if the organization did not
    /// exist; members who need to be owners get `Denied`.
    pub async fn org(&self, who: &Principal, org: &str, need: OrgRole) -> Result<Org, ServiceError> {
        if !valid_account_name(org) {
            return Err(not_found("organization", org));
        }
        let Some(row) = self.db().org_by_name(org).await? else {
            return Err(not_found("organization", org));
        };
        let role = OrgRole::from_db(self.db().org_role(row.id, who.id).await?.as_deref());
        let effective = if acts_as_admin(who) { OrgRole::Owner } else { role };
        if effective < OrgRole::Member {
            return Err(not_found("organization", org));
        }
        if effective < need {
            return Err(ServiceError::Denied(format!("only owners of {org:?} may do this")));
        }
        if need > OrgRole::Member {
            require_full_account(who)?;
        }
        Ok(Org {
            id: row.id,
            name: row.name,
            default_visibility: Visibility::from_flag(row.default_public),
            created_at: row.created_at,
            role,
        })
    }

    /// Creates an organization owned by `who`. Its name must be free among users and organizations.
    pub async fn create(&self, who: &Principal, name: &str) -> Result<Org, ServiceError> {
        require_full_account(who)?;
        if !valid_account_name(name) {
            return Err(ServiceError::BadRequest(format!(
                "invalid organization name {name:?}: 2-64 lowercase letters, digits and . _ - separators"
            )));
        }
        let id = match self.db().create_org(name, who.id).await {
            Ok(id) => id,
            Err(DbError::Conflict) => return Err(ServiceError::Conflict(format!("the name {name:?} is taken"))),
            Err(e) => return Err(e.into()),
        };
        let row = self
            .db()
            .org_by_name(name)
            .await?
            .ok_or_else(|| not_found("organization", name))?;
        Ok(Org {
            id,
            name: row.name,
            default_visibility: Visibility::from_flag(row.default_public),
            created_at: row.created_at,
            role: OrgRole::Owner,
        })
    }

    /// The organizations `who` belongs to (every one for administrators), after `last`.
    pub async fn list(&self, who: &Principal, last: &str, limit: i64) -> Result<Vec<Org>, ServiceError> {
        let rows = self
            .db()
            .list_orgs_page(who.id, acts_as_admin(who), last, limit)
            .await?;
        Ok(rows.into_iter().map(Org::from).collect())
    }

    /// Sets the visibility of the organization's new repositories.
    pub async fn set_default_visibility(&self, org: &Org, v: Visibility) -> Result<(), ServiceError> {
        self.db().set_namespace_default_public(&org.name, v.is_public()).await?;
        Ok(())
    }

    /// Deletes an organization with its teams and memberships. Refused while it has repositories:
    /// whoever took the name next would own them.
    pub async fn delete(&self, org: &Org) -> Result<(), ServiceError> {
        let repos = self.db().count_namespace_repositories(&org.name).await?;
        if repos > 0 {
            return Err(ServiceError::Conflict(format!(
                "organization {:?} still has {repos} repositories; delete them first",
                org.name
            )));
        }
        self.db().delete_org(org.id).await?;
        Ok(())
    }

    /// The members of an organization.
    pub async fn members(&self, org: &Org) -> Result<Vec<Member>, ServiceError> {
        Ok(self
            .db()
            .list_members(org.id)
            .await?
            .into_iter()
            .map(|m| Member {
                name: m.name,
                role: OrgRole::from_db(Some(&m.role)),
            })
            .collect())
    }

    /// Adds `user` to the organization or changes their role; returns the role they had before
    /// (`None` if they were not a member). The last owner cannot be demoted (`Conflict`).
    pub async fn set_member(&self, org: &Org, user: &str, role: OrgRole) -> Result<OrgRole, ServiceError> {
        let u = self.user_id(user).await?;
        let before = OrgRole::from_db(self.db().org_role(org.id, u).await?.as_deref());
        match self.db().set_member_keeping_owner(org.id, u, role.as_str()).await {
            Ok(()) => Ok(before),
            Err(DbError::Conflict) => Err(last_owner(&org.name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `user` from the organization and its teams. The last owner cannot leave (`Conflict`).
    pub async fn remove_member(&self, org: &Org, user: &str) -> Result<(), ServiceError> {
        let u = self.user_id(user).await?;
        match self.db().remove_member_keeping_owner(org.id, u).await {
            Ok(()) => Ok(()),
            Err(DbError::Conflict) => Err(last_owner(&org.name)),
            Err(DbError::NotFound) => Err(ServiceError::NotFound(format!(
                "{user:?} is not a member of {:?}",
                org.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    async fn user_id(&self, user: &str) -> Result<i64, ServiceError> {
        if !valid_account_name(user) {
            return Err(not_found("user", user));
        }
        Ok(self
            .db()
            .user_by_name(user)
            .await?
            .ok_or_else(|| not_found("user", user))?
            .id)
    }
}

fn last_owner(org: &str) -> ServiceError {
    ServiceError::Conflict(format!(
        "the last owner of {org:?} cannot be removed or demoted; make someone else owner first"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(is_admin: bool, cap: Option<Access>) -> Principal {
        Principal {
            token_id: None,
            id: 1,
            name: "u".into(),
            is_admin,
            cap,
        }
    }

    #[test]
    fn roles_are_ordered_and_parsed() {
        assert!(OrgRole::Owner > OrgRole::Member && OrgRole::Member > OrgRole::None);
        assert_eq!(OrgRole::parse("owner"), Some(OrgRole::Owner));
        assert_eq!(OrgRole::parse("none"), None);
        assert_eq!(Visibility::parse("public"), Some(Visibility::Public));
        assert_eq!(Visibility::parse("Public"), None);
    }

    #[test]
    fn capped_tokens_do_not_act_as_admin() {
        assert!(acts_as_admin(&p(true, None)));
        assert!(acts_as_admin(&p(true, Some(Access::Admin))));
        assert!(!acts_as_admin(&p(true, Some(Access::Write))));
        assert!(!acts_as_admin(&p(false, None)));
        assert!(require_full_account(&p(false, Some(Access::Read))).is_err());
    }
}
