//! Queries for users, organizations, teams, permissions, tokens, signing keys and the audit log.

use super::{now_ms, with_pool, Db, DbError};

/// A user account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub password_hash: String,
    pub is_admin: i64,
    pub created_at: i64,
}

/// A refresh token that is still good: its user, the scope of the personal access token it was
/// obtained with (if any), and that token's id.
pub type RefreshRow = (i64, Option<String>, Option<i64>);

/// An organization.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrgRow {
    pub id: i64,
    pub name: String,
    pub default_public: i64,
    pub created_at: i64,
}

/// A member of an organization.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub name: String,
    pub role: String,
}

/// A team.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TeamRow {
    pub id: i64,
    pub name: String,
    pub description: String,
}

/// A team's permission on a repository ('' = the whole organization).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PermissionRow {
    pub repository: String,
    pub permission: String,
}

/// A personal access token (never its secret).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub scope: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A repository's settings.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RepoRow {
    pub id: i64,
    pub name: String,
    pub is_public: i64,
    pub description: String,
    pub created_at: i64,
}

/// An audit log entry.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub address: String,
}

fn map_unique(e: sqlx::Error) -> DbError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => DbError::Conflict,
        _ => DbError::Sqlx(e),
    }
}

impl Db {
    /// Creates a user; `Conflict` if the name is taken (by a user or an organization).
    pub async fn create_user(&self, name: &str, password_hash: &str, is_admin: bool) -> Result<i64, DbError> {
        if self.org_by_name(name).await?.is_some() {
            return Err(DbError::Conflict);
        }
        with_pool!(self, p => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO users (name, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(name)
            .bind(password_hash)
            .bind(is_admin as i64)
            .bind(now_ms())
            .fetch_one(p)
            .await
            .map_err(map_unique)?;
            Ok(id)
        })
    }

