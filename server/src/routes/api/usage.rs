//! `/api/v1/usage/{name}`: storage used by a repository (`org/app`) or a namespace (`org`),
//! counting only what the caller may read.

use actix_web::web;
use rreg_oci::RepoName;

use super::{ok, ApiResult, JsonError, Segments, Who};
use crate::routes::AppState;

/// `GET /api/v1/usage/{namespace}` or `GET /api/v1/usage/{repository}`.
pub(super) async fn get(s: web::Data<AppState>, who: Who, Segments(name): Segments<String>) -> ApiResult {
    let repo = RepoName::parse(&name).map_err(|e| JsonError::bad_request(e.to_string()))?;
    if name.contains('/') {
        ok(s.accounts.repository_usage(who.principal(), &repo).await?)
    } else {
        ok(s.accounts.namespace_usage(who.principal(), &name).await?)
    }
}
