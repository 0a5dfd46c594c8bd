//! Upload sessions: POST (start, monolithic with `digest`, or cross-repository mount), PATCH (streamed
//! or chunked with `Content-Range`), PUT (finish), GET (status) and DELETE (cancel).

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use rreg_oci::{ErrorCode, RepoName};

use super::{digest, ApiResult, Ctx, Req, CONTENT_DIGEST, UPLOAD_UUID};
use crate::auth::Action;
use crate::routes::body::Body;
use crate::routes::errors::ApiError;
use crate::services::{MountOutcome, Registry, ServiceError, UploadState};

fn location(name: &RepoName, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

fn range_value(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

/// `202 Accepted` (or `204` for a status query) describing where a session stands.
fn session(status: StatusCode, name: &RepoName, state: &UploadState) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::LOCATION, location(name, &state.id)))
        .insert_header((header::RANGE, range_value(state.size)))
        .insert_header((UPLOAD_UUID, state.id.clone()))
        .finish()
}

/// `201 Created` for a blob now in the repository.
fn created(name: &RepoName, d: &rreg_oci::Digest) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v2/{name}/blobs/{d}")))
        .insert_header((CONTENT_DIGEST, d.to_string()))
        .finish()
}

/// Most bytes of a refused chunk read and thrown away, so that the client reads the error on a
/// connection it can go on using rather than a reset.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Reads what a refused request left of its body (nothing, when the body was consumed).
async fn drain(body: &mut Body) {
    use futures::StreamExt;
    let mut seen = 0usize;
    while let Some(Ok(chunk)) = body.next().await {
        seen = seen.saturating_add(chunk.len());
        if seen > DRAIN_LIMIT {
            break;
        }
    }
}

/// Parses `Content-Range` of a chunk: `start-end`, also `bytes start-end/total` and `bytes=start-end`.
fn content_range(v: &str) -> Option<(u64, u64)> {
    let v = v.trim();
    let v = v
        .strip_prefix("bytes")
        .map(|r| r.trim_start_matches(['=', ' ']))
        .unwrap_or(v);
    let v = v.split('/').next()?;
    let (a, b) = v.split_once('-')?;
    let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (b >= a).then_some((a, b))
}

/// The chunk's start and length from `Content-Range` / `Content-Length`.
fn chunk_bounds(req: &Req) -> Result<(Option<u64>, Option<u64>), ApiError> {
    match req.header(header::CONTENT_RANGE) {
        None => Ok((None, req.content_length())),
        Some(v) => {
            let (start, end) = content_range(v).ok_or_else(|| {
                ApiError::with_message(ErrorCode::RangeInvalid, format!("invalid Content-Range {v:?}"))
            })?;
            let len = end.checked_sub(start).and_then(|d| d.checked_add(1)).ok_or_else(|| {
                ApiError::with_message(ErrorCode::RangeInvalid, format!("invalid Content-Range {v:?}"))
            })?;
            if req.content_length().is_some_and(|cl| cl != len) {
                return Err(ApiError::with_message(
                    ErrorCode::SizeInvalid,
                    "Content-Length does not match Content-Range",
                ));
            }
            Ok((Some(start), Some(len)))
        }
    }
}

/// Maps an out-of-order chunk to `416` with the session's real position, so clients can resume.
fn chunk_error(name: &RepoName, e: ServiceError) -> ApiError {
    match e {
        ServiceError::UploadOutOfOrder { expected, ref id } => {
            let id = id.clone();
            ApiError::from(e)
                .header(header::LOCATION, &location(name, &id))
                .header(header::RANGE, &range_value(expected))
                .header(UPLOAD_UUID, &id)
        }
        other => other.into(),
    }
}

pub(super) async fn start(reg: &Registry, ctx: &Ctx<'_>, name: RepoName, req: Req) -> ApiResult {
    if let Some(mount) = req.param("mount") {
        let d = digest(mount)?;
        // Mount only from a repository the caller may pull; otherwise upload as if it did not exist.
        let mut from = req.param("from").and_then(|f| RepoName::parse(f).ok());
        if let Some(f) = &from {
            if !ctx.accounts.can(&ctx.caller, f.as_str(), Action::Pull).await? {
                from = None;
            }
        }
        return match reg.mount_blob(&name, &d, from.as_ref()).await? {
            MountOutcome::Mounted(_) => Ok(created(&name, &d)),
            MountOutcome::Upload(state) => Ok(session(StatusCode::ACCEPTED, &name, &state)),
        };
    }
    if let Some(d) = req.param("digest") {
        let d = digest(d)?;
        let len = req.content_length();
        let mut body = req.body;
        let result = reg.upload_monolithic(&name, &d, len, &mut body).await;
        drain(&mut body).await;
        result?;
        return Ok(created(&name, &d));
    }
    let state = reg.start_upload(&name).await?;
    Ok(session(StatusCode::ACCEPTED, &name, &state))
}

pub(super) async fn status(reg: &Registry, name: RepoName, id: &str) -> ApiResult {
    let state = reg.upload_status(&name, id).await?;
    Ok(session(StatusCode::NO_CONTENT, &name, &state))
}

pub(super) async fn patch(reg: &Registry, name: RepoName, id: &str, req: Req) -> ApiResult {
    let (start, len) = chunk_bounds(&req)?;
    let mut body = req.body;
    let result = reg.append_upload(&name, id, start, len, &mut body).await;
    drain(&mut body).await;
    let state = result.map_err(|e| chunk_error(&name, e))?;
    Ok(session(StatusCode::ACCEPTED, &name, &state))
}

pub(super) async fn put(reg: &Registry, name: RepoName, id: &str, req: Req) -> ApiResult {
    let d = req
        .param("digest")
        .ok_or_else(|| ApiError::with_message(ErrorCode::DigestInvalid, "the digest query parameter is required"))?;
    let d = digest(d)?;
    let (start, len) = chunk_bounds(&req)?;
    let mut body = req.body;
    let result = reg.finish_upload(&name, id, &d, start, len, &mut body).await;
    drain(&mut body).await;
    result.map_err(|e| chunk_error(&name, e))?;
    Ok(created(&name, &d))
}

pub(super) async fn cancel(reg: &Registry, name: RepoName, id: &str) -> ApiResult {
    reg.cancel_upload(&name, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::content_range;

    #[test]
    fn content_ranges() {
        assert_eq!(content_range("0-99"), Some((0, 99)));
        assert_eq!(content_range("bytes 100-199/*"), Some((100, 199)));
        assert_eq!(content_range("bytes=5-9"), Some((5, 9)));
        assert_eq!(content_range("9-5"), None);
        assert_eq!(content_range("x"), None);
    }
}