    /// The user called `name`.
    pub async fn user_by_name(&self, name: &str) -> Result<Option<UserRow>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, UserRow>(
                "SELECT id, name, password_hash, is_admin, created_at FROM users WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(p)
            .await?)
        })
    }

    /// The user with id `id`.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, UserRow>(
                "SELECT id, name, password_hash, is_admin, created_at FROM users WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(p)
            .await?)
        })
    }

    /// Users by name after `last`.
    pub async fn list_users(&self, last: &str, limit: i64) -> Result<Vec<UserRow>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, UserRow>(
                "SELECT id, name, password_hash, is_admin, created_at FROM users WHERE name > $1 ORDER BY name LIMIT $2",
            )
            .bind(last)
            .bind(limit)
            .fetch_all(p)
            .await?)
        })
    }

    /// Sets a user's password hash.
    pub async fn set_password(&self, user: i64, hash: &str) -> Result<(), DbError> {
        with_pool!(self, p => {
            // A new password ends the sessions and refresh tokens obtained with the old one.
            let r = sqlx::query("UPDATE users SET password_hash = $1, sessions_valid_after = $2 WHERE id = $3")
                .bind(hash)
                .bind(now_ms())
                .bind(user)
                .execute(p)
                .await?;
            if r.rows_affected() == 0 { Err(DbError::NotFound) } else { Ok(()) }
        })
    }

    /// Grants or removes server administration.
    pub async fn set_admin(&self, user: i64, admin: bool) -> Result<(), DbError> {
        with_pool!(self, p => {
            let r = sqlx::query("UPDATE users SET is_admin = $1 WHERE id = $2").bind(admin as i64).bind(user).execute(p).await?;
            if r.rows_affected() == 0 { Err(DbError::NotFound) } else { Ok(()) }
        })
    }

    /// Deletes a user.
    pub async fn delete_user(&self, user: i64) -> Result<(), DbError> {
        with_pool!(self, p => {
            let r = sqlx::query("DELETE FROM users WHERE id = $1").bind(user).execute(p).await?;
            if r.rows_affected() == 0 { Err(DbError::NotFound) } else { Ok(()) }
        })
    }

    /// Number of users.
    pub async fn count_users(&self) -> Result<i64, DbError> {
        with_pool!(self, p => Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(p).await?))
    }

    /// Creates an organization owned by `owner`; `Conflict` if the name is taken.
    pub async fn create_org(&self, name: &str, owner: i64) -> Result<i64, DbError> {
        if self.user_by_name(name).await?.is_some() {
            return Err(DbError::Conflict);
        }
        let now = now_ms();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let id: i64 = sqlx::query_scalar("INSERT INTO organizations (name, created_at) VALUES ($1, $2) RETURNING id")
                .bind(name)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_unique)?;
            sqlx::query("INSERT INTO org_members (org_id, user_id, role) VALUES ($1, $2, 'owner')")
                .bind(id)
                .bind(owner)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// The organization called `name`.
    pub async fn org_by_name(&self, name: &str) -> Result<Option<OrgRow>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, OrgRow>("SELECT id, name, default_public, created_at FROM organizations WHERE name = $1")
                .bind(name)
                .fetch_optional(p)
                .await?)
        })
    }

    /// Organizations `user` belongs to (all of them when `user` is None).
    pub async fn list_orgs(&self, user: Option<i64>) -> Result<Vec<OrgRow>, DbError> {
        with_pool!(self, p => {
            let rows = match user {
                Some(u) => sqlx::query_as::<_, OrgRow>(
                    "SELECT o.id, o.name, o.default_public, o.created_at FROM organizations o
                     JOIN org_members m ON m.org_id = o.id WHERE m.user_id = $1 ORDER BY o.name",
                ).bind(u).fetch_all(p).await?,
                None => sqlx::query_as::<_, OrgRow>(
                    "SELECT id, name, default_public, created_at FROM organizations ORDER BY name",
                ).fetch_all(p).await?,
            };
            Ok(rows)
        })
    }

    /// Deletes an organization (its teams and memberships go with it).
    pub async fn delete_org(&self, org: i64) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query("DELETE FROM organizations WHERE id = $1").bind(org).execute(p).await?;
            Ok(())
        })
    }

    /// Sets whether new repositories of a namespace start public.
    pub async fn set_namespace_default_public(&self, namespace: &str, public: bool) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query("UPDATE organizations SET default_public = $1 WHERE name = $2").bind(public as i64).bind(namespace).execute(p).await?;
            sqlx::query("UPDATE users SET default_public = $1 WHERE name = $2").bind(public as i64).bind(namespace).execute(p).await?;
            Ok(())
        })
    }

    /// A user's role in an organization.
    pub async fn org_role(&self, org: i64, user: i64) -> Result<Option<String>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_scalar("SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2")
                .bind(org)
                .bind(user)
                .fetch_optional(p)
                .await?)
        })
    }

    /// Adds a member or changes their role.
    pub async fn set_member(&self, org: i64, user: i64, role: &str) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO org_members (org_id, user_id, role) VALUES ($1, $2, $3)
                 ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
            )
            .bind(org)
            .bind(user)
            .bind(role)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    /// Removes a member (and their team memberships in the organization).
    pub async fn remove_member(&self, org: i64, user: i64) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let r = sqlx::query("DELETE FROM org_members WHERE org_id = $1 AND user_id = $2")
                .bind(org)
                .bind(user)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM team_members WHERE user_id = $1 AND team_id IN (SELECT id FROM teams WHERE org_id = $2)")
                .bind(user)
                .bind(org)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// Members of an organization.
    pub async fn list_members(&self, org: i64) -> Result<Vec<MemberRow>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, MemberRow>(
                "SELECT u.name, m.role FROM org_members m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 ORDER BY u.name",
            )
            .bind(org)
            .fetch_all(p)
            .await?)
        })
    }

    /// Number of owners of an organization.
    pub async fn count_owners(&self, org: i64) -> Result<i64, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_scalar("SELECT COUNT(*) FROM org_members WHERE org_id = $1 AND role = 'owner'")
                .bind(org)
                .fetch_one(p)
                .await?)
        })
    }

    /// Creates a team.
    pub async fn create_team(&self, org: i64, name: &str, description: &str) -> Result<i64, DbError> {
        with_pool!(self, p => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO teams (org_id, name, description, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(org)
            .bind(name)
            .bind(description)
            .bind(now_ms())
            .fetch_one(p)
            .await
            .map_err(map_unique)?;
            Ok(id)
        })
    }

    /// The team `name` of an organization.
    pub async fn team_by_name(&self, org: i64, name: &str) -> Result<Option<TeamRow>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, TeamRow>("SELECT id, name, description FROM teams WHERE org_id = $1 AND name = $2")
                .bind(org)
                .bind(name)
                .fetch_optional(p)
                .await?)
        })
    }

    /// Teams of an organization.
    pub async fn list_teams(&self, org: i64) -> Result<Vec<TeamRow>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, TeamRow>("SELECT id, name, description FROM teams WHERE org_id = $1 ORDER BY name")
                .bind(org)
                .fetch_all(p)
                .await?)
        })
    }

    /// Deletes a team.
    pub async fn delete_team(&self, team: i64) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query("DELETE FROM teams WHERE id = $1").bind(team).execute(p).await?;
            Ok(())
        })
    }

    /// Adds a user to a team.
    pub async fn add_team_member(&self, team: i64, user: i64) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query("INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(team)
                .bind(user)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    /// Removes a user from a team.
    pub async fn remove_team_member(&self, team: i64, user: i64) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let r = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
                .bind(team)
                .bind(user)
                .execute(p)
                .await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// Members of a team.
    pub async fn list_team_members(&self, team: i64) -> Result<Vec<String>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_scalar(
                "SELECT u.name FROM team_members tm JOIN users u ON u.id = tm.user_id WHERE tm.team_id = $1 ORDER BY u.name",
            )
            .bind(team)
            .fetch_all(p)
            .await?)
        })
    }

    /// Sets a team's permission on a repository ('' = whole organization).
    pub async fn set_team_permission(&self, team: i64, repository: &str, permission: &str) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO team_permissions (team_id, repository, permission) VALUES ($1, $2, $3)
                 ON CONFLICT (team_id, repository) DO UPDATE SET permission = excluded.permission",
            )
            .bind(team)
            .bind(repository)
            .bind(permission)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    /// Removes a team's permission on a repository.
    pub async fn remove_team_permission(&self, team: i64, repository: &str) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let r = sqlx::query("DELETE FROM team_permissions WHERE team_id = $1 AND repository = $2")
                .bind(team)
                .bind(repository)
                .execute(p)
                .await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// A team's permissions.
    pub async fn list_team_permissions(&self, team: i64) -> Result<Vec<PermissionRow>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, PermissionRow>(
                "SELECT repository, permission FROM team_permissions WHERE team_id = $1 ORDER BY repository",
            )
            .bind(team)
            .fetch_all(p)
            .await?)
        })
    }

    /// The permissions `user` holds on `repository` through the teams of organization `org`.
    pub async fn team_permissions_for(&self, org: i64, user: i64, repository: &str) -> Result<Vec<String>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_scalar(
                "SELECT tp.permission FROM team_permissions tp
                 JOIN teams t ON t.id = tp.team_id
                 JOIN team_members tm ON tm.team_id = t.id
                 WHERE t.org_id = $1 AND tm.user_id = $2 AND (tp.repository = '' OR tp.repository = $3)",
            )
            .bind(org)
            .bind(user)
            .bind(repository)
            .fetch_all(p)
            .await?)
        })
    }

    /// Whether repository `name` exists and is public.
    pub async fn repository(&self, name: &str) -> Result<Option<RepoRow>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, RepoRow>(
                "SELECT id, name, is_public, description, created_at FROM repositories WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(p)
            .await?)
        })
    }

    /// Sets a repository's visibility and description.
    pub async fn update_repository(
        &self,
        name: &str,
        is_public: Option<bool>,
        description: Option<&str>,
    ) -> Result<(), DbError> {
        with_pool!(self, p => {
            if let Some(v) = is_public {
                sqlx::query("UPDATE repositories SET is_public = $1 WHERE name = $2").bind(v as i64).bind(name).execute(p).await?;
            }
            if let Some(d) = description {
                sqlx::query("UPDATE repositories SET description = $1 WHERE name = $2").bind(d).bind(name).execute(p).await?;
            }
            Ok(())
        })
    }

    /// Deletes a repository with its manifests, tags and blob links.
    pub async fn delete_repository(&self, name: &str) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let r = sqlx::query("DELETE FROM repositories WHERE name = $1").bind(name).execute(p).await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// Repositories with content after `last` that `user` may read (every one for `None` = admin;
    /// public ones only for `Some(None)` = anonymous).
    pub async fn list_readable_repositories(
        &self,
        user: Option<Option<(i64, &str)>>,
        last: &str,
        limit: i64,
    ) -> Result<Vec<String>, DbError> {
        let (uid, uname, all) = match user {
            None => (-1, "", 1),
            Some(None) => (-1, "", 0),
            Some(Some((id, name))) => (id, name, 0),
        };
        with_pool!(self, p => {
            Ok(sqlx::query_scalar(
                "SELECT r.name FROM repositories r WHERE r.name > $1
                 AND (EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)
                      OR EXISTS (SELECT 1 FROM repository_blobs b WHERE b.repository_id = r.id))
                 AND ($2 = 1 OR r.is_public = 1 OR r.namespace = $3
                      OR EXISTS (SELECT 1 FROM organizations o JOIN org_members om ON om.org_id = o.id
                                 WHERE o.name = r.namespace AND om.user_id = $4 AND om.role = 'owner')
                      OR EXISTS (SELECT 1 FROM organizations o JOIN teams t ON t.org_id = o.id
                                 JOIN team_members tm ON tm.team_id = t.id
                                 JOIN team_permissions tp ON tp.team_id = t.id
                                 WHERE o.name = r.namespace AND tm.user_id = $4
                                   AND (tp.repository = '' OR tp.repository = r.name)))
                 ORDER BY r.name LIMIT $5",
            )
            .bind(last)
            .bind(all)
            .bind(uname)
            .bind(uid)
            .bind(limit)
            .fetch_all(p)
            .await?)
        })
    }

    /// Stores a personal access token's hash.
    pub async fn create_token(&self, user: i64, name: &str, token_hash: &str, scope: &str) -> Result<i64, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_scalar(
                "INSERT INTO access_tokens (user_id, name, token_hash, scope, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(user)
            .bind(name)
            .bind(token_hash)
            .bind(scope)
            .bind(now_ms())
            .fetch_one(p)
            .await?)
        })
    }

    /// The live token with this hash, marking it used.
    pub async fn use_token(&self, token_hash: &str) -> Result<Option<TokenRow>, DbError> {
        with_pool!(self, p => {
            let row = sqlx::query_as::<_, TokenRow>(
                "SELECT id, user_id, name, scope, created_at, last_used_at, revoked_at FROM access_tokens
                 WHERE token_hash = $1 AND revoked_at IS NULL",
            )
            .bind(token_hash)
            .fetch_optional(p)
            .await?;
            if let Some(r) = &row {
                // Written at most once a minute per token, not on every request.
                let now = now_ms();
                sqlx::query(
                    "UPDATE access_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
                )
                .bind(now)
                .bind(r.id)
                .bind(now - 60_000)
                .execute(p)
                .await?;
            }
            Ok(row)
        })
    }

    /// A user's tokens.
    pub async fn list_tokens(&self, user: i64) -> Result<Vec<TokenRow>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, TokenRow>(
                "SELECT id, user_id, name, scope, created_at, last_used_at, revoked_at FROM access_tokens
                 WHERE user_id = $1 ORDER BY id",
            )
            .bind(user)
            .fetch_all(p)
            .await?)
        })
    }

    /// Revokes a user's token; false if there is no such live token.
    pub async fn revoke_token(&self, user: i64, id: i64) -> Result<bool, DbError> {
        with_pool!(self, p => {
            let r = sqlx::query("UPDATE access_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(now_ms())
                .bind(id)
                .bind(user)
                .execute(p)
                .await?;
            Ok(r.rows_affected() > 0)
        })
    }

    /// Stores a refresh token's hash.
    pub async fn create_refresh_token(
        &self,
        hash: &str,
        user: i64,
        pat_scope: Option<&str>,
        access_token_id: Option<i64>,
        expires_at: i64,
    ) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query("INSERT INTO refresh_tokens (token_hash, user_id, pat_scope, access_token_id, created_at, expires_at)
                         VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(hash)
                .bind(user)
                .bind(pat_scope)
                .bind(access_token_id)
                .bind(now_ms())
                .bind(expires_at)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    /// The user and scope cap of a live refresh token.
    pub async fn refresh_token(&self, hash: &str) -> Result<Option<RefreshRow>, DbError> {
        with_pool!(self, p => {
            let row: Option<RefreshRow> = sqlx::query_as(
                "SELECT r.user_id, r.pat_scope, r.access_token_id FROM refresh_tokens r
                 JOIN users u ON u.id = r.user_id
                 LEFT JOIN access_tokens t ON t.id = r.access_token_id
                 WHERE r.token_hash = $1 AND r.expires_at > $2
                   AND ((r.access_token_id IS NULL AND r.created_at >= u.sessions_valid_after)
                        OR (t.id IS NOT NULL AND t.revoked_at IS NULL))",
            )
            .bind(hash)
            .bind(now_ms())
            .fetch_optional(p)
            .await?;
            Ok(row)
        })
    }

    /// When `user`'s sessions became valid (Unix ms), and whether session `jti` was signed out.
    pub async fn session_state(&self, user: i64, jti: &str) -> Result<(i64, bool), DbError> {
        with_pool!(self, p => {
            let row: Option<(i64, i64)> = sqlx::query_as(
                "SELECT sessions_valid_after, (SELECT COUNT(*) FROM revoked_sessions WHERE jti = $2) FROM users WHERE id = $1",
            )
            .bind(user)
            .bind(jti)
            .fetch_optional(p)
            .await?;
            let (after, revoked) = row.ok_or(DbError::NotFound)?;
            Ok((after, revoked > 0))
        })
    }

    /// Remembers a signed-out session until `expires_at` (Unix ms), forgetting expired ones.
    pub async fn revoke_session(&self, jti: &str, expires_at: i64) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query("DELETE FROM revoked_sessions WHERE expires_at < $1").bind(now_ms()).execute(p).await?;
            sqlx::query("INSERT INTO revoked_sessions (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
                .bind(jti)
                .bind(expires_at)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    /// Ends every session of `user`, and the refresh tokens obtained with its password.
    pub async fn end_sessions(&self, user: i64) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query("UPDATE users SET sessions_valid_after = $1 WHERE id = $2")
                .bind(now_ms())
                .bind(user)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    /// The signing key, if one was created.
    pub async fn signing_key(&self) -> Result<Option<String>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_scalar("SELECT private_pem FROM signing_keys ORDER BY created_at LIMIT 1")
                .fetch_optional(p)
                .await?)
        })
    }

    /// Stores the signing key unless another instance stored one first.
    pub async fn store_signing_key(&self, kid: &str, pem: &str) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query("INSERT INTO signing_keys (kid, private_pem, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(kid)
                .bind(pem)
                .bind(now_ms())
                .execute(p)
                .await?;
            Ok(())
        })
    }

    /// Appends to the audit log.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
        address: &str,
    ) -> Result<(), DbError> {
        with_pool!(self, p => {
            sqlx::query("INSERT INTO audit_log (at, actor, action, target, detail, address) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(now_ms())
                .bind(actor)
                .bind(action)
                .bind(target)
                .bind(detail)
                .bind(address)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    /// Audit entries before id `before`, newest first.
    pub async fn audit_entries(&self, before: i64, limit: i64) -> Result<Vec<AuditRow>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, AuditRow>(
                "SELECT id, at, actor, action, target, detail, address FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(before)
            .bind(limit)
            .fetch_all(p)
            .await?)
        })
    }
}

