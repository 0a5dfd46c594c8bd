//! `/api/v1/orgs/{org}/teams`: teams, their members and their repository permissions. Members of the
//! organization may look; owners manage.

use actix_web::web;
use rreg_oci::api::{self, Items, NewTeam, Permission, TeamDetail};

use super::{created, no_content, ok, ApiResult, JsonError, Params, RawBody, Segments, Who};
use crate::auth::Access;
use crate::routes::AppState;
use crate::services::orgs::{OrgRole, Orgs, Team, TeamScope};

fn view(t: &Team) -> api::Team {
    api::Team {
        name: t.name.clone(),
        description: t.description.clone(),
    }
}

fn permission_view((repository, level): &(String, Access)) -> Permission {
    Permission {
        repository: repository.clone(),
        permission: level.as_str().to_owned(),
    }
}

/// `GET /api/v1/orgs/{org}/teams`: members of the organization.
pub(super) async fn list(s: web::Data<AppState>, who: Who, Segments(org): Segments<String>) -> ApiResult {
    let me = who.user()?;
    let orgs = Orgs::new(&s.accounts);
    let org = orgs.org(me, &org, OrgRole::Member).await?;
    let items = orgs.teams(&org).await?.iter().map(view).collect();
    ok(Items { items })
}

/// `POST /api/v1/orgs/{org}/teams` {name, description?}: owners.
pub(super) async fn create(
    s: web::Data<AppState>,
    who: Who,
    Segments(org): Segments<String>,
    body: RawBody,
) -> ApiResult {
    let me = who.user()?;
    let orgs = Orgs::new(&s.accounts);
    let org = orgs.org(me, &org, OrgRole::Owner).await?;
    let req: NewTeam = body.json()?;
    let team = orgs.create_team(&org, &req.name, &req.description).await?;
    who.audit(&orgs, "team.create", &format!("{}/{}", org.name, team.name), "")
        .await;
    created(view(&team))
}

/// `GET /api/v1/orgs/{org}/teams/{team}`: the team with its members and permissions.
pub(super) async fn get(
    s: web::Data<AppState>,
    who: Who,
    Segments((org, team)): Segments<(String, String)>,
) -> ApiResult {
    let me = who.user()?;
    let orgs = Orgs::new(&s.accounts);
    let org = orgs.org(me, &org, OrgRole::Member).await?;
    let team = orgs.team(&org, &team).await?;
    ok(TeamDetail {
        members: orgs.team_members(&team).await?,
        permissions: orgs
            .team_permissions(&team)
            .await?
            .iter()
            .map(permission_view)
            .collect(),
        name: team.name,
        description: team.description,
    })
}

/// `DELETE /api/v1/orgs/{org}/teams/{team}`: owners.
pub(super) async fn delete(
    s: web::Data<AppState>,
    who: Who,
    Segments((org, team)): Segments<(String, String)>,
) -> ApiResult {
    let me = who.user()?;
    let orgs = Orgs::new(&s.accounts);
    let org = orgs.org(me, &org, OrgRole::Owner).await?;
    let team = orgs.team(&org, &team).await?;
    orgs.delete_team(&team).await?;
    who.audit(&orgs, "team.delete", &format!("{}/{}", org.name, team.name), "")
        .await;
    no_content()
}

/// `PUT /api/v1/orgs/{org}/teams/{team}/members/{user}`: owners; the user must be a member of the
/// organization.
pub(super) async fn add_member(
    s: web::Data<AppState>,
    who: Who,
    Segments((org, team, user)): Segments<(String, String, String)>,
) -> ApiResult {
    let me = who.user()?;
    let orgs = Orgs::new(&s.accounts);
    let org = orgs.org(me, &org, OrgRole::Owner).await?;
    let team = orgs.team(&org, &team).await?;
    orgs.add_team_member(&org, &team, &user).await?;
    who.audit(&orgs, "team.member.add", &format!("{}/{}", org.name, team.name), &user)
        .await;
    no_content()
}

/// `DELETE /api/v1/orgs/{org}/teams/{team}/members/{user}`: owners.
pub(super) async fn remove_member(
    s: web::Data<AppState>,
    who: Who,
    Segments((org, team, user)): Segments<(String, String, String)>,
) -> ApiResult {
    let me = who.user()?;
    let orgs = Orgs::new(&s.accounts);
    let org = orgs.org(me, &org, OrgRole::Owner).await?;
    let team = orgs.team(&org, &team).await?;
    orgs.remove_team_member(&team, &user).await?;
    who.audit(
        &orgs,
        "team.member.remove",
        &format!("{}/{}", org.name, team.name),
        &user,
    )
    .await;
    no_content()
}

/// `GET /api/v1/orgs/{org}/teams/{team}/permissions`: members of the organization.
pub(super) async fn permissions(
    s: web::Data<AppState>,
    who: Who,
    Segments((org, team)): Segments<(String, String)>,
) -> ApiResult {
    let me = who.user()?;
    let orgs = Orgs::new(&s.accounts);
    let org = orgs.org(me, &org, OrgRole::Member).await?;
    let team = orgs.team(&org, &team).await?;
    let items = orgs
        .team_permissions(&team)
        .await?
        .iter()
        .map(permission_view)
        .collect();
    ok(Items { items })
}

/// `PUT /api/v1/orgs/{org}/teams/{team}/permissions` {repository, permission}: owners.
pub(super) async fn set_permission(
    s: web::Data<AppState>,
    who: Who,
    Segments((org, team)): Segments<(String, String)>,
    body: RawBody,
) -> ApiResult {
    let me = who.user()?;
    let orgs = Orgs::new(&s.accounts);
    let org = orgs.org(me, &org, OrgRole::Owner).await?;
    let team = orgs.team(&org, &team).await?;
    let req: Permission = body.json()?;
    let scope = TeamScope::parse(&org.name, &req.repository)?;
    let level = match req.permission.as_str() {
        "read" | "write" | "admin" => Access::parse(&req.permission),
        _ => None,
    }
    .ok_or_else(|| {
        JsonError::bad_request(format!(
            "permission must be read, write or admin, not {:?}",
            req.permission
        ))
    })?;
    orgs.set_team_permission(&team, &scope, level).await?;
    who.audit(
        &orgs,
        "team.permission.set",
        &format!("{}/{}", org.name, team.name),
        &format!("{}={}", scope.as_str(), level.as_str()),
    )
    .await;
    ok(permission_view(&(scope.as_str().to_owned(), level)))
}

/// `DELETE /api/v1/orgs/{org}/teams/{team}/permissions?repository=…`: owners.
pub(super) async fn remove_permission(
    s: web::Data<AppState>,
    who: Who,
    Segments((org, team)): Segments<(String, String)>,
    params: Params,
) -> ApiResult {
    let me = who.user()?;
    let orgs = Orgs::new(&s.accounts);
    let org = orgs.org(me, &org, OrgRole::Owner).await?;
    let team = orgs.team(&org, &team).await?;
    let repository = params.get("repository").ok_or_else(|| {
        JsonError::bad_request("the repository query parameter is required (empty for the whole organization)")
    })?;
    let scope = TeamScope::parse(&org.name, repository)?;
    orgs.remove_team_permission(&team, &scope).await?;
    who.audit(
        &orgs,
        "team.permission.remove",
        &format!("{}/{}", org.name, team.name),
        scope.as_str(),
    )
    .await;
    no_content()
}
