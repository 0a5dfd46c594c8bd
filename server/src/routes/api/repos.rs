//! `/api/v1/repositories`: creating empty repositories, and changing or deleting their settings
//! (visibility, description); listing and reading them, with statistics, is in `browse`. Names hold
//! slashes, so `{*name}` takes the rest of the path.
//! A repository the caller may not read answers `404`, exactly like a missing one.

use actix_web::web;
use rreg_oci::api::{NewRepository, Repository, RepositoryChange};
use rreg_oci::RepoName;

use super::{created, no_content, ok, time, ApiResult, JsonError, RawBody, Segments, Who};
use crate::auth::Access;
use crate::routes::AppState;
use crate::services::orgs::{Orgs, Repo, RepoUpdate, Visibility};

/// A repository's settings as JSON (the browsing routes add its statistics).
pub(super) fn view(r: &Repo) -> Repository {
    Repository {
        name: r.name.clone(),
        namespace: r.namespace.clone(),
        visibility: r.visibility.as_str().to_owned(),
        description: r.description.clone(),
        created_at: time(r.created_at),
        access: r.access.map(|a| a.as_str().to_owned()),
        stats: None,
    }
}

fn parse_name(name: &str) -> Result<RepoName, JsonError> {
    RepoName::parse(name).map_err(|e| JsonError::bad_request(e.to_string()))
}

fn parse_visibility(v: &str) -> Result<Visibility, JsonError> {
    Visibility::parse(v)
        .ok_or_else(|| JsonError::bad_request(format!("visibility must be public or private, not {v:?}")))
}

/// `POST /api/v1/repositories` {name, visibility?, description?}: needs push access to the name.
pub(super) async fn create(s: web::Data<AppState>, who: Who, body: RawBody) -> ApiResult {
    let me = who.user()?;
    let req: NewRepository = body.json()?;
    let name = parse_name(&req.name)?;
    let visibility = req.visibility.as_deref().map(parse_visibility).transpose()?;
    let orgs = Orgs::new(&s.accounts);
    orgs.may_create_repo(me, &name).await?;
    let repo = orgs.create_repo(&name, visibility, &req.description).await?;
    who.audit(&orgs, "repo.create", &repo.name, repo.visibility.as_str())
        .await;
    created(view(&repo))
}

/// `PATCH /api/v1/repositories/{name}` {visibility?, description?}: admin access.
pub(super) async fn update(
    s: web::Data<AppState>,
    who: Who,
    Segments(name): Segments<String>,
    body: RawBody,
) -> ApiResult {
    let me = who.user()?;
    let name = parse_name(&name)?;
    let orgs = Orgs::new(&s.accounts);
    let repo = orgs.repo(Some(me), &name, Access::Admin).await?;
    let req: RepositoryChange = body.json()?;
    let update = RepoUpdate {
        visibility: req.visibility.as_deref().map(parse_visibility).transpose()?,
        description: req.description,
    };
    if update.visibility.is_none() && update.description.is_none() {
        return Err(JsonError::bad_request(
            "nothing to change: give visibility or description",
        ));
    }
    let after = orgs.update_repo(&repo, &update).await?;
    if after.visibility != repo.visibility {
        who.audit(&orgs, "repo.visibility", &repo.name, after.visibility.as_str())
            .await;
    }
    if update.description.is_some() {
        who.audit(&orgs, "repo.update", &repo.name, "description").await;
    }
    ok(view(&after))
}

/// `DELETE /api/v1/repositories/{name}`: admin access.
pub(super) async fn delete(s: web::Data<AppState>, who: Who, Segments(name): Segments<String>) -> ApiResult {
    let me = who.user()?;
    let name = parse_name(&name)?;
    let orgs = Orgs::new(&s.accounts);
    let repo = orgs.repo(Some(me), &name, Access::Admin).await?;
    orgs.delete_repo(&repo).await?;
    who.audit(&orgs, "repo.delete", &repo.name, "").await;
    no_content()
}