// ------------------------------------------------------------------------------------------------
// Queries of the management API (`/api/v1`).
// ------------------------------------------------------------------------------------------------

/// An organization with the role a given user holds in it, if any.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrgListRow {
    pub id: i64,
    pub name: String,
    pub default_public: i64,
    pub created_at: i64,
    pub role: Option<String>,
}

/// Which repositories a listing may show.
#[derive(Debug, Clone, Copy)]
pub enum Readable<'a> {
    /// Every repository (administrators, or authentication disabled).
    All,
    /// Public repositories only (anonymous callers).
    Public,
    /// Those the user (id, name) may read: public ones, their namespace, their organizations'
    /// repositories as owner, and those their teams hold a permission on.
    User(i64, &'a str),
}

/// Escapes `%`, `_` and `\\` for a `LIKE … ESCAPE '\\'` pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Db {
    /// The organizations `user` belongs to, with their role, by name.
    pub async fn user_orgs(&self, user: i64) -> Result<Vec<(String, String)>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, (String, String)>(
                "SELECT o.name, m.role FROM organizations o JOIN org_members m ON m.org_id = o.id
                 WHERE m.user_id = $1 ORDER BY o.name",
            )
            .bind(user)
            .fetch_all(p)
            .await?)
        })
    }

    /// Organizations after `last` by name, with `user`'s role: only those `user` belongs to unless
    /// `all`.
    pub async fn list_orgs_page(
        &self,
        user: i64,
        all: bool,
        last: &str,
        limit: i64,
    ) -> Result<Vec<OrgListRow>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, OrgListRow>(
                "SELECT o.id, o.name, o.default_public, o.created_at, m.role FROM organizations o
                 LEFT JOIN org_members m ON m.org_id = o.id AND m.user_id = $1
                 WHERE o.name > $2 AND ($3 = 1 OR m.role IS NOT NULL)
                 ORDER BY o.name LIMIT $4",
            )
            .bind(user)
            .bind(last)
            .bind(all as i64)
            .bind(limit)
            .fetch_all(p)
            .await?)
        })
    }

    /// Number of server administrators.
    pub async fn count_admins(&self) -> Result<i64, DbError> {
        with_pool!(self, p => Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE is_admin = 1").fetch_one(p).await?))
    }

    /// The organizations whose only owner is `user`.
    pub async fn orgs_solely_owned_by(&self, user: i64) -> Result<Vec<String>, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_scalar(
                "SELECT o.name FROM organizations o JOIN org_members m ON m.org_id = o.id
                 WHERE m.user_id = $1 AND m.role = 'owner'
                   AND (SELECT COUNT(*) FROM org_members x WHERE x.org_id = o.id AND x.role = 'owner') = 1
                 ORDER BY o.name",
            )
            .bind(user)
            .fetch_all(p)
            .await?)
        })
    }

    /// Number of repositories in a namespace.
    pub async fn count_namespace_repositories(&self, namespace: &str) -> Result<i64, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_scalar("SELECT COUNT(*) FROM repositories WHERE namespace = $1")
                .bind(namespace)
                .fetch_one(p)
                .await?)
        })
    }

    /// Adds a member or changes their role, unless that would demote the last owner: then
    /// `Conflict`. The transaction begins by writing the organization's row, which serializes
    /// concurrent changes to its members on every backend (two owners demoting each other at
    /// once cannot leave it without one).
    pub async fn set_member_keeping_owner(&self, org: i64, user: i64, role: &str) -> Result<(), DbError> {
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE organizations SET name = name WHERE id = $1").bind(org).execute(&mut *tx).await?;
            let r = sqlx::query(
                "INSERT INTO org_members (org_id, user_id, role) VALUES ($1, $2, $3)
                 ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role
                 WHERE org_members.role <> 'owner' OR excluded.role = 'owner'
                    OR (SELECT COUNT(*) FROM org_members x WHERE x.org_id = $1 AND x.role = 'owner') > 1",
            )
            .bind(org)
            .bind(user)
            .bind(role)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 0 {
                return Err(DbError::Conflict);
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Removes a member and their team memberships in the organization, unless they are its last
    /// owner (`Conflict`); `NotFound` if they are not a member. Serialized like
    /// `set_member_keeping_owner`.
    pub async fn remove_member_keeping_owner(&self, org: i64, user: i64) -> Result<(), DbError> {
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE organizations SET name = name WHERE id = $1").bind(org).execute(&mut *tx).await?;
            let r = sqlx::query(
                "DELETE FROM org_members WHERE org_id = $1 AND user_id = $2
                 AND (role <> 'owner' OR (SELECT COUNT(*) FROM org_members x WHERE x.org_id = $1 AND x.role = 'owner') > 1)",
            )
            .bind(org)
            .bind(user)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 0 {
                let member: Option<String> = sqlx::query_scalar("SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2")
                    .bind(org)
                    .bind(user)
                    .fetch_optional(&mut *tx)
                    .await?;
                return Err(if member.is_some() { DbError::Conflict } else { DbError::NotFound });
            }
            sqlx::query("DELETE FROM team_members WHERE user_id = $1 AND team_id IN (SELECT id FROM teams WHERE org_id = $2)")
                .bind(user)
                .bind(org)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Creates an empty repository; public or not as given, else as its namespace's default.
    /// `Conflict` if it exists.
    pub async fn create_repository(
        &self,
        name: &str,
        namespace: &str,
        is_public: Option<bool>,
        description: &str,
    ) -> Result<RepoRow, DbError> {
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, RepoRow>(
                "INSERT INTO repositories (name, namespace, is_public, description, created_at) VALUES ($1, $2,
                   COALESCE($3, (SELECT default_public FROM users WHERE name = $2),
                            (SELECT default_public FROM organizations WHERE name = $2), 0), $4, $5)
                 RETURNING id, name, is_public, description, created_at",
            )
            .bind(name)
            .bind(namespace)
            .bind(is_public.map(i64::from))
            .bind(description)
            .bind(now_ms())
            .fetch_one(p)
            .await
            .map_err(map_unique)?)
        })
    }

    /// Repositories after `last` by name that `who` may read, optionally in one namespace and
    /// containing `q`; empty ones included.
    pub async fn search_repositories(
        &self,
        who: Readable<'_>,
        namespace: Option<&str>,
        q: Option<&str>,
        last: &str,
        limit: i64,
    ) -> Result<Vec<RepoRow>, DbError> {
        let (all, uid, uname) = match who {
            Readable::All => (1i64, -1i64, ""),
            Readable::Public => (0, -1, ""),
            Readable::User(id, name) => (0, id, name),
        };
        let pattern = format!("%{}%", like_escape(q.unwrap_or("")));
        with_pool!(self, p => {
            Ok(sqlx::query_as::<_, RepoRow>(
                "SELECT r.id, r.name, r.is_public, r.description, r.created_at FROM repositories r
                 WHERE r.name > $1 AND ($2 = '' OR r.namespace = $2) AND r.name LIKE $3 ESCAPE '\\'
                 AND ($4 = 1 OR r.is_public = 1 OR r.namespace = $5
                      OR EXISTS (SELECT 1 FROM organizations o JOIN org_members om ON om.org_id = o.id
                                 WHERE o.name = r.namespace AND om.user_id = $6 AND om.role = 'owner')
                      OR EXISTS (SELECT 1 FROM organizations o JOIN teams t ON t.org_id = o.id
                                 JOIN team_members tm ON tm.team_id = t.id
                                 JOIN team_permissions tp ON tp.team_id = t.id
                                 WHERE o.name = r.namespace AND tm.user_id = $6
                                   AND (tp.repository = '' OR tp.repository = r.name)))
                 ORDER BY r.name LIMIT $7",
            )
            .bind(last)
            .bind(namespace.unwrap_or(""))
            .bind(pattern)
            .bind(all)
            .bind(uname)
            .bind(uid)
            .bind(limit)
            .fetch_all(p)
            .await?)
        })
    }
}
