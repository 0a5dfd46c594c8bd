//! `/api/v1/usage/{name}`: storage used by a repository (`org/app`) or a namespace (`org`),
//! counting only what the caller may read.

use axum::extract::State;
use rreg_oci::RepoName;

use super::{ok, ApiResult, JsonError, Segments, Who};
use crate::routes::AppState;

/// `GET /api/v1/usage/{namespace}` or `GET /api/v1/usage/{repository}`.
pub(super) async fn get(State(s): State<AppState>, who: Who, Segments(name): Segments<String>) -> ApiResult {
    let body = if name.contains('/') {
        let repo = RepoName::parse(&name).map_err(|e| JsonError::bad_request(e.to_string()))?;
        serde_json::to_value(s.accounts.repository_usage(who.principal(), &repo).await?)
    } else {
        RepoName::parse(&name).map_err(|e| JsonError::bad_request(e.to_string()))?;
        serde_json::to_value(s.accounts.namespace_usage(who.principal(), &name).await?)
    };
    ok(body.map_err(|e| JsonError::from(crate::services::ServiceError::Internal(e.to_string())))?)
}
