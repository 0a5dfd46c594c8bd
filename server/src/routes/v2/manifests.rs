//! Manifest GET/HEAD (with `Accept` negotiation), PUT and DELETE, by tag or digest.

use actix_web::http::header::{self, HeaderName};
use actix_web::HttpResponse;
use rreg_oci::{ErrorCode, Reference, RepoName};

use super::{ApiResult, Ctx, Req, CONTENT_DIGEST};
use crate::routes::body::Body;
use crate::routes::errors::ApiError;
use crate::services::{Registry, ServiceError};

const OCI_SUBJECT: HeaderName = HeaderName::from_static("oci-subject");

/// Media types listed in the request's `Accept` headers, without parameters.
fn accepted(req: &Req) -> Vec<String> {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.split(';').next().unwrap_or(t).trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

pub(super) async fn get(reg: &Registry, name: RepoName, reference: Reference, req: Req, with_body: bool) -> ApiResult {
    let m = reg.get_manifest(&name, &reference, &accepted(&req)).await?;
    if with_body {
        let tag = match &reference {
            Reference::Tag(t) => Some(t.as_str()),
            Reference::Digest(_) => None,
        };
        reg.record_pull(m.repo_id, m.id, &m.digest, tag);
    }
    // A HEAD answer carries the length of the body GET sends; the HTTP layer leaves the body out.
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, m.media_type.as_str()))
        .insert_header((CONTENT_DIGEST, m.digest.as_str()))
        .insert_header((header::ETAG, format!("\"{}\"", m.digest)))
        .body(m.content))
}

pub(super) async fn put(reg: &Registry, ctx: &Ctx<'_>, name: RepoName, reference: Reference, req: Req) -> ApiResult {
    let limit = reg.limits.max_manifest_size;
    let content_type = req.header(header::CONTENT_TYPE).map(str::to_owned);
    let body = read_limited(req.body, limit).await?;
    let put = reg
        .put_manifest(&name, &reference, content_type.as_deref(), body)
        .await?;
    ctx.audit("push", &format!("{name}:{reference}")).await;
    if let Reference::Tag(t) = &reference {
        reg.record_pusher(&name, t.as_str(), &put.digest, ctx.caller.name())
            .await;
    }
    let mut resp = HttpResponse::Created();
    resp.insert_header((header::LOCATION, format!("/v2/{name}/manifests/{}", put.digest)))
        .insert_header((CONTENT_DIGEST, put.digest.to_string()));
    if let Some(s) = &put.subject {
        resp.insert_header((OCI_SUBJECT, s.to_string()));
    }
    Ok(resp.finish())
}

pub(super) async fn delete(reg: &Registry, ctx: &Ctx<'_>, name: RepoName, reference: Reference) -> ApiResult {
    reg.delete_manifest(&name, &reference).await?;
    ctx.audit("manifest.delete", &format!("{name}:{reference}")).await;
    Ok(HttpResponse::Accepted().finish())
}

/// Most bytes of an oversized manifest read and thrown away so the client sees the 413 rather than a
/// reset connection.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Reads a manifest body of at most `limit` bytes. A larger one is drained (up to a bound) and refused
/// with `SIZE_INVALID`.
async fn read_limited(mut stream: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    use futures::StreamExt;
    let mut buf = bytes::BytesMut::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::with_message(ErrorCode::ManifestInvalid, format!("reading the manifest failed: {e}"))
        })?;
        total = total.saturating_add(chunk.len());
        if total <= limit {
            buf.extend_from_slice(&chunk);
        } else if total > DRAIN_LIMIT {
            break;
        }
    }
    if total > limit {
        return Err(ServiceError::ManifestTooLarge { size: total, limit }.into());
    }
    Ok(buf.freeze())
}
