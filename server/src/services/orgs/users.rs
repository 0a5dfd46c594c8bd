//! User accounts, personal access tokens and the audit log: who may create, change and delete
//! accounts, and the guards that keep the server manageable (the last administrator stays, a user
//! who alone owns an organization or still has repositories is not deleted).

use super::{acts_as_admin, not_found, require_full_account, OrgRole, Orgs};
use crate::auth::{Access, Principal};
use crate::db::DbError;
use crate::services::accounts::valid_account_name;
use crate::services::ServiceError;

/// Shortest password accepted, in bytes.
const MIN_PASSWORD: usize = 8;

/// Checks a new password's length (as `Accounts::set_password` does).
pub fn check_password(password: &str) -> Result<(), ServiceError> {
    if password.len() < MIN_PASSWORD {
        return Err(ServiceError::BadRequest(format!(
            "password must have at least {MIN_PASSWORD} characters"
        )));
    }
    Ok(())
}

/// Longest token name accepted, in bytes.
const MAX_TOKEN_NAME: usize = 100;

/// A user account (never its password hash).
#[derive(Debug, Clone)]
pub struct UserInfo {
    pub name: String,
    pub is_admin: bool,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The organizations they belong to, with their role (filled for the caller's own account).
    pub orgs: Vec<(String, OrgRole)>,
}

/// A personal access token (never its secret).
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    /// `repo:read`, `repo:write` or `repo:admin`.
    pub scope: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked: bool,
}

/// An entry of the audit log.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub address: String,
}

impl Orgs<'_> {
    /// The check of creating an account: administrators may create any (also administrators);
    /// anyone else only a plain account, and only while sign-up is open.
    pub fn may_create_user(&self, who: Option<&Principal>, as_admin: bool) -> Result<(), ServiceError> {
        match who {
            Some(p) if acts_as_admin(p) => Ok(()),
            _ if as_admin => Err(ServiceError::Denied(
                "only administrators may create administrators".into(),
            )),
            _ if self.accounts.signup_open() => Ok(()),
            None => Err(ServiceError::Unauthorized(
                "sign-up is closed: an administrator must create the account".into(),
            )),
            Some(_) => Err(ServiceError::Denied(
                "sign-up is closed: an administrator must create the account".into(),
            )),
        }
    }

    /// Creates an account.
    pub async fn create_user(&self, name: &str, password: &str, is_admin: bool) -> Result<UserInfo, ServiceError> {
        self.accounts.create_user(name, password, is_admin).await?;
        self.user(name).await
    }

    /// A user's account.
    pub async fn user(&self, name: &str) -> Result<UserInfo, ServiceError> {
        if !valid_account_name(name) {
            return Err(not_found("user", name));
        }
        let u = self
            .db()
            .user_by_name(name)
            .await?
            .ok_or_else(|| not_found("user", name))?;
        Ok(UserInfo {
            name: u.name,
            is_admin: u.is_admin != 0,
            created_at: u.created_at,
            orgs: Vec::new(),
        })
    }

    /// The caller's own account with the organizations they belong to.
    pub async fn me(&self, who: &Principal) -> Result<UserInfo, ServiceError> {
        let mut me = self.user(&who.name).await?;
        me.orgs = self
            .db()
            .user_orgs(who.id)
            .await?
            .into_iter()
            .map(|(org, role)| (org, OrgRole::from_db(Some(&role))))
            .collect();
        Ok(me)
    }

    /// Users after `last` by name.
    pub async fn list_users(&self, last: &str, limit: i64) -> Result<Vec<UserInfo>, ServiceError> {
        Ok(self
            .db()
            .list_users(last, limit)
            .await?
            .into_iter()
            .map(|u| UserInfo {
                name: u.name,
                is_admin: u.is_admin != 0,
                created_at: u.created_at,
                orgs: Vec::new(),
            })
            .collect())
    }

    /// The check of changing account `target`: users may change their own password; administrators
    /// may change anyone's password and administrator flag.
    pub fn may_update_user(&self, who: &Principal, target: &str, sets_admin: bool) -> Result<(), ServiceError> {
        require_full_account(who)?;
        if acts_as_admin(who) || (who.name == target && !sets_admin) {
            Ok(())
        } else if sets_admin {
            Err(ServiceError::Denied(
                "only administrators may grant or remove administration".into(),
            ))
        } else {
            Err(ServiceError::Denied("you may change only your own password".into()))
        }
    }

    /// Sets a password (remembered logins are forgotten).
    pub async fn set_password(&self, target: &str, password: &str) -> Result<(), ServiceError> {
        self.accounts.set_password(target, password).await
    }

    /// Grants or removes administration; the last administrator stays one (`Conflict`).
    pub async fn set_admin(&self, target: &str, admin: bool) -> Result<(), ServiceError> {
        self.user(target).await?;
        let u = self
            .db()
            .user_by_name(target)
            .await?
            .ok_or_else(|| not_found("user", target))?;
        if !admin && u.is_admin != 0 && self.db().count_admins().await? <= 1 {
            return Err(ServiceError::Conflict(
                "the last administrator cannot lose administration".into(),
            ));
        }
        self.db().set_admin(u.id, admin).await?;
        self.accounts.forget_logins();
        Ok(())
    }

    /// Deletes an account with its tokens and memberships. Refused (`Conflict`) for the last
    /// administrator, for the only owner of an organization, and while the user's namespace has
    /// repositories (whoever took the name next would own them).
    pub async fn delete_user(&self, target: &str) -> Result<(), ServiceError> {
        self.user(target).await?;
        let u = self
            .db()
            .user_by_name(target)
            .await?
            .ok_or_else(|| not_found("user", target))?;
        if u.is_admin != 0 && self.db().count_admins().await? <= 1 {
            return Err(ServiceError::Conflict(
                "the last administrator cannot be deleted".into(),
            ));
        }
        let owned = self.db().orgs_solely_owned_by(u.id).await?;
        if !owned.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "{target:?} is the only owner of {}; make someone else owner or delete them first",
                owned.join(", ")
            )));
        }
        let repos = self.db().count_namespace_repositories(target).await?;
        if repos > 0 {
            return Err(ServiceError::Conflict(format!(
                "{target:?} still has {repos} repositories; delete them first"
            )));
        }
        match self.db().delete_user(u.id).await {
            Ok(()) | Err(DbError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        self.accounts.forget_logins();
        Ok(())
    }

    /// The caller's personal access tokens.
    pub async fn tokens(&self, who: &Principal) -> Result<Vec<TokenInfo>, ServiceError> {
        Ok(self
            .db()
            .list_tokens(who.id)
            .await?
            .into_iter()
            .map(|t| TokenInfo {
                id: t.id,
                name: t.name,
                scope: t.scope,
                created_at: t.created_at,
                last_used_at: t.last_used_at,
                revoked: t.revoked_at.is_some(),
            })
            .collect())
    }

    /// Creates a personal access token for `who`; returns it and its secret (shown once). A token
    /// never grants more than the credentials that created it.
    pub async fn create_token(
        &self,
        who: &Principal,
        name: &str,
        scope: Access,
    ) -> Result<(TokenInfo, String), ServiceError> {
        require_full_account(who)?;
        if name.trim().is_empty() || name.len() > MAX_TOKEN_NAME {
            return Err(ServiceError::BadRequest(format!(
                "token name must have 1 to {MAX_TOKEN_NAME} bytes"
            )));
        }
        let (id, secret) = self.accounts.create_access_token(who, name, scope).await?;
        let info = self
            .tokens(who)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| ServiceError::Internal(format!("token {id} vanished after creation")))?;
        Ok((info, secret))
    }

    /// Revokes one of the caller's live tokens; `NotFound` for another user's, revoked or unknown.
    pub async fn revoke_token(&self, who: &Principal, id: i64) -> Result<(), ServiceError> {
        require_full_account(who)?;
        if !self.db().revoke_token(who.id, id).await? {
            return Err(ServiceError::NotFound(format!("no live token {id}")));
        }
        self.accounts.forget_logins();
        Ok(())
    }

    /// Audit entries with ids below `before`, newest first.
    pub async fn audit(&self, before: i64, limit: i64) -> Result<Vec<AuditEntry>, ServiceError> {
        Ok(self
            .db()
            .audit_entries(before, limit)
            .await?
            .into_iter()
            .map(|a| AuditEntry {
                id: a.id,
                at: a.at,
                actor: a.actor,
                action: a.action,
                target: a.target,
                detail: a.detail,
                address: a.address,
            })
            .collect())
    }

    /// Records an action; a failure to record is logged, not fatal.
    pub async fn record(&self, actor: &str, action: &str, target: &str, detail: &str, address: &str) {
        if let Err(e) = self.db().audit(actor, action, target, detail, address).await {
            tracing::warn!(error = %e, action, target, "audit log write failed");
        }
    }
}
